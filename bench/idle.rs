//! The idle benchmark: 10,000 active campaigns over 24 time zones, 100 pending contacts each, all
//! outside their working hours. Measures the CPU the dispatching server and its PostgreSQL backends
//! use while nothing is due, then how soon the first call starts once one zone opens.

use super::{Db, TOKEN, fresh_db, post, spawn, sqlite};
use chrono::{DateTime, Duration as Span, Timelike, Utc};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One zone per whole-hour offset from UTC−11 to UTC+12.
const ZONES: [&str; 24] = [
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "Pacific/Noumea",
    "Pacific/Auckland",
];
const CAMPAIGNS: usize = 10_000;
const CONTACTS: usize = 100;
/// How long the idle CPU is measured.
const WINDOW: Duration = Duration::from_secs(30);

/// The same window on all seven days.
fn every_day(start: &str, end: &str) -> Value {
    let day = json!({"start": start, "end": end, "enabled": true});
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    Value::Object(days.iter().map(|d| ((*d).to_owned(), day.clone())).collect())
}

/// A one-hour window two hours after `now`'s local hour in `zone` (closed now, every day).
fn closed_window(zone: &str, now: DateTime<Utc>) -> Value {
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let hour = (now.with_timezone(&tz).hour() + 2) % 24;
    let end = if hour == 23 { "23:59".to_owned() } else { format!("{:02}:00", hour + 1) };
    every_day(&format!("{hour:02}:00"), &end)
}

/// CPU ticks (user + system) of each process, from `/proc/<pid>/stat`.
pub(super) fn ticks(pids: &[u32]) -> Vec<(u32, u64)> {
    pids.iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // the fields after the command name, which is in parentheses and may hold spaces
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((*pid, f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        })
        .collect()
}

pub(super) fn clock_ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
}

/// The PostgreSQL backends serving `db`, less the benchmark's own.
pub(super) async fn backends(conn: &mut Db, db: &str) -> Vec<u32> {
    let rows: Vec<(i64,)> = conn
        .rows(&format!(
            "SELECT CAST(pid AS BIGINT) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ))
        .await;
    rows.into_iter().map(|r| r.0 as u32).collect()
}

async fn create_campaigns(base: &str, now: DateTime<Utc>) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(CAMPAIGNS);
    for chunk in (0..CAMPAIGNS).collect::<Vec<_>>().chunks(32) {
        let made = futures_util::future::join_all(chunk.iter().map(|&i| {
            let (client, zone) = (&client, ZONES[i % ZONES.len()]);
            async move {
                let c = post(
                    client,
                    format!("{base}/api/v1/campaigns/"),
                    json!({"name": format!("idle {i}"), "agent_id": "agent", "phone_numbers": ["+919876543210"],
                           "timezone": zone, "working_hours_enforced": true, "working_hours": closed_window(zone, now),
                           "retry_policy": {"max_retries": 0}}),
                )
                .await;
                let id = c["campaign_id"].as_str().unwrap().to_owned();
                let contacts: Vec<Value> = (0..CONTACTS)
                    .map(|j| json!({"phone_number": format!("+1415{:03}{:04}", 200 + j, i), "call_variables": {"callee_name": "Idle"}}))
                    .collect();
                post(client, format!("{base}/api/v1/batches/"), json!({"campaign_id": id, "contacts": contacts})).await;
                id
            }
        }))
        .await;
        ids.extend(made);
    }
    ids
}

/// Loads the campaigns, opens one zone's campaigns a little later, and measures.
pub async fn idle() -> String {
    let db = "graine_bench_idle";
    let mut conn = fresh_db(db).await;
    let loading = Instant::now();
    let ids = {
        let api = spawn(db, 18901, &["--dispatch", "false"]).await;
        let ids = create_campaigns(&api.base, Utc::now()).await;
        // The campaigns of the first zone open at the next whole minute at least 75 s from now.
        let open = {
            let t = Utc::now() + Span::seconds(75);
            t.with_second(0).unwrap().with_nanosecond(0).unwrap() + Span::minutes(1)
        };
        let tz: chrono_tz::Tz = ZONES[0].parse().unwrap();
        let local = open.with_timezone(&tz);
        let end = if local.hour() == 23 { "23:59".to_owned() } else { format!("{:02}:00", local.hour() + 1) };
        let hours = every_day(&format!("{:02}:{:02}", local.hour(), local.minute()), &end);
        let client = reqwest::Client::new();
        for id in ids.iter().step_by(ZONES.len()) {
            let r = client
                .patch(format!("{}/api/v1/campaigns/{id}", api.base))
                .bearer_auth(TOKEN)
                .json(&json!({"working_hours": hours}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
        (ids, open)
    };
    let (ids, open) = ids;
    let loaded = loading.elapsed();
    let server = spawn(db, 18950, &[]).await;
    // The first passes look at every campaign once (each learns its hours are closed): measured
    // apart, then idling starts.
    let first_look = Instant::now();
    // (Until then a campaign's `opens_at` is the default, the epoch.)
    let unseen = if sqlite() {
        "SELECT count(*) FROM campaigns WHERE status = 'active' AND opens_at <= 0"
    } else {
        "SELECT count(*) FROM campaigns WHERE status = 'active' AND opens_at <= '1970-01-01T00:00:00Z'"
    };
    while conn.number(unseen).await > 0 {
        assert!(first_look.elapsed() < Duration::from_secs(40), "the first look took over 40 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first_look = first_look.elapsed();
    assert!(
        Utc::now() + Span::from_std(WINDOW).unwrap() < open,
        "the load took too long to measure before the opening"
    );
    let mut pids = vec![server.child.id()];
    if !sqlite() {
        pids.extend(backends(&mut conn, db).await);
    }
    let before = ticks(&pids);
    let started = Instant::now();
    let client = reqwest::Client::new();
    // Scraped as a Prometheus server would, every 5 s.
    while started.elapsed() < WINDOW {
        let _ = client.get(format!("{}/metrics", server.base)).send().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let after = ticks(&pids);
    let seconds = started.elapsed().as_secs_f64();
    let used: u64 = after.iter().map(|(pid, t)| t - before.iter().find(|(p, _)| p == pid).map_or(0, |b| b.1)).sum();
    let percent = used as f64 / clock_ticks_per_second() / seconds * 100.0;
    let calls = conn.number("SELECT count(*) FROM call_records").await;
    assert_eq!(calls, 0, "a call started outside working hours");
    // The opening: the first call's own dispatched_at against the opening instant.
    let wait = (open - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(3);
    tokio::time::sleep(wait).await;
    let first: Vec<(String,)> = conn
        .rows(if sqlite() {
            "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', min(dispatched_at) / 1e6, 'unixepoch') FROM call_records"
        } else {
            "SELECT to_char(min(dispatched_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM call_records"
        })
        .await;
    let first = DateTime::parse_from_rfc3339(&first[0].0).map(|t| t.to_utc());
    let latency = first.map(|f| (f - open).num_milliseconds()).map_or("no call".to_owned(), |ms| format!("{ms} ms"));
    let opened = conn.number("SELECT count(DISTINCT campaign_id) FROM call_records").await;
    format!(
        "| {} campaigns × {} contacts, {} zones, all closed (loaded in {:.0} s; first look at all after start {:.1} s) | {} processes | {percent:.2}% of one core | {latency} ({opened} of {} campaigns opened) |",
        ids.len(),
        CONTACTS,
        ZONES.len(),
        loaded.as_secs_f64(),
        first_look.as_secs_f64(),
        pids.len(),
        ids.len().div_ceil(ZONES.len())
    )
}

//! The recipient-time benchmark: 1,000,000 contacts over the 50 US states and 10 other countries in
//! one campaign, ingested, then burned down, once with the working hours read in the campaign's zone
//! and once in each contact's own zones, on the same machine in the same run.
//!
//! Both runs use the test clock, frozen at Tuesday 2026-12-01 18:00 UTC (08:00 in Honolulu, 13:00 in
//! New York, 23:30 in Kolkata), with no working hours enforced: the campaign basis calls everyone; the
//! recipient basis calls everyone its legal calling hours allow, which at that instant is everyone but
//! the Indian numbers. One advance of the clock burns down everything due; its time is measured.
//!
//! Then the idle cost: 100,000 of those contacts in the recipient basis on a real clock, with hours
//! only on a weekday that is not today in any zone, so that every zone is closed; the CPU the
//! dispatching server and its PostgreSQL backends use over 30 s is measured.

use super::idle::{backends, clock_ticks_per_second, ticks};
use super::{TOKEN, fresh_db, post, spawn, sqlite};
use chrono::{Datelike, Utc};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One area code per state.
pub(super) const STATES: [&str; 50] = [
    "205", "907", "602", "501", "213", "303", "860", "302", "305", "404", "808", "208", "312", "317", "515", "316",
    "502", "504", "207", "410", "617", "313", "612", "601", "314", "406", "402", "702", "603", "201", "505", "212",
    "704", "701", "216", "405", "503", "215", "401", "803", "605", "615", "214", "801", "802", "804", "206", "304",
    "414", "307",
];

/// A mobile prefix per country, and the digits that follow it: the United Kingdom, France, Germany,
/// India, Japan, Australia, Brazil, Mexico, Spain, Singapore.
const COUNTRIES: [(&str, u32); 10] = [
    ("+447911", 6),
    ("+336", 8),
    ("+49151", 8),
    ("+9198", 8),
    ("+8190", 8),
    ("+614", 8),
    ("+55119", 8),
    ("+5255", 8),
    ("+346", 8),
    ("+659", 7),
];

const CONTACTS: usize = 1_000_000;
pub(super) const BATCH: usize = 100_000;
const START: &str = "2026-12-01T18:00:00Z";

/// The `i`th contact's number: five in six in a US state, the rest in another country.
pub(super) fn number(i: usize) -> String {
    let n = i / 60;
    match i % 60 {
        g @ 0..50 => format!("+1{}{}{:04}", STATES[g], 200 + n / 10_000, n % 10_000),
        g => {
            let (prefix, digits) = COUNTRIES[g - 50];
            format!("{prefix}{}", 10usize.pow(digits - 1) + n)
        }
    }
}

/// Ingests the contacts and burns them down in one basis; returns (contacts/s ingested, calls
/// placed, calls/s).
async fn run(basis: &str, port: u16) -> (f64, i64, f64) {
    let db = format!("graine_bench_recipient_{basis}");
    drop(fresh_db(&db).await);
    let server = spawn(&db, port, &["--test-clock", "--clock-start", START, "--simulated-call-seconds", "0"]).await;
    let client = reqwest::Client::new();
    let c = post(
        &client,
        format!("{}/api/v1/campaigns/", server.base),
        json!({"name": "bench", "agent_id": "agent", "phone_numbers": ["+12025550123"], "working_hours_basis": basis,
               "metadata": {"concurrency_limit": 10_000}, "retry_policy": {"max_retries": 0}}),
    )
    .await;
    let bodies = batch_bodies(&c, CONTACTS);
    let started = Instant::now();
    for body in bodies {
        post(&client, format!("{}/api/v1/batches/", server.base), body).await;
    }
    let ingest = CONTACTS as f64 / started.elapsed().as_secs_f64();
    // The batches start at midnight: move there, then time the burn-down of what is due.
    let set = |to: &str| json!({"set": to});
    let started = Instant::now();
    post(&client, format!("{}/api/v1/test/clock", server.base), set("2026-12-02T00:00:00Z")).await;
    let elapsed = started.elapsed().as_secs_f64();
    let placed = calls_placed(&client, &server.base, &c).await;
    (ingest, placed, placed as f64 / elapsed)
}

/// Batches of `BATCH` of the first `contacts` numbers for campaign `c` (its create answer), starting
/// at midnight after `START`.
pub(super) fn batch_bodies(c: &Value, contacts: usize) -> Vec<Value> {
    (0..contacts / BATCH)
        .map(|b| {
            let contacts: Vec<Value> = (b * BATCH..(b + 1) * BATCH)
                .map(|i| json!({"phone_number": number(i), "call_variables": {"callee_name": "Bench"}}))
                .collect();
            json!({"campaign_id": c["campaign_id"], "contacts": contacts, "scheduled_start": "2026-12-02T00:00:00Z"})
        })
        .collect()
}

/// The calls the campaign `c` (its create answer) placed, as its stats say.
pub(super) async fn calls_placed(client: &reqwest::Client, base: &str, c: &Value) -> i64 {
    let stats = client
        .get(format!("{base}/api/v1/campaigns/{}/stats", c["campaign_id"].as_str().unwrap_or_default()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    stats["total_call_attempts"].as_i64().unwrap_or(0)
}

/// The CPU (% of one core) a dispatching server and its PostgreSQL backends use over 30 s while
/// every zone of its 100,000 recipient-basis contacts is closed.
async fn idle() -> String {
    let db = "graine_bench_recipient_idle";
    let mut conn = fresh_db(db).await;
    let server = spawn(db, 18933, &[]).await;
    // Open only on the weekday three days from today: no zone (UTC−12 to UTC+14) is on it now.
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let open = days[(Utc::now().weekday().num_days_from_monday() as usize + 3) % 7];
    let hours: serde_json::Map<String, Value> = days
        .iter()
        .map(|d| ((*d).to_owned(), json!({"start": "09:00", "end": "18:00", "enabled": *d == open})))
        .collect();
    let client = reqwest::Client::new();
    let c = post(
        &client,
        format!("{}/api/v1/campaigns/", server.base),
        json!({"name": "idle", "agent_id": "agent", "phone_numbers": ["+12025550123"], "working_hours_basis": "recipient",
               "working_hours_enforced": true, "working_hours": hours, "metadata": {"concurrency_limit": 10_000}}),
    )
    .await;
    let contacts: Vec<Value> =
        (0..BATCH).map(|i| json!({"phone_number": number(i), "call_variables": {"callee_name": "Idle"}})).collect();
    post(
        &client,
        format!("{}/api/v1/batches/", server.base),
        json!({"campaign_id": c["campaign_id"], "contacts": contacts}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut pids = vec![server.child.id()];
    if !sqlite() {
        pids.extend(backends(&mut conn, db).await);
    }
    let before = ticks(&pids);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = ticks(&pids);
    let used: u64 =
        after.iter().map(|(pid, t)| t - before.iter().find(|(p, _)| p == pid).map_or(*t, |(_, b)| *b)).sum();
    format!("{:.2}%", 100.0 * used as f64 / clock_ticks_per_second() / 30.0)
}

/// The report's rows.
pub async fn recipient() -> String {
    let mut rows = Vec::new();
    let campaign = run("campaign", 18931).await;
    let recipient = run("recipient", 18932).await;
    for (basis, (ingest, placed, rate)) in [("campaign", campaign), ("recipient", recipient)] {
        rows.push(format!("| {basis} | {ingest:.0} | {placed} | {rate:.0} |"));
    }
    rows.push(format!(
        "| recipient / campaign | {:.2} | | {:.2} |",
        recipient.0 / campaign.0,
        recipient.2 / campaign.2
    ));
    rows.push(String::new());
    let idle = idle().await;
    rows.push(format!(
        "Idle, every zone closed (100,000 contacts, 30 s, the server and its database backends): {idle} of one core"
    ));
    rows.join("\n")
}

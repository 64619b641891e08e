//! The events benchmark (API.md §13): the burn-down of 100,000 contacts over 100 campaigns
//! (zero-length simulated calls, real clock) with no webhook endpoint, with one endpoint subscribed
//! to every event that answers at once (over plain HTTP, then over HTTPS), and with that endpoint
//! down (its port closed), in the same run. With the endpoint up it reports how long after its
//! commit each event reached the receiver (p50 / p99 / max; the commit as a watcher polling the
//! newest event number every 10 ms saw it), and how long after its `created_at` (a call's end,
//! which may precede the commit that records it); with it down, the server's memory before and
//! after. A last run paces the calls (`--calls-per-second 2000`) to see the delay at a rate the
//! delivery keeps up with.

mod receivers;

use super::{contact, fresh_db, load, post, spawn, wait_burn_down};
use receivers::{Seen, epoch_ms};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// When each event became visible, as a watcher polling the newest event number every 10 ms on a
/// connection of its own sees it: (time, newest number) pairs, in time order.
#[derive(Default)]
struct Commits(Vec<(f64, i64)>);

impl Commits {
    /// Watches database `db` until `stop` is set.
    async fn watch(db: String, stop: Arc<std::sync::atomic::AtomicBool>) -> Self {
        let mut conn = super::Db::connect(&super::url(&db)).await;
        let mut seen = Self::default();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let newest = conn.number("SELECT CAST(COALESCE(max(last_seq), 0) AS BIGINT) FROM event_heads").await;
            seen.0.push((epoch_ms(SystemTime::now()), newest));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    }

    /// When event `seq` was first seen committed.
    fn seen(&self, seq: i64) -> Option<f64> {
        let at = self.0.partition_point(|(_, newest)| *newest < seq);
        self.0.get(at).map(|(t, _)| *t)
    }

    /// The longest time between two looks, in milliseconds: how late the watcher may see a commit.
    fn widest_gap(&self) -> f64 {
        self.0.windows(2).map(|w| w[1].0 - w[0].0).fold(0.0, f64::max)
    }
}

/// The CPU time a process has used (user and system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: fields 3 onwards; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// The whole machine's CPU time so far, busy (user, nice, system, interrupts) and idle (idle and
/// waiting for I/O), in seconds summed over the cores, from `/proc/stat`.
fn machine_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0.0)).collect();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / 100.0;
    (at(0) + at(1) + at(2) + at(5) + at(6), at(3) + at(4))
}

/// The resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Which endpoint a run has.
#[derive(Clone, Copy, PartialEq)]
enum Endpoint {
    None,
    Up,
    /// Up, over HTTPS.
    UpTls,
    Down,
}

struct Run {
    rate: f64,
    rss: (f64, f64),
    /// After `created_at`, and after the commit (as the watcher saw it), sorted.
    lateness: Vec<f64>,
    after_commit: Vec<f64>,
    /// The watcher's widest gap between looks, in milliseconds.
    watch_gap: f64,
    delivered_by: Option<f64>,
    /// The server's CPU time during the burn-down, in seconds.
    cpu: f64,
    /// The whole machine's busy and idle CPU time during the burn-down (every core), in seconds.
    machine: (f64, f64),
    /// The benchmark's own CPU time during the burn-down (its receiver, mostly), in seconds.
    own: f64,
}

async fn run(endpoint: Endpoint, port: u16, pace: Option<&str>) -> Run {
    let db = format!("graine_bench_events_{port}");
    let mut conn = fresh_db(&db).await;
    let limits = vec![10_000; 100];
    load(&db, &limits, |i, _| (0..1000).map(|j| contact(format!("+1415{:03}{:04}", 200 + i, 1000 + j))).collect())
        .await;
    let seen = Seen::default();
    let (url, ca_file) = match endpoint {
        Endpoint::None => (None, None),
        Endpoint::Up => (Some(receivers::plain(seen.clone())), None),
        Endpoint::UpTls => {
            let (url, ca_file) = receivers::tls(seen.clone());
            (Some(url), Some(ca_file.display().to_string()))
        }
        // A port nothing listens on: every try is refused.
        Endpoint::Down => (Some(format!("http://127.0.0.1:{}/hook", super::free_port())), None),
    };
    // Dispatch off while the endpoint is made, so that it hears of every call.
    let flags = ["--allow-http-webhooks", "--allow-private-webhooks", "--dispatch", "false"];
    // The endpoint hears of the events after it: not the campaigns' activation by the load.
    let before: i64 = conn.number("SELECT CAST(COALESCE(max(seq), 0) AS BIGINT) FROM events").await;
    if let Some(url) = &url {
        let api = spawn(&db, port, &flags).await;
        let client = reqwest::Client::new();
        post(&client, format!("{}/api/v1/webhook-endpoints", api.base), json!({"url": url, "events": ["*"]})).await;
    }
    let started = Instant::now();
    let mut args = vec!["--simulated-call-seconds", "0", "--allow-http-webhooks", "--allow-private-webhooks"];
    if let Some(pace) = pace {
        args.extend(["--calls-per-second", pace]);
    }
    if let Some(ca_file) = &ca_file {
        args.extend(["--extra-ca-certs", ca_file]);
    }
    let server = spawn(&db, port, &args).await;
    let pid = server.child.id();
    let (rss_start, cpu_start, machine_start) = (rss_mib(pid), cpu_seconds(pid), machine_seconds());
    let own_start = cpu_seconds(std::process::id());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = tokio::spawn(Commits::watch(db.clone(), stop.clone()));
    let (first_call, _) = wait_burn_down(&mut conn, started, Duration::from_secs(900)).await;
    let from_first = started.elapsed() - first_call;
    let (rss_end, cpu) = (rss_mib(pid), cpu_seconds(pid) - cpu_start);
    let (machine, own) = (machine_seconds(), cpu_seconds(std::process::id()) - own_start);
    let machine = (machine.0 - machine_start.0, machine.1 - machine_start.1);
    let mut delivered_by = None;
    if matches!(endpoint, Endpoint::Up | Endpoint::UpTls) {
        // Every event reaches the receiver: 100,000 calls and contacts, and the status changes.
        let events: i64 = conn.number(&format!("SELECT count(*) FROM events WHERE seq > {before}")).await;
        let drain = Instant::now() + Duration::from_secs(600);
        while (seen.0.lock().unwrap().len() as i64) < events && Instant::now() < drain {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        delivered_by = Some((started.elapsed() - first_call).as_secs_f64());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let commits = watcher.await.unwrap();
    let seen = seen.0.lock().unwrap().clone();
    let mut lateness: Vec<f64> = seen.iter().map(|(_, _, late)| *late).collect();
    lateness.sort_by(f64::total_cmp);
    // An event that arrived before the watcher's next look counts as on time.
    let mut after_commit: Vec<f64> = seen
        .iter()
        .map(|(seq, arrived, _)| commits.seen(*seq).map_or(f64::NAN, |visible| (arrived - visible).max(0.0)))
        .collect();
    after_commit.sort_by(f64::total_cmp);
    let watch_gap = commits.widest_gap();
    Run {
        rate: 100_000.0 / from_first.as_secs_f64(),
        rss: (rss_start, rss_end),
        lateness,
        after_commit,
        watch_gap,
        delivered_by,
        cpu,
        machine,
        own,
    }
}

/// The report's rows.
pub async fn events() -> String {
    let without = run(Endpoint::None, 18951, None).await;
    let up = run(Endpoint::Up, 18952, None).await;
    let tls = run(Endpoint::UpTls, 18955, None).await;
    let down = run(Endpoint::Down, 18953, None).await;
    let paced = run(Endpoint::Up, 18954, Some("2000")).await;
    let mut rows = Vec::new();
    for (name, r) in [
        ("no endpoint", &without),
        ("one endpoint, every event, answering at once", &up),
        ("the same over HTTPS (the receiver's TLS on the same two cores)", &tls),
        ("that endpoint down (port closed)", &down),
        ("one endpoint up, calls paced at 2,000/s (4,000 events/s)", &paced),
    ] {
        let spread = |v: &[f64]| {
            if v.is_empty() {
                "–".to_owned()
            } else {
                format!("{:.0} / {:.0} / {:.0} ms", percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1.0))
            }
        };
        let late = if r.lateness.is_empty() {
            "–".to_owned()
        } else {
            format!(
                "{} ({} deliveries, all in by {:.1} s; commits seen within {:.0} ms)",
                spread(&r.lateness),
                r.lateness.len(),
                r.delivered_by.unwrap_or(f64::NAN),
                r.watch_gap
            )
        };
        rows.push(format!(
            "| {name} | {:.0} | {:.2} | {:.1} s | {:.1} / {:.1} s | {:.1} s | {} | {late} | {:.0} → {:.0} MiB |",
            r.rate,
            r.rate / without.rate,
            r.cpu,
            r.machine.0,
            r.machine.1,
            r.own,
            spread(&r.after_commit),
            r.rss.0,
            r.rss.1
        ));
    }
    rows.join("\n")
}

//! The events benchmark (API.md §13): the burn-down of 100,000 contacts over 100 campaigns
//! (zero-length simulated calls, real clock) with no webhook endpoint and with one endpoint
//! subscribed to every event that answers at once, `PAIRS` times each, taking turns; then with that
//! endpoint over HTTPS, with it down (its port closed), with the calls paced (`--calls-per-second
//! 2000`, a rate the delivery keeps up with), and with it disabled through the burn-down and then
//! enabled, to time its catching up on every event. With the endpoint up it reports how long after
//! its commit each event reached the receiver (p50 / p99 / max; the commit as a watcher polling the
//! newest event number every 10 ms saw it), and how long after its `created_at` (a call's end, which
//! may precede the commit that records it); each run, the server's memory before and after.

mod measure;
mod receivers;

use super::{contact, fresh_db, load, post, spawn, wait_burn_down};
use measure::{Commits, cpu_seconds, machine_seconds, percentile, rss_mib};
use receivers::Seen;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which endpoint a run has.
#[derive(Clone, Copy, PartialEq)]
enum Endpoint {
    None,
    Up,
    /// Up, over HTTPS.
    UpTls,
    Down,
    /// Up but disabled through the burn-down, then enabled: it catches up on every event at once.
    Backlog,
}

/// Runs without an endpoint and with it up, taking turns: each run with the endpoint is compared with
/// the runs on either side of it, since the machine's speed drifts from one run to the next.
const PAIRS: usize = 4;

/// An endpoint catching up on a burn-down's events, from its enabling to the last event's arrival:
/// how long it took, and the CPU time of the server, of the receiver and of the whole machine.
struct CatchUp {
    seconds: f64,
    server: f64,
    receiver: f64,
    busy: f64,
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
    catch_up: Option<CatchUp>,
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
        Endpoint::Up | Endpoint::Backlog => (Some(receivers::plain(seen.clone())), None),
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
    let client = reqwest::Client::new();
    let mut endpoint_id = String::new();
    if let Some(url) = &url {
        let api = spawn(&db, port, &flags).await;
        let made =
            post(&client, format!("{}/api/v1/webhook-endpoints", api.base), json!({"url": url, "events": ["*"]})).await;
        endpoint_id = made["webhook_endpoint_id"].as_str().unwrap_or_default().to_owned();
        if endpoint == Endpoint::Backlog {
            disable(&client, &api.base, &endpoint_id, true).await;
        }
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
    let (mut delivered_by, mut catch_up) = (None, None);
    if endpoint == Endpoint::Backlog {
        let (server_start, own_start, machine_start, enabled) =
            (cpu_seconds(pid), cpu_seconds(std::process::id()), machine_seconds(), Instant::now());
        disable(&client, &server.base, &endpoint_id, false).await;
        all_received(&mut conn, before, &seen).await;
        catch_up = Some(CatchUp {
            seconds: enabled.elapsed().as_secs_f64(),
            server: cpu_seconds(pid) - server_start,
            receiver: cpu_seconds(std::process::id()) - own_start,
            busy: machine_seconds().0 - machine_start.0,
        });
    }
    if matches!(endpoint, Endpoint::Up | Endpoint::UpTls) {
        all_received(&mut conn, before, &seen).await;
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
        catch_up,
    }
}

/// Waits (up to 10 minutes) until the receiver has had every event after `before`: 100,000 calls
/// and contacts, and the status changes.
async fn all_received(conn: &mut super::Db, before: i64, seen: &Seen) {
    let events: i64 = conn.number(&format!("SELECT count(*) FROM events WHERE seq > {before}")).await;
    let drain = Instant::now() + Duration::from_secs(600);
    while (seen.0.lock().unwrap().len() as i64) < events && Instant::now() < drain {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Disables the endpoint, or enables it again, through the server at `base`.
async fn disable(client: &reqwest::Client, base: &str, id: &str, disabled: bool) {
    let url = format!("{base}/api/v1/webhook-endpoints/{id}");
    let r = client.patch(url).bearer_auth(super::TOKEN).json(&json!({"disabled": disabled})).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

/// The report's rows.
pub async fn events() -> String {
    let ports = std::cell::Cell::new(18950);
    let port = || {
        ports.set(ports.get() + 1);
        ports.get()
    };
    let mut without = vec![run(Endpoint::None, port(), None).await];
    let mut up = Vec::new();
    for _ in 0..PAIRS {
        up.push(run(Endpoint::Up, port(), None).await);
        without.push(run(Endpoint::None, port(), None).await);
    }
    let tls = run(Endpoint::UpTls, port(), None).await;
    let down = run(Endpoint::Down, port(), None).await;
    let paced = run(Endpoint::Up, port(), Some("2000")).await;
    let backlog = run(Endpoint::Backlog, port(), None).await;
    let baseline = without.iter().map(|r| r.rate).sum::<f64>() / without.len() as f64;
    let mut rows = vec![row("no endpoint", &without[0], without[0].rate / baseline)];
    let mut ratios = Vec::new();
    for (i, r) in up.iter().enumerate() {
        let ratio = r.rate / ((without[i].rate + without[i + 1].rate) / 2.0);
        ratios.push(ratio);
        rows.push(row("one endpoint, every event, answering at once", r, ratio));
        rows.push(row("no endpoint", &without[i + 1], without[i + 1].rate / baseline));
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let (low, high) = ratios.iter().fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
    rows.push(format!(
        "| **one endpoint up, mean of the {} runs against the runs either side** | | **{mean:.3}** ({low:.3} to {high:.3}) | | | | | | |",
        ratios.len()
    ));
    rows.push(row("the same over HTTPS (the receiver's TLS on the same two cores)", &tls, tls.rate / baseline));
    rows.push(row("that endpoint down (port closed)", &down, down.rate / baseline));
    rows.push(row("one endpoint up, calls paced at 2,000/s (4,000 events/s)", &paced, f64::NAN));
    rows.push(row("that endpoint disabled through the burn-down, then enabled", &backlog, backlog.rate / baseline));
    rows.join("\n")
}

/// A run's row; `ratio` is its burn-down against the runs without an endpoint it is compared with.
fn row(name: &str, r: &Run, ratio: f64) -> String {
    let spread = |v: &[f64]| {
        if v.is_empty() {
            "–".to_owned()
        } else {
            format!("{:.0} / {:.0} / {:.0} ms", percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1.0))
        }
    };
    let late = match (&r.catch_up, r.lateness.is_empty()) {
        (Some(c), _) => format!(
            "caught up on {} events in {:.2} s ({:.0} a second); CPU: server {:.2} s, receiver {:.2} s, the rest of the machine (PostgreSQL, when it is the store) {:.2} s",
            r.lateness.len(),
            c.seconds,
            r.lateness.len() as f64 / c.seconds,
            c.server,
            c.receiver,
            (c.busy - c.server - c.receiver).max(0.0)
        ),
        (None, true) => "–".to_owned(),
        (None, false) => format!(
            "{} ({} deliveries, all in by {:.1} s; commits seen within {:.0} ms)",
            spread(&r.lateness),
            r.lateness.len(),
            r.delivered_by.unwrap_or(f64::NAN),
            r.watch_gap
        ),
    };
    let ratio = if ratio.is_nan() { "(paced)".to_owned() } else { format!("{ratio:.2}") };
    let after_commit = if r.catch_up.is_some() { "–".to_owned() } else { spread(&r.after_commit) };
    format!(
        "| {name} | {:.0} | {ratio} | {:.1} s | {:.1} / {:.1} s | {:.1} s | {after_commit} | {late} | {:.0} → {:.0} MiB |",
        r.rate, r.cpu, r.machine.0, r.machine.1, r.own, r.rss.0, r.rss.1
    )
}

//! Dispatch benchmark: burn-down throughput (1 and 2 replicas), utilisation under limits, and
//! idle-to-first-call latency, against release `graine serve` processes on the local Postgres or on
//! embedded SQLite files (`sqlite` as the second argument; one replica only, as the store allows).
//!
//! Run with `scripts/bench-dispatch` (builds the release binary first). Prints a markdown report.

mod calling_rules;
mod events;
mod idle;
mod latency;
mod providers;
mod recipient;

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TOKEN: &str = "gat_bench_token_000000000000000000";
const SERVER: &str = "postgres://localhost:5432";

/// A child server process, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the servers run on SQLite files instead of Postgres databases.
static SQLITE: OnceLock<bool> = OnceLock::new();

fn sqlite() -> bool {
    *SQLITE.get().unwrap_or(&false)
}

/// Where a bench database lives, as graine's `--database-url`.
fn url(db: &str) -> String {
    if sqlite() {
        format!("sqlite://{}/target/bench-dispatch/{db}.db", env!("CARGO_MANIFEST_DIR"))
    } else {
        format!("{SERVER}/{db}")
    }
}

/// The benchmark's own connection to a bench database, for progress reads the API does not give.
#[path = "../tests/support/db.rs"]
mod db;
use db::Db;

fn binary() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    format!("{root}/target/release/graine")
}

async fn spawn(db: &str, port: u16, args: &[&str]) -> Server {
    let child = Command::new(binary())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &url(db)])
        .args(["--bootstrap-token", TOKEN])
        .args(args)
        .env("GRAINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/release/graine runs (cargo build --release)");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("server on port {port} did not become ready");
}

/// A port nothing listens on (for now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A new, empty bench database with its tables (a server is started and stopped on it), and the
/// benchmark's connection to it.
async fn fresh_db(name: &str) -> Db {
    if sqlite() {
        let dir = format!("{}/target/bench-dispatch", env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(&dir).unwrap();
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{dir}/{name}.db{suffix}"));
        }
        drop(spawn(name, 18899, &["--dispatch", "false"]).await);
        return Db::connect(&url(name)).await;
    }
    let mut admin = PgConnection::connect(&format!("{SERVER}/postgres")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    Db::connect(&url(name)).await
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let r = client.post(url).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// Creates `campaigns` campaigns with the given limits and a batch each, through an API-only server.
async fn load(db: &str, limits: &[i64], contacts: impl Fn(usize, i64) -> Vec<Value>) {
    let api = spawn(db, 18901, &["--dispatch", "false"]).await;
    let client = reqwest::Client::new();
    for (i, limit) in limits.iter().enumerate() {
        let c = post(
            &client,
            format!("{}/api/v1/campaigns/", api.base),
            json!({"name": format!("bench {i}"), "agent_id": "agent", "phone_numbers": ["+919876543210", "+919876543211"],
                   "metadata": {"concurrency_limit": limit}, "retry_policy": {"max_retries": 0}}),
        )
        .await;
        post(
            &client,
            format!("{}/api/v1/batches/", api.base),
            json!({"campaign_id": c["campaign_id"], "contacts": contacts(i, *limit)}),
        )
        .await;
    }
}

fn contact(number: String) -> Value {
    json!({"phone_number": number, "call_variables": {"callee_name": "Bench"}})
}

/// The p99 upper bound from a Prometheus histogram's cumulative buckets.
fn p99_from_metrics(texts: &[String], name: &str) -> String {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for text in texts {
        for line in text.lines().filter(|l| l.starts_with(&format!("{name}_bucket{{le=\""))) {
            let le = line.split('"').nth(1).unwrap_or("+Inf");
            let bound = le.parse::<f64>().unwrap_or(f64::INFINITY);
            let n: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            match buckets.iter_mut().find(|(b, _)| *b == bound) {
                Some(slot) => slot.1 += n,
                None => buckets.push((bound, n)),
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    let bound = buckets.iter().find(|(_, n)| *n >= 0.99 * total).map_or(f64::NAN, |b| b.0);
    format!("≤ {} ms ({} claims)", bound * 1000.0, total)
}

async fn burn_down(replicas: usize) -> String {
    let db = format!("graine_bench_burn_{replicas}");
    let mut conn = fresh_db(&db).await;
    let limits = vec![10_000; 100];
    load(&db, &limits, |i, _| (0..1000).map(|j| contact(format!("+1415{:03}{:04}", 200 + i, 1000 + j))).collect())
        .await;
    let started = Instant::now();
    let cpu_before = cpu_jiffies();
    let mut servers = Vec::new();
    for r in 0..replicas {
        servers.push(spawn(&db, 18910 + r as u16, &["--simulated-call-seconds", "0"]).await);
    }
    let (first_call, _) = wait_burn_down(&mut conn, started, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    let cpu =
        cpu_jiffies().zip(cpu_before).map(|((busy, all), (busy0, all0))| (busy - busy0) * 100 / (all - all0).max(1));
    let client = reqwest::Client::new();
    let mut texts = Vec::new();
    for s in &servers {
        texts.push(client.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap());
    }
    let from_first = elapsed - first_call;
    format!(
        "| {replicas} | 100,000 | {:.1} s | {:.0} | {} | {} |",
        from_first.as_secs_f64(),
        100_000.0 / from_first.as_secs_f64(),
        p99_from_metrics(&texts, "graine_dispatch_claim_seconds"),
        cpu.map_or("n/a".into(), |c| format!("{c}%"))
    )
}

/// Contacts completed so far, and whether any call was placed. Cheap reads only: counting call
/// records every 20 ms would itself load the database.
async fn progress(conn: &mut Db) -> (i64, i64) {
    conn.rows(
        "SELECT CAST(COALESCE((SELECT sum(n_completed) FROM batches), 0) AS BIGINT),
                    CAST((SELECT count(*) FROM (SELECT 1 FROM call_records LIMIT 1) AS one) AS BIGINT)",
    )
    .await[0]
}

/// Waits until the 100,000 contacts of a burn-down are done, or `within` has passed, looking every
/// 20 ms: when (after `started`) the first call was placed, and how many contacts were done.
async fn wait_burn_down(conn: &mut Db, started: Instant, within: Duration) -> (Duration, i64) {
    let mut first_call = None;
    let deadline = Instant::now() + within;
    loop {
        let (done, placed) = progress(conn).await;
        if placed > 0 && first_call.is_none() {
            first_call = Some(started.elapsed());
        }
        if done == 100_000 || Instant::now() > deadline {
            return (first_call.unwrap_or_default(), done);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Busy and total CPU time of the whole machine so far, in clock ticks (Linux `/proc/stat`).
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let all: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((all - idle, all))
}

async fn limit_bound() -> String {
    let db = "graine_bench_limits";
    let mut conn = fresh_db(db).await;
    let limits: Vec<i64> = (1..=50).collect();
    // calls of 1 s (…0005), 3 s (…0003), 4 s (answered, 1 s talk after 3 s ringing) and 5 s (…0001)
    let ends = ["0005", "0003", "1234", "0001"];
    load(db, &limits, |_, limit| {
        (0..(limit as usize * 8)).map(|j| contact(format!("+1415{:03}{}", 200 + j, ends[j % 4]))).collect()
    })
    .await;
    let _server = spawn(db, 18920, &["--simulated-call-seconds", "1"]).await;
    // measure from the first call on (before it the process is still starting)
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if conn.number("SELECT count(*) FROM call_records").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (mut used, mut capacity, mut samples) = (0i64, 0i64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let rows: Vec<(i64, i64, i64)> = conn
            .rows(
                "SELECT CAST(c.concurrency_limit AS BIGINT), CAST(c.in_flight AS BIGINT),
                        CAST(COALESCE((SELECT sum(b.n_pending) FROM batches b WHERE b.campaign_id = c.id), 0) AS BIGINT)
                 FROM campaigns c",
            )
            .await;
        let waiting: Vec<_> = rows.iter().filter(|r| r.2 > 0).collect();
        if waiting.is_empty() || Instant::now() > deadline {
            break;
        }
        for (limit, in_flight, _) in waiting {
            used += *in_flight;
            capacity += *limit;
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let over = conn.number("SELECT count(*) FROM campaigns WHERE in_flight > concurrency_limit").await;
    format!(
        "| 50 campaigns, limits 1–50, {} contacts, calls of 1–5 s | {:.1}% | {samples} | {over} |",
        8 * 1275,
        100.0 * used as f64 / capacity.max(1) as f64
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let which = args.first().cloned().unwrap_or_else(|| "all".into());
    SQLITE.set(args.get(1).is_some_and(|s| s == "sqlite")).unwrap();
    println!("Store: {}\n", if sqlite() { "embedded SQLite" } else { "Postgres" });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        if which == "all" || which == "burn" {
            println!("### Burn-down: 100,000 due contacts over 100 campaigns, zero-length simulated calls\n");
            println!(
                "| replicas | contacts | time (first call → last completed) | calls/s | claim transaction p99 | CPU busy |"
            );
            println!("|---|---|---|---|---|---|");
            for replicas in if sqlite() { &[1][..] } else { &[1, 2][..] } {
                println!("{}", burn_down(*replicas).await);
            }
            println!();
        }
        if which == "all" || which == "limits" {
            println!("### Limit-bound: in-flight against the limit while work waits\n");
            println!("| run | utilisation (Σ in-flight / Σ limit, campaigns with waiting contacts) | samples | campaigns over their limit at the end |");
            println!("|---|---|---|---|");
            println!("{}\n", limit_bound().await);
        }
        if which == "all" || which == "start" {
            println!("### Start on a new database\n");
            println!("| measure | p50 | max |");
            println!("|---|---|---|");
            println!("{}\n", latency::start_to_ready().await);
        }
        if which == "callbacks" {
            println!("{}", providers::callbacks().await);
        }
        if which == "livekit" {
            println!("{}", providers::livekit().await);
        }
        if which == "providers" {
            println!("{}", providers::providers().await);
        }
        if which == "recipient" {
            println!("### Recipient time: 1,000,000 contacts over 50 US states and 10 countries, one campaign\n");
            println!("| basis | ingest (contacts/s) | calls placed | burn-down (calls/s) |");
            println!("|---|---|---|---|");
            println!("{}\n", recipient::recipient().await);
        }
        if which == "rules" {
            println!("### Calling rules: a 1,000,000-number do-not-call list and an organization-wide cap\n");
            println!("| run | suppressions added/s (first 100,000 / all) | ingest (contacts/s) | calls placed | burn-down (calls/s) |");
            println!("|---|---|---|---|---|");
            println!("{}\n", calling_rules::calling_rules().await);
        }
        if which == "events" {
            println!("### Events: burn-down with a webhook endpoint subscribed to every event\n");
            println!("| run | burn-down (calls/s) | against no endpoint (with the endpoint up: the runs either side; otherwise the mean of the runs without) | server CPU in the burn-down | machine CPU busy / idle (2 cores) | benchmark process CPU (the receiver) | delivery after commit p50 / p99 / max | after created_at p50 / p99 / max (or the catching up) | server memory start → end |");
            println!("|---|---|---|---|---|---|---|---|---|");
            println!("{}\n", events::events().await);
        }
        if which == "idle" {
            println!("### Idle: every campaign outside its working hours\n");
            println!("| load | measured | CPU while idle (30 s, server + its PostgreSQL backends) | zone opens → first call |");
            println!("|---|---|---|---|");
            println!("{}\n", idle::idle().await);
        }
        if which == "all" || which == "latency" {
            println!("### Idle to first call\n");
            println!("| measure | p50 | p90 | max |");
            println!("|---|---|---|---|");
            println!("{}\n", latency::first_call_latency().await);
        }
    });
}

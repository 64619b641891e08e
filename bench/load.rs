//! Load benchmark of the Graine server (run it with `scripts/bench`; BENCHMARKS.md has the results).
//!
//! It starts the real release binary (`target/release/graine`) as a child process, and a bare axum + sqlx
//! server (this same binary re-executed with `bare-server`) as a baseline, drives them over loopback with a
//! shared keep-alive `reqwest` client, and prints a markdown report to stdout (progress goes to stderr).
//! Every loop is bounded in count and time, and child processes are stopped by a guard, also on panic.

use clap::Parser;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bootstrap token every graine server of the run is started with.
const TOKEN: &str = "gat_bench_token_000000000000000000";
/// Body of every campaign POST: a minimal valid campaign with two phone numbers.
const CAMPAIGN_BODY: &str =
    r#"{"name":"Bench campaign","agent_id":"agent_bench","phone_numbers":["+919876543210","+919876543211"]}"#;
/// Most contacts the product accepts in one batch (API.md §4.2).
const MAX_CONTACTS: usize = 100_000;
/// The product's default `--max-body-bytes`.
const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// No load worker sends more than this many requests in one scenario, whatever the time.
const MAX_REQUESTS_PER_WORKER: u64 = 1_000_000;
/// Longest any single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest an ingest request may take.
const INGEST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Parser, Debug, Clone)]
#[command(name = "load", about = "Load benchmark of the Graine server; prints a markdown report")]
struct Opts {
    /// Measured seconds per throughput scenario.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds before each measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Which parts to run.
    #[arg(long, value_enum, default_value_t = Part::All)]
    only: Part,
    /// The store graine runs on (the bare baseline of part A always uses Postgres).
    #[arg(long, value_enum, default_value_t = StoreKind::Postgres)]
    store: StoreKind,
    /// Contacts per batch in part B (100000 is the product's maximum).
    #[arg(long, default_value_t = 100_000)]
    batch_size: usize,
    /// Batches in the one campaign of part B.2.
    #[arg(long, default_value_t = 10)]
    scale_batches: usize,
    /// Rounds of part A; the scenarios of ours and of the bare server alternate within each round, and
    /// the summary takes the median over rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Also measure a bare server whose pool does not ping each connection it hands out (sqlx's
    /// `test_before_acquire(false)`), to size that round trip.
    #[arg(long)]
    bare_no_ping: bool,
    /// Existing campaigns the GET scenarios read.
    #[arg(long, default_value_t = 1000)]
    get_ids: usize,
    /// Postgres server URL, without a database name.
    #[arg(long, env = "GRAINE_BENCH_PG", default_value = "postgres://localhost:5432")]
    pg: String,
    /// The graine binary (default: `release/graine` next to this benchmark's binary).
    #[arg(long, env = "GRAINE_BENCH_BIN")]
    graine_bin: Option<PathBuf>,
    /// Before each measurement, wait (at most this many seconds) until the rest of the machine uses less
    /// than 30% of a core, so that other processes' bursts (builds, checkpoints) do not skew it; 0: never wait.
    #[arg(long, default_value_t = 90.0)]
    quiet_wait: f64,
    /// Record a CPU profile of the server (`perf record`) during each measured window and ingest request,
    /// into the log directory as `<scenario>.perf.data` (read with `perf report -i FILE`).
    #[arg(long)]
    perf: bool,
    /// Part L keeps its seeded database as `graine_bench_lists_seed` and, when that exists, starts from a
    /// copy of it instead of seeding again (for runs that compare two builds of the listing).
    #[arg(long)]
    lists_seed_cache: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum StoreKind {
    Postgres,
    /// Embedded: a SQLite file per database, in the log directory.
    Sqlite,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    All,
    A,
    B,
    /// The listings of an organization with 100,000 campaigns (not part of `all`).
    Lists,
}

mod lists;

fn main() {
    // `cargo bench` passes `--bench` to harness-less benchmarks.
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.get(1).map(String::as_str) == Some("bare-server") {
        bare::main(&args[2..]);
        return;
    }
    let opts = Opts::parse_from(args);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(run(opts));
}

// ---------------------------------------------------------------------------------------------------------
// Processes: child servers with a stopping guard, and what /proc says about them.

/// A server running as a child process; stopped (SIGTERM, then SIGKILL) when dropped, also on panic.
struct Server {
    name: String,
    child: Child,
    base: String,
    db: String,
    log: PathBuf,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets a process's peak RSS (`VmHWM`) to its current RSS; false when the kernel refused.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User + system CPU time of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Busy CPU time of the whole machine (all cores), in clock ticks, from `/proc/stat`.
fn machine_busy_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait
    [0, 1, 2, 5, 6, 7].iter().map(|&i| f.get(i).copied().unwrap_or(0)).sum()
}

/// Waits until the machine is quiet (busy < 30% of one core over a second), at most `max` seconds.
async fn wait_quiet(ticks: f64, max: f64) {
    let started = Instant::now();
    let mut busy = 0.0;
    while started.elapsed().as_secs_f64() < max {
        let before = machine_busy_ticks();
        tokio::time::sleep(Duration::from_secs(1)).await;
        busy = machine_busy_ticks().saturating_sub(before) as f64 / ticks * 100.0;
        if busy < 30.0 {
            if started.elapsed().as_secs_f64() > 1.5 {
                eprintln!("    waited {:.0} s for the machine to be quiet", started.elapsed().as_secs_f64());
            }
            return;
        }
    }
    if max > 0.0 {
        eprintln!("    the machine is still busy ({busy:.0}% of a core) after {max:.0} s; measuring anyway");
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `perf record` of a server while it lives (with `--perf`); stopped with SIGINT when dropped.
struct Profile(Option<Child>);

impl Profile {
    fn start(ctx: &Ctx, server: &Server, label: &str) -> Self {
        if !ctx.opts.perf {
            return Self(None);
        }
        let slug: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let file = ctx.logs.join(format!("{}-{slug}.perf.data", server.name));
        let child = Command::new("perf")
            .args(["record", "-q", "-F", "999", "-p", &server.pid().to_string(), "-o"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = &child {
            eprintln!("    perf record could not start: {e}");
        }
        std::thread::sleep(Duration::from_millis(300));
        Self(child.ok())
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The run's context.

struct Ctx {
    opts: Opts,
    client: reqwest::Client,
    admin: PgPool,
    graine_bin: PathBuf,
    logs: PathBuf,
    ticks: f64,
    /// Makes idempotency keys unique across runs.
    nonce: u128,
}

impl Ctx {
    fn db_url(&self, db: &str) -> String {
        format!("{}/{db}", self.opts.pg.trim_end_matches('/'))
    }

    /// Where graine keeps a bench database: on the Postgres server, or in a SQLite file.
    fn graine_url(&self, db: &str) -> String {
        match self.opts.store {
            StoreKind::Postgres => self.db_url(db),
            StoreKind::Sqlite => format!("sqlite://{}", self.logs.join(format!("{db}.db")).display()),
        }
    }

    /// Drops and recreates a bench database (and deletes its SQLite files).
    async fn fresh_db(&self, name: &str) {
        assert!(name.starts_with("graine_bench_"), "only bench databases are dropped");
        for suffix in [".db", ".db-wal", ".db-shm", ".db.lock"] {
            let _ = std::fs::remove_file(self.logs.join(format!("{name}{suffix}")));
        }
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&self.admin)
            .await
            .expect("drop bench database");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&self.admin).await.expect("create bench database");
    }

    /// Starts `graine serve` on a fresh port; `log_level` None keeps the product's default (info).
    async fn start_graine(&self, name: &str, db: &str, log_level: Option<&str>) -> Server {
        let port = free_port();
        let log = self.logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create server log");
        let mut cmd = Command::new(&self.graine_bin);
        cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &self.graine_url(db)])
            .args(["--bootstrap-token", TOKEN])
            .env_remove("GRAINE_LOG")
            .env_remove("DATABASE_URL")
            .env_remove("GRAINE_DB_MAX_CONNECTIONS")
            .env_remove("GRAINE_MAX_BODY_BYTES")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        if let Some(level) = log_level {
            cmd.env("GRAINE_LOG", level);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.graine_bin.display()));
        let server = Server { name: name.into(), child, base: format!("http://127.0.0.1:{port}"), db: db.into(), log };
        self.wait_ready(&server, "/readyz").await;
        server
    }

    /// Starts the bare axum + sqlx server (this binary, `bare-server`).
    async fn start_bare(&self, name: &str, db: &str, ping: bool) -> Server {
        let port = free_port();
        let log = self.logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create server log");
        let exe = std::env::current_exe().expect("own executable");
        let child = Command::new(exe)
            .args(["bare-server", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &self.db_url(db)])
            .args(if ping { &[][..] } else { &["--no-ping"][..] })
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start the bare server");
        let server = Server { name: name.into(), child, base: format!("http://127.0.0.1:{port}"), db: db.into(), log };
        self.wait_ready(&server, "/healthz").await;
        server
    }

    async fn wait_ready(&self, server: &Server, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let r = self.client.get(format!("{}{path}", server.base)).timeout(Duration::from_secs(2)).send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        panic!("{} did not become ready within 60 s; its log:\n{log}", server.name);
    }

    /// The Postgres backends serving a database now.
    async fn backends(&self, db: &str) -> Vec<u32> {
        let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
            .bind(db)
            .fetch_all(&self.admin)
            .await
            .unwrap_or_default();
        pids.into_iter().map(|p| p as u32).collect()
    }
}

/// CPU seconds used between two points by the server, its Postgres backends and this process.
struct CpuMark {
    at: Instant,
    server: u64,
    postgres: u64,
    backends: Vec<u32>,
    client: u64,
    machine: u64,
}

/// CPU use over a window, in % of one core (200% = both cores of this machine).
#[derive(Clone, Copy, Debug, Default)]
struct CpuUse {
    server: f64,
    postgres: f64,
    client: f64,
    /// Everything else on the machine: other processes, Postgres's background workers, the kernel.
    other: f64,
    secs: f64,
}

impl CpuMark {
    async fn take(ctx: &Ctx, server: &Server) -> Self {
        let backends = ctx.backends(&server.db).await;
        Self {
            at: Instant::now(),
            server: cpu_ticks(server.pid()),
            postgres: backends.iter().map(|p| cpu_ticks(*p)).sum(),
            backends,
            client: cpu_ticks(std::process::id()),
            machine: machine_busy_ticks(),
        }
    }

    /// CPU use since `self`.
    fn since(&self, ctx: &Ctx, server: &Server) -> CpuUse {
        let secs = self.at.elapsed().as_secs_f64();
        let pct = |ticks: u64| ticks as f64 / ctx.ticks / secs * 100.0;
        let pg_now: u64 = self.backends.iter().map(|p| cpu_ticks(*p)).sum();
        let server = pct(cpu_ticks(server.pid()).saturating_sub(self.server));
        let postgres = pct(pg_now.saturating_sub(self.postgres));
        let client = pct(cpu_ticks(std::process::id()).saturating_sub(self.client));
        let machine = pct(machine_busy_ticks().saturating_sub(self.machine));
        CpuUse { server, postgres, client, other: (machine - server - postgres - client).max(0.0), secs }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Throughput scenarios.

/// Builds the `seq`-th request of worker `w`.
type MakeRequest = Arc<dyn Fn(&reqwest::Client, usize, u64) -> reqwest::RequestBuilder + Send + Sync>;

#[derive(Clone, Debug)]
struct LoadResult {
    label: String,
    round: usize,
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rss_mib: f64,
    hwm_mib: f64,
    cpu: CpuUse,
}

/// Percentile of sorted microsecond latencies, in milliseconds.
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// Drives `server` with `connections` workers: warm-up, then the measured window; every request must
/// answer `expected`.
async fn load(ctx: &Ctx, server: &Server, label: &str, expected: u16, make: MakeRequest) -> LoadResult {
    wait_quiet(ctx.ticks, ctx.opts.quiet_wait).await;
    eprintln!("  {label}: {:.0} s warm-up + {:.0} s", ctx.opts.warmup, ctx.opts.duration);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(ctx.opts.warmup);
    let until = measure_from + Duration::from_secs_f64(ctx.opts.duration);
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..ctx.opts.connections {
        let client = ctx.client.clone();
        let make = make.clone();
        workers.spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut errors, mut first_error) = (0usize, None::<String>);
            let mut seq = 0u64;
            while Instant::now() < until && seq < MAX_REQUESTS_PER_WORKER {
                let sent = Instant::now();
                let outcome = match make(&client, w, seq).timeout(REQUEST_TIMEOUT).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.bytes().await {
                            Ok(_) if status == expected => Ok(()),
                            Ok(body) => Err(format!("status {status}: {}", String::from_utf8_lossy(&body))),
                            Err(e) => Err(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("request failed: {e}")),
                };
                seq += 1;
                let measured = sent >= measure_from && sent < until;
                match outcome {
                    Ok(()) if measured => latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Ok(()) => {}
                    Err(e) => {
                        if measured {
                            errors += 1;
                        }
                        first_error.get_or_insert(e);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            (latencies, errors, first_error)
        });
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let peak_reset = reset_peak(server.pid());
    let profile = Profile::start(ctx, server, label);
    let mark = CpuMark::take(ctx, server).await;
    tokio::time::sleep_until(until.into()).await;
    let cpu = mark.since(ctx, server);
    drop(profile);
    let (rss, hwm) = memory_kib(server.pid());
    let mut all = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    while let Some(done) = workers.join_next().await {
        let (lat, e, first) = done.expect("load worker panicked");
        all.extend(lat);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    all.sort_unstable();
    let r = LoadResult {
        label: label.into(),
        round: 0,
        ok: all.len(),
        errors,
        first_error,
        rps: all.len() as f64 / ctx.opts.duration,
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        max_ms: all.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0),
        rss_mib: mib(rss),
        hwm_mib: if peak_reset { mib(hwm) } else { f64::NAN },
        cpu,
    };
    eprintln!(
        "    {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
        r.rps,
        r.p50_ms,
        r.p99_ms,
        r.errors,
        r.first_error.as_deref().map(|e| format!(" (first: {})", truncate(e, 300))).unwrap_or_default()
    );
    r
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn load_table(rows: &[LoadResult]) -> String {
    let mut out = String::from(
        "| scenario | requests | req/s | p50 ms | p99 ms | max ms | errors | server RSS end MiB | server peak MiB | server CPU | Postgres CPU | client CPU | other CPU |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {:.1} | {:.1} | {:.0}% | {:.0}% | {:.0}% | {:.0}% |",
            r.label,
            r.ok,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.errors,
            r.rss_mib,
            r.hwm_mib,
            r.cpu.server,
            r.cpu.postgres,
            r.cpu.client,
            r.cpu.other
        );
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// POSTs `n` campaigns at 32 connections and returns the ids the server gave them.
async fn seed_campaigns(ctx: &Ctx, url: String, id_field: &'static str, n: usize) -> Vec<String> {
    let url = Arc::new(url);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..ctx.opts.connections.min(n.max(1)) {
        let (client, url, next) = (ctx.client.clone(), url.clone(), next.clone());
        workers.spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                ids.push(create_one(&client, &url, id_field).await);
            }
            ids
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(done) = workers.join_next().await {
        ids.extend(done.expect("seed worker"));
    }
    ids
}

fn post_campaign(url: String, idempotent: Option<u128>) -> MakeRequest {
    Arc::new(move |c, w, seq| {
        let r = c.post(&url).bearer_auth(TOKEN).header("content-type", "application/json").body(CAMPAIGN_BODY);
        match idempotent {
            Some(nonce) => r.header("idempotency-key", format!("bench-{nonce:x}-{w}-{seq}")),
            None => r,
        }
    })
}

fn get_rotating(urls: Vec<String>) -> MakeRequest {
    let urls = Arc::new(urls);
    Arc::new(move |c, w, seq| {
        let i = (w as u64 * 7919 + seq) as usize % urls.len();
        c.get(&urls[i]).bearer_auth(TOKEN)
    })
}

struct PartA {
    /// Every measured window, round by round.
    rounds: Vec<LoadResult>,
    /// Per scenario, the median over rounds.
    summary: Vec<LoadResult>,
    idle_rss: Vec<(String, f64)>,
    server_side: Vec<(String, usize, f64, f64, f64)>,
}

/// The median of each scenario's rounds (by requests/s, with that round's latencies; the worst memory).
fn medians(rows: &[LoadResult], labels: &[String]) -> Vec<LoadResult> {
    labels
        .iter()
        .filter_map(|label| {
            let mut mine: Vec<&LoadResult> = rows.iter().filter(|r| &r.label == label).collect();
            mine.sort_by(|a, b| a.rps.total_cmp(&b.rps));
            let mid = (*mine.get(mine.len() / 2)?).clone();
            let rss_mib = mine.iter().map(|r| r.rss_mib).fold(0.0, f64::max);
            let hwm_mib = mine.iter().map(|r| r.hwm_mib).fold(0.0, f64::max);
            let errors = mine.iter().map(|r| r.errors).sum();
            Some(LoadResult { rss_mib, hwm_mib, errors, ..mid })
        })
        .collect()
}

async fn part_a(ctx: &Ctx) -> PartA {
    let n_ids = ctx.opts.get_ids;
    eprintln!("A. starting graine (GRAINE_LOG=warn), graine (default info logging) and the bare server");
    for db in ["graine_bench_a_ours", "graine_bench_a_info", "graine_bench_a_bare"] {
        ctx.fresh_db(db).await;
    }
    let ours = ctx.start_graine("graine-warn", "graine_bench_a_ours", Some("warn")).await;
    let info = ctx.start_graine("graine-info", "graine_bench_a_info", None).await;
    let bare = ctx.start_bare("bare", "graine_bench_a_bare", true).await;
    let no_ping = if ctx.opts.bare_no_ping {
        ctx.fresh_db("graine_bench_a_bare_np").await;
        Some(ctx.start_bare("bare-no-ping", "graine_bench_a_bare_np", false).await)
    } else {
        None
    };
    let idle_rss = vec![
        ("graine (warn), idle after start".to_owned(), mib(memory_kib(ours.pid()).0)),
        ("graine (info), idle after start".to_owned(), mib(memory_kib(info.pid()).0)),
        ("bare, idle after start".to_owned(), mib(memory_kib(bare.pid()).0)),
    ];
    eprintln!("A. seeding {n_ids} campaigns in each");
    let mut gets = Vec::new();
    for (server, api, field, path) in [
        (&ours, "/api/v1/campaigns/", "campaign_id", "/api/v1/campaigns/"),
        (&info, "/api/v1/campaigns/", "campaign_id", "/api/v1/campaigns/"),
        (&bare, "/campaigns", "id", "/campaigns/"),
    ] {
        let ids = seed_campaigns(ctx, format!("{}{api}", server.base), field, n_ids).await;
        gets.push(ids.iter().map(|id| format!("{}{path}{id}", server.base)).collect::<Vec<_>>());
    }
    let np_gets = match &no_ping {
        Some(np) => {
            let ids = seed_campaigns(ctx, format!("{}/campaigns", np.base), "id", n_ids).await;
            ids.iter().map(|id| format!("{}/campaigns/{id}", np.base)).collect()
        }
        None => Vec::new(),
    };
    let [ours_gets, info_gets, bare_gets] = <[Vec<String>; 3]>::try_from(gets).expect("three servers");
    let mut scenarios: Vec<(&str, &Server, u16, MakeRequest)> = vec![
        ("graine GET /campaigns/{id}", &ours, 200, get_rotating(ours_gets)),
        ("bare GET /campaigns/{id}", &bare, 200, get_rotating(bare_gets)),
        ("graine POST /campaigns/", &ours, 201, post_campaign(format!("{}/api/v1/campaigns/", ours.base), None)),
        ("bare POST /campaigns", &bare, 201, post_campaign(format!("{}/campaigns", bare.base), None)),
        ("graine GET /campaigns/{id}, info logs", &info, 200, get_rotating(info_gets)),
        (
            "graine POST /campaigns/, info logs",
            &info,
            201,
            post_campaign(format!("{}/api/v1/campaigns/", info.base), None),
        ),
        (
            "graine POST /campaigns/ + Idempotency-Key",
            &ours,
            201,
            post_campaign(format!("{}/api/v1/campaigns/", ours.base), Some(ctx.nonce)),
        ),
    ];
    if let Some(np) = &no_ping {
        scenarios.push(("bare GET /campaigns/{id}, no ping", np, 200, get_rotating(np_gets)));
        scenarios.push((
            "bare POST /campaigns, no ping",
            np,
            201,
            post_campaign(format!("{}/campaigns", np.base), None),
        ));
    }
    let mut rounds = Vec::new();
    for round in 1..=ctx.opts.rounds.max(1) {
        eprintln!("A. round {round} of {}", ctx.opts.rounds.max(1));
        for (label, server, expected, make) in &scenarios {
            let mut r = load(ctx, server, label, *expected, make.clone()).await;
            r.round = round;
            rounds.push(r);
        }
    }
    let labels: Vec<String> = scenarios.iter().map(|(l, ..)| (*l).to_owned()).collect();
    let summary = medians(&rounds, &labels);
    let info_log = info.log.clone();
    drop((ours, info, bare, no_ping));
    let server_side = server_side_latencies(&std::fs::read_to_string(&info_log).unwrap_or_default());
    PartA { rounds, summary, idle_rss, server_side }
}

/// Server-side latencies by method, read from the `served` lines of an info-level request log:
/// `(method, count, p50 ms, p99 ms, mean bytes per line)`.
fn server_side_latencies(log: &str) -> Vec<(String, usize, f64, f64, f64)> {
    let mut by_method: std::collections::BTreeMap<String, (Vec<u32>, usize)> = Default::default();
    for line in log.lines().filter(|l| l.contains(" served ")) {
        let plain = strip_ansi(line);
        let field = |name: &str| {
            plain
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(|v| v.trim_matches(['"', '}', ':']).to_owned())
        };
        let (Some(method), Some(ms)) = (field("method="), field("latency_ms=")) else { continue };
        let Ok(ms) = ms.parse::<f64>() else { continue };
        let entry = by_method.entry(method).or_default();
        entry.0.push((ms * 1000.0) as u32);
        entry.1 += line.len() + 1;
    }
    by_method
        .into_iter()
        .map(|(m, (mut v, bytes))| {
            v.sort_unstable();
            let n = v.len();
            (m, n, percentile(&v, 0.5), percentile(&v, 0.99), bytes as f64 / n.max(1) as f64)
        })
        .collect()
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn report_a(ctx: &Ctx, a: &PartA) -> String {
    let mut out = String::from("## A. API throughput\n\n");
    let _ = writeln!(
        out,
        "{} keep-alive connections; {} rounds, each running every scenario in turn for {:.0} s after a {:.0} s \
         warm-up; graine and the bare server alternate within a round. CPU columns are % of one core over the \
         window (200% = both cores): Postgres is the sum over the backends of the server's database, client is \
         this benchmark process, other is the rest of the machine (other processes, Postgres background \
         workers, kernel). `server peak` is VmHWM since the start of the window.\n",
        ctx.opts.connections,
        ctx.opts.rounds.max(1),
        ctx.opts.duration,
        ctx.opts.warmup
    );
    out.push_str("### Median of the rounds\n\n");
    out.push_str(&load_table(&a.summary));
    out.push('\n');
    let find = |prefix: &str| a.summary.iter().find(|r| r.label == prefix).cloned();
    if let (Some(og), Some(op), Some(bg), Some(bp)) = (
        find("graine GET /campaigns/{id}"),
        find("graine POST /campaigns/"),
        find("bare GET /campaigns/{id}"),
        find("bare POST /campaigns"),
    ) {
        let get_ratio = og.rps / bg.rps;
        let post_ratio = op.rps / bp.rps;
        let ours: Vec<&LoadResult> = a.summary.iter().filter(|r| r.label.starts_with("graine")).collect();
        let worst_p99 = ours.iter().map(|r| r.p99_ms).fold(0.0, f64::max);
        let plain_p99 = og.p99_ms.max(op.p99_ms);
        let worst_rss = ours.iter().map(|r| r.hwm_mib.max(r.rss_mib)).fold(0.0, f64::max);
        out.push_str("| check | measured | target | verdict |\n|---|---:|---:|---|\n");
        let _ = writeln!(
            out,
            "| GET ours/bare (req/s) | {:.0}% ({:.0} / {:.0}) | ≥ 70% | {} |",
            get_ratio * 100.0,
            og.rps,
            bg.rps,
            verdict(get_ratio >= 0.7)
        );
        let _ = writeln!(
            out,
            "| POST ours/bare (req/s) | {:.0}% ({:.0} / {:.0}) | ≥ 50% | {} |",
            post_ratio * 100.0,
            op.rps,
            bp.rps,
            verdict(post_ratio >= 0.5)
        );
        let _ = writeln!(
            out,
            "| p99, graine GET and POST (warn) | {plain_p99:.2} ms | < 20 ms | {} |",
            verdict(plain_p99 < 20.0)
        );
        let _ = writeln!(
            out,
            "| p99, worst graine scenario | {worst_p99:.2} ms | < 20 ms | {} |",
            verdict(worst_p99 < 20.0)
        );
        let _ = writeln!(out, "| bare p99, GET / POST (for reference) | {:.2} / {:.2} ms | | |", bg.p99_ms, bp.p99_ms);
        let _ = writeln!(
            out,
            "| graine RSS (worst peak) | {worst_rss:.1} MiB | < 50 MB | {} |",
            verdict(worst_rss < 50.0 * 1e6 / 1048576.0)
        );
        out.push('\n');
        let per_request = |r: &LoadResult| {
            let us = |pct: f64| pct / 100.0 / r.rps * 1e6;
            format!(
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                r.label,
                us(r.cpu.server),
                us(r.cpu.postgres),
                us(r.cpu.client),
                us(r.cpu.server + r.cpu.postgres + r.cpu.client)
            )
        };
        out.push_str(
            "CPU per request (µs, from the medians above):\n\n\
             | scenario | server | Postgres backends | client | total |\n|---|---:|---:|---:|---:|\n",
        );
        for r in &a.summary {
            let _ = writeln!(out, "{}", per_request(r));
        }
        out.push('\n');
    }
    for (what, rss) in &a.idle_rss {
        let _ = writeln!(out, "- RSS of {what}: {rss:.1} MiB");
    }
    for (method, n, p50, p99, bytes) in &a.server_side {
        let _ = writeln!(
            out,
            "- Server-side latency of the info-logged server's {n} {method} requests (its `served` log lines, \
             seeding and warm-up included): p50 {p50:.2} ms, p99 {p99:.2} ms; {bytes:.0} bytes of log per request"
        );
    }
    out.push('\n');
    for r in &a.rounds {
        if let Some(e) = &r.first_error {
            let _ = writeln!(out, "- first error in `{}`, round {}: `{}`\n", r.label, r.round, truncate(e, 300));
        }
    }
    out.push_str("### Every round\n\n");
    let rows: Vec<LoadResult> = a
        .rounds
        .iter()
        .map(|r| LoadResult { label: format!("{} (round {})", r.label, r.round), ..r.clone() })
        .collect();
    out.push_str(&load_table(&rows));
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------------------------
// Part B: batches at scale.

/// The `+1415XXX` exchanges (200–999) whose numbers the product's validation accepts.
fn valid_exchanges() -> Vec<u16> {
    use graine::domain::phone::PhoneNumber;
    (200..1000u16)
        .filter(|x| {
            ["0000", "0100", "5555", "9999"].iter().all(|l| PhoneNumber::parse(&format!("+1415{x}{l}")).is_ok())
        })
        .collect()
}

/// The `g`-th bench phone number: `+1415XXXYYYY`, 10,000 per exchange.
fn phone(exchanges: &[u16], g: usize) -> String {
    format!("+1415{:03}{:04}", exchanges[g / 10_000], g % 10_000)
}

/// A batch body of `n` distinct contacts numbered from `first`, each with a `callee_name`.
fn batch_json(campaign_id: &str, exchanges: &[u16], first: usize, n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 80 + 100);
    let _ = write!(s, r#"{{"campaign_id":"{campaign_id}","contacts":["#);
    for g in first..first + n {
        if g > first {
            s.push(',');
        }
        let _ = write!(
            s,
            r#"{{"phone_number":"{}","call_variables":{{"callee_name":"Callee {g}"}}}}"#,
            phone(exchanges, g)
        );
    }
    s.push_str("]}");
    s.into_bytes()
}

/// The CSV of the same contacts: `phone_number,callee_name`.
fn batch_csv(exchanges: &[u16], first: usize, n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 32 + 32);
    s.push_str("phone_number,callee_name\n");
    for g in first..first + n {
        let _ = writeln!(s, "{},Callee {g}", phone(exchanges, g));
    }
    s.into_bytes()
}

struct Ingest {
    label: String,
    contacts: usize,
    body_bytes: usize,
    secs: f64,
    status: u16,
    rss_before_mib: f64,
    peak_mib: f64,
    rss_after_mib: f64,
    server_cpu_s: f64,
    pg_cpu_s: f64,
    other_cpu_s: f64,
    answer: String,
}

async fn create_campaign(ctx: &Ctx, server: &Server) -> String {
    create_one(&ctx.client, &format!("{}/api/v1/campaigns/", server.base), "campaign_id").await
}

/// POSTs one campaign to `url` (ours or the bare server's) and returns the id the server gave it.
async fn create_one(client: &reqwest::Client, url: &str, id_field: &str) -> String {
    let r = client
        .post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(CAMPAIGN_BODY)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .expect("create a campaign");
    assert_eq!(r.status().as_u16(), 201, "creating a campaign");
    let v: serde_json::Value = r.json().await.expect("campaign JSON");
    v[id_field].as_str().expect("id in the response").to_owned()
}

/// Sends one ingest request, timing it and watching the server's memory and CPU.
async fn ingest(ctx: &Ctx, server: &Server, label: &str, req: reqwest::RequestBuilder, contacts: usize) -> Ingest {
    let body_bytes = req
        .try_clone()
        .and_then(|r| r.build().ok())
        .and_then(|r| r.body().and_then(|b| b.as_bytes()).map(<[u8]>::len))
        .unwrap_or(0);
    wait_quiet(ctx.ticks, ctx.opts.quiet_wait).await;
    let (rss_before, _) = memory_kib(server.pid());
    reset_peak(server.pid());
    let profile = Profile::start(ctx, server, label);
    let mark = CpuMark::take(ctx, server).await;
    let started = Instant::now();
    let r = req.timeout(INGEST_TIMEOUT).send().await.expect("ingest request");
    let status = r.status().as_u16();
    let body = r.bytes().await.expect("ingest response");
    let secs = started.elapsed().as_secs_f64();
    let cpu = mark.since(ctx, server);
    drop(profile);
    let (rss_after, hwm) = memory_kib(server.pid());
    let answer = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
    let r = Ingest {
        label: label.into(),
        contacts,
        body_bytes,
        secs,
        status,
        rss_before_mib: mib(rss_before),
        peak_mib: mib(hwm),
        rss_after_mib: mib(rss_after),
        server_cpu_s: cpu.server / 100.0 * cpu.secs,
        pg_cpu_s: cpu.postgres / 100.0 * cpu.secs,
        other_cpu_s: cpu.other / 100.0 * cpu.secs,
        answer,
    };
    eprintln!(
        "    {label}: status {status} in {secs:.2} s ({:.0} contacts/s), peak RSS {:.1} MiB",
        contacts as f64 / secs,
        r.peak_mib
    );
    r
}

fn batch_request(ctx: &Ctx, server: &Server, body: Vec<u8>) -> reqwest::RequestBuilder {
    ctx.client
        .post(format!("{}/api/v1/batches/", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
}

fn batch_id_of(answer: &Ingest) -> String {
    let start = answer.answer.find("\"batch_id\":\"").expect("batch_id in the answer") + 12;
    answer.answer[start..].split('"').next().expect("batch_id").to_owned()
}

struct Walk {
    pages: usize,
    rows: usize,
    total_secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    deepest_skip: usize,
    deepest_ms: f64,
    first_ms: f64,
    page_bytes: usize,
}

/// Walks a batch's contacts 1000 at a time, sequentially.
async fn walk_contacts(ctx: &Ctx, server: &Server, batch_id: &str, total: usize) -> Walk {
    let pages = total.div_ceil(1000).max(1);
    let mut lat = Vec::with_capacity(pages);
    let (mut rows, mut page_bytes, mut deepest_ms, mut first_ms) = (0, 0, 0.0, 0.0);
    let started = Instant::now();
    for p in 0..pages {
        let url = format!("{}/api/v1/batches/{batch_id}/contacts?skip={}&limit=1000", server.base, p * 1000);
        let t = Instant::now();
        let r = ctx.client.get(url).bearer_auth(TOKEN).timeout(REQUEST_TIMEOUT).send().await.expect("contacts page");
        let status = r.status().as_u16();
        let body = r.bytes().await.expect("contacts body");
        let us = t.elapsed().as_micros() as u32;
        assert_eq!(status, 200, "contacts page {p}: {}", String::from_utf8_lossy(&body));
        let items: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("contacts JSON array");
        rows += items.len();
        page_bytes = page_bytes.max(body.len());
        lat.push(us);
        if p == 0 {
            first_ms = f64::from(us) / 1000.0;
        }
        if p == pages - 1 {
            deepest_ms = f64::from(us) / 1000.0;
        }
    }
    let total_secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    Walk {
        pages,
        rows,
        total_secs,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        deepest_skip: (pages - 1) * 1000,
        deepest_ms,
        first_ms,
        page_bytes,
    }
}

struct PartB {
    exchanges: usize,
    json: Ingest,
    csv: Ingest,
    over: Ingest,
    over_body: usize,
    scale: Vec<Ingest>,
    stats_counts: String,
    reads: Vec<LoadResult>,
    walk: Walk,
    local_json_parse_s: f64,
    local_phone_parse_s: f64,
    /// (countries, numbers parsed, seconds) for numbers of several countries in turn.
    mixed: Vec<(usize, usize, f64)>,
    /// The ingest of a small batch whose numbers come from several countries in turn.
    mixed_ingest: Ingest,
}

/// Valid numbers of several countries: `per_country` variants (last three digits changed) of one valid
/// example per country, interleaved country by country, as a list of mixed customers would be.
fn mixed_numbers(per_country: usize) -> Vec<Vec<String>> {
    use graine::domain::phone::PhoneNumber;
    [
        "+14155552671",
        "+919876543210",
        "+447911123456",
        "+33612345678",
        "+4915123456789",
        "+61412345678",
        "+5511987654321",
        "+34612345678",
        "+393123456789",
        "+31612345678",
        "+819012345678",
        "+525512345678",
        "+27821234567",
        "+6591234567",
        "+8613812345678",
        "+2348031234567",
    ]
    .into_iter()
    .map(|example| {
        // Validated one country at a time, which keeps the validator's regex cache warm.
        let stem = &example[..example.len() - 3];
        (0..1000).map(|j| format!("{stem}{j:03}")).filter(|n| PhoneNumber::parse(n).is_ok()).take(per_country).collect()
    })
    .filter(|v: &Vec<String>| v.len() == per_country)
    .collect()
}

/// Interleaves the first `k` countries' numbers: one of each in turn.
fn interleave(countries: &[Vec<String>], k: usize) -> Vec<String> {
    let k = k.min(countries.len());
    let per = countries.first().map_or(0, Vec::len);
    (0..per).flat_map(|i| countries[..k].iter().map(move |c| c[i].clone())).collect()
}

/// Times `PhoneNumber::parse` over numbers of 1, 2, 4, 8 and all countries in turn: (countries, numbers, s).
fn mixed_country_parse(countries: &[Vec<String>]) -> Vec<(usize, usize, f64)> {
    use graine::domain::phone::PhoneNumber;
    let mut out: Vec<(usize, usize, f64)> = Vec::new();
    for k in [1, 2, 4, 8, countries.len()] {
        if k > countries.len() || out.iter().any(|(c, ..)| *c == k) {
            continue;
        }
        let numbers = interleave(countries, k);
        let numbers = &numbers[..numbers.len().min(1000)];
        let t = Instant::now();
        for n in numbers {
            let _ = PhoneNumber::parse(n);
        }
        out.push((k, numbers.len(), t.elapsed().as_secs_f64()));
    }
    out
}

/// A batch body with these numbers, each with a `callee_name`.
fn batch_json_of(campaign_id: &str, numbers: &[String]) -> Vec<u8> {
    let contacts: Vec<serde_json::Value> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| serde_json::json!({"phone_number": n, "call_variables": {"callee_name": format!("Callee {i}")}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"campaign_id": campaign_id, "contacts": contacts})).expect("JSON")
}

async fn part_b(ctx: &Ctx) -> PartB {
    let n = ctx.opts.batch_size;
    let exchanges = valid_exchanges();
    let needed = (3 + ctx.opts.scale_batches) * n.max(MAX_CONTACTS + 1);
    assert!(exchanges.len() * 10_000 >= needed, "not enough valid numbers for {needed} contacts");

    eprintln!("B.1 ingest: JSON on a fresh server");
    ctx.fresh_db("graine_bench_b_ingest").await;
    let server = ctx.start_graine("graine-ingest-json", "graine_bench_b_ingest", Some("warn")).await;
    let campaign = create_campaign(ctx, &server).await;
    let body = batch_json(&campaign, &exchanges, 0, n);
    // What the server's first steps cost, measured here, in-process, on the same data.
    let t = Instant::now();
    let parsed: serde_json::Value = serde_json::from_slice(&body).expect("own JSON");
    let local_json_parse_s = t.elapsed().as_secs_f64();
    drop(parsed);
    let t = Instant::now();
    for g in 0..n {
        graine::domain::phone::PhoneNumber::parse(&phone(&exchanges, g)).expect("valid bench number");
    }
    let local_phone_parse_s = t.elapsed().as_secs_f64();
    let countries = mixed_numbers(63);
    let mixed = mixed_country_parse(&countries);
    let json = ingest(ctx, &server, "POST /batches/ (JSON)", batch_request(ctx, &server, body), n).await;
    drop(server);

    eprintln!("B.1 ingest: CSV upload on a fresh server");
    let server = ctx.start_graine("graine-ingest-csv", "graine_bench_b_ingest", Some("warn")).await;
    let campaign = create_campaign(ctx, &server).await;
    let form = reqwest::multipart::Form::new().text("campaign_id", campaign.clone()).part(
        "file",
        reqwest::multipart::Part::bytes(batch_csv(&exchanges, n, n))
            .file_name("contacts.csv")
            .mime_str("text/csv")
            .expect("mime"),
    );
    let upload = ctx.client.post(format!("{}/api/v1/batches/upload", server.base)).bearer_auth(TOKEN).multipart(form);
    let mut csv = ingest(ctx, &server, "POST /batches/upload (CSV, multipart)", upload, n).await;
    csv.body_bytes = batch_csv(&exchanges, n, n).len();

    eprintln!("B.1 one contact over the limit");
    let over_body = batch_json(&campaign, &exchanges, 2 * n, MAX_CONTACTS + 1);
    let over_len = over_body.len();
    let label = format!("POST /batches/ with {} contacts", MAX_CONTACTS + 1);
    let over = ingest(ctx, &server, &label, batch_request(ctx, &server, over_body), MAX_CONTACTS + 1).await;
    eprintln!("B.1 a small batch of numbers from several countries");
    let numbers = interleave(&countries, countries.len());
    let label = format!("POST /batches/, {} numbers of {} countries in turn", numbers.len(), countries.len());
    let body = batch_json_of(&campaign, &numbers);
    let mixed_ingest = ingest(ctx, &server, &label, batch_request(ctx, &server, body), numbers.len()).await;
    drop(server);

    eprintln!("B.2 {} batches of {n} in one campaign", ctx.opts.scale_batches);
    ctx.fresh_db("graine_bench_b_scale").await;
    let server = ctx.start_graine("graine-scale", "graine_bench_b_scale", Some("warn")).await;
    let campaign = create_campaign(ctx, &server).await;
    let mut scale = Vec::new();
    for b in 0..ctx.opts.scale_batches {
        let body = batch_json(&campaign, &exchanges, 2 * n + MAX_CONTACTS + 1 + b * n, n);
        let label = format!("batch {} of {}", b + 1, ctx.opts.scale_batches);
        let r = ingest(ctx, &server, &label, batch_request(ctx, &server, body), n).await;
        assert_eq!(r.status, 201, "{}: {}", r.label, r.answer);
        scale.push(r);
    }
    let batch_ids: Vec<String> = scale.iter().map(batch_id_of).collect();
    let stats: serde_json::Value = ctx
        .client
        .get(format!("{}/api/v1/campaigns/{campaign}/stats", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    let stats_counts = stats["contact_counts"].to_string();
    let urls: Vec<String> = batch_ids.iter().map(|id| format!("{}/api/v1/batches/{id}", server.base)).collect();
    let label = format!("GET /batches/{{id}} ({} batches of {n})", batch_ids.len());
    let mut reads = vec![load(ctx, &server, &label, 200, get_rotating(urls)).await];
    let stats_url = vec![format!("{}/api/v1/campaigns/{campaign}/stats", server.base)];
    let label = format!("GET /campaigns/{{id}}/stats ({} contacts)", batch_ids.len() * n);
    reads.push(load(ctx, &server, &label, 200, get_rotating(stats_url)).await);

    eprintln!("B.3 walking one batch's contacts");
    let walk = walk_contacts(ctx, &server, &batch_ids[batch_ids.len() - 1], n).await;
    eprintln!("    {} pages in {:.2} s, deepest {:.1} ms", walk.pages, walk.total_secs, walk.deepest_ms);
    drop(server);

    PartB {
        exchanges: exchanges.len(),
        json,
        csv,
        over,
        over_body: over_len,
        scale,
        stats_counts,
        reads,
        walk,
        local_json_parse_s,
        local_phone_parse_s,
        mixed,
        mixed_ingest,
    }
}

fn report_b(ctx: &Ctx, b: &PartB) -> String {
    let n = ctx.opts.batch_size;
    let mut out = String::from("## B. Batches at scale\n\n### B.1 Ingest (fresh server process for each)\n\n");
    out.push_str(
        "| request | contacts | body | status | seconds | contacts/s | RSS before MiB | peak RSS MiB | RSS after MiB | server CPU s | Postgres CPU s | other CPU s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in [&b.json, &b.csv, &b.over, &b.mixed_ingest] {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} MiB | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            r.label,
            r.contacts,
            r.body_bytes as f64 / 1048576.0,
            r.status,
            r.secs,
            r.contacts as f64 / r.secs,
            r.rss_before_mib,
            r.peak_mib,
            r.rss_after_mib,
            r.server_cpu_s,
            r.pg_cpu_s,
            r.other_cpu_s
        );
    }
    out.push('\n');
    let rate = |r: &Ingest| r.contacts as f64 / r.secs;
    let _ = writeln!(
        out,
        "| check | measured | target | verdict |\n|---|---:|---:|---|\n\
         | JSON ingest rate | {:.0} contacts/s | ≥ 50,000 | {} |\n\
         | CSV ingest rate | {:.0} contacts/s | ≥ 50,000 | {} |\n\
         | JSON ingest peak RSS | {:.1} MiB | < 300 MB | {} |\n\
         | CSV ingest peak RSS | {:.1} MiB | < 300 MB | {} |\n\
         | {} contacts refused | status {} | 422 or 413 | {} |\n",
        rate(&b.json),
        verdict(b.json.status == 201 && rate(&b.json) >= 50_000.0),
        rate(&b.csv),
        verdict(b.csv.status == 201 && rate(&b.csv) >= 50_000.0),
        b.json.peak_mib,
        verdict(b.json.peak_mib < 300.0 * 1e6 / 1048576.0),
        b.csv.peak_mib,
        verdict(b.csv.peak_mib < 300.0 * 1e6 / 1048576.0),
        MAX_CONTACTS + 1,
        b.over.status,
        verdict(matches!(b.over.status, 413 | 422)),
    );
    let _ = writeln!(
        out,
        "- JSON body of {n} contacts: {} bytes ({:.1} MiB), {:.0}% of the 32 MiB default limit; {} contacts: {} bytes.",
        b.json.body_bytes,
        b.json.body_bytes as f64 / 1048576.0,
        b.json.body_bytes as f64 / DEFAULT_BODY_LIMIT as f64 * 100.0,
        MAX_CONTACTS + 1,
        b.over_body
    );
    let _ = writeln!(out, "- Answer to {} contacts: `{}`", MAX_CONTACTS + 1, truncate(&b.over.answer, 250));
    let _ = writeln!(
        out,
        "- The same work in this process, for scale: `serde_json::from_slice::<Value>` of the {n}-contact body \
         {:.3} s; `PhoneNumber::parse` of its {n} numbers {:.3} s ({:.1} µs each).",
        b.local_json_parse_s,
        b.local_phone_parse_s,
        b.local_phone_parse_s / n as f64 * 1e6
    );
    for (countries, count, secs) in &b.mixed {
        let _ = writeln!(
            out,
            "- `PhoneNumber::parse` in this process of {count} numbers, {countries} countries in turn: {secs:.3} s \
             ({:.1} µs each).",
            secs / (*count).max(1) as f64 * 1e6
        );
    }
    let _ = writeln!(out, "- Valid `+1415XXX` exchanges in 200–999: {} of 800.\n", b.exchanges);

    let _ = writeln!(out, "### B.2 {} batches of {n} in one campaign\n", b.scale.len());
    out.push_str(
        "| batch | seconds | contacts/s | server peak RSS MiB | server RSS after MiB | server CPU s | Postgres CPU s | other CPU s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &b.scale {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            r.label,
            r.secs,
            rate(r),
            r.peak_mib,
            r.rss_after_mib,
            r.server_cpu_s,
            r.pg_cpu_s,
            r.other_cpu_s
        );
    }
    let _ = writeln!(out, "\nStats after ingest: `contact_counts` = `{}`\n", b.stats_counts);
    out.push_str(&load_table(&b.reads));
    let worst = b.reads.iter().map(|r| r.p99_ms).fold(0.0, f64::max);
    let _ = writeln!(out, "\nWorst p99 of these reads: {worst:.2} ms (target < 20 ms: {}).\n", verdict(worst < 20.0));

    let w = &b.walk;
    let _ = writeln!(
        out,
        "### B.3 Walking one {n}-contact batch, `limit=1000`, sequentially\n\n\
         | pages | contacts read | total s | p50 ms/page | p99 ms/page | first page ms | deepest page (skip={}) ms | largest page |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} KiB |\n",
        w.deepest_skip,
        w.pages,
        w.rows,
        w.total_secs,
        w.p50_ms,
        w.p99_ms,
        w.first_ms,
        w.deepest_ms,
        w.page_bytes as f64 / 1024.0
    );
    out
}

// ---------------------------------------------------------------------------------------------------------

async fn machine(ctx: &Ctx) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?", |l| l.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).map_or("?".to_owned(), |l| l.trim().to_owned());
    let pg: String = sqlx::query_scalar("SELECT version()").fetch_one(&ctx.admin).await.unwrap_or_default();
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')",
    )
    .fetch_all(&ctx.admin)
    .await
    .unwrap_or_default();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = String::new();
    let _ = writeln!(out, "- date: {}", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let _ = writeln!(out, "- cores: {cores} ({model}); memory: {mem}");
    let _ = writeln!(out, "- graine's store: {:?}", ctx.opts.store);
    let _ = writeln!(out, "- {pg}");
    let s: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(out, "- Postgres settings: {}", s.join(", "));
    let _ = writeln!(out, "- load average at start: {}", loadavg.trim());
    let _ = writeln!(
        out,
        "- options: {} connections, {:.0} s warm-up + {:.0} s per scenario, batches of {}",
        ctx.opts.connections, ctx.opts.warmup, ctx.opts.duration, ctx.opts.batch_size
    );
    out
}

fn default_graine_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("own executable");
    // target/release/deps/load-<hash> → target/release/graine
    let release: &Path = exe.parent().and_then(Path::parent).expect("target directory");
    release.join("graine")
}

async fn run(opts: Opts) {
    let graine_bin = opts.graine_bin.clone().unwrap_or_else(default_graine_bin);
    assert!(graine_bin.exists(), "{} is missing: run `cargo build --release` first", graine_bin.display());
    let logs = graine_bin.parent().expect("target dir").join("bench-logs");
    std::fs::create_dir_all(&logs).expect("log directory");
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&format!("{}/postgres", opts.pg.trim_end_matches('/')))
        .await
        .expect("connect to Postgres (is it running? scripts/ensure-postgres starts it)");
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).tcp_nodelay(true).build().expect("HTTP client");
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let ctx = Ctx { opts, client, admin, graine_bin, logs, ticks: clock_ticks_per_second(), nonce };

    let mut report = String::from("# Graine load benchmark\n\n");
    report.push_str(&machine(&ctx).await);
    report.push('\n');
    println!("{report}");
    if ctx.opts.only == Part::Lists {
        println!("{}", lists::part_lists(&ctx).await);
        return;
    }
    if ctx.opts.only != Part::B {
        let a = part_a(&ctx).await;
        let section = report_a(&ctx, &a);
        println!("{section}");
    }
    if ctx.opts.only != Part::A {
        let b = part_b(&ctx).await;
        let section = report_b(&ctx, &b);
        println!("{section}");
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("Load average at the end: {}\n", loadavg.trim());
    eprintln!("server logs are in {}", ctx.logs.display());
}

// ---------------------------------------------------------------------------------------------------------

/// The baseline: the least an axum + sqlx service does for the same two operations, with the product's
/// default pool size.
mod bare {
    use axum::Json;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};
    use sqlx::postgres::PgPoolOptions;
    use sqlx::{PgPool, Row};
    use std::time::Duration;
    use uuid::Uuid;

    #[derive(Deserialize)]
    struct NewCampaign {
        name: String,
        agent_id: String,
        phone_numbers: Vec<String>,
        #[serde(default)]
        metadata: Map<String, Value>,
    }

    #[derive(Serialize)]
    struct CampaignRow {
        id: String,
        name: String,
        agent_id: String,
        status: String,
        phone_numbers: Vec<String>,
        metadata: Value,
        created_at: DateTime<Utc>,
    }

    pub fn main(args: &[String]) {
        let flag = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .unwrap_or_else(|| panic!("bare-server needs {name}"))
        };
        let (bind, url) = (flag("--bind"), flag("--database-url"));
        let ping = !args.iter().any(|a| a == "--no-ping");
        // The same runtime as `#[tokio::main]` in the product.
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(ping)
                .connect(&url)
                .await
                .expect("connect");
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS bare_campaigns (
                    id uuid PRIMARY KEY, name text NOT NULL, agent_id text NOT NULL, status text NOT NULL,
                    phone_numbers text[] NOT NULL, metadata jsonb NOT NULL, created_at timestamptz NOT NULL)",
            )
            .execute(&pool)
            .await
            .expect("create table");
            let app = axum::Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/campaigns", post(create))
                .route("/campaigns/{id}", get(read))
                .with_state(pool);
            let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
            axum::serve(listener, app).await.expect("serve");
        });
    }

    async fn create(
        State(pool): State<PgPool>,
        Json(body): Json<NewCampaign>,
    ) -> Result<(StatusCode, Json<CampaignRow>), StatusCode> {
        let mut metadata = body.metadata;
        metadata.entry("concurrency_limit").or_insert(Value::from(10));
        let row = CampaignRow {
            id: Uuid::now_v7().to_string(),
            name: body.name,
            agent_id: body.agent_id,
            status: "draft".into(),
            phone_numbers: body.phone_numbers,
            metadata: Value::Object(metadata),
            created_at: Utc::now(),
        };
        sqlx::query(
            "INSERT INTO bare_campaigns (id, name, agent_id, status, phone_numbers, metadata, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::parse_str(&row.id).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?)
        .bind(&row.name)
        .bind(&row.agent_id)
        .bind(&row.status)
        .bind(&row.phone_numbers)
        .bind(&row.metadata)
        .bind(row.created_at)
        .execute(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok((StatusCode::CREATED, Json(row)))
    }

    async fn read(State(pool): State<PgPool>, Path(id): Path<String>) -> Result<Json<CampaignRow>, StatusCode> {
        let id = Uuid::parse_str(&id).map_err(|_| StatusCode::NOT_FOUND)?;
        let row = sqlx::query(
            "SELECT id, name, agent_id, status, phone_numbers, metadata, created_at FROM bare_campaigns WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::NOT_FOUND)?;
        let get = |e: sqlx::Error| {
            eprintln!("bad row: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Ok(Json(CampaignRow {
            id: row.try_get::<Uuid, _>("id").map_err(get)?.to_string(),
            name: row.try_get("name").map_err(get)?,
            agent_id: row.try_get("agent_id").map_err(get)?,
            status: row.try_get("status").map_err(get)?,
            phone_numbers: row.try_get("phone_numbers").map_err(get)?,
            metadata: row.try_get("metadata").map_err(get)?,
            created_at: row.try_get("created_at").map_err(get)?,
        }))
    }
}

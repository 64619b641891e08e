//! Load benchmark of the Graine server (run it with `scripts/bench`; BENCHMARKS.md has the results).
//!
//! It starts the real release binary (`target/release/graine`) as a child process, and a bare axum + sqlx
//! server (this same binary re-executed with `bare-server`) as a baseline, drives them over loopback with a
//! shared keep-alive `reqwest` client, and prints a markdown report to stdout (progress goes to stderr).
//! Every loop is bounded in count and time, and child processes are stopped by a guard, also on panic.
//!
//! Its parts: `processes` (child servers, `/proc`, `perf`), `context` (databases, starting servers, CPU
//! marks), `generator` (the load generator and its table), `part_a` (API throughput against the bare
//! baseline, `bare`), `ingest` and `part_b` (batches at scale), and `lists` (part L, the listings).

use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

// The parts of this benchmark are in bench/load/, but for part L in bench/lists.rs (bench/ also holds the
// dispatch benchmark's modules).
#[path = "load/bare.rs"]
mod bare;
#[path = "load/context.rs"]
mod context;
#[path = "load/generator.rs"]
mod generator;
#[path = "load/ingest.rs"]
mod ingest;
mod lists;
#[path = "load/part_a.rs"]
mod part_a;
#[path = "load/part_b.rs"]
mod part_b;
#[path = "load/processes.rs"]
mod processes;

use context::Ctx;
use part_a::{part_a, report_a};
use part_b::{part_b, report_b};
use processes::clock_ticks_per_second;

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

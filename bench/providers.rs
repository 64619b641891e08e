//! Built-in providers: 100,000 calls placed and closed through the Twilio, jambonz and LiveKit fakes
//! (each answers the create request, or the dispatch and the dial, and reports the end at once),
//! with the server's CPU per call against the simulated placer's; then callback handling latency at
//! 32 connections.

use super::{contact, fresh_db, load, spawn, wait_burn_down};
use serde_json::json;
use std::time::{Duration, Instant};

#[path = "../tests/api/fakes/jambonz.rs"]
#[allow(dead_code)]
mod jambonz_fake;
#[path = "../tests/api/fakes/livekit.rs"]
#[allow(dead_code)]
mod livekit_fake;
#[path = "../tests/api/fakes/twilio.rs"]
#[allow(dead_code)]
mod twilio_fake;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const JAMBONZ_ACCOUNT: &str = "acct-bench";
const JAMBONZ_KEY: &str = "key-bench";
const JAMBONZ_SECRET: &str = "wh_secret_bench";
const LIVEKIT_KEY: &str = "APIbench";
const LIVEKIT_SECRET: &str = "livekit-bench-secret";
/// Connections sending callbacks at once in the latency run.
const CONNECTIONS: usize = 32;

#[derive(Clone, Copy, PartialEq)]
enum Placer {
    Simulated,
    Twilio,
    Jambonz,
    Livekit,
}

impl Placer {
    fn name(self) -> &'static str {
        match self {
            Placer::Simulated => "simulated",
            Placer::Twilio => "twilio (fake)",
            Placer::Jambonz => "jambonz (fake)",
            Placer::Livekit => "livekit (fake)",
        }
    }
}

/// The fakes, and the flags that point a server on `port` at one of them.
struct Fakes {
    twilio: twilio_fake::FakeTwilio,
    jambonz: jambonz_fake::FakeJambonz,
    livekit: livekit_fake::FakeLiveKit,
}

impl Fakes {
    async fn start() -> Self {
        let twilio = twilio_fake::FakeTwilio::start(ACCOUNT, AUTH_TOKEN).await;
        let jambonz = jambonz_fake::FakeJambonz::start(JAMBONZ_ACCOUNT, JAMBONZ_KEY).await;
        jambonz.set_webhook_secret(JAMBONZ_SECRET);
        let livekit = livekit_fake::FakeLiveKit::start(LIVEKIT_KEY, LIVEKIT_SECRET).await;
        Self { twilio, jambonz, livekit }
    }

    fn flags(&self, placer: Placer, port: u16) -> Vec<String> {
        let public = format!("http://127.0.0.1:{port}");
        let flags: Vec<&str> = match placer {
            Placer::Simulated => vec!["--simulated-call-seconds", "0"],
            Placer::Twilio => vec![
                "--telephony",
                "twilio",
                "--public-url",
                &public,
                "--twilio-api-url",
                &self.twilio.base,
                "--twilio-account-sid",
                ACCOUNT,
                "--twilio-auth-token",
                AUTH_TOKEN,
                "--twilio-stream-url",
                "wss://agents.test/{agent_id}",
            ],
            Placer::Jambonz => vec![
                "--telephony",
                "jambonz",
                "--public-url",
                &public,
                "--jambonz-api-url",
                &self.jambonz.base,
                "--jambonz-account-sid",
                JAMBONZ_ACCOUNT,
                "--jambonz-api-key",
                JAMBONZ_KEY,
                "--jambonz-application-sid",
                "app-bench",
                "--jambonz-webhook-secret",
                JAMBONZ_SECRET,
            ],
            Placer::Livekit => vec![
                "--telephony",
                "livekit",
                "--public-url",
                &public,
                "--livekit-url",
                &self.livekit.base,
                "--livekit-api-key",
                LIVEKIT_KEY,
                "--livekit-api-secret",
                LIVEKIT_SECRET,
                "--livekit-sip-trunk-id",
                "ST_bench",
            ],
        };
        flags.into_iter().map(str::to_owned).collect()
    }
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`, in seconds.
fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name and state.
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    ticks as f64 / 100.0
}

/// 100,000 calls through `placer`: one markdown row.
async fn burn(fakes: &Fakes, placer: Placer, port: u16) -> String {
    let db = format!("graine_bench_provider_{}", placer.name().split(' ').next().unwrap_or("x"));
    let mut conn = fresh_db(&db).await;
    let limits = vec![10_000; 100];
    load(&db, &limits, |i, _| (0..1000).map(|j| contact(format!("+1415{:03}{:04}", 200 + i, 1000 + j))).collect())
        .await;
    let flags = fakes.flags(placer, port);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    match placer {
        Placer::Twilio => fakes.twilio.auto_complete(),
        Placer::Jambonz => fakes.jambonz.auto_complete(),
        Placer::Livekit => {
            fakes.livekit.set_webhook_url(&format!("http://127.0.0.1:{port}/api/v1/webhooks/livekit"));
            fakes.livekit.auto_complete();
        }
        Placer::Simulated => {}
    }
    let server = spawn(&db, port, &flags).await;
    let pid = server.child.id();
    let cpu_before = process_cpu_seconds(pid);
    let started = Instant::now();
    let (first_call, done) = wait_burn_down(&mut conn, started, Duration::from_secs(900)).await;
    let elapsed = started.elapsed() - first_call;
    let cpu = process_cpu_seconds(pid) - cpu_before;
    format!(
        "| {} | {done} | {:.1} s | {:.0} | {:.3} ms |",
        placer.name(),
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        cpu * 1000.0 / done.max(1) as f64
    )
}

/// Callbacks for `calls` placed calls, sent from `CONNECTIONS` connections at once: one row.
async fn callback_latency(placer: Placer, port: u16) -> String {
    let fakes = Fakes::start().await;
    let db = "graine_bench_provider_callbacks";
    let mut conn = fresh_db(db).await;
    let calls = 20_000usize;
    load(db, &[10_000; 20], |i, _| (0..1000).map(|j| contact(format!("+1416{:03}{:04}", 200 + i, 1000 + j))).collect())
        .await;
    let flags = fakes.flags(placer, port);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _server = spawn(db, port, &flags).await;
    let placed = || if placer == Placer::Twilio { fakes.twilio.calls().len() } else { fakes.jambonz.calls().len() };
    let deadline = Instant::now() + Duration::from_secs(300);
    while placed() < calls && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every placement recorded as ringing before the callbacks start.
    while conn.number("SELECT count(*) FROM call_records WHERE call_status = 'dispatched'").await > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let twilio_calls = fakes.twilio.calls();
    let jambonz_calls = fakes.jambonz.calls();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..CONNECTIONS).map(|_| async {
        let mut times = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= calls {
                return times;
            }
            let sent = Instant::now();
            let (code, body) = match placer {
                Placer::Twilio => {
                    fakes
                        .twilio
                        .send_status(&twilio_calls[i], &[("CallStatus", "completed"), ("CallDuration", "5")])
                        .await
                }
                _ => {
                    let done = json!({"call_status": "completed", "sip_status": 200, "duration": 5});
                    fakes.jambonz.send_status(&jambonz_calls[i], done).await
                }
            };
            assert!(code < 300, "{code} {body}");
            times.push(sent.elapsed());
        }
    });
    let mut times: Vec<Duration> = futures_util::future::join_all(workers).await.into_iter().flatten().collect();
    let wall = started.elapsed();
    times.sort();
    let ms = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0;
    format!(
        "| {} | {} | {CONNECTIONS} | {:.0}/s | {:.1} ms | {:.1} ms | {:.1} ms |",
        placer.name(),
        times.len(),
        times.len() as f64 / wall.as_secs_f64(),
        ms(0.5),
        ms(0.99),
        times.last().unwrap().as_secs_f64() * 1000.0
    )
}

/// The callback part alone (`… -- callbacks postgres|sqlite`).
pub async fn callbacks() -> String {
    let mut out = String::from(
        "| provider | callbacks | connections | throughput | p50 | p99 | max |\n|---|---|---|---|---|---|---|\n",
    );
    for (i, placer) in [Placer::Twilio, Placer::Jambonz].into_iter().enumerate() {
        out.push_str(&callback_latency(placer, 18940 + i as u16).await);
        out.push('\n');
    }
    out
}

/// 100,000 calls through each of `placers`, as a markdown table.
async fn burns(placers: &[Placer]) -> String {
    let mut out =
        String::from("### Through the providers' fakes: 100,000 calls, each answered and completed at once\n\n");
    out.push_str("| placer | calls closed | time (first call → last completed) | calls/s | server CPU per call |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (i, placer) in placers.iter().enumerate() {
        // Fresh fakes per run, so that each one's log holds only its own calls.
        let fakes = Fakes::start().await;
        let row = burn(&fakes, *placer, 18930 + i as u16).await;
        println!("{row}");
        out.push_str(&row);
        out.push('\n');
    }
    out
}

/// The simulated placer and LiveKit alone (`… -- livekit postgres|sqlite`).
pub async fn livekit() -> String {
    burns(&[Placer::Simulated, Placer::Livekit]).await
}

/// Both parts, as markdown.
pub async fn providers() -> String {
    let mut out = burns(&[Placer::Simulated, Placer::Twilio, Placer::Jambonz, Placer::Livekit]).await;
    out.push_str("\n### Callback handling: 20,000 `completed` callbacks over 32 connections\n\n");
    out.push_str(
        "| provider | callbacks | connections | throughput | p50 | p99 | max |\n|---|---|---|---|---|---|---|\n",
    );
    for (i, placer) in [Placer::Twilio, Placer::Jambonz].into_iter().enumerate() {
        let row = callback_latency(placer, 18940 + i as u16).await;
        println!("{row}");
        out.push_str(&row);
        out.push('\n');
    }
    out
}

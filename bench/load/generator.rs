//! The load generator: `connections` keep-alive workers sending one kind of request through a warm-up
//! and a measured window, with the server's memory and CPU over that window; the table of its results;
//! and the requests it sends (campaign POSTs, rotating GETs).

use super::context::{CpuMark, CpuUse, Ctx};
use super::processes::{Profile, Server, memory_kib, mib, reset_peak, wait_quiet};
use super::{CAMPAIGN_BODY, MAX_REQUESTS_PER_WORKER, REQUEST_TIMEOUT, TOKEN};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds the `seq`-th request of worker `w`.
pub(crate) type MakeRequest = Arc<dyn Fn(&reqwest::Client, usize, u64) -> reqwest::RequestBuilder + Send + Sync>;

#[derive(Clone, Debug)]
pub(crate) struct LoadResult {
    pub(crate) label: String,
    pub(crate) round: usize,
    pub(crate) ok: usize,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) rss_mib: f64,
    pub(crate) hwm_mib: f64,
    pub(crate) cpu: CpuUse,
}

/// Percentile of sorted microsecond latencies, in milliseconds.
pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// Drives `server` with `connections` workers: warm-up, then the measured window; every request must
/// answer `expected`.
pub(crate) async fn load(ctx: &Ctx, server: &Server, label: &str, expected: u16, make: MakeRequest) -> LoadResult {
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

pub(crate) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(crate) fn load_table(rows: &[LoadResult]) -> String {
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

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// POSTs `n` campaigns at 32 connections and returns the ids the server gave them.
pub(crate) async fn seed_campaigns(ctx: &Ctx, url: String, id_field: &'static str, n: usize) -> Vec<String> {
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

pub(crate) fn post_campaign(url: String, idempotent: Option<u128>) -> MakeRequest {
    Arc::new(move |c, w, seq| {
        let r = c.post(&url).bearer_auth(TOKEN).header("content-type", "application/json").body(CAMPAIGN_BODY);
        match idempotent {
            Some(nonce) => r.header("idempotency-key", format!("bench-{nonce:x}-{w}-{seq}")),
            None => r,
        }
    })
}

pub(crate) fn get_rotating(urls: Vec<String>) -> MakeRequest {
    let urls = Arc::new(urls);
    Arc::new(move |c, w, seq| {
        let i = (w as u64 * 7919 + seq) as usize % urls.len();
        c.get(&urls[i]).bearer_auth(TOKEN)
    })
}

/// POSTs one campaign to `url` (ours or the bare server's) and returns the id the server gave it.
pub(crate) async fn create_one(client: &reqwest::Client, url: &str, id_field: &str) -> String {
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

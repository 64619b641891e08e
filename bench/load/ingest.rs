//! What part B of the load benchmark sends and measures: bench phone numbers, batch bodies (JSON and
//! CSV), one ingest request timed with the server's memory and CPU, and a walk through a batch's
//! contacts a page at a time.

use super::context::{CpuMark, Ctx};
use super::generator::{create_one, percentile};
use super::processes::{Profile, Server, memory_kib, mib, reset_peak, wait_quiet};
use super::{INGEST_TIMEOUT, REQUEST_TIMEOUT, TOKEN};
use std::fmt::Write as _;
use std::time::Instant;

/// The `+1415XXX` exchanges (200–999) whose numbers the product's validation accepts.
pub(crate) fn valid_exchanges() -> Vec<u16> {
    use graine::domain::phone::PhoneNumber;
    (200..1000u16)
        .filter(|x| {
            ["0000", "0100", "5555", "9999"].iter().all(|l| PhoneNumber::parse(&format!("+1415{x}{l}")).is_ok())
        })
        .collect()
}

/// The `g`-th bench phone number: `+1415XXXYYYY`, 10,000 per exchange.
pub(crate) fn phone(exchanges: &[u16], g: usize) -> String {
    format!("+1415{:03}{:04}", exchanges[g / 10_000], g % 10_000)
}

/// A batch body of `n` distinct contacts numbered from `first`, each with a `callee_name`.
pub(crate) fn batch_json(campaign_id: &str, exchanges: &[u16], first: usize, n: usize) -> Vec<u8> {
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
pub(crate) fn batch_csv(exchanges: &[u16], first: usize, n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 32 + 32);
    s.push_str("phone_number,callee_name\n");
    for g in first..first + n {
        let _ = writeln!(s, "{},Callee {g}", phone(exchanges, g));
    }
    s.into_bytes()
}

pub(crate) struct Ingest {
    pub(crate) label: String,
    pub(crate) contacts: usize,
    pub(crate) body_bytes: usize,
    pub(crate) secs: f64,
    pub(crate) status: u16,
    pub(crate) rss_before_mib: f64,
    pub(crate) peak_mib: f64,
    pub(crate) rss_after_mib: f64,
    pub(crate) server_cpu_s: f64,
    pub(crate) pg_cpu_s: f64,
    pub(crate) other_cpu_s: f64,
    pub(crate) answer: String,
}

pub(crate) async fn create_campaign(ctx: &Ctx, server: &Server) -> String {
    create_one(&ctx.client, &format!("{}/api/v1/campaigns/", server.base), "campaign_id").await
}

/// Sends one ingest request, timing it and watching the server's memory and CPU.
pub(crate) async fn ingest(
    ctx: &Ctx,
    server: &Server,
    label: &str,
    req: reqwest::RequestBuilder,
    contacts: usize,
) -> Ingest {
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

pub(crate) fn batch_request(ctx: &Ctx, server: &Server, body: Vec<u8>) -> reqwest::RequestBuilder {
    ctx.client
        .post(format!("{}/api/v1/batches/", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
}

pub(crate) fn batch_id_of(answer: &Ingest) -> String {
    let start = answer.answer.find("\"batch_id\":\"").expect("batch_id in the answer") + 12;
    answer.answer[start..].split('"').next().expect("batch_id").to_owned()
}

pub(crate) struct Walk {
    pub(crate) pages: usize,
    pub(crate) rows: usize,
    pub(crate) total_secs: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) deepest_skip: usize,
    pub(crate) deepest_ms: f64,
    pub(crate) first_ms: f64,
    pub(crate) page_bytes: usize,
}

/// Walks a batch's contacts 1000 at a time, sequentially.
pub(crate) async fn walk_contacts(ctx: &Ctx, server: &Server, batch_id: &str, total: usize) -> Walk {
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

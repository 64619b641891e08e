//! The calling-rules benchmark (API.md §12.3, §12.4): adding suppressions in bulk, ingesting batches
//! against a list of 1,000,000 suppressed numbers, and burning down 300,000 contacts of a campaign
//! with an organization-wide frequency cap, against the same work with no list and no cap, on the
//! same machine in the same run.
//!
//! Both runs use the test clock with zero-length simulated calls and no working hours: one advance of
//! the clock burns down everything due, and its time is measured. One contact in 100 is on the list.

use super::recipient::{BATCH, number};
use super::{fresh_db, post, spawn};
use serde_json::json;
use std::time::Instant;

const LIST: usize = 1_000_000;
const CONTACTS: usize = 300_000;
const START: &str = "2026-12-01T18:00:00Z";

/// The `k`th number of the list that no contact has: exchanges 300 and up of the same area codes.
fn listed(k: usize) -> String {
    let code = super::recipient::STATES[k % 50];
    let m = k / 50;
    format!("+1{code}{}{:04}", 300 + m / 10_000, m % 10_000)
}

/// What one run measured.
struct Run {
    /// Entries/s adding the first 100,000 (an empty list), and all 1,000,000.
    adds: Option<(f64, f64)>,
    ingest: f64,
    placed: i64,
    burn: f64,
}

async fn run(rules: bool, port: u16) -> Run {
    let db = format!("graine_bench_rules_{rules}");
    drop(fresh_db(&db).await);
    let server = spawn(&db, port, &["--test-clock", "--clock-start", START, "--simulated-call-seconds", "0"]).await;
    let client = reqwest::Client::new();
    let mut adds = None;
    if rules {
        // One contact in 100 is listed; the rest of the list are numbers no contact has.
        let entries: Vec<String> =
            (0..LIST).map(|k| if k < CONTACTS / 100 { number(k * 100) } else { listed(k) }).collect();
        let started = Instant::now();
        let mut first = 0.0;
        for (i, chunk) in entries.chunks(BATCH).enumerate() {
            let body = json!({"entries": chunk.iter().map(|n| json!({"phone_number": n})).collect::<Vec<_>>()});
            let r = post(&client, format!("{}/api/v1/suppressions", server.base), body).await;
            assert_eq!(r["added"], BATCH, "{}", r["rejected"].as_array().map_or(0, Vec::len));
            if i == 0 {
                first = BATCH as f64 / started.elapsed().as_secs_f64();
            }
        }
        adds = Some((first, LIST as f64 / started.elapsed().as_secs_f64()));
    }
    let caps = if rules { json!([{"max_calls": 3, "window": "P7D", "scope": "organization"}]) } else { json!([]) };
    let c = post(
        &client,
        format!("{}/api/v1/campaigns/", server.base),
        json!({"name": "bench", "agent_id": "agent", "phone_numbers": ["+12025550123"], "frequency_caps": caps,
               "metadata": {"concurrency_limit": 10_000}, "retry_policy": {"max_retries": 0}}),
    )
    .await;
    let bodies = super::recipient::batch_bodies(&c, CONTACTS);
    let started = Instant::now();
    for body in bodies {
        let r = post(&client, format!("{}/api/v1/batches/", server.base), body).await;
        assert_eq!(r["suppressed"], if rules { BATCH / 100 } else { 0 });
    }
    let ingest = CONTACTS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    post(&client, format!("{}/api/v1/test/clock", server.base), json!({"set": "2026-12-02T00:00:00Z"})).await;
    let elapsed = started.elapsed().as_secs_f64();
    let placed = super::recipient::calls_placed(&client, &server.base, &c).await;
    Run { adds, ingest, placed, burn: placed as f64 / elapsed }
}

/// The report's rows.
pub async fn calling_rules() -> String {
    let without = run(false, 18941).await;
    let with = run(true, 18942).await;
    let mut rows = Vec::new();
    for (name, r) in [("no list, no cap", &without), ("1,000,000 suppressed, organization cap", &with)] {
        let adds = r.adds.map_or_else(|| "–".to_owned(), |(first, all)| format!("{first:.0} / {all:.0}"));
        rows.push(format!("| {name} | {adds} | {:.0} | {} | {:.0} |", r.ingest, r.placed, r.burn));
    }
    rows.push(format!(
        "| with / without | | {:.2} | | {:.2} |",
        with.ingest / without.ingest,
        with.burn / without.burn
    ));
    rows.join("\n")
}

//! `--calls-per-second` (API.md §7 "Pacing"): every replica together starts at most n calls in any
//! second, in dispatch order, and says so in `/debug` and `next_dispatch_at`.

use crate::common::{TestApp, at};
use crate::telephony::{MONDAY_10, setup};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[tokio::test]
async fn two_replicas_never_start_more_than_n_calls_in_a_second() {
    let paced = |c: &mut graine::config::ServeConfig| {
        c.calls_per_second = 3;
        c.simulated_call_seconds = 30;
    };
    let one = TestApp::with_clock(MONDAY_10, paced).await;
    let two = one
        .replica(|c| {
            c.test_clock = true;
            c.clock_start = Some(at(MONDAY_10));
            paced(c);
        })
        .await;
    let mut batches = Vec::new();
    for campaign in 0..3 {
        let phones: Vec<String> = (0..8).map(|i| format!("+1415555{campaign}{i:03}")).collect();
        let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
        let (c, b) = setup(&one, &phones, json!({"metadata": {"concurrency_limit": 20}})).await;
        batches.push((c, b));
    }
    // Created at 10:00:00: this second's three calls started at once; the rest wait.
    let (c, b) = &batches[0];
    let debug = one.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["calls_per_second"]), "{debug}");
    let stats = one.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["next_dispatch_at"], "2026-11-30T10:00:01Z");
    for _ in 0..10 {
        match &two {
            Some(two) => {
                let (a, b) = tokio::join!(one.advance(1), two.advance(1));
                assert_eq!(a, b);
            }
            None => {
                one.advance(1).await;
            }
        }
    }
    let mut per_second: BTreeMap<String, usize> = BTreeMap::new();
    for (_, b) in &batches {
        let contacts = one.contacts_with_calls(b).await;
        let mut previous = String::new();
        for contact in &contacts {
            let calls = contact["call_records"].as_array().unwrap();
            assert_eq!(calls.len(), 1, "{contact}");
            let started = calls[0]["dispatched_at"].as_str().unwrap()[..19].to_owned();
            assert!(started >= previous, "dispatch order kept: {started} after {previous}");
            *per_second.entry(started.clone()).or_default() += 1;
            previous = started;
        }
    }
    let counts: Vec<usize> = per_second.values().copied().collect();
    assert_eq!(counts.iter().sum::<usize>(), 24);
    assert!(counts.iter().all(|n| *n <= 3), "{per_second:?}");
    assert_eq!(counts, [3, 3, 3, 3, 3, 3, 3, 3], "every second used in full: {per_second:?}");
    let debug: Value = one.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert!(!debug["diagnostics"]["blocked_by"].as_array().unwrap().iter().any(|r| r == "calls_per_second"));
}

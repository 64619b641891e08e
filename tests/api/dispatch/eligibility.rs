//! The dispatcher picks batches in SQL for speed (`dispatch_candidates`, the claim's filters); the
//! domain decides in Rust whether a batch may dispatch (`eligibility::blocked_by`, shown by `/debug`).
//! Fed the same cases, both must agree: once the dispatcher has settled at an instant, no batch with
//! work left is free of reasons (SQL missed nothing the rule allows), and no batch started more calls
//! than its reasons allow (SQL took nothing the rule forbids).

use super::{MONDAY_10, batch, campaign};
use crate::common::TestApp;
use serde_json::{Value, json};

/// The batch's reasons not to dispatch now, and how many calls it has started, after the dispatcher
/// settled at the current instant.
async fn settled(app: &TestApp, batch: &str) -> (Value, i64) {
    app.advance(0).await;
    let debug = app.get(&format!("/api/v1/batches/{batch}/debug")).await.body;
    let calls: i64 = app
        .contacts_with_calls(batch)
        .await
        .iter()
        .map(|c| c["call_records"].as_array().map_or(0, |r| r.len() as i64))
        .sum();
    (debug["diagnostics"]["blocked_by"].clone(), calls)
}

const PHONES: [&str; 3] = ["+14155550100", "+14155550200", "+14155550300"];

/// Hours open on Monday from 12:00 to 13:00 UTC only.
fn noon_hour() -> Value {
    let closed = json!({"start": "09:00", "end": "10:00", "enabled": false});
    let mut days = serde_json::Map::new();
    for day in ["tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] {
        days.insert(day.into(), closed.clone());
    }
    days.insert("monday".into(), json!({"start": "12:00", "end": "13:00", "enabled": true}));
    Value::Object(days)
}

#[tokio::test]
async fn what_sql_dispatches_agrees_with_the_domain_rule() {
    // (case, campaign settings, batch settings, reasons the rule gives, calls started)
    let cases: [(&str, Value, Value, Value, i64); 5] = [
        ("campaign limit", json!({"metadata": {"concurrency_limit": 1}}), json!({}), json!(["concurrency_limit"]), 1),
        ("batch limit", json!({}), json!({"concurrency_limit": 2}), json!(["concurrency_limit"]), 2),
        ("start ahead", json!({}), json!({"scheduled_start": "2026-11-30T11:00:00Z"}), json!(["scheduled_start"]), 0),
        (
            "hours closed",
            json!({"working_hours_enforced": true, "working_hours": noon_hour(), "timezone": "UTC"}),
            json!({}),
            json!(["outside_working_hours"]),
            0,
        ),
        // Every contact's first call is busy: each retries after the cooldown, nothing is due before.
        (
            "nothing due",
            json!({"retry_policy": {"max_retries": 1, "cooldown_minutes": 30}}),
            json!({}),
            json!(["nothing_due"]),
            3,
        ),
    ];
    for (case, campaign_settings, batch_settings, reasons, calls) in cases {
        let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
        let c = campaign(&app, campaign_settings).await;
        let phones: Vec<&str> =
            if case == "nothing due" { vec!["+14155550001", "+14155560001", "+14155570001"] } else { PHONES.to_vec() };
        let b = batch(&app, &c, &phones, batch_settings).await;
        if case == "nothing due" {
            app.advance(10).await; // the busy calls end
        }
        assert_eq!(settled(&app, &b).await, (reasons, calls), "{case}");
    }
}

#[tokio::test]
async fn a_batch_the_rule_frees_is_dispatched_at_that_instant_and_not_before() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let hours =
        json!({"working_hours_enforced": true, "working_hours": noon_hour(), "metadata": {"concurrency_limit": 1}});
    let c = campaign(&app, hours).await;
    let b = batch(&app, &c, &PHONES, json!({"scheduled_start": "2026-11-30T11:00:00Z"})).await;
    assert_eq!(settled(&app, &b).await, (json!(["scheduled_start", "outside_working_hours"]), 0));
    app.set_clock("2026-11-30T11:59:59Z").await;
    assert_eq!(settled(&app, &b).await, (json!(["outside_working_hours"]), 0));
    app.set_clock("2026-11-30T12:00:00Z").await;
    assert_eq!(settled(&app, &b).await, (json!(["concurrency_limit"]), 1), "the first call starts as the hours open");
    // Paused, nothing more starts when the first call ends; the rule gives the pause as the reason.
    let r = app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.advance(600).await;
    let (reasons, calls) = settled(&app, &b).await;
    assert!(reasons.as_array().unwrap().contains(&json!("campaign_paused")), "{reasons}");
    assert_eq!(calls, 1);
    // Resumed: the next call starts at once, within the limit.
    let r = app.post(&format!("/api/v1/campaigns/{c}/resume"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(settled(&app, &b).await, (json!(["concurrency_limit"]), 2));
}

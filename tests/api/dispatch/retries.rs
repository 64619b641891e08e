//! Retries and follow-ups (API.md §6): busy calls retry after a fixed or doubling cooldown until
//! `max_retries` (a batch override wins), permanent failures are not retried, and a follow-up is
//! called an hour after the first call.

use super::{MONDAY_10, batch, calls, campaign, field};
use crate::common::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn busy_calls_retry_with_fixed_cooldown_until_max_retries() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c =
        campaign(&app, json!({"retry_policy": {"max_retries": 2, "strategy": "fixed", "cooldown_minutes": 30}})).await;
    let b = batch(&app, &c, &["+14155550001"], json!({})).await;
    app.advance(6).await; // the busy call ends after 5 s of ringing
    let contact = &app.contacts_with_calls(&b).await[0];
    assert_eq!(contact["status"], "retrying");
    assert_eq!(contact["retry_count"], 1);
    assert_eq!(contact["next_retry_at"], "2026-11-30T10:30:05Z");
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["retry_breakdown"], json!({"retry_1": 1}));
    assert_eq!(stats["next_dispatch_at"], "2026-11-30T10:30:05Z");
    app.advance(7200).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    assert_eq!(contact["status"], "max_retries_reached");
    assert_eq!(contact["latest_retry_count"], 2);
    let records = calls(contact);
    let starts: Vec<&str> = records.iter().map(|r| field(r, "dispatched_at")).collect();
    assert_eq!(starts, [MONDAY_10, "2026-11-30T10:30:05Z", "2026-11-30T11:00:10Z"]);
    let kinds: Vec<&str> = records.iter().map(|r| field(r, "kind")).collect();
    assert_eq!(kinds, ["initial", "retry", "retry"]);
    assert!(records.iter().all(|r| r["call_status"] == "busy"));
    let camp = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!((camp["busy_calls"].as_i64(), camp["status"].as_str()), (Some(3), Some("completed")));
}

#[tokio::test]
async fn exponential_cooldown_doubles_and_override_wins() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c =
        campaign(&app, json!({"retry_policy": {"max_retries": 0, "strategy": "exponential", "cooldown_minutes": 30}}))
            .await;
    let b = batch(&app, &c, &["+14155550002"], json!({"max_retries_override": 3})).await;
    app.advance(6 * 3600).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    let records = calls(contact);
    let starts: Vec<&str> = records.iter().map(|r| field(r, "dispatched_at")).collect();
    // no-answer calls ring 30 s; waits of 30, 60 and 120 minutes after each end
    assert_eq!(starts, [MONDAY_10, "2026-11-30T10:30:30Z", "2026-11-30T11:31:00Z", "2026-11-30T13:31:30Z"]);
    assert_eq!(contact["status"], "max_retries_reached");
}

#[tokio::test]
async fn permanent_failures_are_not_retried_and_no_retries_keeps_the_outcome() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let b = batch(&app, &c, &["+14155550005", "+14155550003"], json!({"max_retries_override": 0})).await;
    app.advance(60).await;
    let contacts = app.contacts_with_calls(&b).await;
    assert_eq!(contacts[0]["status"], "failed");
    assert_eq!(calls(&contacts[0])[0]["hangup_reason"], "invalid_number");
    assert_eq!(
        (calls(&contacts[0])[0]["provider"].as_str(), &calls(&contacts[0])[0]["provider_call_id"]),
        (Some("simulated"), &Value::Null)
    );
    assert_eq!(contacts[1]["status"], "failed");
    let c2 = campaign(&app, json!({})).await;
    let b2 = batch(&app, &c2, &["+14155550005"], json!({})).await;
    app.advance(60).await;
    let contact = &app.contacts_with_calls(&b2).await[0];
    assert_eq!((contact["status"].as_str(), calls(contact).len()), (Some("failed"), 1), "permanent: no retry");
}

#[tokio::test]
async fn a_follow_up_is_called_an_hour_after_the_first_call() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let b = batch(&app, &c, &["+14155550004"], json!({})).await;
    app.advance(200).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    assert_eq!(contact["status"], "followup_scheduled");
    assert_eq!(contact["follow_up_count"], 1);
    assert_eq!(contact["next_retry_at"], "2026-11-30T11:02:03Z");
    app.advance(7200).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    assert_eq!(contact["status"], "completed");
    let records = calls(contact);
    assert_eq!(records.len(), 2, "a follow-up call asks for no further follow-up");
    assert_eq!(
        (field(&records[1], "kind"), field(&records[1], "dispatched_at")),
        ("follow_up", "2026-11-30T11:02:03Z")
    );
    let camp = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!((camp["follow_up_calls"].as_i64(), camp["completed_calls"].as_i64()), (Some(1), Some(2)));
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["follow_up_attempts"], 1);
}

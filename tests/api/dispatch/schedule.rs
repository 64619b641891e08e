//! Dispatch in time (API.md §6, §11): nothing is called outside working hours; pause, resume and
//! cancel; scheduled batches start on time and expire; and the test clock's own routes.

use super::{MONDAY_10, batch, calls, campaign, field};
use crate::common::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn nothing_is_called_outside_working_hours() {
    // Saturday 2026-11-28 10:00 in Kolkata; Mon–Fri 09:00–18:00 by default
    let app = TestApp::with_clock("2026-11-28T04:30:00Z", |_| {}).await;
    let c = campaign(&app, json!({"working_hours_enforced": true, "timezone": "Asia/Kolkata"})).await;
    let b = batch(&app, &c, &["+14155554000"], json!({})).await;
    let debug = app.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["outside_working_hours"]));
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["next_dispatch_at"], "2026-11-30T03:30:00Z", "Monday 09:00 in Kolkata");
    app.advance(24 * 3600).await;
    assert_eq!(app.contacts_with_calls(&b).await[0]["status"], "pending");
    app.set_clock("2026-11-30T06:00:00Z").await;
    let contact = &app.contacts_with_calls(&b).await[0];
    assert_eq!(calls(contact)[0]["dispatched_at"], "2026-11-30T03:30:00Z", "at the opening, not later");
    assert_eq!(contact["status"], "completed");
}

#[tokio::test]
async fn pause_stops_new_calls_and_resume_restarts_them() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"metadata": {"concurrency_limit": 1}})).await;
    let b = batch(&app, &c, &["+14155555000", "+14155555001"], json!({})).await;
    assert_eq!(app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await.status, 200);
    app.advance(3600).await;
    let contacts = app.contacts_with_calls(&b).await;
    assert_eq!(contacts[0]["status"], "completed", "the call in flight finished");
    assert_eq!(contacts[1]["status"], "pending", "no new call while paused");
    app.post(&format!("/api/v1/campaigns/{c}/resume"), json!({})).await;
    let contacts = app.contacts_with_calls(&b).await;
    assert_eq!(calls(&contacts[1])[0]["dispatched_at"], "2026-11-30T11:00:00Z", "at once on resume");
}

#[tokio::test]
async fn cancel_skips_waiting_contacts_and_lets_calls_in_flight_finish() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"metadata": {"concurrency_limit": 1}})).await;
    let b = batch(&app, &c, &["+14155550001", "+14155556001"], json!({})).await;
    assert_eq!(app.post(&format!("/api/v1/batches/{b}/cancel"), json!({})).await.status, 200);
    app.advance(3600).await;
    let contacts = app.contacts_with_calls(&b).await;
    assert_eq!(contacts[0]["status"], "busy", "the call finished with its outcome, and no retry");
    assert_eq!(contacts[1]["status"], "skipped");
    assert_eq!(calls(&contacts[1]).len(), 0);
    let batch_now = app.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!(batch_now["status"], "cancelled");
    assert_eq!((batch_now["counters"]["busy"].as_i64(), batch_now["counters"]["skipped"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn scheduled_batches_start_on_time_and_expire() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"metadata": {"concurrency_limit": 1}})).await;
    let later = batch(&app, &c, &["+14155557000"], json!({"scheduled_start": "2026-11-30T12:00:00Z"})).await;
    assert_eq!(app.get(&format!("/api/v1/batches/{later}")).await.body["status"], "pending");
    app.advance(3 * 3600).await;
    let contact = &app.contacts_with_calls(&later).await[0];
    assert_eq!(calls(contact)[0]["dispatched_at"], "2026-11-30T12:00:00Z");

    let phones: Vec<String> = (0..3).map(|i| format!("+1415555{:04}", 7100 + i)).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let expiring = batch(&app, &c, &phones, json!({"expires_at": "2026-11-30T13:03:00Z"})).await;
    app.advance(3600).await;
    let batch_now = app.get(&format!("/api/v1/batches/{expiring}")).await.body;
    assert_eq!(batch_now["status"], "expired");
    assert_eq!(batch_now["completed_at"], "2026-11-30T13:03:00Z");
    let statuses: Vec<String> =
        app.contacts_with_calls(&expiring).await.iter().map(|c| field(c, "status").to_owned()).collect();
    assert_eq!(statuses, ["completed", "completed", "skipped"]);
}

#[tokio::test]
async fn test_clock_routes() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    assert_eq!(app.get("/api/v1/test/clock").await.body, json!({"now": MONDAY_10}));
    assert_eq!(app.advance(90).await, "2026-11-30T10:01:30Z");
    app.set_clock("2026-12-01T00:00:00+01:00").await;
    assert_eq!(app.get("/api/v1/test/clock").await.body["now"], "2026-11-30T23:00:00Z");
    for bad in [
        json!({"set": "2026-11-30T00:00:00Z"}),
        json!({"advance_seconds": -1}),
        json!({}),
        json!({"advance_seconds": 1, "set": "2027-01-01T00:00:00Z"}),
        json!({"set": "tomorrow"}),
        json!({"advance_seconds": 1, "extra": true}),
    ] {
        let r = app.post("/api/v1/test/clock", bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    assert_eq!(app.get("/api/v1/test/clock").await.body["now"], "2026-11-30T23:00:00Z", "unchanged");
    let real = TestApp::start().await;
    for method in [Method::GET, Method::POST] {
        let r = real.call(method, "/api/v1/test/clock", Some(json!({"advance_seconds": 1}))).await;
        assert_eq!((r.status, r.detail()), (404, "Not Found"));
    }
}

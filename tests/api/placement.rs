//! What telephony's answer to a placement means (API.md §7): refusals fail the attempt (for good
//! when the number is invalid), `429` uses no attempt and pauses dispatch, and `408`/`5xx` are doubt:
//! the call may exist, so it is never placed again.

use crate::telephony::{contact, server, setup, start_stub};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_refusal_that_says_the_number_is_invalid_is_not_retried() {
    let (stub, url) = start_stub().await;
    stub.next.lock().unwrap().push_back((StatusCode::UNPROCESSABLE_ENTITY, vec![], r#"{"permanent": true}"#));
    let app = server(&url).await;
    let (_, b) = setup(&app, &["+14155551234"], json!({})).await;
    let now = contact(&app, &b).await;
    assert_eq!(now["status"], "failed", "permanent: no retry although one is left");
    assert_eq!(
        now["call_records"][0]["hangup_reason"],
        "placement_rejected: telephony answered 422 Unprocessable Entity"
    );
}

#[tokio::test]
async fn a_gateway_error_or_timeout_status_is_doubt_and_the_call_is_never_placed_again() {
    for status in [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE, StatusCode::REQUEST_TIMEOUT] {
        let (stub, url) = start_stub().await;
        *stub.answer.lock().unwrap() = status;
        let app = server(&url).await;
        let (_, b) = setup(&app, &["+14155551234"], json!({})).await;
        let now = contact(&app, &b).await;
        assert_eq!((now["status"].as_str(), now["retry_count"].as_i64()), (Some("dispatched"), Some(0)), "{status}");
        assert_eq!(now["current_call"]["call_status"], "dispatched", "{status}: live until heard of");
        // A refusal would have been retried after the 10-minute cooldown; doubt waits for the call timeout.
        app.advance(29 * 60).await;
        assert_eq!(stub.placed.lock().unwrap().len(), 1, "{status}: never redialled on doubt");
        app.advance(60).await;
        let now = contact(&app, &b).await;
        assert_eq!(now["call_records"][0]["hangup_reason"], "status_timeout", "{status}");
        assert_eq!(now["status"], "retrying", "{status}: the timeout follows the retry policy");
    }
}

#[tokio::test]
async fn a_429_uses_no_attempt_keeps_the_place_and_dispatch_waits_for_retry_after() {
    let (stub, url) = start_stub().await;
    for _ in 0..2 {
        stub.next.lock().unwrap().push_back((StatusCode::TOO_MANY_REQUESTS, vec![("retry-after", "30")], ""));
    }
    let app = server(&url).await;
    let (c, b) = setup(&app, &["+14155551234", "+14155551235"], json!({})).await;
    assert_eq!(stub.placed.lock().unwrap().len(), 2, "both were sent and both refused with 429");
    for contact in app.contacts_with_calls(&b).await {
        assert_eq!((contact["status"].as_str(), contact["retry_count"].as_i64()), (Some("pending"), Some(0)));
        assert_eq!(contact["call_records"], json!([]), "no attempt used: {contact}");
        assert_eq!(contact["last_attempted_at"], serde_json::Value::Null);
    }
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!((stats["total_call_attempts"].as_i64(), stats["active_calls"].as_i64()), (Some(0), Some(0)), "{stats}");
    let batch = app.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!(batch["counters"]["pending"], 2);
    app.advance(29).await;
    assert_eq!(stub.placed.lock().unwrap().len(), 2, "nothing is placed before Retry-After");
    app.advance(1).await;
    let placed = stub.placed.lock().unwrap().clone();
    assert_eq!(placed.len(), 4, "both are placed once Retry-After has passed");
    assert_eq!(placed[2]["to_number"], "+14155551234", "in their original order");
    for contact in app.contacts_with_calls(&b).await {
        assert_eq!(contact["status"], "in_progress");
        let calls = contact["call_records"].as_array().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0]["attempt"].as_i64(), calls[0]["kind"].as_str()), (Some(0), Some("initial")));
        assert_eq!(calls[0]["dispatched_at"], "2026-11-30T10:00:30Z");
    }
}

#[tokio::test]
async fn a_retry_that_meets_429_stays_a_due_retry_with_its_count() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (_, b) = setup(&app, &["+14155551234"], json!({})).await;
    let exec = stub.placed.lock().unwrap()[0]["execution_id"].as_str().unwrap().to_owned();
    crate::telephony::callback(&app, json!({"execution_id": exec, "call_status": "busy"})).await;
    stub.next.lock().unwrap().push_back((StatusCode::TOO_MANY_REQUESTS, vec![], ""));
    app.advance(600).await;
    let now = contact(&app, &b).await;
    assert_eq!(stub.placed.lock().unwrap().len(), 2);
    assert_eq!(
        (now["status"].as_str(), now["retry_count"].as_i64(), now["next_retry_at"].as_str()),
        (Some("retrying"), Some(1), Some("2026-11-30T10:10:00Z")),
        "put back exactly as it was: {now}"
    );
    assert_eq!(now["latest_retry_count"], 0);
    assert_eq!(now["call_records"].as_array().unwrap().len(), 1);
    // Without Retry-After the dispatcher backs off a second, then places the retry.
    app.advance(1).await;
    let placed = stub.placed.lock().unwrap().clone();
    assert_eq!((placed.len(), placed[2]["kind"].as_str(), placed[2]["attempt"].as_i64()), (3, Some("retry"), Some(1)));
}

//! Answering machines and opt-outs (API.md §5, §7): the simulated `…0006` and `…0007` numbers, the
//! campaign's `voicemail_action`, and `answered_by` / `opt_out` on the signed callback.

use crate::common::TestApp;
use crate::telephony::{MONDAY_10, callback, contact, server, setup, start_stub};
use serde_json::{Value, json};

fn latest(contact: &Value) -> &Value {
    contact["call_records"].as_array().unwrap().last().unwrap()
}

#[tokio::test]
async fn a_machine_is_hung_up_on_by_default_and_retried_as_a_no_answer() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let (_, b) = setup(&app, &["+14155550006"], json!({})).await;
    app.advance(60).await;
    let c = contact(&app, &b).await;
    let call = latest(&c);
    assert_eq!(c["status"], "retrying", "{c}");
    assert_eq!(
        (call["call_status"].as_str(), call["hangup_reason"].as_str(), call["answered_by"].as_str()),
        (Some("no_answer"), Some("voicemail"), Some("machine"))
    );
    assert_eq!((call["duration_seconds"].as_f64(), call["opt_out"].as_bool()), (Some(4.0), Some(false)));
    assert_eq!(call["answered_at"], "2026-11-30T10:00:03Z");
}

#[tokio::test]
async fn leave_message_lets_the_agent_speak_to_the_machine() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 30).await;
    let (campaign, b) =
        setup(&app, &["+14155550006"], json!({"metadata": {"voicemail_action": "leave_message"}})).await;
    app.advance(60).await;
    let c = contact(&app, &b).await;
    let call = latest(&c);
    assert_eq!(c["status"], "completed");
    assert_eq!((call["call_status"].as_str(), call["answered_by"].as_str()), (Some("completed"), Some("machine")));
    assert_eq!(call["duration_seconds"], 30.0);
    let camp = app.get(&format!("/api/v1/campaigns/{campaign}")).await.body;
    assert_eq!(camp["metadata"], json!({"concurrency_limit": 10, "voicemail_action": "leave_message"}));
}

#[tokio::test]
async fn an_opt_out_is_recorded_on_the_call_and_people_are_detected() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let (_, b) = setup(&app, &["+14155550007"], json!({})).await;
    app.advance(200).await;
    let c = contact(&app, &b).await;
    let call = latest(&c);
    assert_eq!((c["status"].as_str(), call["call_status"].as_str()), (Some("completed"), Some("completed")));
    assert_eq!((call["opt_out"].as_bool(), call["answered_by"].as_str()), (Some(true), Some("human")));
    let (_, busy) = setup(&app, &["+14155550001"], json!({"retry_policy": {"max_retries": 0}})).await;
    app.advance(60).await;
    let call = latest(&contact(&app, &busy).await).clone();
    assert_eq!((&call["answered_by"], call["opt_out"].as_bool()), (&Value::Null, Some(false)), "nobody answered");
}

#[tokio::test]
async fn voicemail_action_is_checked() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let body = json!({"name": "N", "agent_id": "a", "phone_numbers": ["+14155550100"],
        "metadata": {"voicemail_action": "beep"}});
    let r = app.post("/api/v1/campaigns/", body).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "metadata", "voicemail_action"]));
    assert_eq!(r.body["detail"][0]["type"], "enum");
    let body = json!({"name": "N", "agent_id": "a", "phone_numbers": ["+14155550100"],
        "metadata": {"voicemail_action": 3}});
    assert_eq!(app.post("/api/v1/campaigns/", body).await.status, 422);
}

/// The http placer's telephony reports who answered; a machine under `hangup` ends the call at once
/// and the answer tells telephony to hang up; a late `completed` changes nothing.
#[tokio::test]
async fn a_machine_reported_by_callback_ends_the_call_and_asks_for_a_hang_up() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (_, b) = setup(&app, &["+14155550100", "+14155550101"], json!({})).await;
    app.advance(1).await;
    let placed = stub.placed.lock().unwrap().clone();
    let id = |n: usize| placed[n]["execution_id"].as_str().unwrap().to_owned();
    let r =
        callback(&app, json!({"execution_id": id(0), "call_status": "in-progress", "answered_by": "machine"})).await;
    assert_eq!((r.status, &r.body["applied"], &r.body["hang_up"]), (200, &json!(true), &json!(true)), "{}", r.text);
    let r = callback(&app, json!({"execution_id": id(0), "call_status": "completed", "duration_seconds": 9})).await;
    assert_eq!((r.body["applied"].as_bool(), r.body["hang_up"].as_bool()), (Some(false), Some(false)));
    let r = callback(&app, json!({"execution_id": id(1), "call_status": "in-progress", "answered_by": "human"})).await;
    assert_eq!((r.body["applied"].as_bool(), r.body["hang_up"].as_bool()), (Some(true), Some(false)));
    let r = callback(&app, json!({"execution_id": id(1), "call_status": "completed", "opt_out": true})).await;
    assert_eq!(r.body["applied"], true);
    let contacts = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body;
    let by_id = |n: usize| {
        contacts.as_array().unwrap().iter().map(latest).find(|c| c["execution_id"] == id(n).as_str()).unwrap().clone()
    };
    let machine = by_id(0);
    assert_eq!(
        (machine["call_status"].as_str(), machine["hangup_reason"].as_str(), machine["answered_by"].as_str()),
        (Some("no_answer"), Some("voicemail"), Some("machine"))
    );
    let person = by_id(1);
    assert_eq!((person["answered_by"].as_str(), person["opt_out"].as_bool()), (Some("human"), Some(true)));
    let r = callback(&app, json!({"execution_id": id(1), "call_status": "completed", "answered_by": "robot"})).await;
    assert_eq!((r.status, &r.body["detail"][0]["loc"]), (422, &json!(["body", "answered_by"])));
}

//! The http placer and the signed call-status callback (API.md §7, §8), against a recording stub.

use crate::common::{TOKEN, TestApp, eventually};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use graine::signing::Secret;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(crate) const MONDAY_10: &str = "2026-11-30T10:00:00Z";

/// A status, headers and body the stub answers with once.
pub(crate) type Answer = (StatusCode, Vec<(&'static str, &'static str)>, &'static str);

/// A telephony stub: records every placement (after checking its signature) and answers with the
/// status it is told to, or first with the answers queued in `next`.
#[derive(Clone)]
pub(crate) struct Stub {
    pub(crate) placed: Arc<Mutex<Vec<Value>>>,
    pub(crate) answer: Arc<Mutex<StatusCode>>,
    pub(crate) next: Arc<Mutex<std::collections::VecDeque<Answer>>>,
}

pub(crate) async fn start_stub() -> (Stub, String) {
    let (stub, app) = stub_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/calls", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (stub, url)
}

/// The stub's routes (`POST /calls`), to serve over any transport.
pub(crate) fn stub_app() -> (Stub, Router) {
    let stub = Stub { placed: Arc::default(), answer: Arc::new(Mutex::new(StatusCode::OK)), next: Arc::default() };
    let state = stub.clone();
    let app = Router::new().route(
        "/calls",
        post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let now = chrono::Utc::now().timestamp();
                let verified = Secret::parse(SECRET).unwrap().verify(
                    &h("webhook-id"),
                    &h("webhook-timestamp"),
                    &h("webhook-signature"),
                    &body,
                    now,
                );
                assert_eq!(verified, Ok(()), "placements are signed");
                state.placed.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                let queued = state.next.lock().unwrap().pop_front();
                let (status, headers, body) = queued.unwrap_or((*state.answer.lock().unwrap(), Vec::new(), ""));
                let mut map = HeaderMap::new();
                for (name, value) in headers {
                    map.insert(name, value.parse().unwrap());
                }
                (status, map, body)
            }
        }),
    );
    (stub, app)
}

/// A server on the test clock that knows its own public URL (providers call it back there): it
/// listens on a port picked beforehand.
pub(crate) async fn with_public_url(adjust: impl FnOnce(&mut graine::config::ServeConfig)) -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    TestApp::with_clock(MONDAY_10, move |c| {
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = Some(format!("http://127.0.0.1:{port}"));
        adjust(c);
    })
    .await
}

pub(crate) async fn server(url: &str) -> TestApp {
    let url = url.to_owned();
    TestApp::with_clock(MONDAY_10, move |c| {
        c.telephony = graine::config::Telephony::Http;
        c.telephony_url = Some(url);
        c.webhook_secret = Some(SECRET.into());
    })
    .await
}

/// Sends a signed callback.
pub(crate) async fn callback(app: &TestApp, body: Value) -> crate::common::Resp {
    let bytes = serde_json::to_vec(&body).unwrap();
    let ts = chrono::Utc::now().timestamp();
    let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let sig = Secret::parse(SECRET).unwrap().sign(&id, ts, &bytes);
    let req = app
        .client
        .post(format!("{}/api/v1/webhooks/call-status", app.base))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(bytes);
    app.send(req).await
}

pub(crate) async fn setup(app: &TestApp, phones: &[&str], extra: Value) -> (String, String) {
    let mut body = json!({
        "name": "Telephony", "agent_id": "agent_7", "phone_numbers": ["+919876543210"],
        "default_call_variables": {"language": "en", "product": "Health"},
        "retry_policy": {"max_retries": 1, "cooldown_minutes": 10},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let c = app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned();
    let contacts: Vec<Value> = phones
        .iter()
        .map(|p| json!({"phone_number": p, "call_variables": {"callee_name": "Ann", "product": "Life"}}))
        .collect();
    let r = app
        .post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts, "call_context": {"source": "crm"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (c, r.body["batch_id"].as_str().unwrap().to_owned())
}

pub(crate) async fn contact(app: &TestApp, batch: &str) -> Value {
    let r = app.get(&format!("/api/v1/batches/{batch}/contacts?include_calls=true")).await;
    r.body[0].clone()
}

#[tokio::test]
async fn calls_are_posted_signed_and_callbacks_drive_them() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (c, b) = setup(&app, &["+14155551234"], json!({})).await;
    let placed = stub.placed.lock().unwrap().clone();
    assert_eq!(placed.len(), 1);
    let call = &placed[0];
    let exec = call["execution_id"].as_str().unwrap().to_owned();
    assert_eq!(call["campaign_id"], c.as_str());
    assert_eq!(call["batch_id"], b.as_str());
    assert_eq!(call["agent_id"], "agent_7");
    assert_eq!(
        (call["from_number"].as_str(), call["to_number"].as_str()),
        (Some("+919876543210"), Some("+14155551234"))
    );
    assert_eq!(
        call["call_variables"],
        json!({"language": "en", "product": "Life", "callee_name": "Ann"}),
        "contact wins"
    );
    assert_eq!(call["call_context"], json!({"source": "crm"}));
    assert_eq!((call["attempt"].as_i64(), call["kind"].as_str()), (Some(0), Some("initial")));
    // Placed at the test clock's 10:00 with the default call timeout (30 min): telephony must not
    // start the call after this.
    assert_eq!(call["deadline_at"], "2026-11-30T10:30:00Z");
    assert_eq!(contact(&app, &b).await["status"], "in_progress");

    let r = callback(&app, json!({"execution_id": exec, "call_status": "in-progress"})).await;
    assert_eq!(r.body, json!({"execution_id": exec, "applied": true, "hang_up": false}));
    assert_eq!(contact(&app, &b).await["current_call"]["call_status"], "in_progress");
    let done = json!({
        "execution_id": exec, "call_status": "completed", "duration_seconds": 42.5, "transcript": "Agent: hi",
        "summary": "Renewed", "sentiment": "positive", "hangup_by": "user", "hangup_reason": "completed",
        "total_cost": 0.07, "recording_url": "https://rec.example/1.mp3", "vendor_field": "ignored",
    });
    let r = callback(&app, done.clone()).await;
    assert_eq!((r.status, r.body["applied"].as_bool()), (200, Some(true)), "{}", r.text);
    let now = contact(&app, &b).await;
    assert_eq!(now["status"], "completed");
    let record = &now["call_records"][0];
    assert_eq!((record["duration_seconds"].as_f64(), record["summary"].as_str()), (Some(42.5), Some("Renewed")));
    assert_eq!(record["answered_at"], MONDAY_10);
    assert_eq!((record["provider"].as_str(), &record["provider_call_id"]), (Some("http"), &Value::Null));
    // duplicates and late progress change nothing
    for again in [
        done,
        json!({"execution_id": exec, "call_status": "ringing"}),
        json!({"execution_id": exec, "call_status": "failed"}),
    ] {
        let r = callback(&app, again).await;
        assert_eq!((r.status, r.body["applied"].as_bool()), (200, Some(false)));
    }
    let camp = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!((camp["completed_calls"].as_i64(), camp["failed_calls"].as_i64()), (Some(1), Some(0)));
    assert_eq!(camp["status"], "completed");
}

#[tokio::test]
async fn failures_follow_the_retry_policy_and_permanent_ones_stop() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (_, b) = setup(&app, &["+14155551234"], json!({})).await;
    let exec = stub.placed.lock().unwrap()[0]["execution_id"].as_str().unwrap().to_owned();
    callback(&app, json!({"execution_id": exec, "call_status": "no-answer"})).await;
    let now = contact(&app, &b).await;
    assert_eq!(
        (now["status"].as_str(), now["next_retry_at"].as_str()),
        (Some("retrying"), Some("2026-11-30T10:10:00Z"))
    );
    app.advance(600).await;
    let retry = stub.placed.lock().unwrap()[1].clone();
    assert_eq!((retry["kind"].as_str(), retry["attempt"].as_i64()), (Some("retry"), Some(1)));
    callback(&app, json!({"execution_id": retry["execution_id"], "call_status": "failed", "permanent": true})).await;
    assert_eq!(contact(&app, &b).await["status"], "failed", "permanent: its own status, no retry");
}

#[tokio::test]
async fn a_refused_placement_fails_the_attempt_and_silence_times_out() {
    let (stub, url) = start_stub().await;
    *stub.answer.lock().unwrap() = StatusCode::BAD_REQUEST;
    let app = server(&url).await;
    let (_, b) = setup(&app, &["+14155551234"], json!({})).await;
    let now = contact(&app, &b).await;
    assert_eq!(now["status"], "retrying");
    assert_eq!(now["call_records"][0]["hangup_reason"], "placement_rejected: telephony answered 400 Bad Request");
    *stub.answer.lock().unwrap() = StatusCode::OK;
    app.advance(600).await; // the retry is accepted, then nothing is heard
    assert_eq!(stub.placed.lock().unwrap().len(), 2);
    app.advance(1800).await;
    let now = contact(&app, &b).await;
    assert_eq!(now["status"], "max_retries_reached");
    let last = &now["call_records"][1];
    assert_eq!(
        (last["call_status"].as_str(), last["hangup_reason"].as_str()),
        (Some("failed"), Some("status_timeout"))
    );
    assert_eq!(last["ended_at"], "2026-11-30T10:40:00Z", "closed at the call timeout, never redialed");
    assert_eq!(stub.placed.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn callbacks_must_be_signed() {
    let (_, url) = start_stub().await;
    let app = server(&url).await;
    let body = json!({"execution_id": "exec_00000000000000000000000000", "call_status": "completed"});
    let r = app.send(app.client.post(format!("{}/api/v1/webhooks/call-status", app.base)).json(&body)).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid webhook signature"));
    let ts = chrono::Utc::now().timestamp();
    let bytes = serde_json::to_vec(&body).unwrap();
    let wrong = Secret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap().sign("m1", ts, &bytes);
    let stale = Secret::parse(SECRET).unwrap().sign("m1", ts - 600, &bytes);
    for (sig, stamp) in [(wrong, ts), (stale, ts - 600)] {
        let req = app
            .client
            .post(format!("{}/api/v1/webhooks/call-status", app.base))
            .header("webhook-id", "m1")
            .header("webhook-timestamp", stamp.to_string())
            .header("webhook-signature", sig)
            .body(bytes.clone());
        assert_eq!(app.send(req).await.status, 401);
    }
    // a bearer token is not a signature
    let r = app.call_as(TOKEN, Method::POST, "/api/v1/webhooks/call-status", Some(body)).await;
    assert_eq!(r.status, 401);
    // signed but malformed
    let r = callback(&app, json!({"execution_id": "exec_x", "call_status": "exploded"})).await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["body.call_status".to_owned()]));
    let r = callback(&app, json!({"execution_id": "exec_00000000000000000000000000", "call_status": "busy"})).await;
    assert_eq!((r.status, r.body["applied"].as_bool()), (200, Some(false)), "unknown calls change nothing");
}

#[tokio::test]
async fn callback_fields_out_of_bounds_are_refused_and_record_nothing() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (c, b) = setup(&app, &["+14155551234"], json!({})).await;
    let exec = stub.placed.lock().unwrap()[0]["execution_id"].as_str().unwrap().to_owned();
    let out_of_bounds = [
        ("duration_seconds", json!(1e13)),
        ("duration_seconds", json!(86_400.5)),
        ("duration_seconds", json!(-1)),
        ("total_cost", json!(-0.5)),
        ("follow_up_at", json!("2026-12-30T10:00:01Z")),
    ];
    for (field, value) in out_of_bounds {
        let mut body = json!({"execution_id": exec, "call_status": "completed"});
        body[field] = value.clone();
        let r = callback(&app, body).await;
        assert_eq!((r.status, r.error_locs()), (422, vec![format!("body.{field}")]), "{field} = {value}: {}", r.text);
    }
    assert_eq!(contact(&app, &b).await["current_call"]["call_status"], "ringing", "nothing was recorded");
    // At the bounds, accepted.
    let body = json!({"execution_id": exec, "call_status": "completed", "duration_seconds": 86_400,
                      "follow_up_at": "2026-12-30T10:00:00Z", "total_cost": 0});
    let r = callback(&app, body).await;
    assert_eq!((r.status, r.body["applied"].as_bool()), (200, Some(true)), "{}", r.text);
    let camp = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(camp["avg_duration_seconds"], 86_400.0);
}

/// In real time, closing silent calls skips a campaign another transaction holds (a long upload, a
/// replica frozen mid-transaction) rather than wait for it: the other campaigns' calls still time out
/// on time, and the held one's once it is let go.
#[tokio::test]
async fn a_held_campaign_does_not_delay_the_timeouts_of_the_others() {
    let (stub, url) = start_stub().await;
    let app = TestApp::start_postgres_with(|c| {
        c.telephony = graine::config::Telephony::Http;
        c.telephony_url = Some(url);
        c.webhook_secret = Some(SECRET.into());
        c.call_timeout = 3;
    })
    .await;
    let no_retry = json!({"retry_policy": {"max_retries": 0}});
    let placed = |n: usize| {
        let stub = &stub;
        eventually("a call was never placed", move || async move { stub.placed.lock().unwrap().len() >= n })
    };
    let call = |batch: &str, field: &'static str| {
        let (app, batch) = (&app, batch.to_owned());
        async move { contact(app, &batch).await["call_records"][0][field].clone() }
    };
    let (held, held_batch) = setup(&app, &["+14155551234"], no_retry.clone()).await;
    placed(1).await;
    // Telephony took the call and the server has recorded that it rings: nothing of this campaign
    // is left for the server to write before the deadline.
    eventually("call 1 was never recorded as ringing", || async {
        call(&held_batch, "call_status").await == "ringing"
    })
    .await;
    // Another transaction holds the first campaign (its call is placed, its deadline not yet passed).
    let mut holder = app.hold_campaign(&held).await;
    let (_, free_batch) = setup(&app, &["+14155551235"], no_retry).await;
    placed(2).await;
    let timed_out = |batch: &str| {
        let call = call(batch, "hangup_reason");
        async move { call.await == "status_timeout" }
    };
    eventually("the free campaign's call never timed out", || timed_out(&free_batch)).await;
    assert!(!timed_out(&held_batch).await, "the held campaign's call waits for its lock");
    let _: Vec<(i64,)> = holder.rows("ROLLBACK").await;
    eventually("the held campaign's call never timed out once let go", || timed_out(&held_batch)).await;
}

/// Outcomes arriving together are recorded together; of the same outcome sent many times at once,
/// exactly one applies.
#[tokio::test]
async fn simultaneous_duplicate_outcomes_apply_once() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let phones: Vec<String> = (0..8).map(|i| format!("+1415555{i:04}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let (_, b) = setup(&app, &phones, json!({})).await;
    app.advance(1).await;
    let placed = stub.placed.lock().unwrap().clone();
    assert_eq!(placed.len(), 8);
    let sends = placed.iter().flat_map(|call| {
        let body = json!({"execution_id": call["execution_id"], "call_status": "completed", "duration_seconds": 3});
        (0..4).map(move |_| body.clone())
    });
    let answers = futures_util::future::join_all(sends.map(|body| callback(&app, body))).await;
    assert!(answers.iter().all(|r| r.status == 200));
    let applied = answers.iter().filter(|r| r.body["applied"] == true).count();
    assert_eq!(applied, 8, "one of each call's four outcomes applied");
    let contacts = app.get(&format!("/api/v1/batches/{b}/contacts")).await.body;
    assert!(contacts.as_array().unwrap().iter().all(|c| c["status"] == "completed"), "{contacts}");
    let camp = app.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!(camp["status"], "completed");
}

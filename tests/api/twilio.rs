//! `--telephony twilio` against a fake Twilio that speaks the Calls API and signs its callbacks as
//! Twilio does (API.md §7.1): request shapes and auth, every outcome, machine detection, invalid
//! numbers, forged / duplicate / late callbacks, 429 without attempt loss, doubt without a second call.

use crate::common::{TestApp, eventually};
use crate::fakes::twilio::{CreatedCall, FakeTwilio};
use crate::telephony::{MONDAY_10, contact, setup, with_public_url};
use graine::config::{ServeConfig, Telephony};
use serde_json::{Value, json};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

pub(crate) async fn twilio_app(fake: &FakeTwilio, adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let api = fake.base.clone();
    with_public_url(move |c| {
        c.telephony = Telephony::Twilio;
        c.providers.twilio_api_url = api;
        c.providers.twilio_account_sid = Some(ACCOUNT.into());
        c.providers.twilio_auth_token = Some(TOKEN.into());
        c.providers.twilio_stream_url = Some("wss://agents.test/stream/{agent_id}".into());
        adjust(c);
    })
    .await
}

async fn started() -> (FakeTwilio, TestApp) {
    let fake = FakeTwilio::start(ACCOUNT, TOKEN).await;
    let app = twilio_app(&fake, |_| {}).await;
    (fake, app)
}

fn latest(contact: &Value) -> Value {
    contact["call_records"].as_array().unwrap().last().cloned().unwrap_or(Value::Null)
}

/// Sends a status callback and checks it was taken.
async fn status(fake: &FakeTwilio, call: &CreatedCall, extra: &[(&str, &str)]) -> Value {
    let (code, body) = fake.send_status(call, extra).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn a_call_is_created_as_twilio_documents_and_reaches_the_agent() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.basic_auth, (ACCOUNT.to_owned(), TOKEN.to_owned()));
    let c = contact(&app, &b).await;
    let record = latest(&c);
    let exec = record["execution_id"].as_str().unwrap();
    assert_eq!((call.get("To"), call.get("From")), (Some("+14155550100"), Some("+919876543210")));
    assert_eq!(
        call.get("StatusCallback"),
        Some(format!("{}/api/v1/webhooks/twilio?execution_id={exec}", app.base).as_str())
    );
    assert_eq!(call.all("StatusCallbackEvent"), ["initiated", "ringing", "answered", "completed"]);
    assert_eq!((call.get("MachineDetection"), call.get("AsyncAmd")), (Some("Enable"), Some("true")));
    assert_eq!(call.get("AsyncAmdStatusCallback"), call.get("StatusCallback"));
    let twiml = call.get("Twiml").unwrap();
    assert!(twiml.starts_with("<Response><Connect><Stream url=\"wss://agents.test/stream/agent_7\">"), "{twiml}");
    assert!(twiml.contains(&format!("<Parameter name=\"execution_id\" value=\"{exec}\"/>")), "{twiml}");
    assert!(twiml.contains("&quot;callee_name&quot;:&quot;Ann&quot;"), "variables travel as JSON: {twiml}");
    assert!(twiml.contains("<Parameter name=\"call_context\" value=\"{&quot;source&quot;:&quot;crm&quot;}\"/>"));
    assert_eq!(call.get("Url"), None);
    assert_eq!(
        (record["provider"].as_str(), record["provider_call_id"].as_str()),
        (Some("twilio"), Some(call.sid.as_str()))
    );
    assert_eq!(record["call_status"], "ringing");
}

#[tokio::test]
async fn status_callbacks_drive_the_call_to_its_outcome() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let call = fake.calls()[0].clone();
    // Already ringing since Twilio took the call: `initiated` and `ringing` change nothing.
    assert_eq!(status(&fake, &call, &[("CallStatus", "initiated")]).await["applied"], false);
    status(&fake, &call, &[("CallStatus", "ringing")]).await;
    assert_eq!(status(&fake, &call, &[("CallStatus", "in-progress")]).await["applied"], true);
    assert_eq!(latest(&contact(&app, &b).await)["call_status"], "in_progress");
    app.advance(40).await;
    status(&fake, &call, &[("AnsweredBy", "human")]).await;
    let done = status(&fake, &call, &[("CallStatus", "completed"), ("CallDuration", "42")]).await;
    assert_eq!(done["applied"], true);
    let c = contact(&app, &b).await;
    let record = latest(&c);
    assert_eq!(c["status"], "completed");
    assert_eq!((record["call_status"].as_str(), record["duration_seconds"].as_f64()), (Some("completed"), Some(42.0)));
    assert_eq!((record["hangup_reason"].as_str(), record["answered_by"].as_str()), (Some("completed"), Some("human")));
    assert_eq!(record["answered_at"], "2026-11-30T10:00:01Z");
    // Duplicates and late, out-of-order callbacks change nothing.
    assert_eq!(status(&fake, &call, &[("CallStatus", "completed"), ("CallDuration", "99")]).await["applied"], false);
    assert_eq!(status(&fake, &call, &[("CallStatus", "ringing")]).await["applied"], false);
    assert_eq!(latest(&contact(&app, &b).await)["duration_seconds"], 42.0);
}

#[tokio::test]
async fn busy_no_answer_and_unallocated_numbers() {
    let (fake, app) = started().await;
    let phones = ["+14155550101", "+14155550102", "+14155550103"];
    let (_, b) = setup(&app, &phones, json!({})).await;
    app.advance(1).await;
    let calls = fake.calls();
    let by_to = |to: &str| calls.iter().find(|c| c.get("To") == Some(to)).unwrap().clone();
    status(&fake, &by_to(phones[0]), &[("CallStatus", "busy"), ("SipResponseCode", "486")]).await;
    status(&fake, &by_to(phones[1]), &[("CallStatus", "no-answer")]).await;
    status(&fake, &by_to(phones[2]), &[("CallStatus", "failed"), ("SipResponseCode", "404")]).await;
    let contacts = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body;
    let of = |phone: &str| contacts.as_array().unwrap().iter().find(|c| c["phone_number"] == phone).unwrap().clone();
    let busy = of(phones[0]);
    assert_eq!(
        (busy["status"].as_str(), latest(&busy)["hangup_reason"].as_str()),
        (Some("retrying"), Some("busy (SIP 486)"))
    );
    assert_eq!(latest(&of(phones[1]))["call_status"], "no_answer");
    let gone = of(phones[2]);
    assert_eq!(
        (gone["status"].as_str(), latest(&gone)["hangup_reason"].as_str()),
        (Some("failed"), Some("failed (SIP 404)"))
    );
    assert_eq!(gone["next_retry_at"], Value::Null, "an unallocated number is not retried");
}

#[tokio::test]
async fn a_machine_is_hung_up_on_through_twilio() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let call = fake.calls()[0].clone();
    status(&fake, &call, &[("CallStatus", "in-progress")]).await;
    let (code, body) = fake.send_amd(&call, "machine_start").await;
    assert_eq!((code, serde_json::from_str::<Value>(&body).unwrap()["applied"].as_bool()), (200, Some(true)));
    eventually("Twilio is asked to hang up", || async { !fake.updates().is_empty() }).await;
    let (sid, form) = fake.updates()[0].clone();
    assert_eq!((sid.as_str(), form), (call.sid.as_str(), vec![("Status".to_owned(), "completed".to_owned())]));
    let c = contact(&app, &b).await;
    let record = latest(&c);
    assert_eq!(c["status"], "retrying");
    assert_eq!(
        (record["call_status"].as_str(), record["hangup_reason"].as_str(), record["answered_by"].as_str()),
        (Some("no_answer"), Some("voicemail"), Some("machine"))
    );
    assert_eq!(status(&fake, &call, &[("CallStatus", "completed"), ("CallDuration", "6")]).await["applied"], false);
}

#[tokio::test]
async fn leave_message_asks_for_no_detection_and_a_twiml_url_replaces_the_stream() {
    let fake = FakeTwilio::start(ACCOUNT, TOKEN).await;
    let app = twilio_app(&fake, |c| {
        c.providers.twilio_stream_url = None;
        c.providers.twilio_twiml_url = Some("https://agents.test/twiml/{agent_id}".into());
        c.providers.twilio_api_key = Some("SK0123456789abcdef0123456789abcdef".into());
        c.providers.twilio_api_secret = Some("key-secret".into());
    })
    .await;
    fake.accept_api_key("SK0123456789abcdef0123456789abcdef", "key-secret");
    setup(&app, &["+14155550100"], json!({"metadata": {"voicemail_action": "leave_message"}})).await;
    app.advance(1).await;
    let call = &fake.calls()[0];
    assert_eq!(call.basic_auth.0, "SK0123456789abcdef0123456789abcdef", "an API key authenticates requests");
    assert_eq!((call.get("MachineDetection"), call.get("Twiml")), (None, None));
    let url = reqwest::Url::parse(call.get("Url").unwrap()).unwrap();
    assert_eq!(url.path(), "/twiml/agent_7");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(query.iter().any(|(k, v)| k == "execution_id" && v.starts_with("exec_")), "{query:?}");
    assert!(query.iter().any(|(k, v)| k == "call_context" && v == r#"{"source":"crm"}"#), "{query:?}");
}

#[tokio::test]
async fn invalid_numbers_fail_for_good_and_other_refusals_follow_the_retry_policy() {
    let (fake, app) = started().await;
    fake.queue_error(400, 21211, "The 'To' number +14155550100 is not a valid phone number.", &[]);
    fake.queue_error(400, 21210, "The source phone number provided is not yet verified.", &[]);
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let c = contact(&app, &b).await;
    assert_eq!((c["status"].as_str(), &c["next_retry_at"]), (Some("failed"), &Value::Null), "{c}");
    let reason = latest(&c)["hangup_reason"].as_str().unwrap().to_owned();
    assert!(reason.starts_with("placement_rejected: twilio 400 21211"), "{reason}");
    let (_, b2) = setup(&app, &["+14155550199"], json!({})).await;
    app.advance(1).await;
    let c = contact(&app, &b2).await;
    assert_eq!(c["status"], "retrying", "a refusal that is not the number's is retried: {c}");
}

#[tokio::test]
async fn too_many_requests_uses_no_attempt_and_doubt_is_never_redialled() {
    let (fake, app) = started().await;
    fake.queue_error(429, 20429, "Too Many Requests", &[("retry-after", "5")]);
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let c = contact(&app, &b).await;
    assert_eq!(
        (c["status"].as_str(), c["retry_count"].as_i64(), &c["current_call"]),
        (Some("pending"), Some(0), &Value::Null)
    );
    app.advance(5).await;
    assert_eq!(fake.calls().len(), 2, "placed again once Retry-After passed");
    assert_eq!(contact(&app, &b).await["status"], "in_progress");

    fake.queue_error(503, 20500, "Service Unavailable", &[]);
    let (_, b2) = setup(&app, &["+14155550101"], json!({})).await;
    app.advance(1).await;
    let placed = fake.calls().len();
    app.advance(600).await;
    assert_eq!(fake.calls().len(), placed, "a call in doubt is not placed again");
    let c = contact(&app, &b2).await;
    assert_eq!(latest(&c)["call_status"], "dispatched");
    app.advance(1800).await;
    let c = contact(&app, &b2).await;
    let first = &c["call_records"][0];
    assert_eq!(first["hangup_reason"], "status_timeout", "the call timeout closes it");
    assert_eq!(c["call_records"][1]["kind"], "retry", "then it is retried like any failure: {c}");
}

#[tokio::test]
async fn forged_and_unknown_callbacks_change_nothing() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let call = fake.calls()[0].clone();
    let url = call.get("StatusCallback").unwrap().to_owned();
    let params = [("CallSid", call.sid.as_str()), ("AccountSid", ACCOUNT), ("CallStatus", "completed")];
    let (code, _) = fake.send_signed(&url, &params, Some("not-the-token")).await;
    assert_eq!(code, 401);
    let (code, _) = fake.send_signed(&url, &params, None).await;
    assert_eq!(code, 401);
    let unknown = format!("{}/api/v1/webhooks/twilio?execution_id=exec_01m90sebakezvvkhss95dqx85g", app.base);
    let (code, body) = fake.send_signed(&unknown, &params, Some(TOKEN)).await;
    assert_eq!((code, body.as_str()), (404, r#"{"detail":"Call not found"}"#));
    assert_eq!(latest(&contact(&app, &b).await)["call_status"], "ringing", "nothing was recorded");
}

/// A server that places no calls through a provider cannot verify that provider's callbacks: they
/// are refused like any callback that does not verify.
#[tokio::test]
async fn provider_callbacks_to_a_server_without_that_provider_are_refused() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    for (route, content_type) in [("twilio", "application/x-www-form-urlencoded"), ("jambonz", "application/json")] {
        let r = app
            .send(
                app.client
                    .post(format!("{}/api/v1/webhooks/{route}?execution_id=exec_01m90sebakezvvkhss95dqx85g", app.base))
                    .header("content-type", content_type)
                    .header("x-twilio-signature", "AAAA")
                    .header("jambonz-signature", "t=1,v1=00")
                    .body("CallStatus=completed"),
            )
            .await;
        assert_eq!((r.status, r.text.as_str()), (401, r#"{"detail":"Invalid webhook signature"}"#), "{route}");
    }
}

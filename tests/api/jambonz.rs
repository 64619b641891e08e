//! `--telephony jambonz` against a fake jambonz that speaks its REST API and signs its webhooks as
//! jambonz does (API.md §7.1): request shapes and auth, outcomes from `call_status` and
//! `sip_status`, `amd` events, forged / duplicate / late callbacks, 429 and doubt.

use crate::common::{TestApp, eventually};
use crate::fakes::jambonz::{CreatedCall, FakeJambonz, signature_header};
use crate::telephony::{contact, setup, with_public_url};
use graine::config::{ServeConfig, Telephony};
use serde_json::{Value, json};

const ACCOUNT: &str = "9351f46a-678c-43f5-b8a6-d4eb58d131af";
const API_KEY: &str = "4a3d9a6e-1e2c-4f3b-9d6a-0c5e8f7b2a11";
const SECRET: &str = "wh_secret_cJqHWhxDPgBFbnX4V6zYxQ";
const APP_SID: &str = "0dddaabf-0a30-43e3-84e8-426873b1a78b";

async fn jambonz_app(fake: &FakeJambonz, adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let api = fake.base.clone();
    with_public_url(move |c| {
        c.telephony = Telephony::Jambonz;
        c.providers.jambonz_api_url = api;
        c.providers.jambonz_account_sid = Some(ACCOUNT.into());
        c.providers.jambonz_api_key = Some(API_KEY.into());
        c.providers.jambonz_application_sid = Some(APP_SID.into());
        c.providers.jambonz_webhook_secret = Some(SECRET.into());
        adjust(c);
    })
    .await
}

async fn started() -> (FakeJambonz, TestApp) {
    let fake = FakeJambonz::start(ACCOUNT, API_KEY).await;
    fake.set_webhook_secret(SECRET);
    let app = jambonz_app(&fake, |_| {}).await;
    (fake, app)
}

fn latest(contact: &Value) -> Value {
    contact["call_records"].as_array().unwrap().last().cloned().unwrap_or(Value::Null)
}

async fn status(fake: &FakeJambonz, call: &CreatedCall, extra: Value) -> u16 {
    let (code, body) = fake.send_status(call, extra).await;
    assert!(code < 300 || code == 404, "{code} {body}");
    code
}

#[tokio::test]
async fn a_call_is_created_as_jambonz_documents_and_reaches_the_agent() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.bearer, API_KEY);
    let record = latest(&contact(&app, &b).await);
    let exec = record["execution_id"].as_str().unwrap();
    let body = &call.body;
    assert_eq!(
        (body["from"].as_str(), &body["to"]),
        (Some("+919876543210"), &json!({"type": "phone", "number": "+14155550100"}))
    );
    assert_eq!(body["application_sid"], APP_SID);
    assert_eq!(body["call_status_hook"]["url"], format!("{}/api/v1/webhooks/jambonz", app.base));
    assert_eq!(body["tag"]["execution_id"], exec);
    assert_eq!(body["tag"]["agent_id"], "agent_7");
    assert_eq!(body["tag"]["call_variables"]["callee_name"], "Ann");
    assert_eq!(body["tag"]["call_context"], json!({"source": "crm"}));
    assert_eq!(body["amd"]["actionHook"]["url"], body["call_status_hook"]["url"], "machines are detected");
    assert_eq!(
        (record["provider"].as_str(), record["provider_call_id"].as_str()),
        (Some("jambonz"), Some(call.sid.as_str()))
    );
}

#[tokio::test]
async fn call_status_drives_the_outcome_and_sip_codes_decide_failures() {
    let (fake, app) = started().await;
    let phones = ["+14155550100", "+14155550101", "+14155550102"];
    let (_, b) = setup(&app, &phones, json!({})).await;
    app.advance(1).await;
    let calls = fake.calls();
    let by_to = |to: &str| calls.iter().find(|c| c.body["to"]["number"] == to).unwrap().clone();
    let answered = by_to(phones[0]);
    status(&fake, &answered, json!({"call_status": "early-media", "sip_status": 183})).await;
    status(&fake, &answered, json!({"call_status": "in-progress", "sip_status": 200})).await;
    app.advance(30).await;
    status(&fake, &answered, json!({"call_status": "completed", "sip_status": 200, "duration": 30})).await;
    status(&fake, &by_to(phones[1]), json!({"call_status": "busy", "sip_status": 486, "sip_reason": "Busy Here"}))
        .await;
    status(&fake, &by_to(phones[2]), json!({"call_status": "failed", "sip_status": 404, "sip_reason": "Not Found"}))
        .await;
    // A duplicate and a late one change nothing.
    status(&fake, &answered, json!({"call_status": "completed", "sip_status": 200, "duration": 99})).await;
    status(&fake, &answered, json!({"call_status": "ringing", "sip_status": 180})).await;
    let contacts = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body;
    let of = |phone: &str| contacts.as_array().unwrap().iter().find(|c| c["phone_number"] == phone).unwrap().clone();
    let done = latest(&of(phones[0]));
    assert_eq!((done["call_status"].as_str(), done["duration_seconds"].as_f64()), (Some("completed"), Some(30.0)));
    assert_eq!(done["answered_at"], "2026-11-30T10:00:01Z");
    let busy = of(phones[1]);
    assert_eq!(
        (busy["status"].as_str(), latest(&busy)["hangup_reason"].as_str()),
        (Some("retrying"), Some("busy (SIP 486)"))
    );
    let gone = of(phones[2]);
    assert_eq!(
        (gone["status"].as_str(), latest(&gone)["hangup_reason"].as_str()),
        (Some("failed"), Some("failed (SIP 404)"))
    );
}

#[tokio::test]
async fn a_machine_detected_by_amd_is_hung_up_on() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let call = fake.calls()[0].clone();
    status(&fake, &call, json!({"call_status": "in-progress", "sip_status": 200})).await;
    let (code, body) = fake.send_amd(&call, "amd_machine_detected").await;
    assert_eq!(code, 204, "{body}");
    eventually("jambonz is asked to hang up", || async { !fake.updates().is_empty() }).await;
    assert_eq!(fake.updates()[0], (call.sid.clone(), json!({"call_status": "completed"})));
    let record = latest(&contact(&app, &b).await);
    assert_eq!(
        (record["call_status"].as_str(), record["hangup_reason"].as_str(), record["answered_by"].as_str()),
        (Some("no_answer"), Some("voicemail"), Some("machine"))
    );
}

#[tokio::test]
async fn a_call_hook_and_basic_credentials_instead_of_an_application_and_a_signature() {
    let fake = FakeJambonz::start(ACCOUNT, API_KEY).await;
    let app = jambonz_app(&fake, |c| {
        c.providers.jambonz_application_sid = None;
        c.providers.jambonz_call_hook_url = Some("https://agents.test/hook/{agent_id}".into());
        c.providers.jambonz_webhook_secret = None;
        c.providers.jambonz_webhook_auth = Some("graine:hook-pass".into());
    })
    .await;
    let (_, b) = setup(&app, &["+14155550100"], json!({"metadata": {"voicemail_action": "leave_message"}})).await;
    app.advance(1).await;
    let call = fake.calls()[0].clone();
    assert_eq!(call.body["call_hook"]["url"], "https://agents.test/hook/agent_7");
    assert_eq!(call.body["call_status_hook"]["username"], "graine");
    assert_eq!(call.body.get("amd"), None, "leave_message asks for no detection");
    assert_eq!(status(&fake, &call, json!({"call_status": "completed", "sip_status": 200, "duration": 5})).await, 204);
    assert_eq!(contact(&app, &b).await["status"], "completed");
    let hook = format!("{}/api/v1/webhooks/jambonz", app.base);
    let (code, _) = fake.send_raw(&hook, "{}", &[("authorization", "Basic Z3JhaW5lOndyb25n")]).await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn forged_unknown_and_refused_placements() {
    let (fake, app) = started().await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let call = fake.calls()[0].clone();
    let hook = format!("{}/api/v1/webhooks/jambonz", app.base);
    let body = json!({"call_sid": call.sid, "call_status": "completed", "sip_status": 200, "duration": 3,
        "customerData": call.body["tag"]})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let forged = signature_header("another secret", now, body.as_bytes());
    assert_eq!(fake.send_raw(&hook, &body, &[("jambonz-signature", &forged)]).await.0, 401);
    assert_eq!(fake.send_raw(&hook, &body, &[]).await.0, 401);
    let stale = signature_header(SECRET, now - 600, body.as_bytes());
    assert_eq!(fake.send_raw(&hook, &body, &[("jambonz-signature", &stale)]).await.0, 401);
    let unknown = json!({"call_sid": "x", "call_status": "completed",
        "customerData": {"execution_id": "exec_01m90sebakezvvkhss95dqx85g"}})
    .to_string();
    let signed = signature_header(SECRET, now, unknown.as_bytes());
    let (code, text) = fake.send_raw(&hook, &unknown, &[("jambonz-signature", &signed)]).await;
    assert_eq!((code, text.as_str()), (404, r#"{"detail":"Call not found"}"#));
    assert_eq!(latest(&contact(&app, &b).await)["call_status"], "ringing", "nothing was recorded");

    fake.queue_error(429, json!({"msg": "Too many requests"}), &[("retry-after", "3")]);
    fake.queue_error(400, json!({"msg": "missing or invalid to property"}), &[]);
    let (_, b2) = setup(&app, &["+14155550101"], json!({})).await;
    app.advance(1).await;
    let c = contact(&app, &b2).await;
    assert_eq!((c["status"].as_str(), &c["current_call"]), (Some("pending"), &Value::Null), "429 used no attempt");
    app.advance(3).await;
    let c = contact(&app, &b2).await;
    assert_eq!(c["status"], "retrying", "{c}");
    let reason = latest(&c)["hangup_reason"].as_str().unwrap().to_owned();
    assert_eq!(reason, "placement_rejected: jambonz 400: missing or invalid to property");

    fake.queue_error(500, json!({"msg": "internal error"}), &[]);
    let (_, b3) = setup(&app, &["+14155550102"], json!({})).await;
    app.advance(1).await;
    let to_b3 = || fake.calls().iter().filter(|c| c.body["to"]["number"] == "+14155550102").count();
    assert_eq!(to_b3(), 1);
    app.advance(900).await;
    assert_eq!(to_b3(), 1, "a call in doubt is not placed again");
    assert_eq!(latest(&contact(&app, &b3).await)["call_status"], "dispatched");
}

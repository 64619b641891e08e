//! Frequency caps (API.md §12.4): a campaign's caps over its own calls or the organization's, the
//! built-in cap of three states in the recipient basis, and retries that wait for a cap.

use super::{batch, campaign};
use crate::common::TestApp;
use crate::telephony::MONDAY_10;
use serde_json::{Value, json};

fn calls(contact: &Value) -> Vec<&str> {
    contact["call_records"].as_array().unwrap().iter().map(|c| c["dispatched_at"].as_str().unwrap()).collect()
}

async fn only_contact(app: &TestApp, batch: &Value) -> Value {
    app.contacts_with_calls(batch["batch_id"].as_str().unwrap()).await[0].clone()
}

#[tokio::test]
async fn an_organization_cap_holds_a_number_another_campaign_called() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 30).await;
    let first = campaign(&app, json!({})).await;
    let a = batch(&app, &first, &["+14155550100", "+14155550102"], json!({})).await;
    app.advance(60).await;
    let cap = json!([{"max_calls": 1, "window": "PT24H", "scope": "organization"}]);
    let second = campaign(&app, json!({ "frequency_caps": cap })).await;
    assert_eq!(app.get(&format!("/api/v1/campaigns/{second}")).await.body["frequency_caps"], cap);
    assert_eq!(
        app.get(&format!("/api/v1/campaigns/{first}")).await.body.get("frequency_caps"),
        None,
        "none: not shown"
    );
    let b = batch(&app, &second, &["+14155550100", "+14155550101", "+14155550102"], json!({})).await;
    app.advance(60).await;
    let contacts = app.contacts_with_calls(b["batch_id"].as_str().unwrap()).await;
    let free = &contacts[1];
    for held in [&contacts[0], &contacts[2]] {
        assert_eq!(held["status"], "pending");
        assert_eq!(held["blocked_by"], json!(["frequency_cap"]), "{held}");
        // The other campaign's calls at 10:00 leave the 24 h window at 10:00 the next day.
        assert_eq!(held["next_eligible_at"], "2026-12-01T10:00:00Z");
        assert_eq!(held["next_retry_at"], "2026-12-01T10:00:00Z", "held by the claim");
    }
    assert_eq!(calls(free), vec!["2026-11-30T10:01:00Z"]);
    let debug = app.get(&format!("/api/v1/batches/{}/debug", b["batch_id"].as_str().unwrap())).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["frequency_cap"]), "{debug}");
    let stats = app.get(&format!("/api/v1/campaigns/{second}/stats")).await.body;
    assert_eq!(stats["next_dispatch_at"], "2026-12-01T10:00:00Z", "when the held contact's cap lets it through");
    assert_eq!(
        free["call_records"][0]["decision"]["caps"],
        json!([{"max_calls": 1, "window": "PT24H", "scope": "organization", "count": 0}])
    );
    assert_eq!(only_contact(&app, &a).await["call_records"][0]["decision"]["caps"], json!([]));
    app.set_clock("2026-12-01T09:59:00Z").await;
    assert_eq!(calls(&only_contact(&app, &b).await), Vec::<&str>::new());
    app.advance(120).await;
    assert_eq!(calls(&only_contact(&app, &b).await), vec!["2026-12-01T10:00:00Z"]);
}

#[tokio::test]
async fn retries_wait_for_the_cap() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(
        &app,
        json!({
            "frequency_caps": [{"max_calls": 2, "window": "PT1H"}],
            "retry_policy": {"max_retries": 5, "cooldown_minutes": 1},
        }),
    )
    .await;
    let b = batch(&app, &c, &["+14155550001"], json!({})).await;
    app.advance(30 * 60).await;
    let busy = only_contact(&app, &b).await;
    assert_eq!(calls(&busy).len(), 2, "{busy}");
    assert_eq!(busy["status"], "retrying");
    assert_eq!(busy["blocked_by"], json!(["frequency_cap"]), "{busy}");
    assert_eq!(busy["next_eligible_at"], "2026-11-30T11:00:00Z");
    app.advance(31 * 60).await;
    let later = only_contact(&app, &b).await;
    assert_eq!(calls(&later)[2], "2026-11-30T11:00:00Z", "{later}");
    assert_eq!(later["call_records"][2]["decision"]["caps"][0]["count"], 1, "the 10:00 call has left the hour");
}

#[tokio::test]
async fn florida_recipients_get_three_calls_a_day_in_the_recipient_basis() {
    // 09:00 in Miami and New York.
    let app = TestApp::with_clock("2026-11-30T14:00:00Z", |_| {}).await;
    let c = campaign(
        &app,
        json!({
            "working_hours_basis": "recipient", "timezone": "America/New_York",
            "retry_policy": {"max_retries": 6, "cooldown_minutes": 1},
        }),
    )
    .await;
    let b = batch(&app, &c, &["+13055550001", "+12125550001"], json!({})).await;
    app.advance(3600).await;
    let contacts = app.contacts_with_calls(b["batch_id"].as_str().unwrap()).await;
    let (miami, new_york) = (&contacts[0], &contacts[1]);
    assert_eq!((miami["region"].as_str(), calls(miami).len()), (Some("US-FL"), 3), "{miami}");
    assert_eq!(calls(new_york).len(), 7, "no built-in cap in New York: {new_york}");
    assert_eq!(
        miami["call_records"][2]["decision"]["caps"],
        json!([{"max_calls": 3, "window": "PT24H", "scope": "campaign", "count": 2}])
    );
    assert_eq!(miami["next_eligible_at"], "2026-12-01T14:00:00Z");
    app.set_clock("2026-12-01T14:00:30Z").await;
    let miami = &app.contacts_with_calls(b["batch_id"].as_str().unwrap()).await[0];
    assert_eq!(calls(miami)[3], "2026-12-01T14:00:00Z", "{miami}");
}

#[tokio::test]
async fn frequency_caps_are_checked() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let body = |caps: Value| json!({"name": "Caps", "agent_id": "a", "phone_numbers": ["+12025550123"], "frequency_caps": caps});
    let r = app
        .post(
            "/api/v1/campaigns/",
            body(json!([
                {"max_calls": 0, "window": "PT24H"},
                {"max_calls": 3, "window": "P1M"},
                {"max_calls": 3, "window": "P31D"},
                {"max_calls": 3, "window": "PT24H", "scope": "team"},
                {"max_calls": 3},
                {"max_calls": 3, "window": "PT24H", "extra": 1},
                "PT24H",
            ])),
        )
        .await;
    r.assert_invalid_at(&[
        "body.frequency_caps.0.max_calls",
        "body.frequency_caps.1.window",
        "body.frequency_caps.2.window",
        "body.frequency_caps.3.scope",
        "body.frequency_caps.4.window",
        "body.frequency_caps.5.extra",
        "body.frequency_caps.6",
    ]);
    let eleven: Vec<Value> = (0..11).map(|_| json!({"max_calls": 1, "window": "P1D"})).collect();
    app.post("/api/v1/campaigns/", body(Value::Array(eleven))).await.assert_invalid_at(&["body.frequency_caps"]);
    let c = campaign(&app, json!({})).await;
    let caps = json!([{"max_calls": 7, "window": "P7D", "scope": "campaign"}, {"max_calls": 20, "window": "P1DT12H", "scope": "organization"}]);
    let r = app.patch(&format!("/api/v1/campaigns/{c}"), json!({ "frequency_caps": caps })).await;
    assert_eq!((r.status, &r.body["frequency_caps"]), (200, &caps), "{}", r.text);
    let r = app.patch(&format!("/api/v1/campaigns/{c}"), json!({"frequency_caps": []})).await;
    assert_eq!(r.body.get("frequency_caps"), None);
}

//! Cost that follows due work: a campaign outside its working hours is looked at once when it
//! closes, not on every pass, and its calls start at the instant its hours open.

use crate::common::TestApp;
use serde_json::json;

/// Claim transactions this server has run so far (the count of its claim histogram).
async fn claims(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text;
    text.lines()
        .find_map(|l| l.strip_prefix("graine_dispatch_claim_seconds_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_closed_campaign_costs_one_claim_per_closing_and_calls_start_when_it_opens() {
    // Monday 20:00 UTC: after the default hours (Mon–Fri 09:00–18:00).
    let app = TestApp::with_clock("2026-11-30T20:00:00Z", |_| {}).await;
    let mut batches = Vec::new();
    for i in 0..10 {
        let c = app
            .create_campaign(json!({"name": format!("closed {i}"), "agent_id": "a",
                "phone_numbers": ["+919876543210"], "working_hours_enforced": true}))
            .await;
        let r = app
            .post(
                "/api/v1/batches/",
                json!({"campaign_id": c["campaign_id"], "contacts": [
                    {"phone_number": format!("+1415555{:04}", 1000 + i), "call_variables": {"callee_name": "N"}}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        batches.push(r.body["batch_id"].as_str().unwrap().to_owned());
    }
    let created = claims(&app).await;
    assert!(created <= 10, "each campaign was looked at once, when its batch came, not at every change: {created}");
    for _ in 0..6 {
        app.advance(600).await;
    }
    assert_eq!(claims(&app).await, created, "an hour of passes looked at no closed campaign");
    let r = app.get(&format!("/api/v1/batches/{}/debug", batches[0])).await;
    assert_eq!(r.body["diagnostics"]["blocked_by"], json!(["outside_working_hours"]));
    // Tuesday 09:00 opens them all: every first call starts at that very instant.
    app.set_clock("2026-12-01T10:00:00Z").await;
    for b in &batches {
        let contacts = app.contacts_with_calls(b).await;
        assert_eq!(contacts[0]["call_records"][0]["dispatched_at"], "2026-12-01T09:00:00Z", "{}", contacts[0]);
    }
    assert!(claims(&app).await <= created + 20, "opening costs a claim or two per campaign");
}

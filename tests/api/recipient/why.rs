//! Why not now (API.md §12.5): each contact's `blocked_by` and `next_eligible_at`, the batch's
//! `/debug` and the campaign's `next_dispatch_at` in the recipient basis, and the evidence each call
//! keeps of the decision that let it start.

use super::{MONDAY_13, batch, campaign, contact};
use crate::common::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_waiting_contact_says_why_and_until_when() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let b = batch(&app, &c, json!([contact("+13105550100"), contact("+17095550100")])).await;
    let list = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body;
    let (la, st_johns) = (&list[0], &list[1]);
    assert_eq!(la["blocked_by"], json!(["outside_working_hours"]));
    assert_eq!(la["next_eligible_at"], "2026-11-30T17:00:00Z", "09:00 in Los Angeles");
    assert_eq!((st_johns["status"].as_str(), &st_johns["blocked_by"]), (Some("in_progress"), &json!(["nothing_due"])));
    assert_eq!(st_johns["next_eligible_at"], json!(null));
    assert_eq!(
        st_johns["call_records"][0]["decision"],
        json!({"timezones": ["America/Puerto_Rico", "America/St_Johns"],
               "local_times": {"America/Puerto_Rico": "2026-11-30T09:00:00", "America/St_Johns": "2026-11-30T09:30:00"},
               "basis": "recipient", "calendars": [], "caps": []})
    );
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["next_dispatch_at"], "2026-11-30T17:00:00Z", "the first waiting zone's opening");
    let debug = app.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["outside_working_hours"]));

    app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await;
    let la = &app.get(&format!("/api/v1/batches/{b}/contacts")).await.body[0];
    assert_eq!(la["blocked_by"], json!(["campaign_paused", "batch_paused", "outside_working_hours"]));
    assert_eq!(la["next_eligible_at"], json!(null), "null while paused");
    let debug = app.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["campaign_paused", "batch_paused"]));
    app.post(&format!("/api/v1/campaigns/{c}/resume"), json!({})).await;
    app.set_clock("2026-11-30T17:00:00Z").await;
    let la = &app.contacts_with_calls(&b).await[0];
    assert_eq!(la["call_records"][0]["dispatched_at"], "2026-11-30T17:00:00Z");
    assert_eq!(la["call_records"][0]["decision"]["local_times"], json!({"America/Los_Angeles": "2026-11-30T09:00:00"}));
}

#[tokio::test]
async fn a_batch_at_its_own_limit_has_no_next_dispatch() {
    // 15:00 UTC: New York is open; the batch may place one call at a time.
    let app = TestApp::with_clock("2026-11-30T15:00:00Z", |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let contacts = json!([contact("+12125550100"), contact("+12125550101")]);
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts, "concurrency_limit": 1})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!((stats["active_calls"].as_i64(), &stats["next_dispatch_at"]), (Some(1), &json!(null)));
}

#[tokio::test]
async fn a_retry_waits_for_its_time_and_its_zones() {
    // A busy number called at 17:35 in New York, retried 30 minutes later: 18:05, closed, so held to
    // Tuesday 09:00.
    let app = TestApp::with_clock("2026-11-30T22:35:00Z", |_| {}).await;
    let c = campaign(&app, json!({"retry_policy": {"max_retries": 1, "cooldown_minutes": 30}})).await;
    let b = batch(&app, &c, json!([contact("+12125550001")])).await;
    app.advance(60).await;
    let ny = &app.get(&format!("/api/v1/batches/{b}/contacts")).await.body[0];
    assert_eq!(ny["status"], "retrying");
    assert_eq!(ny["blocked_by"], json!(["nothing_due"]));
    assert_eq!(ny["next_eligible_at"], "2026-12-01T14:00:00Z", "after its retry time, at the next opening");
    app.advance(24 * 3600).await;
    let ny = &app.contacts_with_calls(&b).await[0];
    assert_eq!(ny["call_records"][1]["dispatched_at"], "2026-12-01T14:00:00Z");
}

#[tokio::test]
async fn calls_of_the_campaign_basis_keep_their_evidence_too() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let c = campaign(&app, json!({"working_hours_basis": "campaign", "working_hours_enforced": false})).await;
    let b = batch(&app, &c, json!([contact("+13105550100")])).await;
    let la = &app.contacts_with_calls(&b).await[0];
    assert_eq!(
        la["call_records"][0]["decision"],
        json!({"timezones": ["America/New_York"], "local_times": {"America/New_York": "2026-11-30T08:00:00"},
               "basis": "campaign", "calendars": [], "caps": []})
    );
    assert_eq!((la["blocked_by"].clone(), la["next_eligible_at"].clone()), (json!(["nothing_due"]), json!(null)));
}

//! Where each contact's zones come from (API.md §12.1, §12.6), as its record shows them.

use super::{MONDAY_13, batch, campaign, contact};
use crate::common::TestApp;
use serde_json::json;

#[tokio::test]
async fn the_first_source_that_answers_gives_the_zones() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let c = campaign(&app, json!({"timezone": "Europe/Paris"})).await;
    let b = batch(
        &app,
        &c,
        json!([
            {"phone_number": "+13055550100", "timezone": "America/Phoenix", "region": "US-FL"},
            {"phone_number": "+12125550100", "region": "US-FL"},
            contact("+12085550100"),
            contact("+919876543210"),
            {"phone_number": "+919876543211", "timezone": "Asia/Calcutta"},
            contact("+80012345678"),
            contact("+18005550100"),
            {"phone_number": "+12125550199", "timezone": "US/Eastern"},
        ]),
    )
    .await;
    let list = app.get(&format!("/api/v1/batches/{b}/contacts")).await.body;
    let view = |i: usize| {
        let c = &list[i];
        (c["timezones"].clone(), c["timezone_source"].as_str().unwrap().to_owned(), c["region"].clone())
    };
    assert_eq!(view(0), (json!(["America/Phoenix"]), "contact".into(), json!("US-FL")));
    assert_eq!(view(1), (json!(["America/Chicago", "America/New_York"]), "region".into(), json!("US-FL")));
    // Idaho's 208 numbers may be on Boise's or Los Angeles' time: both are kept.
    assert_eq!(view(2), (json!(["America/Boise", "America/Los_Angeles"]), "phone_number".into(), json!("US-ID")));
    assert_eq!(view(3), (json!(["Asia/Kolkata"]), "phone_number".into(), json!(null)));
    assert_eq!(view(4), (json!(["Asia/Kolkata"]), "contact".into(), json!(null)), "canonical names");
    assert_eq!(view(5), (json!(["Europe/Paris"]), "campaign".into(), json!(null)), "+800 has no zone");
    assert_eq!(view(6), (json!(["Europe/Paris"]), "campaign".into(), json!(null)), "nor has a toll-free +1 800");
    assert_eq!(view(7), (json!(["America/New_York"]), "contact".into(), json!("US-NY")), "a link names its zone");
}

#[tokio::test]
async fn a_number_spanning_two_zones_is_called_only_when_both_are_open() {
    // Monday 2026-11-30 15:30 UTC: 08:30 in Boise (MST), 07:30 in Los Angeles (PST).
    let app = TestApp::with_clock("2026-11-30T15:30:00Z", |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let b = batch(&app, &c, json!([contact("+12085550100")])).await;
    app.advance(6 * 3600).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    // 09:00 in Los Angeles (10:00 in Boise): the later opening.
    assert_eq!(contact["call_records"][0]["dispatched_at"], "2026-11-30T17:00:00Z");
}

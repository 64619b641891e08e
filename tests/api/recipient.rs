//! Calls in the recipient's local time (API.md §12.1): each contact's zones from its own timezone,
//! its region or its number; the recipient basis, where every zone must be inside its window; and
//! the legal floor. Driven by the test clock, on both stores.

use crate::common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

mod agreement;
mod calendars;
mod why;
mod zones;

/// Monday 2026-11-30 13:00 UTC: 08:00 in New York, 09:30 in St. John's, 18:30 in Kolkata.
const MONDAY_13: &str = "2026-11-30T13:00:00Z";

async fn campaign(app: &TestApp, extra: Value) -> String {
    let mut body = json!({
        "name": "Nationwide",
        "agent_id": "agent_1",
        "phone_numbers": ["+12025550123"],
        "timezone": "America/New_York",
        "working_hours_enforced": true,
        "working_hours_basis": "recipient",
        "metadata": {"concurrency_limit": 50},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.post("/api/v1/campaigns/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["campaign_id"].as_str().unwrap().to_owned()
}

async fn batch(app: &TestApp, campaign: &str, contacts: Value) -> String {
    let r = app.post("/api/v1/batches/", json!({"campaign_id": campaign, "contacts": contacts})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["batch_id"].as_str().unwrap().to_owned()
}

fn contact(phone: &str) -> Value {
    json!({"phone_number": phone, "call_variables": {"callee_name": "Ann"}})
}

/// Each contact's phone number with the time its first call started (or null).
async fn first_calls(app: &TestApp, batch: &str) -> Vec<(String, Value)> {
    app.contacts_with_calls(batch)
        .await
        .iter()
        .map(|c| (c["phone_number"].as_str().unwrap().to_owned(), c["call_records"][0]["dispatched_at"].clone()))
        .collect()
}

#[tokio::test]
async fn each_contact_is_called_when_its_own_hours_open() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let phones = ["+12125550100", "+13105550100", "+16025550100", "+17095550100", "+919876543210"];
    let b = batch(&app, &c, Value::Array(phones.iter().map(|p| contact(p)).collect())).await;
    app.advance(24 * 3600).await;
    let want = [
        ("+12125550100", "2026-11-30T14:00:00Z"),  // New York, 09:00 EST
        ("+13105550100", "2026-11-30T17:00:00Z"),  // Los Angeles, 09:00 PST
        ("+16025550100", "2026-11-30T16:00:00Z"),  // Phoenix, 09:00 MST (no DST)
        ("+17095550100", "2026-11-30T13:00:00Z"),  // St. John's, 09:30 NST (-03:30): open at once
        ("+919876543210", "2026-12-01T03:30:00Z"), // Kolkata, Tuesday 09:00 IST
    ];
    let got = first_calls(&app, &b).await;
    let want: Vec<(String, Value)> = want.iter().map(|(p, t)| ((*p).to_owned(), json!(t))).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn the_campaign_basis_stays_the_default_and_reads_the_campaigns_zone() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let c = campaign(&app, json!({"working_hours_basis": null})).await;
    let got = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!(got.get("working_hours_basis"), None, "the default is not shown");
    let b = batch(&app, &c, json!([contact("+13105550100")])).await;
    app.advance(3 * 3600).await;
    assert_eq!(first_calls(&app, &b).await[0].1, "2026-11-30T14:00:00Z", "09:00 in New York, not Los Angeles");
    // Switched to the recipient basis, a new contact waits for Los Angeles' 09:00.
    let r = app.patch(&format!("/api/v1/campaigns/{c}"), json!({"working_hours_basis": "recipient"})).await;
    assert_eq!((r.status, r.body["working_hours_basis"].as_str()), (200, Some("recipient")));
    let b = batch(&app, &c, json!([contact("+13105550101")])).await;
    app.advance(3600).await;
    assert_eq!(first_calls(&app, &b).await[0].1, "2026-11-30T17:00:00Z");
    let bad = app.patch(&format!("/api/v1/campaigns/{c}"), json!({"working_hours_basis": "callee"})).await;
    bad.assert_invalid_at(&["body.working_hours_basis"]);
}

#[tokio::test]
async fn the_legal_floor_holds_whatever_the_working_hours_say() {
    // 07:00–22:00 every day, or no hours at all: US numbers still only 08:00–21:00 local, Florida's
    // until 20:00, India's from 09:00.
    let every_day = json!({"start": "07:00", "end": "22:00", "enabled": true});
    let hours: serde_json::Map<String, Value> =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            .iter()
            .map(|d| ((*d).to_owned(), every_day.clone()))
            .collect();
    for enforced in [true, false] {
        // Monday 2026-11-30 12:00 UTC: 07:00 in New York and Miami, 17:30 in Kolkata.
        let app = TestApp::with_clock("2026-11-30T12:00:00Z", |_| {}).await;
        let c = campaign(&app, json!({"working_hours": hours, "working_hours_enforced": enforced})).await;
        let b = batch(&app, &c, json!([contact("+12125550100"), contact("+13055550100")])).await;
        app.advance(3600).await;
        let got = first_calls(&app, &b).await;
        assert_eq!(
            (got[0].1.as_str(), got[1].1.as_str()),
            (Some("2026-11-30T13:00:00Z"), Some("2026-11-30T13:00:00Z"))
        );
        // New contacts at 20:30 local.
        app.set_clock("2026-12-01T01:30:00Z").await;
        let late = batch(&app, &c, json!([contact("+12125550101"), contact("+13055550101")])).await;
        app.advance(60).await;
        let got = first_calls(&app, &late).await;
        assert_eq!(got[0].1, "2026-12-01T01:30:00Z", "20:30 in New York: open until 21:00");
        assert_eq!(got[1].1, Value::Null, "20:30 in Miami: Florida stops at 20:00");
        // Kolkata at 07:30 (hours open from 07:00): the floor waits for 09:00.
        app.set_clock("2026-12-01T02:00:00Z").await;
        let india = batch(&app, &c, json!([contact("+919876543211")])).await;
        app.advance(3 * 3600).await;
        assert_eq!(first_calls(&app, &india).await[0].1, "2026-12-01T03:30:00Z");
    }
}

#[tokio::test]
async fn contacts_take_timezone_and_region_from_json_and_csv() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let r = app
        .post(
            "/api/v1/batches/",
            json!({"campaign_id": c, "contacts": [
                {"phone_number": "+12125550100", "timezone": "Mars/Olympus"},
                {"phone_number": "+12125550101", "region": "Florida"},
                {"phone_number": "+12125550102", "timezone": 5},
                {"phone_number": "+12125550103", "region": "US-ZZ"},
            ]}),
        )
        .await;
    r.assert_invalid_at(&[
        "body.contacts.0.timezone",
        "body.contacts.1.region",
        "body.contacts.2.timezone",
        "body.contacts.3.region",
    ]);
    let csv = "phone,Timezone,REGION,name\n+12125550100,America/Chicago,,Ann\n+12125550101,,US-TX,Bob\n\
               +12125550102,Mars/Olympus,,Cy\n";
    let form = |csv: &str| {
        reqwest::multipart::Form::new()
            .text("campaign_id", c.clone())
            .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("c.csv"))
    };
    let r = app.send(app.request(Method::POST, "/api/v1/batches/upload").multipart(form(csv))).await;
    r.assert_invalid_at(&["body.contacts.2.timezone"]);
    let csv = &csv[..csv.find("+12125550102").unwrap()];
    let r = app.send(app.request(Method::POST, "/api/v1/batches/upload").multipart(form(csv))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let list = app.get(&format!("/api/v1/batches/{}/contacts", r.body["batch_id"].as_str().unwrap())).await.body;
    assert_eq!(list[0]["timezones"], json!(["America/Chicago"]));
    assert_eq!((list[0]["timezone_source"].as_str(), list[0]["region"].as_str()), (Some("contact"), Some("US-NY")));
    assert_eq!(list[0]["call_variables"], json!({"name": "Ann"}), "timezone and region are not call variables");
    assert_eq!(list[1]["timezone_source"], "region");
    assert_eq!(list[1]["region"], "US-TX", "the contact's own region wins over its number's");
    assert!(list[1]["timezones"].as_array().unwrap().contains(&json!("America/Denver")), "{}", list[1]);
}

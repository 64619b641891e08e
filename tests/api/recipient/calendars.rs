//! Calendars (API.md §12.2): their routes, and the days they close or reshape, for every recipient
//! or for one region's, in either basis.

use super::{MONDAY_13, batch, campaign, contact};
use crate::common::TestApp;
use serde_json::{Value, json};

async fn calendar(app: &TestApp, entries: Value) -> String {
    let r = app.post("/api/v1/calendars", json!({"name": "Holidays", "entries": entries})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["calendar_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn calendars_are_created_read_listed_replaced_and_deleted() {
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let entries = json!([
        {"date": "2026-12-25", "closed": true, "name": "Christmas Day"},
        {"date": "2026-12-24", "hours": {"start": "09:00", "end": "13:00"}, "regions": ["US-LA"]},
    ]);
    let r = app.post("/api/v1/calendars", json!({"name": "US holidays", "entries": entries})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["calendar_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cal_"));
    assert_eq!(
        r.body["entries"],
        json!([
            {"date": "2026-12-25", "closed": true, "name": "Christmas Day", "regions": []},
            {"date": "2026-12-24", "hours": {"start": "09:00", "end": "13:00"}, "name": null, "regions": ["US-LA"]},
        ])
    );
    assert_eq!(app.get(&format!("/api/v1/calendars/{id}")).await.body, r.body);
    let list = app.get("/api/v1/calendars").await;
    assert_eq!((list.total_count(), list.body[0]["calendar_id"].as_str()), (1, Some(id.as_str())));
    let patched = app.patch(&format!("/api/v1/calendars/{id}"), json!({"entries": []})).await;
    assert_eq!(
        (patched.status, patched.body["entries"].clone(), patched.body["name"].as_str()),
        (200, json!([]), Some("US holidays"))
    );

    let bad = app
        .post(
            "/api/v1/calendars",
            json!({"name": "x", "entries": [
                {"date": "2026-02-30", "closed": true},
                {"date": "2026-12-24", "closed": true, "hours": {"start": "09:00", "end": "13:00"}},
                {"date": "2026-12-24", "hours": {"start": "13:00", "end": "09:00"}},
                {"date": "2026-12-24", "closed": true, "regions": ["Louisiana"]},
                {"date": "2026-12-24"},
            ]}),
        )
        .await;
    bad.assert_invalid_at(&[
        "body.entries.0.date",
        "body.entries.1",
        "body.entries.2.hours",
        "body.entries.3.regions.0",
        "body.entries.4",
    ]);
    assert_eq!(app.get("/api/v1/calendars/cal_00000000000000000000000000").await.status, 404);
    app.patch(&format!("/api/v1/calendars/{id}"), json!({"calendar_id": "x"}))
        .await
        .assert_invalid_at(&["body.calendar_id"]);

    // A campaign names only calendars of its organization; one in use is not deleted.
    let unknown = app
        .post(
            "/api/v1/campaigns/",
            json!({"name": "n", "agent_id": "a", "phone_numbers": ["+12025550123"],
                                           "calendar_ids": [id, "cal_00000000000000000000000000"]}),
        )
        .await;
    unknown.assert_invalid_at(&["body.calendar_ids.1"]);
    let c = campaign(&app, json!({"calendar_ids": [id], "working_hours_enforced": false})).await;
    assert_eq!(app.get(&format!("/api/v1/campaigns/{c}")).await.body["calendar_ids"], json!([id]));
    let b = batch(&app, &c, json!([contact("+13105550100")])).await;
    let busy = app.delete(&format!("/api/v1/calendars/{id}")).await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    // A completed campaign becomes active again with a new batch: it still applies its calendars.
    app.advance(4 * 3600).await;
    assert_eq!(app.get(&format!("/api/v1/batches/{b}")).await.body["status"], "completed");
    assert_eq!(app.get(&format!("/api/v1/campaigns/{c}")).await.body["status"], "completed");
    assert_eq!(app.delete(&format!("/api/v1/calendars/{id}")).await.status, 409);
    let freed = app.patch(&format!("/api/v1/campaigns/{c}"), json!({"calendar_ids": []})).await;
    assert_eq!((freed.status, freed.body.get("calendar_ids")), (200, None), "not shown when none");
    let gone = app.delete(&format!("/api/v1/calendars/{id}")).await;
    assert_eq!((gone.status, gone.body["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(app.get(&format!("/api/v1/calendars/{id}")).await.status, 404);
}

#[tokio::test]
async fn a_closed_day_holds_calls_to_the_next_open_one() {
    // Campaign basis, New York: Monday 30 November closed, so the first call is Tuesday 09:00.
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let cal = calendar(&app, json!([{"date": "2026-11-30", "closed": true}])).await;
    let c = campaign(&app, json!({"working_hours_basis": "campaign", "calendar_ids": [cal]})).await;
    let b = batch(&app, &c, json!([contact("+12125550100")])).await;
    app.set_clock("2026-11-30T15:00:00Z").await;
    let ny = &app.get(&format!("/api/v1/batches/{b}/contacts")).await.body[0];
    assert_eq!(
        (ny["blocked_by"].clone(), ny["next_eligible_at"].as_str()),
        (json!(["holiday"]), Some("2026-12-01T14:00:00Z"))
    );
    let debug = app.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["holiday"]));
    app.advance(24 * 3600).await;
    let ny = &app.contacts_with_calls(&b).await[0];
    assert_eq!(ny["call_records"][0]["dispatched_at"], "2026-12-01T14:00:00Z");
    assert_eq!(ny["call_records"][0]["decision"]["calendars"], json!([cal]));
}

#[tokio::test]
async fn a_regions_entry_concerns_its_recipients_in_the_campaign_basis_too() {
    // Campaign basis, New York hours: Louisiana's recipients are held on Monday, New York's are not.
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let cal = calendar(&app, json!([{"date": "2026-11-30", "closed": true, "regions": ["US-LA"]}])).await;
    let c = campaign(&app, json!({"working_hours_basis": "campaign", "calendar_ids": [cal]})).await;
    let b = batch(&app, &c, json!([contact("+12125550100"), contact("+15045550100")])).await;
    app.set_clock("2026-11-30T15:00:00Z").await;
    let orleans = &app.get(&format!("/api/v1/batches/{b}/contacts")).await.body[1];
    assert_eq!(
        (orleans["blocked_by"].clone(), orleans["next_eligible_at"].as_str()),
        (json!(["holiday"]), Some("2026-12-01T14:00:00Z"))
    );
    app.advance(24 * 3600).await;
    let got: Vec<Value> =
        app.contacts_with_calls(&b).await.iter().map(|c| c["call_records"][0]["dispatched_at"].clone()).collect();
    assert_eq!(
        got,
        [json!("2026-11-30T14:00:00Z"), json!("2026-12-01T14:00:00Z")],
        "09:00 in New York, Louisiana on Tuesday"
    );
}

#[tokio::test]
async fn a_regions_entry_concerns_only_its_recipients_and_hours_replace_the_day() {
    // Recipient basis: Monday closed in Louisiana only; Tuesday 11:00–13:00 there; Saturday, a day the
    // working hours leave closed, opened 10:00–12:00 for everyone.
    let app = TestApp::with_clock(MONDAY_13, |_| {}).await;
    let cal = calendar(
        &app,
        json!([
            {"date": "2026-11-30", "closed": true, "regions": ["US-LA"], "name": "Lundi Gras"},
            {"date": "2026-12-01", "hours": {"start": "11:00", "end": "13:00"}, "regions": ["US-LA"]},
            {"date": "2026-12-05", "hours": {"start": "10:00", "end": "12:00"}},
        ]),
    )
    .await;
    let c = campaign(&app, json!({"calendar_ids": [cal]})).await;
    let b = batch(&app, &c, json!([contact("+12125550100"), contact("+15045550100")])).await;
    app.advance(2 * 24 * 3600).await;
    let got: Vec<Value> =
        app.contacts_with_calls(&b).await.iter().map(|c| c["call_records"][0]["dispatched_at"].clone()).collect();
    assert_eq!(
        got,
        [json!("2026-11-30T14:00:00Z"), json!("2026-12-01T17:00:00Z")],
        "New Orleans at 11:00 CST on Tuesday"
    );
    app.set_clock("2026-12-05T12:00:00Z").await;
    let saturday = batch(&app, &c, json!([contact("+12125550101")])).await;
    app.advance(6 * 3600).await;
    assert_eq!(app.contacts_with_calls(&saturday).await[0]["call_records"][0]["dispatched_at"], "2026-12-05T15:00:00Z");
}

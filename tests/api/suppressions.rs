//! Do-not-call lists (API.md §12.3): entries added row by row, listed, removed with their history
//! kept, checked; suppressed numbers skipped at upload and at their turn; opt-outs captured with the
//! outcome. Both stores, test clock.

use crate::common::TestApp;
use crate::telephony::{MONDAY_10, callback, server, setup, start_stub};
use reqwest::Method;
use serde_json::{Value, json};

mod caps;
mod race;

/// A campaign on the simulated placer (no hours), returning its id.
async fn campaign(app: &TestApp, extra: Value) -> String {
    let mut body = json!({
        "name": "Renewals", "agent_id": "agent_1", "phone_numbers": ["+12025550123"],
        "retry_policy": {"max_retries": 2, "cooldown_minutes": 10},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned()
}

/// Creates a batch of these numbers; returns the `201` body.
async fn batch(app: &TestApp, campaign: &str, phones: &[&str], extra: Value) -> Value {
    let contacts: Vec<Value> =
        phones.iter().map(|p| json!({"phone_number": p, "call_variables": {"callee_name": "Ann"}})).collect();
    let mut body = json!({"campaign_id": campaign, "contacts": contacts});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.post("/api/v1/batches/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

async fn suppress(app: &TestApp, entries: Value) -> Value {
    let r = app.post("/api/v1/suppressions", json!({ "entries": entries })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// The batch's contacts by phone number.
async fn by_phone(app: &TestApp, batch: &str) -> std::collections::HashMap<String, Value> {
    app.contacts_with_calls(batch)
        .await
        .into_iter()
        .map(|c| (c["phone_number"].as_str().unwrap().to_owned(), c))
        .collect()
}

#[tokio::test]
async fn entries_are_added_row_by_row_listed_checked_and_removed_with_their_history() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    let got = suppress(
        &app,
        json!([
            {"phone_number": "+14155550100", "reason": "asked by email"},
            {"phone_number": "not a number"},
            {"phone_number": "+14155550101", "campaign_id": c, "expires_at": "2026-12-30T10:00:00Z"},
            {"phone_number": "+14155550102", "campaign_id": "cmp_00000000000000000000000000"},
            {"phone_number": "+14155550103", "expires_at": "2026-11-01T00:00:00Z"},
            {"phone_number": "+14155550100"},
            {"phone_number": "+14155550104", "colour": "red"},
            "+14155550105",
            {"phone_number": "+14155550106", "reason": "a\u{0}b"},
        ]),
    )
    .await;
    assert_eq!((got["added"].as_u64(), got["already_present"].as_u64()), (Some(2), Some(1)), "{got}");
    let rejected: Vec<u64> = got["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(rejected, vec![1, 3, 4, 6, 7, 8], "{got}");
    assert!(got["rejected"][1]["reason"].as_str().unwrap().contains("not found"), "{got}");
    // Adding an entry in force again changes nothing.
    let again = suppress(&app, json!([{"phone_number": "+14155550100"}])).await;
    assert_eq!(again, json!({"added": 0, "already_present": 1, "rejected": []}));

    let list = app.get("/api/v1/suppressions").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.total_count(), 2, "{}", list.text);
    let org_entry = &list.body[1];
    assert_eq!(
        (org_entry["phone_number"].as_str(), org_entry["scope"].as_str(), org_entry["reason"].as_str()),
        (Some("+14155550100"), Some("organization"), Some("asked by email"))
    );
    assert_eq!((org_entry["active"].as_bool(), &org_entry["campaign_id"]), (Some(true), &Value::Null));
    let mine = app.get(&format!("/api/v1/suppressions?campaign_id={c}")).await;
    assert_eq!((mine.total_count(), mine.body[0]["scope"].as_str()), (1, Some("campaign")));
    assert_eq!(mine.body[0]["expires_at"], "2026-12-30T10:00:00Z");
    assert_eq!(app.get("/api/v1/suppressions?phone_number=%2B14155550101").await.total_count(), 1);
    assert_eq!(app.get("/api/v1/suppressions?reason=asked%20by%20email").await.total_count(), 1);
    app.get("/api/v1/suppressions?phone_number=12").await.assert_invalid_at(&["query.phone_number"]);
    // NUL is refused, not passed to the database (PostgreSQL answered 500).
    app.get("/api/v1/suppressions?reason=%00").await.assert_invalid_at(&["query.reason"]);

    let check = app
        .post("/api/v1/suppressions/check", json!({"phone_numbers": ["+14155550100", "+14155550101", "+14155550199"]}))
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    let flags: Vec<bool> =
        check.body["results"].as_array().unwrap().iter().map(|r| r["suppressed"].as_bool().unwrap()).collect();
    assert_eq!(flags, vec![true, true, false]);
    assert_eq!(check.body["results"][1]["entries"][0]["campaign_id"], json!(c));
    // For another campaign, only the organization's entries count.
    let other = campaign(&app, json!({})).await;
    let check =
        app.post("/api/v1/suppressions/check", json!({"phone_numbers": ["+14155550101"], "campaign_id": other})).await;
    assert_eq!(check.body["results"][0]["suppressed"], false, "{}", check.text);
    app.post("/api/v1/suppressions/check", json!({"phone_numbers": ["x"]}))
        .await
        .assert_invalid_at(&["body.phone_numbers.0"]);

    // Removal keeps the entry, out of force, with its history.
    let removed = app.call(Method::DELETE, "/api/v1/suppressions/+14155550100", None).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(
        (removed.body["active"].as_bool(), removed.body["removed_at"].as_str()),
        (Some(false), Some("2026-11-30T10:00:00Z"))
    );
    assert_eq!(app.call(Method::DELETE, "/api/v1/suppressions/+14155550100", None).await.status, 404);
    assert_eq!(
        app.call(Method::DELETE, "/api/v1/suppressions/%2B14155550101", None).await.status,
        404,
        "a campaign's entry needs its campaign_id"
    );
    assert_eq!(app.get("/api/v1/suppressions").await.total_count(), 1);
    app.advance(60).await;
    let back = suppress(&app, json!([{"phone_number": "+14155550100", "reason": "opted out again"}])).await;
    assert_eq!(back["added"], 1);
    let all = app.get("/api/v1/suppressions?include_removed=true&phone_number=%2B14155550100").await;
    let entry = &all.body[0];
    assert_eq!(
        (entry["reason"].as_str(), entry["created_at"].as_str()),
        (Some("opted out again"), Some("2026-11-30T10:01:00Z"))
    );
    assert_eq!(
        entry["history"],
        json!([{"added_at": "2026-11-30T10:00:00Z", "reason": "asked by email", "expires_at": null, "removed_at": "2026-11-30T10:00:00Z"}])
    );
    for bad in [json!({}), json!({"entries": []}), json!({"entries": "x"}), json!({"entries": [], "more": 1})] {
        let r = app.post("/api/v1/suppressions", bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
}

#[tokio::test]
async fn suppressed_numbers_are_skipped_at_upload_and_at_their_turn() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    suppress(&app, json!([{"phone_number": "+14155550100"}])).await;
    let created = batch(
        &app,
        &c,
        &["+14155550100", "+14155550101", "+14155550102"],
        json!({"scheduled_start": "2026-11-30T11:00:00Z"}),
    )
    .await;
    assert_eq!(created["suppressed"], 1, "{created}");
    assert_eq!((created["counters"]["skipped"].as_i64(), created["counters"]["pending"].as_i64()), (Some(1), Some(2)));
    let b = created["batch_id"].as_str().unwrap().to_owned();
    // A number suppressed after the upload is skipped at its turn, for this campaign only.
    suppress(&app, json!([{"phone_number": "+14155550102", "campaign_id": c}])).await;
    let before = by_phone(&app, &b).await;
    assert_eq!(
        (before["+14155550100"]["status"].as_str(), before["+14155550100"]["skip_reason"].as_str()),
        (Some("skipped"), Some("suppressed"))
    );
    assert_eq!(before["+14155550102"]["blocked_by"], json!(["suppressed"]));
    assert_eq!(before["+14155550102"]["next_eligible_at"], Value::Null);
    assert_eq!(before["+14155550101"]["blocked_by"], json!(["scheduled_start"]));
    app.advance(3 * 3600).await;
    let after = by_phone(&app, &b).await;
    assert_eq!(after["+14155550101"]["status"], "completed");
    let skipped = &after["+14155550102"];
    assert_eq!((skipped["status"].as_str(), skipped["skip_reason"].as_str()), (Some("skipped"), Some("suppressed")));
    assert_eq!(skipped["call_records"], json!([]), "never called");
    let got = app.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!((got["status"].as_str(), got["counters"]["skipped"].as_i64()), (Some("completed"), Some(2)));

    // Another campaign may call the number its own entry does not name.
    let other = campaign(&app, json!({})).await;
    let created = batch(&app, &other, &["+14155550102"], json!({})).await;
    assert_eq!(created["suppressed"], 0);
    // A batch whose every number is suppressed is complete at once.
    let all = batch(&app, &other, &["+14155550100"], json!({})).await;
    assert_eq!((all["status"].as_str(), all["suppressed"].as_i64()), (Some("completed"), Some(1)), "{all}");
    assert_eq!(all["completed_at"], "2026-11-30T13:00:00Z");
}

#[tokio::test]
async fn a_simulated_opt_out_suppresses_the_number_for_every_campaign() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 30).await;
    let first = campaign(&app, json!({})).await;
    let second = campaign(&app, json!({})).await;
    let b1 = batch(&app, &first, &["+14155550007"], json!({})).await["batch_id"].as_str().unwrap().to_owned();
    let b2 =
        batch(&app, &second, &["+14155550007"], json!({"scheduled_start": "2026-11-30T12:00:00Z"})).await["batch_id"]
            .as_str()
            .unwrap()
            .to_owned();
    app.advance(120).await;
    let called = &app.contacts_with_calls(&b1).await[0];
    assert_eq!(
        (called["status"].as_str(), called["call_records"][0]["opt_out"].as_bool()),
        (Some("completed"), Some(true))
    );
    let list = app.get("/api/v1/suppressions?reason=opt_out").await;
    assert_eq!(list.total_count(), 1, "{}", list.text);
    assert_eq!(
        (list.body[0]["phone_number"].as_str(), list.body[0]["scope"].as_str()),
        (Some("+14155550007"), Some("organization"))
    );
    // The opt-out was recorded when the call ended (3 s of ringing, 30 s of talk).
    assert_eq!(list.body[0]["created_at"], "2026-11-30T10:00:33Z");
    assert_eq!(app.contacts_with_calls(&b2).await[0]["blocked_by"], json!(["suppressed"]));
    app.advance(3 * 3600).await;
    let later = &app.contacts_with_calls(&b2).await[0];
    assert_eq!((later["status"].as_str(), later["skip_reason"].as_str()), (Some("skipped"), Some("suppressed")));
    assert_eq!(later["call_records"], json!([]));
}

#[tokio::test]
async fn an_opt_out_on_a_callback_ends_retries_in_the_outcomes_transaction() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (_, b) =
        setup(&app, &["+14155550100"], json!({"retry_policy": {"max_retries": 3, "cooldown_minutes": 1}})).await;
    app.advance(1).await;
    let execution = stub.placed.lock().unwrap()[0]["execution_id"].as_str().unwrap().to_owned();
    let r = callback(&app, json!({"execution_id": execution, "call_status": "busy", "opt_out": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = &app.contacts_with_calls(&b).await[0];
    assert_eq!(
        (c["status"].as_str(), c["retry_count"].as_i64()),
        (Some("busy"), Some(0)),
        "no retry after an opt-out: {c}"
    );
    let list = app.get("/api/v1/suppressions?reason=opt_out").await;
    assert_eq!((list.total_count(), list.body[0]["phone_number"].as_str()), (1, Some("+14155550100")));
}

#[tokio::test]
async fn an_opt_out_reported_during_the_call_counts_with_its_outcome() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let execution = stub.placed.lock().unwrap()[0]["execution_id"].as_str().unwrap().to_owned();
    // The agent reports the opt-out while the call goes on; the provider later reports the end.
    let r = callback(&app, json!({"execution_id": execution, "call_status": "in-progress", "opt_out": true})).await;
    assert_eq!((r.status, r.body["applied"].as_bool()), (200, Some(true)), "{}", r.text);
    assert_eq!(app.get("/api/v1/suppressions").await.total_count(), 0, "recorded with the outcome");
    let end = json!({"execution_id": execution, "call_status": "completed", "follow_up_at": "2026-11-30T12:00:00Z"});
    assert_eq!(callback(&app, end).await.status, 200);
    let c = &app.contacts_with_calls(&b).await[0];
    assert_eq!(
        (c["status"].as_str(), c["call_records"][0]["opt_out"].as_bool()),
        (Some("completed"), Some(true)),
        "no follow-up: {c}"
    );
    let list = app.get("/api/v1/suppressions?reason=opt_out").await;
    assert_eq!((list.total_count(), list.body[0]["phone_number"].as_str()), (1, Some("+14155550100")));
}

#[tokio::test]
async fn an_opt_out_reported_after_the_call_closed_is_recorded_at_once() {
    let (stub, url) = start_stub().await;
    let app = server(&url).await;
    setup(&app, &["+14155550100"], json!({})).await;
    app.advance(1).await;
    let execution = stub.placed.lock().unwrap()[0]["execution_id"].as_str().unwrap().to_owned();
    assert_eq!(callback(&app, json!({"execution_id": execution, "call_status": "completed"})).await.status, 200);
    // The agent's report comes after the provider's end.
    let late = json!({"execution_id": execution, "call_status": "in-progress", "opt_out": true});
    let r = callback(&app, late.clone()).await;
    assert_eq!((r.status, r.body["applied"].as_bool()), (200, Some(true)), "{}", r.text);
    let list = app.get("/api/v1/suppressions?reason=opt_out").await;
    assert_eq!((list.total_count(), list.body[0]["phone_number"].as_str()), (1, Some("+14155550100")));
    assert_eq!(callback(&app, late).await.body["applied"], false, "a repeat changes nothing");
}

#[tokio::test]
async fn an_addition_extends_a_temporary_entry_and_an_opt_out_makes_it_permanent() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 30).await;
    let temporary = |until: &str| json!([{"phone_number": "+14155550101", "expires_at": until}]);
    suppress(&app, temporary("2026-11-30T12:00:00Z")).await;
    // A sooner expiry never shortens it; a later one extends it.
    assert_eq!(suppress(&app, temporary("2026-11-30T11:00:00Z")).await["already_present"], 1);
    assert_eq!(suppress(&app, temporary("2026-12-30T00:00:00Z")).await["added"], 1);
    let entry = &app.get("/api/v1/suppressions?phone_number=%2B14155550101").await.body[0];
    assert_eq!(
        (entry["expires_at"].as_str(), entry["history"].as_array().map(Vec::len)),
        (Some("2026-12-30T00:00:00Z"), Some(1))
    );

    // A number on the list for an hour opts out during a call placed before: the entry becomes permanent.
    let c = campaign(&app, json!({})).await;
    batch(&app, &c, &["+14155550007"], json!({})).await;
    suppress(
        &app,
        json!([{"phone_number": "+14155550007", "reason": "complaint", "expires_at": "2026-11-30T11:00:00Z"}]),
    )
    .await;
    app.advance(120).await;
    let entry = &app.get("/api/v1/suppressions?phone_number=%2B14155550007").await.body[0];
    assert_eq!((entry["reason"].as_str(), &entry["expires_at"]), (Some("opt_out"), &Value::Null), "{entry}");
    assert_eq!(entry["history"][0]["reason"], "complaint");
}

//! Validation of a campaign body (API.md §1, §3.2): every problem listed at once, missing fields, wrong
//! types, phone numbers, time zones, working hours, retry policy and the other bounds.

use super::{body_with, numbers, try_create, week};
use crate::common::TestApp;
use serde_json::json;

// ---------------------------------------------------------------- validation (API.md §1, §3.2)

#[tokio::test]
async fn every_problem_is_listed_at_once() {
    let app = TestApp::start().await;
    let r = try_create(
        &app,
        json!({
            "name": "",
            "agent_id": 5,
            "phone_numbers": ["+919876543210", "12345", "+11234567890", "+919876543210"],
            "phone_number_strategy": "sequential",
            "timezone": "Mars/Olympus",
            "retry_policy": {"max_retries": 21, "strategy": "linear", "cooldown_minutes": 10081},
            "metadata": {"concurrency_limit": 0},
            "default_call_variables": [],
            "bogus": true,
        }),
    )
    .await;
    r.assert_invalid_at(&[
        "body.name",
        "body.agent_id",
        "body.phone_numbers.1",
        "body.phone_numbers.2",
        "body.phone_numbers.3",
        "body.phone_number_strategy",
        "body.timezone",
        "body.retry_policy.max_retries",
        "body.retry_policy.strategy",
        "body.retry_policy.cooldown_minutes",
        "body.metadata.concurrency_limit",
        "body.default_call_variables",
        "body.bogus",
    ]);
    // Each loc is a JSON array of strings and integer indexes.
    let items = r.body["detail"].as_array().unwrap();
    let phone = items.iter().find(|e| e["loc"] == json!(["body", "phone_numbers", 2])).expect("integer index in loc");
    assert!(phone["msg"].as_str().unwrap().len() > 10);
    assert_eq!(app.campaign_count().await, 0, "nothing is stored when validation fails");
}

#[tokio::test]
async fn missing_required_fields() {
    let app = TestApp::start().await;
    let r = try_create(&app, json!({})).await;
    r.assert_invalid_at(&["body.name", "body.agent_id", "body.phone_numbers"]);
    for item in r.body["detail"].as_array().unwrap() {
        assert_eq!(item["type"], "missing", "{item}");
        assert_eq!(item["msg"], "Field required", "{item}");
    }
    // null counts as missing for a required field.
    let r = try_create(&app, json!({"name": null, "agent_id": "a", "phone_numbers": ["+919876543210"]})).await;
    r.assert_invalid_at(&["body.name"]);
    assert_eq!(r.body["detail"][0]["type"], "missing");
    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn wrong_types_are_reported_per_field() {
    let app = TestApp::start().await;
    let r = try_create(
        &app,
        json!({
            "name": 42,
            "agent_id": ["a"],
            "phone_numbers": "+919876543210",
            "working_hours_enforced": "yes",
            "timezone": 5,
            "working_hours": "9-5",
            "retry_policy": [3],
            "metadata": "none",
            "default_call_variables": 7,
        }),
    )
    .await;
    r.assert_invalid_at(&[
        "body.name",
        "body.agent_id",
        "body.phone_numbers",
        "body.working_hours_enforced",
        "body.timezone",
        "body.working_hours",
        "body.retry_policy",
        "body.metadata",
        "body.default_call_variables",
    ]);
    let items: Vec<(String, String)> = r.error_items();
    let type_of = |loc: &str| items.iter().find(|(l, _)| l == loc).map(|(_, t)| t.as_str()).unwrap();
    assert_eq!(type_of("body.name"), "string_type");
    assert_eq!(type_of("body.phone_numbers"), "list_type");
    assert_eq!(type_of("body.working_hours_enforced"), "bool_type");
    assert_eq!(type_of("body.metadata"), "dict_type");
    // Numbers inside the list must be strings; a float is not an integer.
    let r = try_create(
        &app,
        body_with(json!({"phone_numbers": [919876543210_i64], "retry_policy": {"max_retries": 2.5, "cooldown_minutes": "30"}})),
    )
    .await;
    r.assert_invalid_at(&[
        "body.phone_numbers.0",
        "body.retry_policy.max_retries",
        "body.retry_policy.cooldown_minutes",
    ]);
    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn phone_numbers_must_be_valid_e164() {
    let app = TestApp::start().await;
    // Format errors, each reported at its own index.
    let bad_format =
        ["919876543210", "+91 98765 43210", "+1-415-555-2671", "abc", "", "+0123456789", "+1234567", "++14155552671"];
    let mut list = vec![json!("+919876543210")];
    list.extend(bad_format.iter().map(|n| json!(n)));
    let r = try_create(&app, body_with(json!({ "phone_numbers": list }))).await;
    let locs: Vec<String> = (1..=bad_format.len()).map(|i| format!("body.phone_numbers.{i}")).collect();
    r.assert_invalid_at(&locs.iter().map(String::as_str).collect::<Vec<_>>());

    // Well formed, but no numbering plan assigns them.
    for n in ["+11234567890", "+999123456789", "+4401234567", "+910123456789"] {
        let r = try_create(&app, body_with(json!({"phone_numbers": ["+919876543210", n]}))).await;
        r.assert_invalid_at(&["body.phone_numbers.1"]);
        assert!(r.error_msg("body.phone_numbers.1").len() > 10, "{n}: {}", r.text);
    }

    // Valid numbers of several countries are accepted.
    let ok = ["+14155552671", "+447911123456", "+33612345678", "+4915123456789", "+61412345678", "+5511987654321"];
    let c = app.create_campaign(body_with(json!({ "phone_numbers": ok }))).await;
    assert_eq!(c["phone_numbers"], json!(ok));
    assert_eq!(app.campaign_count().await, 1);
}

#[tokio::test]
async fn phone_numbers_must_be_distinct_and_1_to_100() {
    let app = TestApp::start().await;
    let r =
        try_create(&app, body_with(json!({"phone_numbers": ["+919876543210", "+14155552671", "+919876543210"]}))).await;
    r.assert_invalid_at(&["body.phone_numbers.2"]);
    assert!(r.error_msg("body.phone_numbers.2").to_lowercase().contains("duplicate"), "{}", r.text);

    let r = try_create(&app, body_with(json!({"phone_numbers": []}))).await;
    r.assert_invalid_at(&["body.phone_numbers"]);
    let r = try_create(&app, body_with(json!({ "phone_numbers": numbers(101) }))).await;
    r.assert_invalid_at(&["body.phone_numbers"]);
    assert_eq!(app.campaign_count().await, 0);

    let c = app.create_campaign(body_with(json!({ "phone_numbers": numbers(100) }))).await;
    assert_eq!(c["phone_numbers"].as_array().unwrap().len(), 100);
    let c = app.create_campaign(body_with(json!({"phone_numbers": ["+919876543210"]}))).await;
    assert_eq!(c["phone_numbers"], json!(["+919876543210"]));
}

#[tokio::test]
async fn timezone_must_be_an_iana_name() {
    let app = TestApp::start().await;
    for tz in ["Mars/Olympus", "asia/kolkata", "+05:30", "", "Asia/Kolkata "] {
        let r = try_create(&app, body_with(json!({ "timezone": tz }))).await;
        r.assert_invalid_at(&["body.timezone"]);
    }
    for tz in ["Asia/Kolkata", "America/New_York", "Pacific/Chatham", "Australia/Lord_Howe", "UTC"] {
        let c = app.create_campaign(body_with(json!({ "timezone": tz }))).await;
        assert_eq!(c["timezone"], tz);
    }
}

#[tokio::test]
async fn working_hours_are_checked_day_by_day() {
    let app = TestApp::start().await;
    // A missing day.
    let mut hours = week("09:00", "17:00", true);
    hours.as_object_mut().unwrap().remove("sunday");
    let r = try_create(&app, body_with(json!({ "working_hours": hours }))).await;
    r.assert_invalid_at(&["body.working_hours.sunday"]);
    assert_eq!(r.body["detail"][0]["type"], "missing");

    // Bad HH:MM, in start and end, on several days at once.
    let mut hours = week("09:00", "17:00", true);
    hours["monday"]["start"] = json!("9:00");
    hours["tuesday"]["end"] = json!("25:00");
    hours["wednesday"]["start"] = json!("09:60");
    hours["thursday"]["end"] = json!("5pm");
    let r = try_create(&app, body_with(json!({ "working_hours": hours }))).await;
    r.assert_invalid_at(&[
        "body.working_hours.monday.start",
        "body.working_hours.tuesday.end",
        "body.working_hours.wednesday.start",
        "body.working_hours.thursday.end",
    ]);

    // Overnight and empty windows are rejected with a clear message.
    let mut hours = week("09:00", "17:00", true);
    hours["friday"] = json!({"start": "22:00", "end": "06:00", "enabled": true});
    let r = try_create(&app, body_with(json!({ "working_hours": hours }))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_locs().len(), 1, "{}", r.text);
    assert!(r.error_locs()[0].starts_with("body.working_hours.friday"), "{}", r.text);
    assert!(r.body["detail"][0]["msg"].as_str().unwrap().to_lowercase().contains("overnight"), "{}", r.text);
    let mut hours = week("09:00", "17:00", true);
    hours["saturday"] = json!({"start": "10:00", "end": "10:00", "enabled": false});
    let r = try_create(&app, body_with(json!({ "working_hours": hours }))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.error_locs()[0].starts_with("body.working_hours.saturday"), "{}", r.text);

    // An unknown day key, and an unknown key inside a day.
    let mut hours = week("09:00", "17:00", true);
    hours["funday"] = json!({"start": "09:00", "end": "17:00", "enabled": true});
    hours["monday"]["lunch"] = json!("12:00");
    let r = try_create(&app, body_with(json!({ "working_hours": hours }))).await;
    r.assert_invalid_at(&["body.working_hours.funday", "body.working_hours.monday.lunch"]);

    // A day without `enabled`.
    let mut hours = week("09:00", "17:00", true);
    hours["tuesday"] = json!({"start": "09:00", "end": "17:00"});
    let r = try_create(&app, body_with(json!({ "working_hours": hours }))).await;
    r.assert_invalid_at(&["body.working_hours.tuesday.enabled"]);

    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn retry_policy_bounds() {
    let app = TestApp::start().await;
    let r = try_create(
        &app,
        body_with(json!({"retry_policy": {"max_retries": 21, "cooldown_minutes": 10081, "strategy": "linear"}})),
    )
    .await;
    r.assert_invalid_at(&[
        "body.retry_policy.max_retries",
        "body.retry_policy.cooldown_minutes",
        "body.retry_policy.strategy",
    ]);
    let r = try_create(&app, body_with(json!({"retry_policy": {"max_retries": -1, "cooldown_minutes": -1}}))).await;
    r.assert_invalid_at(&["body.retry_policy.max_retries", "body.retry_policy.cooldown_minutes"]);
    let r = try_create(&app, body_with(json!({"retry_policy": {"backoff": 2}}))).await;
    r.assert_invalid_at(&["body.retry_policy.backoff"]);
    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn concurrency_limit_name_and_object_fields_bounds() {
    let app = TestApp::start().await;
    for limit in [json!(0), json!(10001), json!(-3), json!("ten"), json!(2.5)] {
        let r = try_create(&app, body_with(json!({"metadata": {"concurrency_limit": limit}}))).await;
        r.assert_invalid_at(&["body.metadata.concurrency_limit"]);
    }
    let r = try_create(&app, body_with(json!({"name": "n".repeat(201), "agent_id": "a".repeat(201)}))).await;
    r.assert_invalid_at(&["body.name", "body.agent_id"]);
    let r = try_create(&app, body_with(json!({"agent_id": ""}))).await;
    r.assert_invalid_at(&["body.agent_id"]);
    for not_object in [json!([1, 2]), json!("vars"), json!(3), json!(true)] {
        let r = try_create(&app, body_with(json!({ "default_call_variables": not_object }))).await;
        r.assert_invalid_at(&["body.default_call_variables"]);
    }
    // Objects over 64 KiB are refused.
    let r = try_create(&app, body_with(json!({"default_call_variables": {"blob": "x".repeat(70 * 1024)}}))).await;
    r.assert_invalid_at(&["body.default_call_variables"]);
    let r = try_create(&app, body_with(json!({"metadata": {"blob": "x".repeat(70 * 1024)}}))).await;
    r.assert_invalid_at(&["body.metadata"]);
    assert_eq!(app.campaign_count().await, 0);

    // The bounds themselves: 200 characters (not bytes) is accepted.
    let c = app.create_campaign(body_with(json!({"name": "é".repeat(200), "agent_id": "a".repeat(200)}))).await;
    assert_eq!(c["name"].as_str().unwrap().chars().count(), 200);
}

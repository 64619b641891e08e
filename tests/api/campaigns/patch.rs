//! Updating a campaign with PATCH (API.md §3.4): each given field replaced wholesale, an empty body
//! changing nothing, read-only and unknown fields refused, and a cancelled campaign in conflict.

use super::{body_with, week};
use crate::common::{TestApp, campaign_body, campaign_path, id_of, instant};
use serde_json::json;

// ---------------------------------------------------------------- PATCH

#[tokio::test]
async fn patch_replaces_each_given_field_wholesale() {
    let app = TestApp::start().await;
    let c = app
        .create_campaign(body_with(json!({
            "phone_numbers": ["+919876543210", "+919876543211", "+14155552671"],
            "retry_policy": {"max_retries": 7, "strategy": "exponential", "cooldown_minutes": 90},
            "default_call_variables": {"a": 1, "b": 2},
            "metadata": {"concurrency_limit": 40, "team": "sales", "keep": "me"},
        })))
        .await;
    let path = campaign_path(&id_of(&c), "");

    let r = app.patch(&path, json!({"name": "Renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Renamed");
    for key in ["agent_id", "phone_numbers", "retry_policy", "default_call_variables", "metadata", "created_at"] {
        assert_eq!(r.body[key], c[key], "{key} changed by an unrelated PATCH");
    }
    assert!(instant(&r.body["updated_at"]) >= instant(&c["updated_at"]));

    // Arrays and nested objects are replaced, not merged.
    let r = app
        .patch(
            &path,
            json!({
                "phone_numbers": ["+447911123456"],
                "default_call_variables": {"c": 3},
                "working_hours": week("07:00", "19:00", true),
                "timezone": "America/New_York",
                "working_hours_enforced": true,
                "phone_number_strategy": "random",
                "agent_id": "agent_new",
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["phone_numbers"], json!(["+447911123456"]));
    assert_eq!(r.body["default_call_variables"], json!({"c": 3}));
    assert_eq!(r.body["working_hours"], week("07:00", "19:00", true));
    assert_eq!(r.body["timezone"], "America/New_York");
    assert_eq!(r.body["working_hours_enforced"], true);
    assert_eq!(r.body["phone_number_strategy"], "random");
    assert_eq!(r.body["agent_id"], "agent_new");
    assert_eq!(r.body["name"], "Renamed");

    // A partial retry policy fills the defaults (not the previous values).
    let r = app.patch(&path, json!({"retry_policy": {"max_retries": 1}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["retry_policy"], json!({"max_retries": 1, "strategy": "fixed", "cooldown_minutes": 30}));

    // Metadata without concurrency_limit resets it to 10 and drops the old keys.
    let r = app.patch(&path, json!({"metadata": {"owner": "ops"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["metadata"], json!({"concurrency_limit": 10, "owner": "ops"}));
    let r = app.patch(&path, json!({"metadata": {"concurrency_limit": 3}})).await;
    assert_eq!(r.body["metadata"], json!({"concurrency_limit": 3}));

    // What PATCH answered is what is stored.
    let fetched = app.get(&path).await;
    assert_eq!(fetched.body, r.body);
    assert_eq!(fetched.body["status"], "draft");
    assert_eq!(fetched.body["campaign_id"], c["campaign_id"]);
    assert_eq!(fetched.body["organization_id"], c["organization_id"]);
}

#[tokio::test]
async fn patch_with_an_empty_body_changes_nothing() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Same")).await;
    let r = app.patch(&campaign_path(&id_of(&c), ""), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for key in ["name", "agent_id", "phone_numbers", "retry_policy", "metadata", "working_hours", "status"] {
        assert_eq!(r.body[key], c[key], "{key}");
    }
}

#[tokio::test]
async fn patch_rejects_read_only_and_unknown_fields() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Locked")).await;
    let path = campaign_path(&id_of(&c), "");
    let r = app
        .patch(
            &path,
            json!({
                "campaign_id": "cmp_000000000000000000000000000",
                "organization_id": c["organization_id"],
                "status": "active",
                "completed_calls": 5,
                "name": "Should not be applied",
            }),
        )
        .await;
    r.assert_invalid_at(&["body.campaign_id", "body.organization_id", "body.status", "body.completed_calls"]);
    for field in ["failed_calls", "busy_calls", "no_answer_calls", "follow_up_calls", "created_at", "updated_at"] {
        let r = app.patch(&path, json!({ field: 1 })).await;
        r.assert_invalid_at(&[&format!("body.{field}")]);
    }
    let r = app.patch(&path, json!({"colour": "blue"})).await;
    r.assert_invalid_at(&["body.colour"]);
    assert_eq!(r.body["detail"][0]["type"], "extra_forbidden");
    // Invalid values are rejected the same way as on create.
    let r = app
        .patch(&path, json!({"phone_numbers": ["+11234567890"], "retry_policy": {"max_retries": 21}, "name": ""}))
        .await;
    r.assert_invalid_at(&["body.phone_numbers.0", "body.retry_policy.max_retries", "body.name"]);
    let r = app
        .patch(&path, json!({"working_hours": {"monday": {"start": "09:00", "end": "18:00", "enabled": true}}}))
        .await;
    assert_eq!(r.status, 422);
    // Nothing was applied.
    let fetched = app.get(&path).await;
    assert_eq!(fetched.body, c);
}

#[tokio::test]
async fn patch_on_a_cancelled_campaign_conflicts() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Gone")).await;
    let id = id_of(&c);
    assert_eq!(app.post(&campaign_path(&id, "/cancel"), json!({})).await.status, 200);
    let r = app.patch(&campaign_path(&id, ""), json!({"name": "Back"})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Cannot update a campaign that is cancelled"}));
    assert_eq!(app.get(&campaign_path(&id, "")).await.body["name"], "Gone");
}

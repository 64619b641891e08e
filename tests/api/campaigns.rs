//! Campaign endpoints (API.md §3): create, read, list, update, lifecycle, delete, stats, and body validation.

use crate::common::{TestApp, campaign_body, campaign_path, id_of, instant};
use reqwest::Method;
use serde_json::{Value, json};

/// A full week of working hours, every day with the same window.
fn week(start: &str, end: &str, enabled: bool) -> Value {
    let day = json!({"start": start, "end": end, "enabled": enabled});
    json!({
        "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
        "friday": day, "saturday": day, "sunday": day,
    })
}

/// A campaign body with `overrides` merged over the minimal valid one.
fn body_with(overrides: Value) -> Value {
    let mut body = campaign_body("Validation");
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// `count` distinct valid Indian mobile numbers.
fn numbers(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("+91987654{i:04}")).collect()
}

/// POSTs a create body and returns the response.
async fn try_create(app: &TestApp, body: Value) -> crate::common::Resp {
    app.post("/api/v1/campaigns/", body).await
}

// ---------------------------------------------------------------- create and read

#[tokio::test]
async fn create_applies_the_documented_defaults() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Q2 Renewals")).await;
    assert!(c["campaign_id"].as_str().unwrap().starts_with("cmp_"));
    assert_eq!(c["status"], "draft");
    assert_eq!(c["phone_number_strategy"], "round_robin");
    assert_eq!(c["working_hours_enforced"], false);
    assert_eq!(c["timezone"], "UTC");
    assert_eq!(c["retry_policy"], json!({"max_retries": 3, "strategy": "fixed", "cooldown_minutes": 30}));
    assert_eq!(c["metadata"], json!({"concurrency_limit": 10}));
    assert_eq!(c["working_hours"]["monday"], json!({"start": "09:00", "end": "18:00", "enabled": true}));
    assert_eq!(c["working_hours"]["saturday"], json!({"start": "10:00", "end": "14:00", "enabled": false}));
    for counter in ["completed_calls", "failed_calls", "busy_calls", "no_answer_calls", "follow_up_calls"] {
        assert_eq!(c[counter], 0, "{counter}");
    }
    let fetched = app.get(&format!("/api/v1/campaigns/{}", c["campaign_id"].as_str().unwrap())).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, c);
}

#[tokio::test]
async fn create_echoes_every_field_given() {
    let app = TestApp::start().await;
    let hours = json!({
        "monday": {"start": "08:30", "end": "17:45", "enabled": true},
        "tuesday": {"start": "08:30", "end": "17:45", "enabled": true},
        "wednesday": {"start": "00:00", "end": "24:00", "enabled": true},
        "thursday": {"start": "08:30", "end": "17:45", "enabled": true},
        "friday": {"start": "08:30", "end": "12:00", "enabled": true},
        "saturday": {"start": "11:00", "end": "13:00", "enabled": true},
        "sunday": {"start": "10:00", "end": "14:00", "enabled": false},
    });
    let body = json!({
        "name": "Renewals — Q3 ✓",
        "agent_id": "agent_xyz",
        "phone_numbers": ["+14155552671", "+447911123456", "+919876543210"],
        "phone_number_strategy": "least_loaded",
        "working_hours_enforced": true,
        "timezone": "Asia/Kolkata",
        "working_hours": hours,
        "retry_policy": {"max_retries": 5},
        "default_call_variables": {"company": "Acme", "discount": 15, "tags": ["vip"], "nested": {"a": null}},
        "metadata": {"concurrency_limit": 25, "team": "sales", "priority": 2, "labels": {"x": true}},
    });
    let r = try_create(&app, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = &r.body;
    for key in [
        "name",
        "agent_id",
        "phone_numbers",
        "phone_number_strategy",
        "working_hours_enforced",
        "timezone",
        "working_hours",
        "default_call_variables",
        "metadata",
    ] {
        assert_eq!(c[key], body[key], "{key}");
    }
    assert_eq!(c["retry_policy"], json!({"max_retries": 5, "strategy": "fixed", "cooldown_minutes": 30}));
    assert_eq!(c["status"], "draft");
    assert!(c["organization_id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(c["created_at"], c["updated_at"]);

    // The object has exactly the documented keys.
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec![
        "campaign_id",
        "name",
        "organization_id",
        "agent_id",
        "status",
        "phone_numbers",
        "phone_number_strategy",
        "working_hours_enforced",
        "timezone",
        "working_hours",
        "retry_policy",
        "default_call_variables",
        "metadata",
        "completed_calls",
        "failed_calls",
        "busy_calls",
        "no_answer_calls",
        "follow_up_calls",
        "created_at",
        "updated_at",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);

    let fetched = app.get(&campaign_path(&id_of(c), "")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(&fetched.body, c);
}

#[tokio::test]
async fn other_retry_policy_and_metadata_shapes_fill_defaults() {
    let app = TestApp::start().await;
    let c = app
        .create_campaign(body_with(json!({
            "retry_policy": {"strategy": "exponential", "cooldown_minutes": 0},
            "metadata": {"source": "crm"},
            "phone_number_strategy": "random",
        })))
        .await;
    assert_eq!(c["retry_policy"], json!({"max_retries": 3, "strategy": "exponential", "cooldown_minutes": 0}));
    assert_eq!(c["metadata"], json!({"concurrency_limit": 10, "source": "crm"}));
    assert_eq!(c["phone_number_strategy"], "random");
    // An empty retry policy is all defaults; the bounds themselves are accepted.
    let c = app
        .create_campaign(body_with(json!({
            "retry_policy": {},
            "metadata": {"concurrency_limit": 10000},
            "default_call_variables": {},
        })))
        .await;
    assert_eq!(c["retry_policy"], json!({"max_retries": 3, "strategy": "fixed", "cooldown_minutes": 30}));
    assert_eq!(c["metadata"], json!({"concurrency_limit": 10000}));
    assert_eq!(c["default_call_variables"], json!({}));
    let c = app
        .create_campaign(body_with(json!({
            "retry_policy": {"max_retries": 20, "cooldown_minutes": 10080},
            "metadata": {"concurrency_limit": 1},
        })))
        .await;
    assert_eq!(c["retry_policy"], json!({"max_retries": 20, "strategy": "fixed", "cooldown_minutes": 10080}));
    assert_eq!(c["metadata"]["concurrency_limit"], 1);
}

#[tokio::test]
async fn the_create_alias_creates_a_draft_campaign() {
    let app = TestApp::start().await;
    let r = app.post("/api/v1/campaigns/create", campaign_body("Via alias")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["name"], "Via alias");
    let (items, total) = app.list_campaigns("").await;
    assert_eq!(total, 1);
    assert_eq!(items[0], r.body);
    // The alias validates like the collection route.
    let r = app.post("/api/v1/campaigns/create", json!({"name": "x"})).await;
    r.assert_invalid_at(&["body.agent_id", "body.phone_numbers"]);
}

#[tokio::test]
async fn malformed_and_unknown_ids_are_not_found() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Exists")).await;
    let id = id_of(&c);
    let unknown = format!("cmp_{}", "0".repeat(26));
    let other_prefix = format!("btc_{}", &id[4..]);
    let bad = [
        "nope".to_owned(),
        "cmp_".to_owned(),
        "cmp_123".to_owned(),
        id.to_uppercase(),
        format!("{id}0"),
        id[..id.len() - 1].to_owned(),
        other_prefix,
        unknown,
        c["organization_id"].as_str().unwrap().to_owned(),
    ];
    for bad_id in &bad {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::DELETE, ""),
            (Method::GET, "/stats"),
            (Method::POST, "/pause"),
            (Method::POST, "/resume"),
            (Method::POST, "/cancel"),
        ] {
            let r = app.call(method.clone(), &campaign_path(bad_id, suffix), None).await;
            assert_eq!((r.status, r.detail()), (404, "Campaign not found"), "{method} {bad_id}{suffix}: {}", r.text);
            assert_eq!(r.body, json!({"detail": "Campaign not found"}));
        }
        let r = app.patch(&campaign_path(bad_id, ""), json!({"name": "x"})).await;
        assert_eq!((r.status, r.detail()), (404, "Campaign not found"), "PATCH {bad_id}");
    }
    // The real one is untouched.
    let r = app.get(&campaign_path(&id, "")).await;
    assert_eq!(r.body, c);
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_is_newest_first_with_total_count() {
    let app = TestApp::start().await;
    let (items, total) = app.list_campaigns("").await;
    assert_eq!((items.len(), total), (0, 0));
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        ids.push(id_of(&app.create_campaign(campaign_body(name)).await));
    }
    let (items, total) = app.list_campaigns("").await;
    assert_eq!(total, 3);
    let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["third", "second", "first"]);
    // Items are full campaign objects.
    let third = app.get(&campaign_path(&ids[2], "")).await;
    assert_eq!(items[0], third.body);
}

#[tokio::test]
async fn list_defaults_to_50_items() {
    let app = TestApp::start().await;
    for i in 0..51 {
        app.create_campaign(campaign_body(&format!("c{i:02}"))).await;
    }
    let (items, total) = app.list_campaigns("").await;
    assert_eq!((items.len(), total), (50, 51));
    assert_eq!(items[0]["name"], "c50");
    assert_eq!(items[49]["name"], "c01");
    let (items, _) = app.list_campaigns("?skip=50").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "c00");
    // Empty parameters count as absent.
    let (items, _) = app.list_campaigns("?limit=&skip=&status=").await;
    assert_eq!(items.len(), 50);
}

#[tokio::test]
async fn list_filters_by_status_and_pages() {
    let app = TestApp::start().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        ids.push(id_of(&app.create_campaign(campaign_body(name)).await));
    }
    let r = app.post(&campaign_path(&ids[1], "/cancel"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let (items, total) = app.list_campaigns("?status=cancelled").await;
    assert_eq!(total, 1);
    assert_eq!(items.len(), 1);
    assert_eq!(id_of(&items[0]), ids[1]);
    let (items, total) = app.list_campaigns("?status=draft").await;
    assert_eq!(total, 3);
    let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["d", "c", "a"]);
    let (items, total) = app.list_campaigns("?status=active").await;
    assert_eq!((items.len(), total), (0, 0));

    // skip/limit page through, X-Total-Count stays the total of matching rows.
    let (items, total) = app.list_campaigns("?skip=1&limit=2").await;
    assert_eq!(total, 4);
    let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c", "b"]);
    let (items, total) = app.list_campaigns("?skip=3&limit=1000").await;
    assert_eq!(total, 4);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "a");
    let (items, total) = app.list_campaigns("?skip=10").await;
    assert_eq!((items.len(), total), (0, 4));
    let (items, total) = app.list_campaigns("?status=draft&skip=1&limit=1").await;
    assert_eq!(total, 3);
    assert_eq!(items[0]["name"], "c");
}

#[tokio::test]
async fn list_rejects_bad_query_parameters() {
    let app = TestApp::start().await;
    app.create_campaign(campaign_body("one")).await;
    for query in ["limit=0", "limit=1001", "limit=abc", "limit=-5", "limit=1.5"] {
        let r = app.get(&format!("/api/v1/campaigns/?{query}")).await;
        r.assert_invalid_at(&["query.limit"]);
        assert_eq!(r.body["detail"][0]["loc"], json!(["query", "limit"]), "{query}");
    }
    for query in ["skip=-1", "skip=abc"] {
        let r = app.get(&format!("/api/v1/campaigns/?{query}")).await;
        r.assert_invalid_at(&["query.skip"]);
    }
    for query in ["status=bogus", "status=Draft", "status=DRAFT"] {
        let r = app.get(&format!("/api/v1/campaigns/?{query}")).await;
        r.assert_invalid_at(&["query.status"]);
        assert_eq!(r.body["detail"][0]["loc"], json!(["query", "status"]));
    }
    // Every bad parameter is reported at once.
    let r = app.get("/api/v1/campaigns/?limit=0&skip=-1&status=nope").await;
    r.assert_invalid_at(&["query.limit", "query.skip", "query.status"]);
}

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

// ---------------------------------------------------------------- lifecycle (API.md §3.3)

#[tokio::test]
async fn draft_row_of_the_lifecycle_table() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Draft")).await;
    let id = id_of(&c);

    let r = app.post(&campaign_path(&id, "/pause"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Cannot pause a campaign that is draft"}));
    let r = app.post(&campaign_path(&id, "/resume"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Cannot resume a campaign that is draft"}));
    // Still a draft after the refused actions.
    assert_eq!(app.get(&campaign_path(&id, "")).await.body, c);

    let r = app.patch(&campaign_path(&id, ""), json!({"name": "Draft 2"})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("draft")));

    let r = app.post(&campaign_path(&id, "/cancel"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"campaign_id": id, "status": "cancelled", "message": "Campaign cancelled successfully"}));
    let fetched = app.get(&campaign_path(&id, "")).await;
    assert_eq!(fetched.body["status"], "cancelled");
    assert_eq!(fetched.body["name"], "Draft 2");
}

#[tokio::test]
async fn lifecycle_actions_accept_no_body_at_all() {
    let app = TestApp::start().await;
    let id = id_of(&app.create_campaign(campaign_body("No body")).await);
    let r = app.call(Method::POST, &campaign_path(&id, "/cancel"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
}

#[tokio::test]
async fn cancelled_row_of_the_lifecycle_table() {
    let app = TestApp::start().await;
    let id = id_of(&app.create_campaign(campaign_body("Cancelled")).await);
    let first = app.post(&campaign_path(&id, "/cancel"), json!({})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let before = app.get(&campaign_path(&id, "")).await.body;

    let r = app.post(&campaign_path(&id, "/pause"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Cannot pause a campaign that is cancelled"}));
    let r = app.post(&campaign_path(&id, "/resume"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Cannot resume a campaign that is cancelled"}));

    // Cancelling again is a 200 no-op with the same body, and changes nothing.
    let again = app.post(&campaign_path(&id, "/cancel"), json!({})).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body, first.body);
    assert_eq!(app.get(&campaign_path(&id, "")).await.body, before);

    let r = app.patch(&campaign_path(&id, ""), json!({"name": "x"})).await;
    assert_eq!(r.status, 409);

    let r = app.delete(&campaign_path(&id, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"campaign_id": id, "deleted": true, "message": "Campaign deleted successfully"}));
    assert_eq!(app.get(&campaign_path(&id, "")).await.status, 404);
}

// ---------------------------------------------------------------- delete

#[tokio::test]
async fn deleting_a_draft_removes_it() {
    let app = TestApp::start().await;
    let keep = id_of(&app.create_campaign(campaign_body("Keep")).await);
    let id = id_of(&app.create_campaign(campaign_body("Delete me")).await);
    let r = app.delete(&campaign_path(&id, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"campaign_id": id, "deleted": true, "message": "Campaign deleted successfully"}));

    for (method, suffix) in
        [(Method::GET, ""), (Method::GET, "/stats"), (Method::DELETE, ""), (Method::POST, "/cancel")]
    {
        let r = app.call(method.clone(), &campaign_path(&id, suffix), None).await;
        assert_eq!((r.status, r.detail()), (404, "Campaign not found"), "{method} {suffix}");
    }
    let (items, total) = app.list_campaigns("").await;
    assert_eq!(total, 1);
    assert_eq!(id_of(&items[0]), keep);
}

// ---------------------------------------------------------------- stats

#[tokio::test]
async fn stats_of_a_new_campaign_are_all_zero() {
    let app = TestApp::start().await;
    let id = id_of(&app.create_campaign(campaign_body("Stats")).await);
    let r = app.get(&campaign_path(&id, "/stats")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let expected = json!({
        "campaign_id": id,
        "contact_counts": {
            "pending": 0, "dispatched": 0, "in_progress": 0, "retrying": 0, "followup_scheduled": 0,
            "completed": 0, "failed": 0, "busy": 0, "no_answer": 0, "skipped": 0, "max_retries_reached": 0,
        },
        "batch_counts": {
            "pending": 0, "in_progress": 0, "paused": 0, "completed": 0, "cancelled": 0, "expired": 0,
        },
        "call_counters": {
            "completed_calls": 0, "failed_calls": 0, "busy_calls": 0, "no_answer_calls": 0, "follow_up_calls": 0,
        },
        "retry_breakdown": {},
        "in_flight_contacts": 0,
        "total_call_attempts": 0,
        "follow_up_attempts": 0,
        "active_calls": 0,
        "answer_rate": null,
        "avg_duration_seconds": null,
        "next_dispatch_at": null,
    });
    assert_eq!(r.body, expected);
    // A cancelled campaign still has stats.
    app.post(&campaign_path(&id, "/cancel"), json!({})).await;
    let r = app.get(&campaign_path(&id, "/stats")).await;
    assert_eq!(r.body, expected);
}

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

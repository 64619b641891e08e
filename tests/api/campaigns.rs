//! Campaign endpoints (API.md §3): create, read, list, update, lifecycle, delete, stats, and body validation.
//!
//! Here creating, reading and listing; PATCH in `patch`, the lifecycle, delete and stats in
//! `lifecycle`, body validation in `validation`.

use crate::common::{TestApp, campaign_body, campaign_path, id_of};
use reqwest::Method;
use serde_json::{Value, json};

mod lifecycle;
mod patch;
mod validation;

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

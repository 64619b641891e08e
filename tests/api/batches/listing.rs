//! Reading batches (API.md §4, §5): a campaign's batches with filters, pages and counts; a batch's
//! contacts in upload order with their call fields; `/debug` explaining why nothing is dispatched;
//! and another organization sees none of it.

use super::{api_only, batch, campaign, contacts, id};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn listing_batches_filters_pages_and_counts() {
    let app = api_only().await;
    let c1 = campaign(&app, json!({})).await;
    let c2 = campaign(&app, json!({})).await;
    let a = batch(&app, &c1, json!({})).await;
    let b = batch(&app, &c1, json!({"scheduled_start": "2035-01-01T00:00:00Z"})).await;
    let c = batch(&app, &c2, json!({})).await;
    let r = app.get("/api/v1/batches").await;
    assert_eq!(r.header("x-total-count"), Some("3"));
    let ids: Vec<&str> = r.body.as_array().unwrap().iter().map(|x| x["batch_id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [c["batch_id"].as_str().unwrap(), b["batch_id"].as_str().unwrap(), a["batch_id"].as_str().unwrap()]
    );
    let item = &r.body[0];
    assert!(item.get("call_context").is_none() && item.get("metadata").is_none(), "{item}");
    assert_eq!(item["counters"].as_object().unwrap().len(), 11);
    let r = app.get(&format!("/api/v1/batches/?campaign_id={c1}&status=pending")).await;
    assert_eq!(r.header("x-total-count"), Some("1"));
    assert_eq!(r.body[0]["batch_id"], b["batch_id"]);
    let r = app.get(&format!("/api/v1/campaigns/{c1}/batches?limit=1&skip=1")).await;
    assert_eq!(r.header("x-total-count"), Some("2"));
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["batch_id"], a["batch_id"]);
    let r = app.get("/api/v1/batches/?status=done").await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["query.status".to_owned()]));
    let r = app.get("/api/v1/campaigns/cmp_00000000000000000000000000/batches").await;
    assert_eq!((r.status, r.detail()), (404, "Campaign not found"));
    assert_eq!(app.get("/api/v1/batches/?campaign_id=junk").await.header("x-total-count"), Some("0"));
}

#[tokio::test]
async fn contacts_list_in_upload_order_with_filters_and_call_fields() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let b = id(&batch(&app, &c, json!({"contacts": contacts(5)})).await, "batch_id");
    let r = app.get(&format!("/api/v1/batches/{b}/contacts")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-total-count"), Some("5"));
    let items = r.body.as_array().unwrap();
    let phones: Vec<&str> = items.iter().map(|x| x["phone_number"].as_str().unwrap()).collect();
    assert_eq!(phones, ["+14155551000", "+14155551001", "+14155551002", "+14155551003", "+14155551004"]);
    let first = &items[0];
    for key in [
        "contact_id",
        "batch_id",
        "campaign_id",
        "phone_number",
        "call_variables",
        "status",
        "retry_count",
        "follow_up_count",
        "last_attempted_at",
        "next_retry_at",
        "latest_retry_count",
        "current_call",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    assert!(first["contact_id"].as_str().unwrap().starts_with("con_"));
    assert_eq!(first["status"], "pending");
    assert_eq!(first["current_call"], Value::Null);
    assert!(first.get("call_records").is_none());
    assert_eq!(first["call_variables"], json!({"callee_name": "C0"}));
    let r = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true&skip=3&limit=1")).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["phone_number"], "+14155551003");
    assert_eq!(r.body[0]["call_records"], json!([]));
    let r = app.get(&format!("/api/v1/batches/{b}/contacts?status=completed")).await;
    assert_eq!((r.body.clone(), r.header("x-total-count")), (json!([]), Some("0")));
    for bad in ["status=done", "include_calls=maybe", "limit=1001", "skip=-1"] {
        let r = app.get(&format!("/api/v1/batches/{b}/contacts?{bad}")).await;
        assert_eq!(r.status, 422, "{bad}");
    }
    let r = app.get("/api/v1/batches/btc_00000000000000000000000000/contacts").await;
    assert_eq!((r.status, r.detail()), (404, "Batch not found"));
}

#[tokio::test]
async fn debug_explains_why_nothing_is_dispatched() {
    let app = api_only().await;
    let closed = json!({"start": "09:00", "end": "18:00", "enabled": false});
    let hours: serde_json::Map<String, Value> =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            .iter()
            .map(|d| (d.to_string(), closed.clone()))
            .collect();
    let c = campaign(&app, json!({"working_hours_enforced": true, "working_hours": hours})).await;
    let b = id(&batch(&app, &c, json!({"scheduled_start": "2035-01-01T00:00:00Z"})).await, "batch_id");
    app.post(&format!("/api/v1/batches/{b}/pause"), json!({})).await;
    app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await;
    let r = app.get(&format!("/api/v1/batches/{b}/debug")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &r.body;
    assert_eq!(d["batch_id"], b.as_str());
    assert_eq!(d["status"], "paused");
    assert_eq!(d["status_breakdown"]["pending"]["count"], 3);
    assert!(d["status_breakdown"]["pending"]["oldest_updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d["pending_sample"].as_array().unwrap().len(), 3);
    assert_eq!(d["diagnostics"]["stuck_pending"], 0);
    assert!(d["diagnostics"]["tip"].is_string());
    assert_eq!(
        d["diagnostics"]["blocked_by"],
        json!(["campaign_paused", "batch_paused", "scheduled_start", "outside_working_hours"])
    );
    let open = campaign(&app, json!({})).await;
    let b2 = id(&batch(&app, &open, json!({})).await, "batch_id");
    let r = app.get(&format!("/api/v1/batches/{b2}/debug")).await;
    assert_eq!(r.body["diagnostics"]["blocked_by"], json!([]));
    app.post(&format!("/api/v1/batches/{b2}/cancel"), json!({})).await;
    let r = app.get(&format!("/api/v1/batches/{b2}/debug")).await;
    assert_eq!(r.body["diagnostics"]["blocked_by"], json!(["nothing_due"]));
    assert_eq!(r.body["pending_sample"], json!([]));
}

#[tokio::test]
async fn batches_are_scoped_to_their_organization() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let b = id(&batch(&app, &c, json!({})).await, "batch_id");
    let (other_org, other) = app.other_org();
    for (method, path) in [
        (Method::GET, format!("/api/v1/batches/{b}")),
        (Method::GET, format!("/api/v1/batches/{b}/contacts")),
        (Method::GET, format!("/api/v1/batches/{b}/debug")),
        (Method::POST, format!("/api/v1/batches/{b}/pause")),
        (Method::POST, format!("/api/v1/batches/{b}/cancel")),
        (Method::POST, format!("/api/v1/batches/{b}/dispatch")),
    ] {
        let r = app.call_as(&other, method, &path, None).await;
        assert_eq!((r.status, r.detail()), (404, "Batch not found"), "{path}");
    }
    let r = app
        .call_as(&other, Method::POST, "/api/v1/batches/", Some(json!({"campaign_id": c, "contacts": contacts(1)})))
        .await;
    assert_eq!((r.status, r.detail()), (404, "Campaign not found"));
    let r = app.call_as(&other, Method::GET, "/api/v1/batches/", None).await;
    assert_eq!(r.header("x-total-count"), Some("0"));
    let r = app.get(&format!("/api/v1/batches/?organization_id={other_org}")).await;
    assert_eq!(
        (r.status, r.detail().to_owned()),
        (403, format!("Token is not authorized for organization {other_org}"))
    );
}

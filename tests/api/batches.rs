//! Batches, contacts and live stats (API.md §4, §5, §3.4 `/stats` and `/campaigns/{id}/batches`).
//!
//! Creating batches (JSON and CSV), their validation and the counters they report here; the
//! lifecycle in `lifecycle`, listings, contacts and `/debug` in `listing`.

use crate::common::{TestApp, campaign_body};
use reqwest::Method;
use serde_json::{Value, json};

mod lifecycle;
mod listing;

/// A server that does not dispatch, so contacts stay as the batch API left them.
async fn api_only() -> TestApp {
    TestApp::start_with(|c| c.dispatch = false).await
}

fn contacts(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"phone_number": format!("+1415555{:04}", 1000 + i), "call_variables": {"callee_name": format!("C{i}")}}))
            .collect(),
    )
}

async fn campaign(app: &TestApp, extra: Value) -> String {
    let mut body = campaign_body("Batch tests");
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned()
}

async fn batch(app: &TestApp, campaign_id: &str, extra: Value) -> Value {
    let mut body = json!({"campaign_id": campaign_id, "contacts": contacts(3)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.post("/api/v1/batches/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn id(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap().to_owned()
}

const COUNTER_KEYS: [&str; 11] = [
    "pending",
    "dispatched",
    "in_flight",
    "retrying",
    "completed",
    "failed",
    "busy",
    "no_answer",
    "skipped",
    "followup_scheduled",
    "max_retries_reached",
];

fn assert_counters_sum(batch: &Value) {
    let c = batch["counters"].as_object().unwrap();
    assert_eq!(c.len(), 11, "{c:?}");
    let sum: i64 = COUNTER_KEYS.iter().map(|k| c[*k].as_i64().unwrap()).sum();
    assert_eq!(sum, batch["total_contacts"].as_i64().unwrap());
}

#[tokio::test]
async fn create_returns_the_batch_with_warnings_and_duplicates_and_activates_the_campaign() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let body = json!({
        "campaign_id": c,
        "contacts": [
            {"phone_number": "+14155551001", "call_variables": {"callee_name": "Ann", "plan": "gold"}},
            {"phone_number": "+14155551002"},
            {"phone_number": "+14155551001", "call_variables": {"callee_name": "Dup"}},
            {"phone_number": "+14155551003", "call_variables": {}},
        ],
        "concurrency_limit": 2,
        "max_retries_override": 1,
        "call_context": {"campaign": "renewals"},
        "metadata": {"source": "crm"},
    });
    let r = app.post("/api/v1/batches/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let b = &r.body;
    assert!(b["batch_id"].as_str().unwrap().starts_with("btc_"));
    assert_eq!(b["campaign_id"], c.as_str());
    assert_eq!(b["status"], "in_progress");
    assert_eq!(b["total_contacts"], 3);
    assert_eq!(b["duplicates_removed"], 1);
    assert_eq!(b["concurrency_limit"], 2);
    assert_eq!(b["max_retries_override"], 1);
    assert_eq!(b["call_context"], json!({"campaign": "renewals"}));
    assert_eq!(b["metadata"], json!({"source": "crm"}));
    assert_eq!(b["counters"]["pending"], 3);
    assert_counters_sum(b);
    let warned: Vec<(i64, &str)> = b["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["index"].as_i64().unwrap(), w["phone_number"].as_str().unwrap()))
        .collect();
    assert_eq!(warned, [(1, "+14155551002"), (3, "+14155551003")]);
    let camp = app.get(&format!("/api/v1/campaigns/{c}")).await;
    assert_eq!(camp.body["status"], "active");
    let fetched = app.get(&format!("/api/v1/batches/{}", id(b, "batch_id"))).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["counters"], b["counters"]);
    assert!(fetched.body.get("warnings").is_none());
    // the alias behaves the same
    let r = app.post("/api/v1/batches/upload", json!({"campaign_id": c, "contacts": contacts(1)})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["warnings"], json!([]));
}

#[tokio::test]
async fn invalid_contacts_are_all_named_and_nothing_is_stored() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let body = json!({
        "campaign_id": c,
        "contacts": [
            {"phone_number": "+14155551001"},
            {"phone_number": "0412345678"},
            {"call_variables": {}},
            {"phone_number": "+11234567890", "call_variables": "x"},
            {"phone_number": 5, "extra": true},
            "not an object",
        ],
        "concurrency_limit": 0,
    });
    let r = app.post("/api/v1/batches/", body).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let locs = r.error_locs();
    for expected in [
        "body.contacts.1.phone_number",
        "body.contacts.2.phone_number",
        "body.contacts.3.phone_number",
        "body.contacts.3.call_variables",
        "body.contacts.4.phone_number",
        "body.contacts.4.extra",
        "body.contacts.5",
        "body.concurrency_limit",
    ] {
        assert!(locs.contains(&expected.to_owned()), "{expected} missing from {locs:?}");
    }
    assert!(!locs.iter().any(|l| l.starts_with("body.contacts.0")), "{locs:?}");
    let list = app.get(&format!("/api/v1/batches/?campaign_id={c}")).await;
    assert_eq!(list.header("x-total-count"), Some("0"));
    assert_eq!(app.get(&format!("/api/v1/campaigns/{c}")).await.body["status"], "draft");
}

/// Contacts are stored chunk by chunk while later ones are still being checked: a bad contact far
/// down the list must still leave nothing behind, and body problems come before any other answer.
#[tokio::test]
async fn a_late_bad_contact_leaves_nothing_stored_and_body_problems_come_first() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let mut list = contacts_unique(10_000);
    list[9_999]["phone_number"] = json!("+11234567890");
    list[5_432]["call_variables"] = json!([1]);
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": list.clone()})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_locs(), ["body.contacts.5432.call_variables", "body.contacts.9999.phone_number"]);
    assert_eq!(app.get("/api/v1/batches/").await.header("x-total-count"), Some("0"));
    assert_eq!(app.get(&format!("/api/v1/campaigns/{c}")).await.body["status"], "draft");
    assert_eq!(app.db().await.number("SELECT count(*) FROM contacts").await, 0);

    // An unknown campaign, a campaign that takes no batch, an expiry in the past: the body's own
    // problems are still the answer.
    let mut list = contacts_unique(6);
    list[1]["phone_number"] = json!("+11234567890");
    list[4]["call_variables"] = json!([1]);
    let r = app.post("/api/v1/batches/", json!({"campaign_id": "cmp_nope", "contacts": list.clone()})).await;
    assert_eq!((r.status, r.error_locs().len()), (422, 2));
    let cancelled = campaign(&app, json!({})).await;
    app.post(&format!("/api/v1/campaigns/{cancelled}/cancel"), json!({})).await;
    let r = app.post("/api/v1/batches/", json!({"campaign_id": cancelled, "contacts": list.clone()})).await;
    assert_eq!((r.status, r.error_locs().len()), (422, 2));
    let r = app
        .post("/api/v1/batches/", json!({"campaign_id": c, "contacts": list, "expires_at": "2001-01-01T00:00:00Z"}))
        .await;
    assert_eq!((r.status, r.error_locs().len()), (422, 2));

    // Without the bad contacts the same list is stored whole, in order.
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts_unique(10_000)})).await;
    assert_eq!((r.status, r.body["total_contacts"].as_i64()), (201, Some(10_000)));
    let b = id(&r.body, "batch_id");
    let page = app.get(&format!("/api/v1/batches/{b}/contacts?skip=9999&limit=1")).await;
    assert_eq!(page.body[0]["phone_number"], contacts_unique(10_000)[9_999]["phone_number"]);
}

#[tokio::test]
async fn body_level_rules() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let r = app.post("/api/v1/batches/", json!({"contacts": contacts(1)})).await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["body.campaign_id".to_owned()]));
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": []})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["type"], "too_short");
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c})).await;
    assert_eq!(r.body["detail"][0]["type"], "missing");
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts(1), "bogus": 1})).await;
    assert_eq!(r.error_locs(), vec!["body.bogus".to_owned()]);
    let r = app.post("/api/v1/batches/", json!({"campaign_id": "cmp_nope", "contacts": contacts(1)})).await;
    assert_eq!((r.status, r.detail()), (404, "Campaign not found"));
    let r = app
        .post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts(1), "scheduled_start": "soon"}))
        .await;
    assert_eq!(r.error_locs(), vec!["body.scheduled_start".to_owned()]);
    let r = app
        .post(
            "/api/v1/batches/",
            json!({"campaign_id": c, "contacts": contacts(1), "scheduled_start": "2031-01-02T00:00:00Z", "expires_at": "2031-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["body.expires_at".to_owned()]));
    let r = app
        .post(
            "/api/v1/batches/",
            json!({"campaign_id": c, "contacts": contacts(1), "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["body.expires_at".to_owned()]));
}

#[tokio::test]
async fn more_than_100000_contacts_are_refused() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let many: Vec<Value> = (0..100_001).map(|_| json!({"phone_number": "+14155551001"})).collect();
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": many})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["type"], "too_long");
}

#[tokio::test]
async fn a_100000_contact_batch_is_accepted_in_one_request() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts_unique(100_000)})).await;
    assert_eq!(r.status, 201, "{}", &r.text[..r.text.len().min(500)]);
    assert_eq!(r.body["total_contacts"], 100_000);
    assert_eq!(r.body["counters"]["pending"], 100_000);
    let b = id(&r.body, "batch_id");
    let page = app.get(&format!("/api/v1/batches/{b}/contacts?skip=99990&limit=1000")).await;
    assert_eq!(page.body.as_array().unwrap().len(), 10);
    assert_eq!(page.header("x-total-count"), Some("100000"));
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await;
    assert_eq!(stats.body["contact_counts"]["pending"], 100_000);
}

fn contacts_unique(n: usize) -> Value {
    // distinct valid US numbers: area 415, exchanges 200–999
    Value::Array(
        (0..n)
            .map(|i| json!({"phone_number": format!("+1415{:03}{:04}", 200 + i / 10_000, i % 10_000), "call_variables": {"callee_name": "X"}}))
            .collect(),
    )
}

#[tokio::test]
async fn scheduled_start_naive_is_campaign_local_and_offsets_are_kept() {
    let app = api_only().await;
    let c = campaign(&app, json!({"timezone": "Asia/Kolkata"})).await;
    let b = batch(&app, &c, json!({"scheduled_start": "2031-03-01T09:00:00"})).await;
    assert_eq!(b["scheduled_start"], "2031-03-01T03:30:00Z");
    assert_eq!(b["status"], "pending");
    let b = batch(&app, &c, json!({"scheduled_start": "2031-03-01T09:00:00-05:00"})).await;
    assert_eq!(b["scheduled_start"], "2031-03-01T14:00:00Z");
    let b =
        batch(&app, &c, json!({"scheduled_start": "2020-01-01T00:00:00Z", "expires_at": "2031-01-01T00:00:00Z"})).await;
    assert_eq!(b["status"], "in_progress");
    assert_eq!(b["expires_at"], "2031-01-01T00:00:00Z");
    let b = batch(&app, &c, json!({"scheduled_start": null})).await;
    assert_eq!(b["status"], "in_progress");
}

#[tokio::test]
async fn stats_report_every_key_consistent_with_batch_counters() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let b1 = batch(&app, &c, json!({"contacts": contacts(4)})).await;
    batch(&app, &c, json!({"contacts": contacts(2), "scheduled_start": "2035-01-01T00:00:00Z"})).await;
    app.post(&format!("/api/v1/batches/{}/cancel", id(&b1, "batch_id")), json!({})).await;
    let s = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(s["campaign_id"], c.as_str());
    assert_eq!(s["contact_counts"].as_object().unwrap().len(), 11);
    assert_eq!(s["contact_counts"]["skipped"], 4);
    assert_eq!(s["contact_counts"]["pending"], 2);
    assert_eq!(
        s["batch_counts"],
        json!({"pending": 1, "in_progress": 0, "paused": 0, "completed": 0, "cancelled": 1, "expired": 0})
    );
    assert_eq!(s["in_flight_contacts"], 0);
    assert_eq!(s["retry_breakdown"], json!({}));
    assert_eq!(s["next_dispatch_at"], "2035-01-01T00:00:00Z");
    let sum: i64 = s["contact_counts"].as_object().unwrap().values().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!(sum, 6);
}

#[tokio::test]
async fn csv_upload_maps_columns_and_validates_like_json() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let csv =
        "Phone,callee_name,plan\n+14155551001,Ann,gold\n\"+14155551002\",,\"silver, annual\"\n+14155551001,Dup,x\n";
    let form = reqwest::multipart::Form::new()
        .text("campaign_id", c.clone())
        .text("concurrency_limit", "2")
        .text("call_context", r#"{"source":"csv"}"#)
        .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("contacts.csv"));
    let r = app.send(app.request(Method::POST, "/api/v1/batches/upload").multipart(form)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["total_contacts"], 2);
    assert_eq!(r.body["duplicates_removed"], 1);
    assert_eq!(r.body["concurrency_limit"], 2);
    assert_eq!(r.body["call_context"], json!({"source": "csv"}));
    assert_eq!(r.body["warnings"][0]["index"], 1);
    let list = app.get(&format!("/api/v1/batches/{}/contacts", id(&r.body, "batch_id"))).await;
    assert_eq!(list.body[0]["call_variables"], json!({"callee_name": "Ann", "plan": "gold"}));
    assert_eq!(list.body[1]["call_variables"], json!({"plan": "silver, annual"}));

    let bad = "contact_number,name\n+14155551001,A\nnot-a-number,B\n,C\n";
    let form = reqwest::multipart::Form::new()
        .text("campaign_id", c.clone())
        .part("file", reqwest::multipart::Part::bytes(bad.as_bytes().to_vec()).file_name("c.csv"));
    let r = app.send(app.request(Method::POST, "/api/v1/batches/").multipart(form)).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_locs(), ["body.contacts.1.phone_number", "body.contacts.2.phone_number"]);

    let form = reqwest::multipart::Form::new()
        .text("campaign_id", c.clone())
        .part("file", reqwest::multipart::Part::bytes(b"name\nAnn\n".to_vec()).file_name("c.csv"));
    let r = app.send(app.request(Method::POST, "/api/v1/batches/").multipart(form)).await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["body.file".to_owned()]));
    let form = reqwest::multipart::Form::new().text("campaign_id", c.clone());
    let r = app.send(app.request(Method::POST, "/api/v1/batches/").multipart(form)).await;
    assert_eq!((r.status, r.error_locs()), (422, vec!["body.file".to_owned()]));
}

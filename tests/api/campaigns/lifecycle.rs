//! A campaign's lifecycle (API.md §3.3): the draft and cancelled rows of the lifecycle table, actions
//! without a body; deleting a draft; and the stats of a new campaign.

use crate::common::{TestApp, campaign_body, campaign_path, id_of};
use reqwest::Method;
use serde_json::json;

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

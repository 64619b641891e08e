//! The batch lifecycle (API.md §4.3): what a campaign's status makes of a new batch, the batch's own
//! actions by its table, a paused batch with a future start, a campaign's pause and resume carried to
//! each batch, and deleting a campaign with its batches and contacts.

use super::{api_only, assert_counters_sum, batch, campaign, contacts, id};
use serde_json::json;

#[tokio::test]
async fn campaign_status_decides_the_new_batch() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let first = batch(&app, &c, json!({})).await;
    assert_eq!(app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await.status, 200);
    assert_eq!(app.get(&format!("/api/v1/batches/{}", id(&first, "batch_id"))).await.body["status"], "paused");
    let second = batch(&app, &c, json!({})).await;
    assert_eq!(second["status"], "paused");
    let r = app.post(&format!("/api/v1/batches/{}/resume", id(&second, "batch_id")), json!({})).await;
    assert_eq!((r.status, r.detail()), (409, "Cannot resume a batch while its campaign is paused"));
    let r = app.post(&format!("/api/v1/campaigns/{c}/resume"), json!({})).await;
    assert_eq!(r.body, json!({"campaign_id": c, "status": "active", "message": "Campaign resumed successfully"}));
    for b in [&first, &second] {
        assert_eq!(app.get(&format!("/api/v1/batches/{}", id(b, "batch_id"))).await.body["status"], "in_progress");
    }
    assert_eq!(app.post(&format!("/api/v1/campaigns/{c}/cancel"), json!({})).await.status, 200);
    let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts(1)})).await;
    assert_eq!((r.status, r.detail()), (409, "Cannot add a batch to a campaign that is cancelled"));
    for b in [&first, &second] {
        let got = app.get(&format!("/api/v1/batches/{}", id(b, "batch_id"))).await.body;
        assert_eq!(got["status"], "cancelled");
        assert_eq!(got["counters"]["skipped"], 3);
        assert_eq!(got["counters"]["pending"], 0);
        assert!(got["completed_at"].is_string());
        assert_counters_sum(&got);
    }
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["contact_counts"]["skipped"], 6);
    assert_eq!(stats["batch_counts"]["cancelled"], 2);
}

#[tokio::test]
async fn batch_lifecycle_follows_the_table() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let b = id(&batch(&app, &c, json!({})).await, "batch_id");
    let act = |action: &'static str| {
        let path = format!("/api/v1/batches/{b}/{action}");
        let app = &app;
        async move { app.post(&path, json!({})).await }
    };
    let r = act("resume").await;
    assert_eq!(r.body, json!({"batch_id": b, "status": "in_progress", "message": "Batch resumed successfully"}));
    let r = act("pause").await;
    assert_eq!(r.body, json!({"batch_id": b, "status": "paused", "message": "Batch paused successfully"}));
    assert_eq!(act("pause").await.body["status"], "paused");
    let r = act("dispatch").await;
    assert_eq!(
        r.body,
        json!({"batch_id": b, "status": "paused", "dispatched_count": 3, "message": "Batch dispatch re-triggered successfully"})
    );
    assert_eq!(act("resume").await.body["status"], "in_progress");
    let r = act("cancel").await;
    assert_eq!(r.body, json!({"batch_id": b, "status": "cancelled", "message": "Batch cancelled successfully"}));
    assert_eq!(act("cancel").await.status, 200);
    for action in ["pause", "resume", "dispatch"] {
        let r = act(action).await;
        assert_eq!((r.status, r.detail().to_owned()), (409, format!("Cannot {action} a batch that is cancelled")));
    }
    // the only batch ended without completing: the campaign stays active
    assert_eq!(app.get(&format!("/api/v1/campaigns/{c}")).await.body["status"], "active");
    let r = app.post("/api/v1/batches/btc_00000000000000000000000000/pause", json!({})).await;
    assert_eq!((r.status, r.detail()), (404, "Batch not found"));
}

#[tokio::test]
async fn paused_batch_with_a_future_start_resumes_to_pending() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let b = id(&batch(&app, &c, json!({"scheduled_start": "2035-01-01T00:00:00Z"})).await, "batch_id");
    assert_eq!(app.post(&format!("/api/v1/batches/{b}/pause"), json!({})).await.body["status"], "paused");
    assert_eq!(app.post(&format!("/api/v1/batches/{b}/resume"), json!({})).await.body["status"], "pending");
}

#[tokio::test]
async fn a_campaigns_pause_and_resume_carry_each_batch_by_the_batch_lifecycle() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let running = id(&batch(&app, &c, json!({})).await, "batch_id");
    let later = id(&batch(&app, &c, json!({"scheduled_start": "2035-01-01T00:00:00Z"})).await, "batch_id");
    let paused_later = id(&batch(&app, &c, json!({"scheduled_start": "2035-01-01T00:00:00Z"})).await, "batch_id");
    assert_eq!(app.post(&format!("/api/v1/batches/{paused_later}/pause"), json!({})).await.body["status"], "paused");
    let status = |b: String| {
        let app = &app;
        async move { app.get(&format!("/api/v1/batches/{b}")).await.body["status"].as_str().unwrap().to_owned() }
    };
    assert_eq!(status(running.clone()).await, "in_progress");
    let r = app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        [status(running.clone()).await, status(later.clone()).await, status(paused_later.clone()).await],
        ["paused", "pending", "paused"],
        "a pause stops the running batches only"
    );
    let r = app.post(&format!("/api/v1/campaigns/{c}/resume"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        [status(running).await, status(later).await, status(paused_later).await],
        ["in_progress", "pending", "pending"],
        "a resume restarts the paused ones, pending while their start is ahead"
    );
}

#[tokio::test]
async fn deleting_a_campaign_removes_its_batches_and_contacts() {
    let app = api_only().await;
    let c = campaign(&app, json!({})).await;
    let b = id(&batch(&app, &c, json!({})).await, "batch_id");
    let r = app.delete(&format!("/api/v1/campaigns/{c}")).await;
    assert_eq!((r.status, r.detail()), (409, "Cancel the campaign before deleting it"));
    app.post(&format!("/api/v1/campaigns/{c}/cancel"), json!({})).await;
    assert_eq!(app.delete(&format!("/api/v1/campaigns/{c}")).await.status, 200);
    assert_eq!(app.get(&format!("/api/v1/batches/{b}")).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/batches/{b}/contacts")).await.status, 404);
    assert_eq!(app.get("/api/v1/batches/").await.header("x-total-count"), Some("0"));
    // Nothing of the campaign stays behind in the database either.
    let left =
        app.db().await.number("SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM call_records)").await;
    assert_eq!(left, 0);
}

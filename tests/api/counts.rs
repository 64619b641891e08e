//! `X-Total-Count` is kept counted rather than counted per request (PostgreSQL appends deltas that
//! the server folds every second; SQLite keeps the counts whole): it stays exact through creates,
//! status changes and deletes, before and after a fold, for every filter.

use crate::common::{TestApp, campaign_body, eventually, id_of};
use serde_json::json;

/// Every listing's `X-Total-Count` against the number of items it lists.
async fn assert_counts_exact(app: &TestApp, when: &str) {
    let queries = [
        "/api/v1/campaigns/",
        "/api/v1/campaigns/?status=draft",
        "/api/v1/campaigns/?status=active",
        "/api/v1/campaigns/?status=paused",
        "/api/v1/campaigns/?status=cancelled",
        "/api/v1/batches/",
        "/api/v1/batches/?status=in_progress",
        "/api/v1/batches/?status=paused",
        "/api/v1/batches/?status=cancelled",
    ];
    for q in queries {
        let sep = if q.contains('?') { '&' } else { '?' };
        let r = app.get(&format!("{q}{sep}limit=1000")).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        assert_eq!(r.total_count(), r.body.as_array().unwrap().len() as i64, "{when}: {q}");
    }
}

#[tokio::test]
async fn total_counts_stay_exact_through_every_change_folded_or_not() {
    let app = TestApp::start().await;
    let mut campaigns = Vec::new();
    for i in 0..8 {
        campaigns.push(id_of(&app.create_campaign(campaign_body(&format!("Counted {i}"))).await));
    }
    for c in &campaigns[..6] {
        let contacts = json!([{"phone_number": "+14155551234", "call_variables": {"callee_name": "A"}}]);
        let r = app.post("/api/v1/batches/", json!({"campaign_id": c, "contacts": contacts})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(app.post(&format!("/api/v1/campaigns/{}/pause", campaigns[0]), json!({})).await.status, 200);
    assert_eq!(app.post(&format!("/api/v1/campaigns/{}/cancel", campaigns[1]), json!({})).await.status, 200);
    assert_eq!(app.delete(&format!("/api/v1/campaigns/{}", campaigns[1])).await.status, 200);
    assert_eq!(app.delete(&format!("/api/v1/campaigns/{}", campaigns[7])).await.status, 200);
    assert_counts_exact(&app, "right after the changes").await;
    let (_, total) = app.list_campaigns("").await;
    assert_eq!(total, 6);
    if app.shares_database() {
        // PostgreSQL: once the deltas are folded, the counts read from the folded totals alone.
        let url = app.database_url.clone();
        eventually("the count deltas were never folded", || {
            let url = url.clone();
            async move { crate::common::Db::connect(&url).await.number("SELECT count(*) FROM list_count_deltas").await == 0 }
        })
        .await;
        assert_counts_exact(&app, "after the fold").await;
    }
    // Another organization counts apart.
    let (_, other) = app.other_org();
    let (_, total) = app.list_campaigns_as(&other, "").await;
    assert_eq!(total, 0);
}

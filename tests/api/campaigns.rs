//! Campaign endpoints: create, read, list, update, lifecycle, delete, stats.

use crate::common::{TestApp, campaign_body};
use serde_json::json;

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

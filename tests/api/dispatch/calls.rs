//! A call's life with simulated telephony: calls start at once, complete, and close their batch and
//! campaign; the caller number by round robin or least loaded; the metrics calls leave; completion on
//! the last outcome agrees with the domain rule; and the real-time loop (no test clock) settles every
//! call once on two replicas.

use super::{MONDAY_10, batch, calls, campaign, field};
use crate::common::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn calls_start_at_once_complete_and_close_the_batch_and_campaign() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"default_call_variables": {"language": "en"}})).await;
    let b = batch(&app, &c, &["+14155551234", "+14155552345"], json!({})).await;
    // the creation settled the dispatcher at the current instant: both calls ring
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["active_calls"], 2);
    assert_eq!(stats["contact_counts"]["in_progress"], 2);
    assert_eq!(stats["total_call_attempts"], 2);
    let contacts = app.contacts_with_calls(&b).await;
    let call = &contacts[0]["current_call"];
    assert_eq!(call["call_status"], "ringing");
    assert_eq!(call["dispatched_at"], MONDAY_10);
    assert_eq!(call["kind"], "initial");
    assert_eq!(call["attempt"], 0);
    assert_eq!(call["to_number"], "+14155551234");
    assert!(call["execution_id"].as_str().unwrap().starts_with("exec_"));

    assert_eq!(app.advance(3600).await, "2026-11-30T11:00:00Z");
    let batch_now = app.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!(batch_now["status"], "completed");
    assert_eq!(batch_now["counters"]["completed"], 2);
    assert_eq!(batch_now["completed_at"], "2026-11-30T10:02:03Z", "the instant the last call ended");
    let camp = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!((camp["status"].as_str(), camp["completed_calls"].as_i64()), (Some("completed"), Some(2)));
    for contact in app.contacts_with_calls(&b).await {
        assert_eq!(contact["status"], "completed");
        assert_eq!(contact["last_attempted_at"], MONDAY_10);
        let record = &calls(&contact)[0];
        assert_eq!(record["call_status"], "completed");
        assert_eq!(record["answered_at"], "2026-11-30T10:00:03Z");
        assert_eq!(record["ended_at"], "2026-11-30T10:02:03Z");
        assert_eq!(record["duration_seconds"], 120.0);
        assert!(field(record, "transcript").contains("Ann"));
        assert!(!field(record, "summary").is_empty());
        assert_eq!(record["sentiment"], "positive");
        assert!(record["total_cost"].as_f64().unwrap() > 0.0);
    }
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!(stats["answer_rate"], 1.0);
    assert_eq!(stats["avg_duration_seconds"], 120.0);
    assert_eq!(stats["active_calls"], 0);
    assert_eq!(stats["next_dispatch_at"], Value::Null);
}

#[tokio::test]
async fn round_robin_is_durable_across_batches_and_least_loaded_spreads() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"phone_numbers": ["+919876543210", "+919876543211", "+919876543212"]})).await;
    let b1 = batch(&app, &c, &["+14155558000", "+14155558001"], json!({})).await;
    let b2 = batch(&app, &c, &["+14155558002", "+14155558003"], json!({})).await;
    let mut from = Vec::new();
    for b in [&b1, &b2] {
        for contact in app.contacts_with_calls(b).await {
            from.push(field(&calls(&contact)[0], "from_number").to_owned());
        }
    }
    assert_eq!(from, ["+919876543210", "+919876543211", "+919876543212", "+919876543210"]);

    let ll = campaign(
        &app,
        json!({"phone_number_strategy": "least_loaded", "phone_numbers": ["+919876543210", "+919876543211"]}),
    )
    .await;
    let b = batch(&app, &ll, &["+14155558100", "+14155558101", "+14155558102", "+14155558103"], json!({})).await;
    let mut from: Vec<String> =
        app.contacts_with_calls(&b).await.iter().map(|c| field(&calls(c)[0], "from_number").to_owned()).collect();
    from.sort();
    assert_eq!(from, ["+919876543210", "+919876543210", "+919876543211", "+919876543211"]);
}

#[tokio::test]
async fn metrics_report_calls_and_dispatch_passes() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({})).await;
    batch(&app, &c, &["+14155551111", "+14155550001"], json!({"max_retries_override": 0})).await;
    let text = app.get("/metrics").await.text;
    assert!(text.contains("graine_calls_in_flight 2"), "{text}");
    assert!(text.contains("graine_calls_placed_total 2"));
    app.advance(600).await;
    let text = app.get("/metrics").await.text;
    assert!(text.contains("graine_calls_in_flight 0"));
    assert!(text.contains("graine_call_outcomes_total{status=\"busy\"} 1"));
    assert!(text.contains("graine_call_outcomes_total{status=\"completed\"} 1"));
    assert!(text.contains("graine_dispatch_pass_seconds_count"));
}

/// The real-time loop (no test clock): two replicas (on Postgres; one server on SQLite) settle
/// zero-length calls side by side, each taking only campaigns the other does not hold. Every
/// contact is called once and completes.
#[tokio::test]
async fn two_real_time_replicas_settle_every_call_once() {
    let one = TestApp::start_with(|c| c.simulated_call_seconds = 0).await;
    let two = one.replica(|c| c.simulated_call_seconds = 0).await;
    let mut batches = Vec::new();
    for i in 0..4 {
        let c = campaign(&one, json!({"metadata": {"concurrency_limit": 40}})).await;
        let phones: Vec<String> = (0..150).map(|j| format!("+1415{:03}{:04}", 300 + i, 2000 + j)).collect();
        let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
        let via = if i % 2 == 0 { &one } else { two.as_ref().unwrap_or(&one) };
        batches.push(batch(via, &c, &phones, json!({})).await);
    }
    // Real time: wait (bounded) for the replicas to finish on their own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for b in &batches {
        loop {
            let now = one.get(&format!("/api/v1/batches/{b}")).await.body;
            if now["status"] == "completed" {
                assert_eq!(now["counters"]["completed"], 150, "{now}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "batch not completed in time: {now}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let mut db = one.db().await;
    let counts: Vec<(i64, i64, i64)> = db
        .rows(
            "SELECT count(*), count(DISTINCT contact_id),
                    count(*) FILTER (WHERE call_status IN ('dispatched', 'ringing', 'in_progress'))
             FROM call_records",
        )
        .await;
    assert_eq!(counts, [(600, 600, 0)], "one call per contact, none left live");
    assert_eq!(db.number("SELECT CAST(COALESCE(sum(in_flight), 0) AS BIGINT) FROM campaigns").await, 0);
}

/// The settle path completes campaigns in SQL, set-based; it must agree with the domain's rule
/// (`CampaignStatus::completes`) on every case: fed the same batches, both give the same answer.
#[tokio::test]
async fn completion_on_the_last_outcome_agrees_with_the_domain_rule() {
    use graine::domain::batch::BatchStatus as B;
    use graine::domain::campaign::CampaignStatus;
    for (other, other_status) in [("cancel", B::Cancelled), ("pause", B::Paused), ("", B::Pending)] {
        let app = TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 0).await;
        let c = campaign(&app, json!({})).await;
        // The other batch first, its start ahead, so that it is in its state before the last call ends.
        let b = batch(&app, &c, &["+14155550101"], json!({"scheduled_start": "2035-01-01T00:00:00Z"})).await;
        if !other.is_empty() {
            let r = app.post(&format!("/api/v1/batches/{b}/{other}"), json!({})).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        batch(&app, &c, &["+14155550100"], json!({})).await;
        app.advance(10).await;
        let expected = CampaignStatus::Active.completes(&[B::Completed, other_status]);
        let status = app.get(&format!("/api/v1/campaigns/{c}")).await.body["status"].clone();
        assert_eq!(status, if expected { "completed" } else { "active" }, "the other batch {other_status:?}");
    }
}

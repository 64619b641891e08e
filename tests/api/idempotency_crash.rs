//! `Idempotency-Key` under failure (API.md §1): the work and its stored response commit together, and a
//! key whose request died with its server is free again once its lease lapses (30 s), never 24 h.

use crate::common::{Db, TOKEN, TestApp, at, fresh_postgres_url, fresh_sqlite_url, spawn_graine, sqlite};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const START: &str = "2026-11-30T10:00:00Z";
const KEY: &str = "batch-upload-1";

/// A batch body of `n` distinct contacts.
fn big_batch(campaign: &str, n: usize) -> Value {
    let contacts: Vec<Value> = (0..n)
        .map(|i| json!({"phone_number": format!("+1415{:03}{:04}", 200 + i / 10_000, i % 10_000), "call_variables": {"callee_name": "C"}}))
        .collect();
    json!({"campaign_id": campaign, "contacts": contacts})
}

/// POSTs a batch with the test's key.
async fn post_batch(client: &reqwest::Client, base: &str, body: &Value) -> (u16, Value) {
    let r = client
        .post(format!("{base}/api/v1/batches/"))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", KEY)
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits until the key is claimed by a request still running (its response not stored yet).
async fn wait_for_claim(db: &mut Db) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let sql = format!("SELECT count(*) FROM idempotency_keys WHERE key = '{KEY}' AND response_status IS NULL");
    while db.number(&sql).await == 0 {
        assert!(Instant::now() < deadline, "the request never claimed its key");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_key_whose_request_died_with_its_server_is_free_again_once_its_lease_lapses() {
    let url = if sqlite() { fresh_sqlite_url() } else { fresh_postgres_url().await };
    let (mut child, base) = spawn_graine(&url, &["--test-clock", "--clock-start", START]);
    let client = reqwest::Client::new();
    let campaign = client
        .post(format!("{base}/api/v1/campaigns/"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "Crash", "agent_id": "a", "phone_numbers": ["+919876543210"]}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["campaign_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = big_batch(&campaign, 50_000);
    let upload = tokio::spawn({
        let (client, base, body) = (client.clone(), base.clone(), body.clone());
        async move { post_batch(&client, &base, &body).await }
    });
    let mut db = Db::connect(&url).await;
    wait_for_claim(&mut db).await;
    // The server dies mid-request: kill -9.
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = upload.await;
    assert_eq!(db.number("SELECT count(*) FROM batches").await, 0, "the work was not committed");

    let app = TestApp::start_on(&url, |c| {
        c.test_clock = true;
        c.clock_start = Some(at(START));
    })
    .await;
    let (status, answer) = post_batch(&app.client, &app.base, &body).await;
    assert_eq!(status, 409, "within the lease the key may still be in use: {answer}");
    app.advance(31).await;
    let (status, first) = post_batch(&app.client, &app.base, &body).await;
    assert_eq!(status, 201, "the dead request's key is free again: {first}");
    assert_eq!(first["total_contacts"], 50_000);
    let (status, again) = post_batch(&app.client, &app.base, &body).await;
    assert_eq!((status, &again["batch_id"]), (201, &first["batch_id"]), "and now it replays");
    assert_eq!(db.number("SELECT count(*) FROM batches").await, 1);
}

/// PostgreSQL, whatever the run's store: there another request can take a key over while the first
/// one's work is under way. On SQLite the one writer runs the first request's work and stored response
/// in one transaction that nothing can interleave with.
#[tokio::test]
async fn a_request_that_lost_its_key_leaves_no_work_behind() {
    let app = TestApp::start_postgres_with(|_| {}).await;
    let campaign = crate::common::id_of(&app.create_campaign(crate::common::campaign_body("Lost")).await);
    // The upload waits for the campaign's lock inside its transaction, its key claimed.
    let mut holder = app.hold_campaign(&campaign).await;
    let body = big_batch(&campaign, 100);
    let upload = tokio::spawn({
        let (client, base, body) = (app.client.clone(), app.base.clone(), body.clone());
        async move { post_batch(&client, &base, &body).await }
    });
    let mut db = app.db().await;
    wait_for_claim(&mut db).await;
    // Its lease lapsed and another request took the key over, while this one was still working.
    let taken: Vec<(i64,)> = db
        .rows(&format!(
            "UPDATE idempotency_keys SET owner = '00000000-0000-7000-8000-000000000001'
             WHERE key = '{KEY}' AND response_status IS NULL RETURNING CAST(1 AS BIGINT)"
        ))
        .await;
    assert_eq!(taken.len(), 1);
    let _: Vec<(i64,)> = holder.rows("ROLLBACK").await;
    let (status, answer) = upload.await.unwrap();
    assert_eq!(status, 409, "{answer}");
    assert_eq!(db.number("SELECT count(*) FROM batches").await, 0, "its work was undone with it");
    assert_eq!(db.number("SELECT count(*) FROM contacts").await, 0);
    let campaign_status: Vec<(String,)> = db.rows("SELECT status FROM campaigns").await;
    assert_eq!(campaign_status[0].0, "draft", "the campaign never became active");
}

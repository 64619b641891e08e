//! A suppression and a claim are serialised (API.md §12.3: no call starts for a number after its
//! suppression commits), and an opt-out commits with its outcome or not at all, even through a
//! kill -9. PostgreSQL, where transactions interleave; SQLite's one writer runs them one by one.

use super::{batch, campaign};
use crate::common::{Db, TOKEN, TestApp, at, fresh_postgres_url, spawn_graine};
use crate::telephony::MONDAY_10;
use serde_json::{Value, json};

/// The organization's id as stored.
fn org_uuid(org: &str) -> uuid::Uuid {
    graine::domain::ids::OrgId::parse(org).unwrap().uuid()
}

/// Waits (at most 20 s) until some statement of the database waits for a lock.
async fn lock_waited_for(db: &mut Db) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db
        .number("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        .await
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "nothing waited for the lock");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A PostgreSQL server on the test clock, whatever the run's store, and a campaign.
async fn postgres_campaign() -> (TestApp, String) {
    let app = TestApp::start_postgres_with(|c| {
        c.test_clock = true;
        c.clock_start = Some(at(MONDAY_10));
    })
    .await;
    let c = campaign(&app, json!({})).await;
    (app, c)
}

/// Moves the test clock on by two minutes in a task of its own (it may wait for a lock).
fn advance_in_background(
    client: &reqwest::Client,
    base: &str,
) -> tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>> {
    let (client, url) = (client.clone(), format!("{base}/api/v1/test/clock"));
    tokio::spawn(async move { client.post(url).bearer_auth(TOKEN).json(&json!({"advance_seconds": 120})).send().await })
}

async fn organization(app: &TestApp, campaign: &str) -> uuid::Uuid {
    org_uuid(app.get(&format!("/api/v1/campaigns/{campaign}")).await.body["organization_id"].as_str().unwrap())
}

#[tokio::test]
async fn a_claim_waits_for_a_suppression_being_added_and_then_skips_the_number() {
    let (app, c) = postgres_campaign().await;
    let b = batch(&app, &c, &["+14155550100"], json!({"scheduled_start": "2026-11-30T10:01:00Z"})).await;
    let org = organization(&app, &c).await;
    // Another replica adds the number, and has not committed yet.
    let mut adder = app.db().await;
    let _: Vec<(i64,)> = adder.rows("BEGIN").await;
    let _: Vec<(i64,)> =
        adder.rows(&format!("SELECT CAST(1 AS BIGINT) FROM organizations WHERE id = '{org}' FOR NO KEY UPDATE")).await;
    let _: Vec<(i64,)> = adder
        .rows(&format!(
            "INSERT INTO suppressions (id, organization_id, phone_number, scope, created_at)
             VALUES ('{}', '{org}', '+14155550100', '', now()) RETURNING CAST(1 AS BIGINT)",
            uuid::Uuid::now_v7()
        ))
        .await;
    let claim = advance_in_background(&app.client, &app.base);
    let mut watcher = app.db().await;
    lock_waited_for(&mut watcher).await;
    let _: Vec<(i64,)> = adder.rows("COMMIT").await;
    assert_eq!(claim.await.unwrap().unwrap().status(), 200);
    let contact = &app.contacts_with_calls(b["batch_id"].as_str().unwrap()).await[0];
    assert_eq!(
        (contact["status"].as_str(), contact["skip_reason"].as_str()),
        (Some("skipped"), Some("suppressed")),
        "{contact}"
    );
    assert_eq!(contact["call_records"], json!([]), "no call starts after the suppression commits");
}

#[tokio::test]
async fn an_addition_waits_for_a_claim_under_way() {
    let (app, c) = postgres_campaign().await;
    let org = organization(&app, &c).await;
    // A claim reading the list holds the organization's row in share mode until it commits.
    let mut claim = app.db().await;
    let _: Vec<(i64,)> = claim.rows("BEGIN").await;
    let _: Vec<(i64,)> =
        claim.rows(&format!("SELECT CAST(1 AS BIGINT) FROM organizations WHERE id = '{org}' FOR SHARE")).await;
    let add = tokio::spawn({
        let (client, base) = (app.client.clone(), app.base.clone());
        async move {
            let body = json!({"entries": [{"phone_number": "+14155550100"}]});
            client.post(format!("{base}/api/v1/suppressions")).bearer_auth(TOKEN).json(&body).send().await
        }
    });
    let mut watcher = app.db().await;
    lock_waited_for(&mut watcher).await;
    assert!(!add.is_finished());
    let _: Vec<(i64,)> = claim.rows("COMMIT").await;
    let answer: Value = add.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["added"], 1, "{answer}");
}

async fn post(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let r = client.post(format!("{base}{path}")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_kill_between_an_opt_out_and_its_commit_leaves_neither_the_outcome_nor_the_suppression() {
    let url = fresh_postgres_url().await;
    let (mut child, base) =
        spawn_graine(&url, &["--test-clock", "--clock-start", MONDAY_10, "--simulated-call-seconds", "30"]);
    let client = reqwest::Client::new();
    let body = json!({"name": "Opt-out", "agent_id": "a", "phone_numbers": ["+12025550123"]});
    let c = post(&client, &base, "/api/v1/campaigns/", body).await;
    let contacts = json!([{"phone_number": "+14155550007", "call_variables": {"callee_name": "Ann"}}]);
    post(&client, &base, "/api/v1/batches/", json!({"campaign_id": c["campaign_id"], "contacts": contacts})).await;
    post(&client, &base, "/api/v1/test/clock", json!({"advance_seconds": 1})).await;
    let org = org_uuid(c["organization_id"].as_str().unwrap());
    let mut db = Db::connect(&url).await;
    let live = "SELECT count(*) FROM call_records WHERE call_status IN ('dispatched', 'ringing', 'in_progress')";
    assert_eq!(db.number(live).await, 1);
    // A claim of another replica holds the organization's row: the opt-out's transaction, its
    // outcome written, waits for it to add the number.
    let mut claim = Db::connect(&url).await;
    let _: Vec<(i64,)> = claim.rows("BEGIN").await;
    let _: Vec<(i64,)> =
        claim.rows(&format!("SELECT CAST(1 AS BIGINT) FROM organizations WHERE id = '{org}' FOR SHARE")).await;
    let ending = advance_in_background(&client, &base);
    lock_waited_for(&mut db).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = ending.await;
    let _: Vec<(i64,)> = claim.rows("ROLLBACK").await;
    assert_eq!(db.number(live).await, 1, "the outcome was not recorded");
    assert_eq!(db.number("SELECT count(*) FROM suppressions").await, 0, "nor the suppression");

    // A new server records both, together.
    let app = TestApp::start_on(&url, |c| {
        c.test_clock = true;
        c.clock_start = Some(at("2026-11-30T10:00:01Z"));
        c.simulated_call_seconds = 30;
    })
    .await;
    app.advance(120).await;
    assert_eq!(db.number(live).await, 0);
    assert_eq!(db.number("SELECT count(*) FROM suppressions WHERE reason = 'opt_out'").await, 1);
}

//! A kill -9 of the server while an event is being delivered loses nothing: the server started
//! next on the same database sends it again (both stores), and a replica that was never stopped
//! takes over a dead one's delivery at once, without waiting for its lease to run out (PostgreSQL).

use super::{DELIVERY, MONDAY_10};
use crate::common::{TOKEN, TestApp, at, fresh_postgres_url, fresh_sqlite_url, spawn_graine, sqlite};
use crate::fakes::receiver::Receiver;
use serde_json::{Value, json};

async fn post(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let r = client.post(format!("{base}{path}")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

const FLAGS: [&str; 6] = [
    "--test-clock",
    "--clock-start",
    MONDAY_10,
    "--allow-http-webhooks",
    "--allow-private-webhooks",
    "--dispatch=false",
];

/// A server on `url` whose delivery of a `suppression.added` event to a receiver that holds every
/// request open is in flight; returns the receiver, the event's id and the endpoint's path.
async fn delivery_in_flight(url: &str) -> (std::process::Child, Receiver, String, String) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let (child, base) = spawn_graine(url, &FLAGS);
    let client = reqwest::Client::new();
    let endpoint =
        post(&client, &base, "/api/v1/webhook-endpoints", json!({"url": receiver.url(), "events": ["*"]})).await;
    let path = format!("/api/v1/webhook-endpoints/{}", endpoint["webhook_endpoint_id"].as_str().unwrap());
    post(&client, &base, "/api/v1/suppressions", json!({"entries": [{"phone_number": "+14155550100"}]})).await;
    let arrived = receiver.wait_for_count(1, DELIVERY).await;
    let event = arrived[0].id.clone();
    assert!(event.starts_with("evt_"), "{arrived:?}");
    (child, receiver, event, path)
}

#[tokio::test]
async fn a_kill_during_a_delivery_loses_nothing() {
    let url = if sqlite() { fresh_sqlite_url() } else { fresh_postgres_url().await };
    let (mut child, receiver, event, path) = delivery_in_flight(&url).await;
    child.kill().unwrap();
    child.wait().unwrap();
    // Nothing was recorded of the try the kill cut short.
    receiver.release();

    let app = TestApp::start_on(&url, |c| {
        c.test_clock = true;
        c.clock_start = Some(at(MONDAY_10));
        c.events.allow_http_webhooks = true;
        c.events.allow_private_webhooks = true;
    })
    .await;
    let tries = receiver.wait_for_tries(&event, 2, DELIVERY).await;
    assert_eq!(tries[1].answered, Some(204), "{tries:?}");
    assert_eq!(tries[0].raw, tries[1].raw, "the same event, sent again");
    crate::common::eventually("the delivery is logged", || async {
        let logged = app.get(&format!("{path}/deliveries")).await.body;
        logged.as_array().is_some_and(|l| l.iter().any(|t| t["event_id"] == event.as_str() && t["status_code"] == 204))
    })
    .await;
}

#[tokio::test]
async fn a_live_replica_takes_over_a_dead_ones_delivery_at_once() {
    if sqlite() {
        return; // One server per SQLite file: there is no other replica.
    }
    let url = fresh_postgres_url().await;
    let (mut dead, receiver, event, _) = delivery_in_flight(&url).await;
    // A second replica, up before the first dies: it leaves the first one's lease alone while it lives.
    let (mut live, _) = spawn_graine(&url, &FLAGS);
    // It would have sent within its first passes (every 100 ms) had it not respected the lease.
    assert!(receiver.stays_quiet(std::time::Duration::from_millis(300)).await);
    assert_eq!(receiver.with_id(&event).len(), 1, "the live replica did not send what the other holds");
    dead.kill().unwrap();
    dead.wait().unwrap();
    receiver.release();
    // Far sooner than the lease's minute.
    let started = std::time::Instant::now();
    let tries = receiver.wait_for_tries(&event, 2, DELIVERY).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(tries[1].answered, Some(204), "{tries:?}");
    live.kill().unwrap();
    live.wait().unwrap();
}

//! Events and customer webhooks (API.md §13, §8): the feed, its long poll, endpoints and their URL
//! checks, signed deliveries, retries on the test clock, replay and isolation of a dead endpoint.
//! Both stores, test clock; deliveries are awaited on the receiver fake, never slept for.
//!
//! `feed`: the events a campaign leaves, paging, filters, organizations; `poll`: `wait_seconds`;
//! `endpoints`: CRUD and limits; `ssrf`: the URLs refused; `delivery`: what a receiver gets;
//! `retries`: the retry schedule and disabling; `replay`: sending events again; `crash`: a kill -9
//! during a delivery; `order`: ids in commit order across replicas; `retention`: pruning; `chunks`:
//! many events at once, over several of a stream's chunks.

use crate::common::{Resp, TOKEN, TestApp, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

mod answers;
mod chunks;
mod crash;
mod delivery;
mod endpoints;
mod example_receiver;
mod feed;
mod order;
mod poll;
mod replay;
mod retention;
mod retries;
mod ssrf;

const MONDAY_10: &str = "2026-11-30T10:00:00Z";

/// How long a delivery may take to reach a receiver (real time): events go out "within about a
/// second" of their commit; the rest is room for a loaded machine.
const DELIVERY: Duration = Duration::from_secs(10);

/// The batch most feed tests run, on the simulated placer: completed, busy, failed, completed with
/// an opt-out (last four digits script the outcome).
const PHONES: [&str; 4] = ["+14155551000", "+14155550001", "+14155550003", "+14155550007"];

/// The event types of §13.
const TYPES: [&str; 6] =
    ["call.ended", "contact.finished", "batch.updated", "campaign.updated", "suppression.added", "endpoint.disabled"];

/// A test-clock server (30 s simulated calls) whose webhooks may go to a local `http://` receiver.
async fn local_app() -> TestApp {
    TestApp::with_clock(MONDAY_10, |c| {
        c.events.allow_http_webhooks = true;
        c.events.allow_private_webhooks = true;
        c.simulated_call_seconds = 30;
    })
    .await
}

/// A test-clock server with the default event settings (30 s simulated calls).
async fn plain_app() -> TestApp {
    TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 30).await
}

/// A campaign without retries; returns its id.
async fn campaign(app: &TestApp) -> String {
    let body = json!({
        "name": "Events", "agent_id": "agent_1", "phone_numbers": ["+12025550123"],
        "retry_policy": {"max_retries": 0},
    });
    app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned()
}

/// A batch of `phones` in `campaign`, starting now; returns its id.
async fn batch(app: &TestApp, campaign: &str, phones: &[&str]) -> String {
    let contacts: Vec<Value> =
        phones.iter().map(|p| json!({"phone_number": p, "call_variables": {"callee_name": "Ann"}})).collect();
    let r = app.post("/api/v1/batches/", json!({"campaign_id": campaign, "contacts": contacts})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["batch_id"].as_str().unwrap().to_owned()
}

/// Runs a campaign with a batch of `phones` to completion (the clock moves one hour): `(campaign, batch)`.
async fn run_campaign(app: &TestApp, phones: &[&str]) -> (String, String) {
    let c = campaign(app).await;
    let b = batch(app, &c, phones).await;
    app.advance(3600).await;
    let got = app.get(&format!("/api/v1/batches/{b}")).await;
    assert_eq!(got.body["status"], "completed", "the batch ran to its end: {}", got.text);
    (c, b)
}

/// `GET /api/v1/events{query}` with `token`.
async fn feed_as(app: &TestApp, token: &str, query: &str) -> Resp {
    app.call_as(token, Method::GET, &format!("/api/v1/events{query}"), None).await
}

/// `GET /api/v1/events{query}` with the bootstrap token.
async fn feed(app: &TestApp, query: &str) -> Resp {
    feed_as(app, TOKEN, query).await
}

/// The events `GET /api/v1/events{query}` answers (asserting a `200` and a bare array).
async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let r = feed(app, query).await;
    assert_eq!(r.status, 200, "GET /events{query}: {}", r.text);
    r.body.as_array().unwrap_or_else(|| panic!("GET /events{query} is not a list: {}", r.text)).clone()
}

/// Every retained event of the bootstrap organization, following `after` page by page.
async fn all_events(app: &TestApp) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let query = match all.last() {
            Some(e) => format!("?limit=1000&after={}", id(e)),
            None => "?limit=1000".to_owned(),
        };
        let page = events(app, &query).await;
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// An event's id.
fn id(event: &Value) -> String {
    event["event_id"].as_str().unwrap_or_else(|| panic!("no event_id in {event}")).to_owned()
}

/// The ids of events, in order.
fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(id).collect()
}

/// The events of one type, in order.
fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The organization a token belongs to.
async fn org_of(app: &TestApp, token: &str) -> String {
    let r = app.call_as(token, Method::GET, "/api/v1/api-tokens/validate-token", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["organization_id"].as_str().unwrap().to_owned()
}

/// The path of one webhook endpoint, with a suffix (`""`, `"/rotate-secret"`, …).
fn endpoint_path(id: &str, suffix: &str) -> String {
    format!("/api/v1/webhook-endpoints/{id}{suffix}")
}

/// Creates an endpoint (asserting `201`); returns the body, secret included.
async fn endpoint(app: &TestApp, url: &str, events: Value) -> Value {
    let r = app.post("/api/v1/webhook-endpoints", json!({"url": url, "events": events})).await;
    assert_eq!(r.status, 201, "POST /webhook-endpoints {url}: {}", r.text);
    r.body
}

/// An endpoint object's id.
fn endpoint_id(endpoint: &Value) -> String {
    endpoint["webhook_endpoint_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no webhook_endpoint_id in {endpoint}"))
        .to_owned()
}

/// An endpoint's secret, as creation or rotation shows it.
fn secret(endpoint: &Value) -> String {
    endpoint["secret"].as_str().unwrap_or_else(|| panic!("no secret in {endpoint}")).to_owned()
}

/// Adds `phone` to the organization's do-not-call list and returns the `suppression.added` event it wrote.
async fn suppress(app: &TestApp, phone: &str) -> Value {
    let r = app.post("/api/v1/suppressions", json!({"entries": [{"phone_number": phone, "reason": "test"}]})).await;
    assert_eq!((r.status, &r.body["added"]), (200, &json!(1)), "{}", r.text);
    let added = events(app, "?type=suppression.added&limit=1000").await;
    added
        .into_iter()
        .rev()
        .find(|e| e["data"]["phone_number"] == phone)
        .unwrap_or_else(|| panic!("no suppression.added event for {phone}"))
}

/// The tries `GET …/deliveries{query}` lists (asserting `200`) and its `X-Total-Count`.
async fn deliveries(app: &TestApp, endpoint: &str, query: &str) -> (Vec<Value>, i64) {
    let r = app.get(&endpoint_path(endpoint, &format!("/deliveries{query}"))).await;
    assert_eq!(r.status, 200, "GET deliveries{query}: {}", r.text);
    (r.body.as_array().unwrap_or_else(|| panic!("not a list: {}", r.text)).clone(), r.total_count())
}

/// The tries of `GET …/deliveries{query}` once it lists at least `n` (a try is logged just after its
/// answer arrives, so a receiver may see it a moment before the log does).
async fn logged_deliveries(app: &TestApp, endpoint: &str, query: &str, n: i64) -> Vec<Value> {
    let what = format!("the deliveries{query} of {endpoint} never listed {n} tries");
    eventually(&what, || async { deliveries(app, endpoint, query).await.1 >= n }).await;
    deliveries(app, endpoint, query).await.0
}

/// The top-level keys at which two objects differ, each with both values (`-` when absent).
fn differences(got: &Value, want: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (got.as_object().unwrap_or(&empty), want.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&Value>| v.map_or("-".to_owned(), Value::to_string);
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} instead of {}", show(a.get(k)), show(b.get(k))))
        .collect()
}

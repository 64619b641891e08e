//! Deliveries of many events at once: an endpoint's stream reads, sends and records them a chunk
//! of 500 at a time, with tries in flight across the chunks' edges. Every event arrives once when
//! nothing fails, and a receiver that fails a run of tries gets exactly those again.

use super::{DELIVERY, all_events, endpoint, endpoint_id, ids, local_app, logged_deliveries, of_type};
use crate::common::TestApp;
use crate::fakes::receiver::Receiver;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Adds `n` numbers to the do-not-call list in one request; the ids of the `suppression.added`
/// events, in order.
async fn suppress_many(app: &TestApp, n: usize) -> Vec<String> {
    let entries: Vec<Value> =
        (0..n).map(|i| json!({"phone_number": format!("+1415{:03}{:04}", 300 + i / 1000, 1000 + i % 1000)})).collect();
    let r = app.post("/api/v1/suppressions", json!({ "entries": entries })).await;
    assert_eq!((r.status, &r.body["added"]), (200, &json!(n)), "{}", r.text);
    let feed = all_events(app).await;
    let added: Vec<Value> = of_type(&feed, "suppression.added").into_iter().cloned().collect();
    assert_eq!(added.len(), n);
    ids(&added)
}

/// For each event id, the statuses its tries got, in arrival order.
fn answers_by_id(rx: &Receiver) -> BTreeMap<String, Vec<Option<u16>>> {
    let mut by_id: BTreeMap<String, Vec<Option<u16>>> = BTreeMap::new();
    for r in rx.requests() {
        by_id.entry(r.id.clone()).or_default().push(r.answered);
    }
    by_id
}

#[tokio::test]
async fn events_over_several_chunks_each_arrive_once_and_are_logged_once() {
    let app = local_app().await;
    let rx = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &rx.url(), json!(["suppression.added"])).await);
    let wanted: BTreeSet<String> = suppress_many(&app, 1_600).await.into_iter().collect();

    rx.wait_until("all 1,600 events", DELIVERY * 3, |r| {
        r.iter().map(|req| req.id.as_str()).collect::<BTreeSet<_>>().len() >= wanted.len()
    })
    .await;
    let by_id = answers_by_id(&rx);
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), wanted, "exactly the endpoint's events arrive");
    let again: Vec<_> = by_id.iter().filter(|(_, tries)| tries.len() != 1).collect();
    assert!(again.is_empty(), "with no failure, no event is sent twice: {again:?}");

    let log = logged_deliveries(&app, &ep, "?limit=100", 1_600).await;
    let (_, total) = super::deliveries(&app, &ep, "").await;
    assert_eq!(total, 1_600, "one logged try per event");
    assert!(log.iter().all(|t| t["attempt"] == 1 && t["status_code"] == 204), "{log:?}");
}

#[tokio::test]
async fn a_receiver_failing_a_run_of_tries_gets_exactly_those_again() {
    let app = local_app().await;
    let rx = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &rx.url(), json!(["suppression.added"])).await);
    // The first 20 tries to arrive fail: more than a stream takes in a row before it stops.
    rx.fail_next(20);
    let wanted: BTreeSet<String> = suppress_many(&app, 1_200).await.into_iter().collect();
    rx.wait_until("the 20 failed tries", DELIVERY, |r| r.iter().filter(|req| req.answered == Some(500)).count() >= 20)
        .await;
    let failed: BTreeSet<String> =
        answers_by_id(&rx).into_iter().filter(|(_, tries)| tries.contains(&Some(500))).map(|(id, _)| id).collect();
    assert_eq!(failed.len(), 20, "each failure is a different event");

    // The first retry is due 5 s (server clock) after a failure.
    app.advance(5).await;
    rx.wait_until("every event delivered", DELIVERY * 3, |r| {
        r.iter().filter(|req| req.answered == Some(204)).map(|req| req.id.as_str()).collect::<BTreeSet<_>>().len()
            >= wanted.len()
    })
    .await;
    let by_id = answers_by_id(&rx);
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), wanted);
    for (id, tries) in &by_id {
        let expected = if failed.contains(id) { vec![Some(500), Some(204)] } else { vec![Some(204)] };
        assert_eq!(tries, &expected, "the tries of {id}");
    }
    logged_deliveries(&app, &ep, "", 1_220).await;
    let (_, total) = super::deliveries(&app, &ep, "").await;
    assert_eq!(total, 1_220, "1,200 first tries and 20 retries are logged");
}

/// 600 calls end in one transaction: their 600 `call.ended` events come before their 600
/// `contact.finished`, several hundred events apart, over three of a stream's chunks. Each
/// `contact.finished` a receiver gets is the contact as the API shows it, its latest call included
/// (the call read for its `call.ended` chunks before, or read again).
#[tokio::test]
async fn a_contact_finished_chunks_after_its_call_ended_carries_its_call_as_the_api_shows_it() {
    let app = local_app().await;
    let rx = Receiver::start().await;
    endpoint(&app, &rx.url(), json!(["call.ended", "contact.finished"])).await;
    let body = json!({
        "name": "Many at once", "agent_id": "agent_1", "phone_numbers": ["+12025550123"],
        "retry_policy": {"max_retries": 0}, "metadata": {"concurrency_limit": 1000},
    });
    let c = app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned();
    // Completed calls (the last four digits script the outcome), all placed at once.
    let phones: Vec<String> = (0..600).map(|i| format!("+1415{:03}1000", 200 + i)).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let b = super::batch(&app, &c, &phones).await;
    app.advance(3600).await;

    let mut got = rx.wait_until("1,200 events", DELIVERY * 3, |r| r.len() >= 1_200).await;
    got.sort_by(|a, b| a.id.cmp(&b.id));
    let kinds: Vec<&str> = got.iter().map(|r| r.body["type"].as_str().unwrap_or_default()).collect();
    let first_finished = kinds.iter().position(|k| *k == "contact.finished").unwrap();
    assert!(first_finished >= 500, "the calls' ends come first, in more than a chunk: {first_finished}");
    let listed = app.get(&format!("/api/v1/batches/{b}/contacts?limit=1000")).await.body;
    let listed = listed.as_array().unwrap();
    let mut deviations = Vec::new();
    for r in got.iter().filter(|r| r.body["type"] == "contact.finished") {
        let data = &r.body["data"];
        let contact = listed.iter().find(|c| c["contact_id"] == data["contact_id"]).unwrap();
        assert!(contact["current_call"]["execution_id"].is_string(), "{contact}");
        deviations
            .extend(super::differences(data, contact).into_iter().map(|d| format!("{}: {d}", data["contact_id"])));
    }
    assert!(deviations.is_empty(), "{deviations:?}");
}

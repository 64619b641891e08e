//! Retries on the test clock: a failed delivery is tried again after 5 s, 5 min, 30 min, 2 h, 5 h,
//! 10 h and 10 h (never before), then the endpoint is disabled with an `endpoint.disabled` event; the
//! tries are listed; a receiver that recovers gets the event at the next retry; a 3xx is a failure;
//! an endpoint whose failed events are deleted takes new ones at once.

use super::{
    DELIVERY, MONDAY_10, PHONES, batch, campaign, endpoint, endpoint_id, endpoint_path, events, id, local_app,
    logged_deliveries, suppress,
};
use crate::common::{at, eventually};
use crate::fakes::receiver::Receiver;
use serde_json::{Value, json};
use std::time::Duration;

/// The waits between tries, in seconds.
const SCHEDULE: [i64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

fn attempts(tries: &[Value]) -> Vec<i64> {
    tries.iter().map(|t| t["attempt"].as_i64().unwrap_or(-1)).collect()
}

/// A server whose one endpoint (of `suppression.added`) answers `500`, an event, and its first try.
async fn failed_once() -> (crate::common::TestApp, Receiver, String, String) {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["suppression.added"])).await);
    let event = id(&suppress(&app, "+14155550100").await);
    receiver.wait_for_tries(&event, 1, DELIVERY).await;
    (app, receiver, ep, event)
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_on_the_schedule_then_disabled() {
    let (app, receiver, ep, event) = failed_once().await;

    app.advance(4).await;
    assert!(receiver.stays_quiet(Duration::from_millis(300)).await, "no retry 4 s after the first try");
    assert_eq!(receiver.count(), 1, "{:?}", receiver.requests());
    app.advance(1).await;
    receiver.wait_for_tries(&event, 2, DELIVERY).await;
    for (i, wait) in SCHEDULE.iter().enumerate().skip(1) {
        app.advance(*wait).await;
        let tries = receiver.wait_for_tries(&event, i + 2, DELIVERY).await;
        assert_eq!(tries.len(), i + 2, "one try after a wait of {wait} s: {tries:?}");
    }

    let path = endpoint_path(&ep, "");
    eventually("the endpoint was not disabled after its last try failed", || async {
        app.get(&path).await.body["disabled"] == json!(true)
    })
    .await;
    let now = app.get(&path).await.body;
    let disabled = events(&app, "?type=endpoint.disabled").await;
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0]["data"], now, "endpoint.disabled data is the endpoint object");
    assert!(now.get("secret").is_none(), "{now}");
    let mut offsets = vec![0];
    for wait in SCHEDULE {
        offsets.push(offsets.last().unwrap() + wait);
    }
    let last_try = at(MONDAY_10) + chrono::Duration::seconds(*offsets.last().unwrap());
    assert_eq!(at(disabled[0]["created_at"].as_str().unwrap()), last_try, "written when the last try failed");

    let tries = logged_deliveries(&app, &ep, "", 8).await;
    assert_eq!(attempts(&tries), vec![8, 7, 6, 5, 4, 3, 2, 1], "newest first: {tries:?}");
    for (t, offset) in tries.iter().rev().zip(&offsets) {
        let keys: BTreeKeys = t.as_object().unwrap().keys().cloned().collect();
        let expected = ["attempt", "attempted_at", "duration_ms", "error", "event_id", "status_code"];
        assert_eq!(keys, BTreeKeys::from(expected.map(String::from)), "{t}");
        assert_eq!((t["event_id"].as_str(), t["status_code"].as_i64()), (Some(event.as_str()), Some(500)), "{t}");
        assert!(t["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{t}");
        assert!(t["error"].is_null() || t["error"].is_string(), "{t}");
        let expected = at(MONDAY_10) + chrono::Duration::seconds(*offset);
        assert_eq!(at(t["attempted_at"].as_str().unwrap()), expected, "attempted_at on the test clock: {t}");
    }
    let (page, total) = super::deliveries(&app, &ep, "?skip=1&limit=2").await;
    assert_eq!((total, attempts(&page)), (8, vec![7, 6]), "{page:?}");
    let (mine, total) = super::deliveries(&app, &ep, &format!("?event_id={event}")).await;
    assert_eq!((total, mine.len()), (8, 8));
    let (none, total) = super::deliveries(&app, &ep, "?event_id=evt_00000000000fffff").await;
    assert_eq!((total, none), (0, vec![]));
}

type BTreeKeys = std::collections::BTreeSet<String>;

#[tokio::test]
async fn a_receiver_that_recovers_gets_the_event_at_the_next_retry_and_stays_enabled() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let first = id(&suppress(&app, "+14155550100").await);
    receiver.wait_for_tries(&first, 1, DELIVERY).await;
    // An event written while the endpoint fails waits; it is not lost.
    let second = id(&suppress(&app, "+14155550101").await);
    app.advance(5).await;
    receiver.wait_for_tries(&first, 2, DELIVERY).await;

    receiver.answer(204);
    app.advance(300).await;
    let tries = receiver.wait_for_tries(&first, 3, DELIVERY).await;
    assert_eq!(tries.iter().map(|t| t.answered).collect::<Vec<_>>(), [Some(500), Some(500), Some(204)]);
    receiver
        .wait_until("the second event, delivered once the receiver recovered", DELIVERY, |r| {
            r.iter().any(|req| req.id == second && req.answered == Some(204))
        })
        .await;
    assert_eq!(app.get(&endpoint_path(&ep, "")).await.body["disabled"], json!(false));
    let tries = logged_deliveries(&app, &ep, &format!("?event_id={first}"), 3).await;
    assert_eq!(tries.len(), 3, "{tries:?}");
    let codes: Vec<Option<i64>> = tries.iter().map(|t| t["status_code"].as_i64()).collect();
    assert_eq!((attempts(&tries), codes), (vec![3, 2, 1], vec![Some(204), Some(500), Some(500)]));
    assert_eq!(tries[0]["error"], Value::Null, "{:?}", tries[0]);
    assert_eq!(at(tries[0]["attempted_at"].as_str().unwrap()), at("2026-11-30T10:05:05Z"), "{:?}", tries[0]);
    assert!(events(&app, "?type=endpoint.disabled").await.is_empty());

    // Delivered events are not sent again at later retry times.
    let before = receiver.with_id(&first).len();
    app.advance(1800).await;
    let third = id(&suppress(&app, "+14155550102").await);
    receiver.wait_for_id(&third, DELIVERY).await;
    assert_eq!(receiver.with_id(&first).len(), before, "{:?}", receiver.requests());
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    receiver.answer(302);
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let event = id(&suppress(&app, "+14155550100").await);
    receiver.wait_for_tries(&event, 1, DELIVERY).await;
    app.advance(5).await;
    receiver.wait_for_tries(&event, 2, DELIVERY).await;
    assert!(receiver.requests().iter().all(|r| r.path == "/hook"), "the Location was not followed");
    let tries = logged_deliveries(&app, &ep, "", 2).await;
    assert_eq!(tries.last().unwrap()["status_code"], json!(302), "{tries:?}");
    assert_eq!(attempts(&tries), vec![2, 1], "{tries:?}");
}

/// A failing endpoint waits for nothing once its failed events go with their campaign: a new event
/// is sent at once, with no retry due (the clock does not move).
#[tokio::test]
async fn an_endpoint_whose_failed_events_went_with_their_campaign_gets_new_events_at_once() {
    let app = local_app().await;
    let rx = Receiver::start().await;
    rx.answer(500);
    let types = json!(["call.ended", "suppression.added"]);
    let ep = endpoint_id(&endpoint(&app, &rx.url(), types).await);
    let c = campaign(&app).await;
    // One contact, one call (no retries): one event, and once its failed try is recorded no other
    // try of the campaign's events can come after the deletion.
    batch(&app, &c, &PHONES[..1]).await;
    app.advance(3600).await;
    let failed = rx.wait_until("a failed try", DELIVERY, |r| r.iter().any(|req| req.answered == Some(500))).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    // Once its failed try is recorded, the endpoint's stream stops and leaves it to its retry.
    logged_deliveries(&app, &ep, "", 1).await;
    let r = app.delete(&format!("/api/v1/campaigns/{c}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    rx.answer(204);
    let added = suppress(&app, "+14155550100").await;
    rx.wait_for_id(&id(&added), DELIVERY).await;
    assert_eq!(rx.count(), 2, "the deleted event is not tried again: {:?}", rx.requests());
}

#[tokio::test]
async fn a_replay_asked_during_the_last_try_keeps_the_endpoint_enabled_and_is_sent() {
    let (app, receiver, ep, event) = failed_once().await;
    for (i, wait) in SCHEDULE.iter().enumerate() {
        if i == SCHEDULE.len() - 1 {
            // The last try is held open while the client asks for a replay of its event.
            receiver.hold();
        }
        app.advance(*wait).await;
        receiver.wait_for_tries(&event, i + 2, DELIVERY).await;
    }
    receiver.answer(204);
    let r = app.post(&endpoint_path(&ep, "/replay"), json!({"event_ids": [event]})).await;
    assert_eq!((r.status, &r.body), (202, &json!({"replayed": 1, "last_event_id": event})), "{}", r.text);
    receiver.release();
    let tries = receiver.wait_for_tries(&event, 9, DELIVERY).await;
    assert_eq!(tries.last().and_then(|t| t.answered), Some(204), "the replay is sent: {tries:?}");
    let endpoint = app.get(&endpoint_path(&ep, "")).await.body;
    assert_eq!(endpoint["disabled"], json!(false), "{endpoint}");
    assert!(events(&app, "?type=endpoint.disabled").await.is_empty());
}

/// A failing endpoint whose description alone is changed keeps waiting for its retries, and so does
/// a new event; given a URL (the receiver fixed or moved), it sends what waited at once.
#[tokio::test]
async fn only_a_new_url_or_an_enabling_ends_the_wait_of_a_failing_endpoint() {
    let (app, receiver, ep, _) = failed_once().await;
    receiver.answer(204);
    let r = app.patch(&endpoint_path(&ep, ""), json!({"description": "Billing"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = id(&suppress(&app, "+14155550101").await);
    assert!(receiver.stays_quiet(Duration::from_secs(1)).await, "sent while failing: {:?}", receiver.requests());
    let r = app.patch(&endpoint_path(&ep, ""), json!({"url": receiver.url()})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    receiver.wait_for_id(&second, DELIVERY).await;
}

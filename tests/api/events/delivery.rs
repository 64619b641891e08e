//! Deliveries: each event reaches the endpoints subscribed to it, signed (Standard Webhooks) with
//! `webhook-id` = `event_id` and the event JSON as the feed has it; secret rotation; re-enabling
//! resumes; a stuck endpoint never delays another; a change racing a rotation keeps its secret.

use super::{
    DELIVERY, PHONES, all_events, batch, campaign, differences, endpoint, endpoint_id, endpoint_path, id, ids,
    local_app, secret, suppress,
};
use crate::fakes::receiver::{Received, Receiver, sign, verifies};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Checks the transport of one delivery: method, content type, a real-time timestamp, a signature by `key`.
fn assert_signed(request: &Received, key: &str) {
    assert_eq!(request.method, "POST", "{request:?}");
    assert!(request.content_type.starts_with("application/json"), "{request:?}");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let sent: i64 = request.timestamp.parse().unwrap_or_else(|_| panic!("webhook-timestamp: {request:?}"));
    assert!((now - sent).abs() < 120, "webhook-timestamp is real Unix seconds, not the test clock: {request:?}");
    assert!(verifies(request, key), "the signature verifies with the endpoint's secret: {request:?}");
}

#[tokio::test]
async fn every_event_reaches_the_endpoints_subscribed_to_it_signed_and_as_the_feed_has_it() {
    let app = local_app().await;
    let (all_rx, calls_rx) = (Receiver::start().await, Receiver::start().await);
    let everything = endpoint(&app, &all_rx.url(), json!(["*"])).await;
    let calls_only = endpoint(&app, &calls_rx.url(), json!(["call.ended"])).await;
    let c = campaign(&app).await;
    batch(&app, &c, &PHONES).await;
    app.advance(3600).await;
    let feed = all_events(&app).await;
    assert!(feed.len() >= 10, "{feed:?}");

    let wanted: BTreeSet<String> = ids(&feed).into_iter().collect();
    let got = all_rx
        .wait_until("every event of the feed", DELIVERY, |r| {
            wanted.iter().all(|id| r.iter().any(|req| req.id == *id && req.answered == Some(204)))
        })
        .await;
    let mut differ = Vec::new();
    for request in &got {
        let event = feed.iter().find(|e| id(e) == request.id).unwrap_or_else(|| panic!("not in the feed: {request:?}"));
        if request.body != *event {
            let at = differences(&request.body["data"], &event["data"]);
            differ.push(format!("{} {} data (sent vs feed): {}", request.id, event["type"], at.join("; ")));
        }
        assert_eq!(request.path, "/hook");
        assert_signed(request, &secret(&everything));
    }

    let call_ids: BTreeSet<String> = feed.iter().filter(|e| e["type"] == "call.ended").map(id).collect();
    assert_eq!(call_ids.len(), PHONES.len());
    let got = calls_rx
        .wait_until("every call.ended event", DELIVERY, |r| call_ids.iter().all(|id| r.iter().any(|req| req.id == *id)))
        .await;
    for request in &got {
        assert_eq!(request.body["type"], "call.ended", "subscribed to call.ended only: {request:?}");
        assert_signed(request, &secret(&calls_only));
        assert!(!verifies(request, &secret(&everything)), "each endpoint has its own secret");
    }
    let tries = super::logged_deliveries(&app, &endpoint_id(&calls_only), "", PHONES.len() as i64).await;
    for t in &tries {
        assert_eq!((t["attempt"].as_i64(), t["status_code"].as_i64(), &t["error"]), (Some(1), Some(204), &json!(null)));
        assert!(call_ids.contains(t["event_id"].as_str().unwrap()) && t["duration_ms"].as_i64().is_some(), "{t}");
    }
    assert!(differ.is_empty(), "the body is the event as the feed returns it; these differ:\n{}", differ.join("\n"));
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let created = endpoint(&app, &receiver.url(), json!(["*"])).await;
    let (old, ep) = (secret(&created), endpoint_id(&created));
    let first = suppress(&app, "+14155550100").await;
    let got = receiver.wait_for_id(&id(&first), DELIVERY).await;
    assert_eq!(got.signatures().len(), 1, "one secret, one signature: {got:?}");
    assert_signed(&got, &old);

    let r = app.post(&endpoint_path(&ep, "/rotate-secret"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new = secret(&r.body);
    let both = |request: &Received| {
        let sigs: BTreeSet<String> = request.signatures().into_iter().collect();
        let expected: BTreeSet<String> =
            [&new, &old].iter().map(|key| sign(key, &request.id, &request.timestamp, &request.raw).unwrap()).collect();
        assert_eq!(
            (request.signatures().len(), sigs),
            (2, expected),
            "signed by the new and the old secret: {request:?}"
        );
    };
    let second = suppress(&app, "+14155550101").await;
    both(&receiver.wait_for_id(&id(&second), DELIVERY).await);

    app.advance(24 * 3600 - 1).await;
    let third = suppress(&app, "+14155550102").await;
    both(&receiver.wait_for_id(&id(&third), DELIVERY).await);

    app.advance(2).await;
    let fourth = suppress(&app, "+14155550103").await;
    let got = receiver.wait_for_id(&id(&fourth), DELIVERY).await;
    assert_eq!(got.signatures().len(), 1, "after 24 h only the new secret signs: {got:?}");
    assert_signed(&got, &new);
    assert!(!verifies(&got, &old), "{got:?}");
}

#[tokio::test]
async fn re_enabling_an_endpoint_resumes_delivery_where_it_stopped() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["suppression.added"])).await);
    let before = suppress(&app, "+14155550100").await;
    receiver.wait_for_id(&id(&before), DELIVERY).await;
    let r = app.patch(&endpoint_path(&ep, ""), json!({"disabled": true})).await;
    assert_eq!((r.status, &r.body["disabled"]), (200, &json!(true)), "{}", r.text);
    let while_off = suppress(&app, "+14155550101").await;
    let r = app.patch(&endpoint_path(&ep, ""), json!({"disabled": false})).await;
    assert_eq!((r.status, &r.body["disabled"]), (200, &json!(false)), "{}", r.text);
    let later = suppress(&app, "+14155550102").await;
    receiver.wait_for_id(&id(&while_off), DELIVERY).await;
    receiver.wait_for_id(&id(&later), DELIVERY).await;
    assert_eq!(receiver.with_id(&id(&before)).len(), 1, "{:?}", receiver.requests());
}

#[tokio::test]
async fn a_stuck_endpoint_does_not_delay_another() {
    let app = local_app().await;
    let (stuck, healthy) = (Receiver::start().await, Receiver::start().await);
    stuck.hang(true);
    endpoint(&app, &stuck.url(), json!(["*"])).await;
    endpoint(&app, &healthy.url(), json!(["*"])).await;

    let first = suppress(&app, "+14155550100").await;
    let from = Instant::now();
    stuck.wait_for_id(&id(&first), DELIVERY).await;
    healthy.wait_for_id(&id(&first), DELIVERY).await;
    // The stuck receiver now holds a request open (the sender waits up to 10 s); the healthy one
    // gets each new event promptly all the same.
    for phone in ["+14155550101", "+14155550102", "+14155550103"] {
        let asked = Instant::now();
        let event = suppress(&app, phone).await;
        let got = healthy.wait_for_id(&id(&event), Duration::from_secs(4)).await;
        let took = got.at.duration_since(asked);
        assert!(took < Duration::from_secs(3), "{phone}: the healthy endpoint waited {took:?}");
    }
    assert!(from.elapsed() < Duration::from_secs(9), "all this while the stuck request was still open");
    assert!(stuck.requests().iter().all(|r| r.answered.is_none()));
}

#[tokio::test]
async fn a_patch_at_the_moment_of_a_rotation_keeps_the_new_secret() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["suppression.added"])).await);
    let (path, rotate) = (endpoint_path(&ep, ""), endpoint_path(&ep, "/rotate-secret"));
    for round in 0..8 {
        let description = json!({"description": format!("round {round}")});
        let (patched, rotated) = tokio::join!(app.patch(&path, description), app.post(&rotate, json!({})));
        assert_eq!((patched.status, rotated.status), (200, 200), "{} {}", patched.text, rotated.text);
        let got =
            receiver.wait_for_id(&id(&suppress(&app, &format!("+1415555{:04}", 100 + round)).await), DELIVERY).await;
        assert!(verifies(&got, &secret(&rotated.body)), "round {round}: the rotation's secret signs: {got:?}");
    }
    let r = app.get(&path).await;
    assert_eq!(r.body["description"], json!("round 7"), "{}", r.text);
}

/// A change of an endpoint stops its stream before another try: the events not yet sent go out with
/// the new settings (here, to the new URL), none of them to the old one.
#[tokio::test]
async fn events_not_yet_sent_when_the_url_changes_go_to_the_new_url() {
    // The tries a stream keeps in flight.
    const IN_FLIGHT: usize = 32;
    let app = local_app().await;
    let (old, new) = (Receiver::start().await, Receiver::start().await);
    old.hold();
    let ep = endpoint_id(&endpoint(&app, &old.url(), json!(["suppression.added"])).await);
    let entries: Vec<_> = (0..40).map(|i| json!({"phone_number": format!("+1415555{}", 2000 + i)})).collect();
    let r = app.post("/api/v1/suppressions", json!({"entries": entries})).await;
    assert_eq!((r.status, &r.body["added"]), (200, &json!(40)), "{}", r.text);
    // The old receiver holds the stream's tries in flight; the other events of the chunk wait.
    old.wait_for_count(IN_FLIGHT, DELIVERY).await;
    let r = app.patch(&endpoint_path(&ep, ""), json!({"url": new.url()})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    old.release();
    let moved = new.wait_for_count(40 - IN_FLIGHT, DELIVERY).await;
    let sent: BTreeSet<String> = old.requests().into_iter().map(|r| r.id).collect();
    assert_eq!(sent.len(), IN_FLIGHT, "only the tries in flight at the change went to the old URL: {sent:?}");
    let moved: BTreeSet<String> = moved.into_iter().map(|r| r.id).collect();
    assert!(sent.is_disjoint(&moved), "{sent:?} {moved:?}");
    assert_eq!(sent.len() + moved.len(), 40);
}

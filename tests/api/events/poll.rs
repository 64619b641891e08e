//! The feed's long poll: `wait_seconds` answers as soon as a matching event commits (a non-matching one
//! does not end it), and `[]` when the wait ends with nothing new.

use super::{batch, campaign, feed, plain_app, suppress};
use crate::common::TOKEN;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_long_poll_returns_when_an_event_commits_and_empty_when_the_wait_ends() {
    let app = plain_app().await;
    let c = campaign(&app).await;
    batch(&app, &c, &["+14155551000"]).await;
    let last = feed(&app, "").await.header("x-last-event-id").expect("the campaign became active").to_owned();

    let (client, base) = (app.client.clone(), app.base.clone());
    let url = format!("{base}/api/v1/events?after={last}&type=campaign.updated&wait_seconds=10");
    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        let r = client.get(url).bearer_auth(TOKEN).send().await.expect("long poll sent");
        let status = r.status().as_u16();
        let last = r.headers().get("x-last-event-id").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
        (status, body, last, Instant::now())
    });

    // Meanwhile, with nothing happening, a 1 s poll waits its second and answers [].
    let idle_from = Instant::now();
    let r = feed(&app, &format!("?after={last}&wait_seconds=1")).await;
    let idle = idle_from.elapsed();
    assert_eq!((r.status, &r.body), (200, &json!([])), "{}", r.text);
    assert!(idle >= Duration::from_millis(900) && idle < Duration::from_secs(3), "wait_seconds=1 took {idle:?}");
    assert!(!waiting.is_finished(), "the 10 s poll is still waiting: nothing it asked for happened");

    // An event it does not ask for does not end it; the pause does, at once.
    suppress(&app, "+14155550100").await;
    let paused_from = Instant::now();
    let r = app.post(&format!("/api/v1/campaigns/{c}/pause"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, body, header, done) = tokio::time::timeout(Duration::from_secs(9), waiting)
        .await
        .expect("the long poll answered before its 10 s were up")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let got = body.as_array().unwrap_or_else(|| panic!("not a list: {body}"));
    assert_eq!(got.len(), 1, "only the campaign.updated event: {body}");
    assert_eq!(
        (got[0]["type"].as_str(), got[0]["data"]["status"].as_str()),
        (Some("campaign.updated"), Some("paused"))
    );
    assert!(header.is_some(), "X-Last-Event-Id on a long poll too");
    let woke = done.duration_since(paused_from);
    assert!(woke < Duration::from_secs(3), "answered {woke:?} after the commit");
    assert!(done.duration_since(started) < Duration::from_secs(8), "well before the 10 s wait");
}

#[tokio::test]
async fn a_long_poll_with_events_waiting_answers_at_once() {
    let app = plain_app().await;
    let first = suppress(&app, "+14155550100").await;
    suppress(&app, "+14155550101").await;
    let from = Instant::now();
    let r = feed(&app, &format!("?after={}&wait_seconds=30", first["event_id"].as_str().unwrap())).await;
    assert_eq!((r.status, r.body.as_array().map(Vec::len)), (200, Some(1)), "{}", r.text);
    assert!(from.elapsed() < Duration::from_secs(2), "no wait when an event is there: {:?}", from.elapsed());
}

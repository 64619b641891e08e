//! Replay: `POST …/{id}/replay` sends chosen events (by id, or `after < id <= until`) to the endpoint
//! again with the same `webhook-id`, only those it subscribes to and its organization's, 10,000 at a
//! time with where to go on from; bad bodies `422`; an endpoint deleted while its replay is made `404`.

use super::{DELIVERY, endpoint, endpoint_id, endpoint_path, id, local_app, logged_deliveries, secret, suppress};
use crate::fakes::receiver::{Receiver, verifies};
use reqwest::Method;
use serde_json::{Value, json};

/// Asks for a replay (asserting `202`); its answer without `last_event_id`, which is checked to be
/// null exactly when nothing was replayed.
async fn replay(app: &crate::common::TestApp, ep: &str, body: Value) -> Value {
    let mut got = replay_answer(app, ep, body).await;
    let last = got.as_object_mut().unwrap().remove("last_event_id").expect("last_event_id");
    assert_eq!(last.is_null(), got["replayed"] == 0, "{got} {last}");
    got
}

async fn replay_answer(app: &crate::common::TestApp, ep: &str, body: Value) -> Value {
    let r = app.post(&endpoint_path(ep, "/replay"), body.clone()).await;
    assert_eq!(r.status, 202, "replay {body}: {}", r.text);
    r.body
}

#[tokio::test]
async fn replay_sends_the_chosen_events_again_with_the_same_webhook_id() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let created = endpoint(&app, &receiver.url(), json!(["*"])).await;
    let ep = endpoint_id(&created);
    let mut sent = Vec::new();
    for phone in ["+14155550100", "+14155550101", "+14155550102", "+14155550103"] {
        sent.push(id(&suppress(&app, phone).await));
    }
    for e in &sent {
        receiver.wait_for_id(e, DELIVERY).await;
    }
    // Each replay below waits for the tries before it to be logged: a replay asked while a try of the
    // same event is still in flight is the subject of the next test.
    logged_deliveries(&app, &ep, "", 4).await;
    let first_body = |e: &str| receiver.with_id(e)[0].body.clone();

    assert_eq!(replay(&app, &ep, json!({"event_ids": [sent[0], sent[2]]})).await, json!({"replayed": 2}));
    for e in [&sent[0], &sent[2]] {
        let again = receiver.wait_for_tries(e, 2, DELIVERY).await;
        assert_eq!(again[1].body, first_body(e), "the same event");
        assert!(verifies(&again[1], &secret(&created)), "signed: {:?}", again[1]);
    }
    logged_deliveries(&app, &ep, "", 6).await;
    assert_eq!(replay(&app, &ep, json!({"after": sent[0], "until": sent[2]})).await, json!({"replayed": 2}));
    receiver.wait_for_tries(&sent[1], 2, DELIVERY).await;
    receiver.wait_for_tries(&sent[2], 3, DELIVERY).await;
    logged_deliveries(&app, &ep, "", 8).await;
    assert_eq!(replay(&app, &ep, json!({"after": sent[2]})).await, json!({"replayed": 1}));
    receiver.wait_for_tries(&sent[3], 2, DELIVERY).await;
    logged_deliveries(&app, &ep, "", 9).await;
    assert_eq!(replay(&app, &ep, json!({"until": sent[0]})).await, json!({"replayed": 1}));
    receiver.wait_for_tries(&sent[0], 3, DELIVERY).await;
    logged_deliveries(&app, &ep, "", 10).await;
    let counts: Vec<usize> = sent.iter().map(|e| receiver.with_id(e).len()).collect();
    assert_eq!(counts, [3, 2, 3, 2], "each replayed as asked: {:?}", receiver.requests());

    let tries = logged_deliveries(&app, &ep, &format!("?event_id={}", sent[2]), 3).await;
    let numbers: Vec<i64> = tries.iter().map(|t| t["attempt"].as_i64().unwrap_or(-1)).collect();
    assert_eq!(numbers, [3, 2, 1], "a replay is the next try of that event: {tries:?}");

    assert_eq!(replay(&app, &ep, json!({})).await, json!({"replayed": 4}), "no bounds: every event");
    for e in &sent {
        receiver.wait_for_tries(e, 3, DELIVERY).await;
    }
}

#[tokio::test]
async fn a_replay_asked_while_a_try_of_that_event_is_in_flight_is_sent_too() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let event = id(&suppress(&app, "+14155550100").await);
    receiver.wait_for_id(&event, DELIVERY).await;
    logged_deliveries(&app, &ep, "", 1).await;
    // The first replay's try is held open by the receiver while the client asks for another one.
    receiver.hold();
    assert_eq!(replay(&app, &ep, json!({"event_ids": [event]})).await, json!({"replayed": 1}));
    receiver.wait_for_tries(&event, 2, DELIVERY).await;
    assert_eq!(replay(&app, &ep, json!({"event_ids": [event]})).await, json!({"replayed": 1}));
    receiver.release();
    receiver.wait_for_tries(&event, 3, DELIVERY).await;
    let tries = logged_deliveries(&app, &ep, "", 3).await;
    assert!(tries.iter().all(|t| t["status_code"] == 204), "{tries:?}");
}

#[tokio::test]
async fn replay_sends_only_the_endpoints_own_events_and_refuses_bad_bodies() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let calls_only = endpoint_id(&endpoint(&app, &receiver.url(), json!(["call.ended"])).await);
    let event = id(&suppress(&app, "+14155550100").await);
    assert_eq!(replay(&app, &calls_only, json!({"event_ids": [event]})).await, json!({"replayed": 0}));
    assert_eq!(replay(&app, &calls_only, json!({})).await, json!({"replayed": 0}));

    let (_, other) = app.other_org();
    let body = json!({"url": receiver.url(), "events": ["*"]});
    let theirs = app.call_as(&other, Method::POST, "/api/v1/webhook-endpoints", Some(body)).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    let path = endpoint_path(&endpoint_id(&theirs.body), "/replay");
    let r = app.call_as(&other, Method::POST, &path, Some(json!({"event_ids": [event]}))).await;
    let nothing = json!({"replayed": 0, "last_event_id": null});
    assert_eq!((r.status, &r.body), (202, &nothing), "not another organization's events: {}", r.text);

    let everything = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let path = endpoint_path(&everything, "/replay");
    let r = app.call_as(&other, Method::POST, &path, Some(json!({"event_ids": [event]}))).await;
    assert_eq!(r.status, 404, "another organization cannot replay this endpoint's events: {}", r.text);
    let too_many: Vec<String> = (1..=1001).map(|n| format!("evt_{n:016x}")).collect();
    for (body, loc) in [
        (json!({"event_ids": ["nope"]}), "body.event_ids"),
        (json!({"event_ids": "evt_0000000000000001"}), "body.event_ids"),
        (json!({"event_ids": too_many}), "body.event_ids"),
        (json!({"after": "x"}), "body.after"),
        (json!({"until": 7}), "body.until"),
        (json!({"colour": "red"}), "body.colour"),
    ] {
        let r = app.post(&endpoint_path(&everything, "/replay"), body.clone()).await;
        assert_eq!(r.status, 422, "replay {}: {}", &body.to_string()[..60.min(body.to_string().len())], r.text);
        assert!(r.error_locs().iter().any(|l| l == loc || l.starts_with(&format!("{loc}."))), "{loc}: {}", r.text);
    }
}

#[tokio::test]
async fn a_long_range_is_replayed_10_000_events_at_a_time_from_where_the_last_stopped() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["suppression.added"])).await);
    let r = app.patch(&endpoint_path(&ep, ""), json!({"disabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = id(&suppress(&app, "+14155550100").await);
    let n = 10_050;
    let entries: Vec<Value> = (0..n).map(|i| json!({"phone_number": format!("+1415{:07}", 3_000_000 + i)})).collect();
    let r = app.post("/api/v1/suppressions", json!({ "entries": entries })).await;
    assert_eq!((r.status, &r.body["added"]), (200, &json!(n)), "{}", &r.text[..r.text.len().min(300)]);
    // At most 10,000 at once, the first of the range; the answer says where to go on from.
    let got = replay_answer(&app, &ep, json!({})).await;
    assert_eq!(got["replayed"], json!(10_000), "{got}");
    let last = got["last_event_id"].as_str().unwrap().to_owned();
    let all = super::all_events(&app).await;
    assert_eq!(id(&all[0]), first, "from the oldest kept");
    assert_eq!(last, id(&all[10_000 - 1]), "the 10,000th event kept");
    let got = replay_answer(&app, &ep, json!({"after": last})).await;
    let newest = id(all.last().unwrap());
    assert_eq!(got, json!({"replayed": n + 1 - 10_000, "last_event_id": newest}), "the rest");
    assert_eq!(replay(&app, &ep, json!({"after": newest})).await, json!({"replayed": 0}), "nothing after the newest");
    // Nothing was sent while the endpoint was off; deleting it drops the queued tries.
    let r = app.call(Method::DELETE, &endpoint_path(&ep, ""), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(receiver.requests().is_empty());
}

/// A replay asked while another transaction deletes its endpoint (PostgreSQL: a replica's, held
/// open until the replay waits for it) finds no endpoint, `404`, and leaves nothing behind. The
/// replay read the endpoint, then queued its events in a second statement, whose check of the
/// endpoint failed once the deletion committed: a `500`.
#[tokio::test]
async fn a_replay_that_comes_while_its_endpoint_is_deleted_finds_no_endpoint() {
    let app = crate::common::TestApp::start_postgres_with(|c| {
        c.events.allow_http_webhooks = true;
        c.events.allow_private_webhooks = true;
    })
    .await;
    let receiver = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let event = id(&suppress(&app, "+14155550100").await);
    receiver.wait_for_count(1, DELIVERY).await;
    let uuid = graine::domain::ids::EndpointId::parse(&ep).unwrap().uuid();
    // Another transaction holds the endpoint's row, as a deletion does until it commits.
    let mut deleting = app.db().await;
    let _: Vec<(i64,)> = deleting.rows("BEGIN").await;
    let locked = format!("SELECT CAST(1 AS BIGINT) FROM webhook_endpoints WHERE id = '{uuid}' FOR UPDATE");
    let _: Vec<(i64,)> = deleting.rows(&locked).await;
    let asked = app.request(Method::POST, &endpoint_path(&ep, "/replay")).json(&json!({"event_ids": [event]})).send();
    let delete = async {
        // Once the replay waits for the row, the deletion commits.
        let mut watch = app.db().await;
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                       AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO webhook_retries%'";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while watch.number(waiting).await == 0 {
            assert!(std::time::Instant::now() < deadline, "the replay never waited for the endpoint's row");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let gone = format!("DELETE FROM webhook_endpoints WHERE id = '{uuid}' RETURNING CAST(1 AS BIGINT)");
        let _: Vec<(i64,)> = deleting.rows(&gone).await;
        let _: Vec<(i64,)> = deleting.rows("COMMIT").await;
    };
    let (answer, ()) = tokio::join!(asked, delete);
    let answer = answer.unwrap();
    let status = answer.status().as_u16();
    assert_eq!(status, 404, "{}", answer.text().await.unwrap_or_default());
    let mut db = app.db().await;
    assert_eq!(db.number("SELECT count(*) FROM webhook_retries").await, 0);
}

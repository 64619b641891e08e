//! Webhook endpoints: create (secret shown once), list, get, patch, delete, rotate-secret; 404s,
//! the limit of 20 per organization, validation, and organization scoping.

use super::{deliveries, endpoint, endpoint_id, endpoint_path, local_app, secret};
use crate::common::{Resp, TOKEN};
use crate::fakes::receiver::Receiver;
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

/// Asserts a `422` with an item located at `loc` or inside it.
fn assert_refused_at(r: &Resp, loc: &str, what: &str) {
    assert_eq!(r.status, 422, "{what}: {}", r.text);
    assert!(r.error_locs().iter().any(|l| l == loc || l.starts_with(&format!("{loc}."))), "{what}: {}", r.text);
}

fn sorted(events: &Value) -> Vec<String> {
    let mut v: Vec<String> = events.as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn endpoints_are_created_read_patched_rotated_and_deleted() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let r = app
        .post(
            "/api/v1/webhook-endpoints",
            json!({"url": receiver.url(), "events": ["call.ended", "batch.updated"], "description": "CRM sync"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.body.clone();
    let id = endpoint_id(&created);
    assert!(id.starts_with("whe_"), "{created}");
    let key = secret(&created);
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.strip_prefix("whsec_").expect("whsec_ prefix"));
    assert!(decoded.is_ok_and(|k| k.len() >= 16), "the secret is whsec_ and base64 of a real key: {key}");
    assert_eq!(
        (created["url"].as_str(), sorted(&created["events"]), created["description"].as_str(), &created["disabled"]),
        (
            Some(&receiver.url()[..]),
            vec!["batch.updated".to_owned(), "call.ended".to_owned()],
            Some("CRM sync"),
            &json!(false)
        )
    );
    assert_eq!(created["created_at"], "2026-11-30T10:00:00Z", "on the test clock");

    let got = app.get(&endpoint_path(&id, "")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert!(got.body.get("secret").is_none(), "the secret is shown once: {}", got.text);
    let mut without_secret = created.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(got.body, without_secret);
    let mut keys: Vec<&String> = got.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "description", "disabled", "events", "url", "webhook_endpoint_id"]);

    app.advance(60).await;
    let second = endpoint(&app, &format!("{}/second", receiver.base), json!(["*"])).await;
    assert_eq!((&second["events"], &second["description"]), (&json!(["*"]), &Value::Null), "{second}");
    let list = app.get("/api/v1/webhook-endpoints").await;
    assert_eq!((list.status, list.total_count()), (200, 2), "{}", list.text);
    let listed: Vec<&str> =
        list.body.as_array().unwrap().iter().map(|e| e["webhook_endpoint_id"].as_str().unwrap()).collect();
    assert_eq!(listed, [id.as_str(), second["webhook_endpoint_id"].as_str().unwrap()], "oldest first");
    assert!(list.body.as_array().unwrap().iter().all(|e| e.get("secret").is_none()), "{}", list.text);
    assert_eq!(app.get("/api/v1/webhook-endpoints/").await.body, list.body, "the trailing slash works too");

    let patched =
        app.patch(&endpoint_path(&id, ""), json!({"events": ["contact.finished"], "description": "v2"})).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(
        (&patched.body["events"], patched.body["description"].as_str()),
        (&json!(["contact.finished"]), Some("v2"))
    );
    assert_eq!(patched.body["url"], json!(receiver.url()), "untouched fields stay");
    let patched = app.patch(&endpoint_path(&id, ""), json!({"disabled": true})).await;
    assert_eq!((patched.status, &patched.body["disabled"]), (200, &json!(true)), "{}", patched.text);
    let moved = format!("{}/moved", receiver.base);
    let patched = app.patch(&endpoint_path(&id, ""), json!({"url": moved, "disabled": false})).await;
    assert_eq!((patched.body["url"].as_str(), &patched.body["disabled"]), (Some(&moved[..]), &json!(false)));
    assert!(patched.body.get("secret").is_none(), "{}", patched.text);
    assert_eq!(app.get(&endpoint_path(&id, "")).await.body, patched.body);
    assert_eq!(patched.body["created_at"], created["created_at"]);
    for (body, loc) in [
        (json!({"events": []}), "body.events"),
        (json!({"events": ["call.started"]}), "body.events"),
        (json!({"events": "*"}), "body.events"),
        (json!({"disabled": "yes"}), "body.disabled"),
        (json!({"url": "not a url"}), "body.url"),
        (json!({"secret": "whsec_AAAA"}), "body.secret"),
    ] {
        assert_refused_at(&app.patch(&endpoint_path(&id, ""), body.clone()).await, loc, &format!("PATCH {body}"));
    }

    let rotated = app.post(&endpoint_path(&id, "/rotate-secret"), json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_key = secret(&rotated.body);
    assert!(new_key.starts_with("whsec_") && new_key != key, "a new secret: {new_key}");
    assert_eq!(rotated.body["webhook_endpoint_id"], json!(id));
    assert!(app.get(&endpoint_path(&id, "")).await.body.get("secret").is_none());
    assert_eq!(deliveries(&app, &id, "").await, (vec![], 0), "nothing was sent yet");

    let deleted = app.delete(&endpoint_path(&id, "")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(
        deleted.body,
        json!({"webhook_endpoint_id": id, "deleted": true, "message": "Webhook endpoint deleted successfully"})
    );
    let gone = app.get(&endpoint_path(&id, "")).await;
    assert_eq!((gone.status, gone.detail()), (404, "Webhook endpoint not found"), "{}", gone.text);
    assert_eq!(app.delete(&endpoint_path(&id, "")).await.status, 404);
    assert_eq!(app.get("/api/v1/webhook-endpoints").await.total_count(), 1);
}

#[tokio::test]
async fn unknown_ids_another_organizations_endpoints_and_bad_bodies_are_refused() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let mine = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let (_, other) = app.other_org();
    let unknown = "whe_00000000000000000000000000";
    for id in [unknown, "whe_nope", "nope", mine.as_str()] {
        let token = if id == mine { other.as_str() } else { TOKEN };
        for (method, suffix, body) in [
            (Method::GET, "", None),
            (Method::PATCH, "", Some(json!({"description": "x"}))),
            (Method::DELETE, "", None),
            (Method::POST, "/rotate-secret", Some(json!({}))),
            (Method::GET, "/deliveries", None),
            (Method::POST, "/replay", Some(json!({}))),
        ] {
            let r = app.call_as(token, method.clone(), &endpoint_path(id, suffix), body).await;
            assert_eq!(
                (r.status, r.detail()),
                (404, "Webhook endpoint not found"),
                "{method} {id}{suffix}: {}",
                r.text
            );
        }
    }
    let theirs = app.call_as(&other, Method::GET, "/api/v1/webhook-endpoints", None).await;
    assert_eq!((theirs.status, &theirs.body, theirs.total_count()), (200, &json!([]), 0), "{}", theirs.text);
    assert_eq!(app.get(&endpoint_path(&mine, "")).await.status, 200, "still mine");

    let url = receiver.url();
    for (body, loc) in [
        (json!({"url": url, "events": []}), "body.events"),
        (json!({"url": url, "events": ["call.started"]}), "body.events"),
        (json!({"url": url, "events": ["call.ended", "Call.Ended"]}), "body.events"),
        (json!({"url": url}), "body.events"),
        (json!({"events": ["*"]}), "body.url"),
        (json!({"url": "not a url", "events": ["*"]}), "body.url"),
        (json!({"url": "ftp://127.0.0.1/x", "events": ["*"]}), "body.url"),
        (json!({"url": url, "events": ["*"], "colour": "red"}), "body.colour"),
        (json!({"url": url, "events": ["*"], "description": 3}), "body.description"),
    ] {
        let r = app.post("/api/v1/webhook-endpoints", body.clone()).await;
        assert_refused_at(&r, loc, &format!("POST {body}"));
    }
    let r = app.send_raw(Method::POST, "/api/v1/webhook-endpoints", "{not json").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(app.get("/api/v1/webhook-endpoints").await.total_count(), 1, "nothing refused was stored");
}

#[tokio::test]
async fn an_organization_has_at_most_twenty_endpoints() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(endpoint_id(&endpoint(&app, &format!("{}/{i}", receiver.base), json!(["call.ended"])).await));
    }
    let r = app.post("/api/v1/webhook-endpoints", json!({"url": receiver.url(), "events": ["*"]})).await;
    assert_eq!(r.status, 409, "the 21st: {}", r.text);
    assert!(!r.detail().is_empty(), "{}", r.text);
    assert_eq!(app.get("/api/v1/webhook-endpoints").await.total_count(), 20);
    // The limit is per organization, and a deleted endpoint frees its place.
    let (_, other) = app.other_org();
    let body = json!({"url": receiver.url(), "events": ["*"]});
    let theirs = app.call_as(&other, Method::POST, "/api/v1/webhook-endpoints", Some(body.clone())).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    assert_eq!(app.delete(&endpoint_path(&ids[3], "")).await.status, 200);
    assert_eq!(app.post("/api/v1/webhook-endpoints", body).await.status, 201);
}

/// A try that comes back after its endpoint was deleted leaves nothing behind: the endpoint's tries
/// went with it, and the stream writes none after (a try without its endpoint is never pruned).
#[tokio::test]
async fn a_try_in_flight_when_its_endpoint_is_deleted_leaves_no_try_behind() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let id = endpoint_id(&endpoint(&app, &receiver.url(), json!(["call.ended"])).await);
    receiver.hold();
    super::run_campaign(&app, &super::PHONES[..1]).await;
    receiver.wait_for_count(1, super::DELIVERY).await;
    let r = app.delete(&endpoint_path(&id, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    receiver.release();
    // The stream records the try as soon as its answer comes (milliseconds); give it two seconds.
    let mut db = app.db().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let left = db.number("SELECT count(*) FROM webhook_attempts").await;
        assert_eq!(left, 0, "a try of the deleted endpoint was written after it");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

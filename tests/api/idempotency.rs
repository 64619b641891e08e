//! `Idempotency-Key` on POST (API.md §1): replay of the first response, per organization.

use crate::common::{Resp, TOKEN, TestApp, campaign_body, campaign_path, id_of};
use serde_json::{Value, json};

/// POSTs `body` to `path` as `token` with `Idempotency-Key: key`.
async fn post_with_key(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Resp {
    let req =
        app.client.post(format!("{}{path}", app.base)).bearer_auth(token).header("Idempotency-Key", key).json(body);
    app.send(req).await
}

fn is_replay(r: &Resp) -> bool {
    r.header("idempotent-replayed") == Some("true")
}

#[tokio::test]
async fn same_key_and_body_replays_the_first_response() {
    let app = TestApp::start().await;
    let body = campaign_body("Once");
    let first = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "key-1", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(!is_replay(&first), "the first response is not a replay");
    let second = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "key-1", &body).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body, first.body);
    assert!(is_replay(&second), "headers: {:?}", second.headers);
    assert!(second.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    assert!(second.header("x-request-id").is_some());
    let third = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "key-1", &body).await;
    assert_eq!((third.status, &third.body), (201, &first.body));
    assert!(is_replay(&third));

    let (items, total) = app.list_campaigns("").await;
    assert_eq!(total, 1, "only one campaign is created");
    assert_eq!(items[0], first.body);
}

#[tokio::test]
async fn same_key_with_a_different_body_is_422() {
    let app = TestApp::start().await;
    let first = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "key-2", &campaign_body("A")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let r = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "key-2", &campaign_body("B")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "string detail expected: {}", r.text);
    assert!(!is_replay(&r));
    // The same key on another route is another request too.
    let r = post_with_key(&app, TOKEN, &campaign_path(&id_of(&first.body), "/cancel"), "key-2", &json!({})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.body["detail"].is_string(), "{}", r.text);
    // The original still replays, and nothing else was created or changed.
    let again = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "key-2", &campaign_body("A")).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    assert_eq!(app.campaign_count().await, 1);
    assert_eq!(app.get(&campaign_path(&id_of(&first.body), "")).await.body["status"], "draft");
}

#[tokio::test]
async fn keys_are_per_organization() {
    let app = TestApp::start().await;
    let (org_b, token_b) = app.other_org();
    let body = campaign_body("Shared key");
    let a = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "shared", &body).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let b = post_with_key(&app, &token_b, "/api/v1/campaigns/", "shared", &body).await;
    assert_eq!(b.status, 201, "{}", b.text);
    assert!(!is_replay(&b), "another organization's key is not replayed");
    assert_ne!(b.body["campaign_id"], a.body["campaign_id"]);
    assert_eq!(b.body["organization_id"], org_b);
    assert_eq!(app.list_campaigns_as(TOKEN, "").await.1, 1);
    assert_eq!(app.list_campaigns_as(&token_b, "").await.1, 1);
    // Each organization replays its own.
    let b2 = post_with_key(&app, &token_b, "/api/v1/campaigns/", "shared", &body).await;
    assert_eq!(b2.body, b.body);
    assert!(is_replay(&b2));
}

#[tokio::test]
async fn a_validation_error_is_replayed_too() {
    let app = TestApp::start().await;
    let bad = json!({"name": "", "agent_id": "a", "phone_numbers": ["+11234567890"]});
    let first = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "bad-1", &bad).await;
    first.assert_invalid_at(&["body.name", "body.phone_numbers.0"]);
    let second = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "bad-1", &bad).await;
    assert_eq!(second.status, 422);
    assert_eq!(second.body, first.body);
    assert!(is_replay(&second));
    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn key_length_is_bounded() {
    let app = TestApp::start().await;
    let long = "k".repeat(256);
    let r = post_with_key(&app, TOKEN, "/api/v1/campaigns/", &long, &campaign_body("Long key")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(app.campaign_count().await, 0);
    let max = "k".repeat(255);
    let r = post_with_key(&app, TOKEN, "/api/v1/campaigns/", &max, &campaign_body("Max key")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = post_with_key(&app, TOKEN, "/api/v1/campaigns/", &max, &campaign_body("Max key")).await;
    assert!(is_replay(&r));
    assert_eq!(app.campaign_count().await, 1);
}

#[tokio::test]
async fn without_a_key_every_post_creates() {
    let app = TestApp::start().await;
    let body = campaign_body("Twice");
    let a = app.post("/api/v1/campaigns/", body.clone()).await;
    let b = app.post("/api/v1/campaigns/", body).await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.body["campaign_id"], b.body["campaign_id"]);
    assert!(!is_replay(&a) && !is_replay(&b));
    assert_eq!(app.campaign_count().await, 2);
}

#[tokio::test]
async fn lifecycle_actions_replay_and_unauthenticated_requests_do_not_claim_keys() {
    let app = TestApp::start().await;
    let id = id_of(&app.create_campaign(campaign_body("Act")).await);
    let path = campaign_path(&id, "/cancel");
    let first = post_with_key(&app, TOKEN, &path, "cancel-1", &json!({})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = post_with_key(&app, TOKEN, &path, "cancel-1", &json!({})).await;
    assert_eq!((second.status, &second.body), (200, &first.body));
    assert!(is_replay(&second));

    // A request without a valid token is refused and leaves the key free.
    let req = app
        .client
        .post(format!("{}/api/v1/campaigns/", app.base))
        .header("Idempotency-Key", "fresh")
        .json(&campaign_body("Anon"));
    let r = app.send(req).await;
    assert_eq!((r.status, r.detail()), (401, "Not authenticated"));
    let r = post_with_key(&app, TOKEN, "/api/v1/campaigns/", "fresh", &campaign_body("Authed")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!is_replay(&r));
}

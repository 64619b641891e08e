//! Conventions of API.md §1: auth, errors, request ids, trailing slashes, unknown routes.
//!
//! Authentication and bodies here; routes and responses in `routing`, hostile input in `robustness`.

use crate::common::{Resp, TOKEN, TestApp, campaign_body, campaign_path, id_of};
use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::json;

mod robustness;
mod routing;

/// Asserts a `401` with `detail` and a `WWW-Authenticate: Bearer` challenge.
fn assert_unauthorized(r: &Resp, detail: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(r.body, json!({ "detail": detail }), "{what}");
    let challenge = r.header("www-authenticate").unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
    assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
    assert!(r.header("x-request-id").is_some(), "{what}: no x-request-id");
}

/// Sends `GET /api/v1/campaigns/` with a raw Authorization header (or none).
async fn get_with_authorization(app: &TestApp, value: Option<&str>) -> Resp {
    let mut req = app.client.get(format!("{}/api/v1/campaigns/", app.base));
    if let Some(v) = value {
        req = req.header(AUTHORIZATION, v);
    }
    app.send(req).await
}

// ---------------------------------------------------------------- authentication

#[tokio::test]
async fn missing_and_unknown_tokens_are_rejected() {
    let app = TestApp::start().await;
    let r = app.call_as("", Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!((r.status, r.detail()), (401, "Not authenticated"));
    let r = app.call_as("gat_unknown_token_000000000000", Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid API token"));
}

#[tokio::test]
async fn malformed_authorization_headers_are_not_authenticated() {
    let app = TestApp::start().await;
    for value in [None, Some("Basic xyz"), Some("Bearer"), Some("Bearer "), Some(TOKEN), Some("Token gat_abc")] {
        let r = get_with_authorization(&app, value).await;
        assert_unauthorized(&r, "Not authenticated", &format!("{value:?}"));
    }
    for value in ["Bearer gat_unknown_token_000000000000", "Bearer nonsense", "Bearer gat_x"] {
        let r = get_with_authorization(&app, Some(value)).await;
        assert_unauthorized(&r, "Invalid API token", value);
    }
    // The scheme is case-insensitive (RFC 7235).
    let r = get_with_authorization(&app, Some(&format!("bearer {TOKEN}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Every /api/v1 route is protected, including writes, and nothing is created.
    for (method, path) in [
        (Method::POST, "/api/v1/campaigns/"),
        (Method::POST, "/api/v1/campaigns/create"),
        (Method::GET, "/api/v1/api-tokens/validate-token"),
        (Method::GET, "/api/v1/campaigns/cmp_00000000000000000000000000"),
        (Method::POST, "/api/v1/campaigns/cmp_00000000000000000000000000/pause"),
    ] {
        let r = app.call_as("", method.clone(), path, Some(campaign_body("Sneaky"))).await;
        assert_unauthorized(&r, "Not authenticated", &format!("{method} {path}"));
    }
    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn a_token_revoked_before_its_first_use_is_refused() {
    let app = TestApp::start().await;
    let (org, token) = app.other_org();
    let ids = app.token_ids_of(&org);
    assert_eq!(ids.len(), 1, "token list for {org}: {ids:?}");
    let out = app.cli(&["token", "revoke", &ids[0]]);
    assert!(out.contains(&ids[0]), "{out}");
    let r = app.call_as(&token, Method::GET, "/api/v1/api-tokens/validate-token", None).await;
    assert_unauthorized(&r, "Invalid API token", "revoked token");
}

#[tokio::test]
async fn a_revoked_token_is_refused_once_the_notice_arrives() {
    let app = TestApp::start().await;
    let (org, token) = app.other_org();
    // Used once, so any cache has it.
    let r = app.call_as(&token, Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids = app.token_ids_of(&org);
    assert_eq!(ids.len(), 1, "token list for {org}: {ids:?}");
    app.cli(&["token", "revoke", &ids[0]]);
    // Servers drop cached tokens when Postgres delivers the revocation notice, a moment after the
    // CLI commits: allow the notice that moment (a bounded number of requests, no sleeping), then
    // the token must stay refused.
    let mut refused = false;
    for _ in 0..2000 {
        let r = app.call_as(&token, Method::GET, "/api/v1/campaigns/", None).await;
        if r.status == 401 {
            assert_unauthorized(&r, "Invalid API token", "revoked token");
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "the revoked token was never refused");
    for _ in 0..5 {
        let r = app.call_as(&token, Method::GET, "/api/v1/campaigns/", None).await;
        assert_unauthorized(&r, "Invalid API token", "revoked token, later");
    }
    let listed = app.cli(&["token", "list", "--org", &org]);
    assert!(listed.contains("revoked"), "{listed}");
    // Other tokens keep working.
    assert_eq!(app.get("/api/v1/campaigns/").await.status, 200);
}

// ---------------------------------------------------------------- bodies

#[tokio::test]
async fn malformed_json_is_a_422_at_body() {
    let app = TestApp::start().await;
    for raw in [r#"{"name": "#, "{name: 1}", r#"{"a":1,}"#, "{\"a\":\"\\x\"}", "{} {}"] {
        let r = app.send_raw(Method::POST, "/api/v1/campaigns/", raw).await;
        assert_eq!(r.status, 422, "{raw:?}: {}", r.text);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body"]), "{raw:?}");
        assert_eq!(r.body["detail"][0]["type"], "json_invalid", "{raw:?}");
        assert!(r.body["detail"][0]["msg"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Invalid UTF-8.
    let r =
        app.send_raw(Method::POST, "/api/v1/campaigns/", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body"]));
    assert_eq!(app.campaign_count().await, 0);
}

#[tokio::test]
async fn non_object_and_empty_bodies_are_422() {
    let app = TestApp::start().await;
    for raw in ["[1, 2]", "\"campaign\"", "42", "null", "true"] {
        let r = app.send_raw(Method::POST, "/api/v1/campaigns/", raw).await;
        assert_eq!(r.status, 422, "{raw}: {}", r.text);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body"]), "{raw}");
    }
    for raw in ["", "   \n"] {
        let r = app.send_raw(Method::POST, "/api/v1/campaigns/", raw).await;
        assert_eq!(r.status, 422, "{raw:?}: {}", r.text);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body"]), "{raw:?}");
    }
    let id = id_of(&app.create_campaign(campaign_body("Patch me")).await);
    for raw in ["", "[]", "{"] {
        let r = app.send_raw(Method::PATCH, &campaign_path(&id, ""), raw).await;
        assert_eq!(r.status, 422, "PATCH {raw:?}: {}", r.text);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body"]), "PATCH {raw:?}");
    }
    assert_eq!(app.campaign_count().await, 1);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::start_with(|c| c.max_body_bytes = 2048).await;
    let mut body = campaign_body("Big");
    body["metadata"] = json!({"blob": "x".repeat(4096)});
    let r = app.post("/api/v1/campaigns/", body.clone()).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "JSON detail expected: {}", r.text);
    assert!(r.header("x-request-id").is_some());
    // With an Idempotency-Key too.
    let req = app.request(Method::POST, "/api/v1/campaigns/").header("Idempotency-Key", "big-1").json(&body);
    let r = app.send(req).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.body["detail"].is_string(), "{}", r.text);
    // A body under the limit still works.
    let small = app.post("/api/v1/campaigns/", campaign_body("Small")).await;
    assert_eq!(small.status, 201, "{}", small.text);
    assert_eq!(app.campaign_count().await, 1);
}

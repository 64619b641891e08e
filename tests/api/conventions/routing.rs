//! Routes, and what every response carries (API.md §1): unknown routes are 404 and wrong methods 405,
//! a trailing slash is optional and never redirects; every response has a request id, every
//! timestamp is RFC 3339 UTC with `Z`.

use crate::common::{TOKEN, TestApp, campaign_body, campaign_path, id_of, instant};
use reqwest::Method;
use serde_json::json;

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn unknown_routes_are_404_not_found() {
    let app = TestApp::start().await;
    for path in ["/api/v1/nope", "/nope", "/api/v2/campaigns/", "/api/v1/campaigns/x/y/z", "/", "/api/v1"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.body, json!({"detail": "Not Found"}), "{path}");
        assert!(r.header("x-request-id").is_some(), "{path}");
    }
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let app = TestApp::start().await;
    let id = id_of(&app.create_campaign(campaign_body("Methods")).await);
    let item = campaign_path(&id, "");
    let pause = campaign_path(&id, "/pause");
    let stats = campaign_path(&id, "/stats");
    for (method, path) in [
        (Method::PUT, "/api/v1/campaigns/"),
        (Method::DELETE, "/api/v1/campaigns"),
        (Method::PATCH, "/api/v1/campaigns/"),
        (Method::POST, item.as_str()),
        (Method::PUT, item.as_str()),
        (Method::GET, pause.as_str()),
        (Method::POST, stats.as_str()),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/api/v1/api-tokens/validate-token"),
    ] {
        let r = app.call(method.clone(), path, None).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        assert_eq!(r.body, json!({"detail": "Method Not Allowed"}), "{method} {path}");
    }
    // Nothing changed.
    assert_eq!(app.get(&item).await.body["status"], "draft");
}

#[tokio::test]
async fn trailing_slash_is_optional_and_never_redirects() {
    let app = TestApp::start().await;
    let r = app.send(app.request_no_redirect(Method::POST, "/api/v1/campaigns").json(&campaign_body("No slash"))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = id_of(&r.body);
    let r = app.send(app.request_no_redirect(Method::POST, "/api/v1/campaigns/").json(&campaign_body("Slash"))).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let with = app.send(app.request_no_redirect(Method::GET, "/api/v1/campaigns/")).await;
    let without = app.send(app.request_no_redirect(Method::GET, "/api/v1/campaigns")).await;
    assert_eq!((with.status, without.status), (200, 200));
    assert_eq!(with.body, without.body);
    assert_eq!(with.total_count(), 2);
    assert_eq!(without.total_count(), 2);

    let with = app.send(app.request_no_redirect(Method::GET, &format!("/api/v1/campaigns/{id}/"))).await;
    let without = app.send(app.request_no_redirect(Method::GET, &format!("/api/v1/campaigns/{id}"))).await;
    assert_eq!((with.status, without.status), (200, 200), "{} / {}", with.text, without.text);
    assert_eq!(with.body, without.body);
    let r = app
        .send(app.request_no_redirect(Method::PATCH, &format!("/api/v1/campaigns/{id}/")).json(&json!({"name": "S"})))
        .await;
    assert_eq!((r.status, r.body["name"].as_str()), (200, Some("S")), "{}", r.text);
    let r = app.send(app.request_no_redirect(Method::GET, &format!("/api/v1/campaigns/{id}/stats/"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.send(app.request_no_redirect(Method::POST, &format!("/api/v1/campaigns/{id}/cancel/"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.send(app.request_no_redirect(Method::DELETE, &format!("/api/v1/campaigns/{id}/"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ---------------------------------------------------------------- request ids and timestamps

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::start().await;
    let created = app.post("/api/v1/campaigns/", campaign_body("Ids")).await;
    let mut responses = vec![
        ("201", created),
        ("200", app.get("/api/v1/campaigns/").await),
        ("401", app.call_as("", Method::GET, "/api/v1/campaigns/", None).await),
        ("404 route", app.get("/api/v1/nothing-here").await),
        ("404 campaign", app.get("/api/v1/campaigns/cmp_nope").await),
        ("405", app.call(Method::PUT, "/api/v1/campaigns/", None).await),
        ("422", app.post("/api/v1/campaigns/", json!({})).await),
        ("healthz", app.call_as("", Method::GET, "/healthz", None).await),
    ];
    responses.push(("422 query", app.get("/api/v1/campaigns/?limit=0").await));
    let mut seen = std::collections::HashSet::new();
    for (what, r) in &responses {
        let id = r.header("x-request-id").unwrap_or_else(|| panic!("{what}: no x-request-id"));
        assert!(!id.is_empty(), "{what}");
        assert!(seen.insert(id.to_owned()), "{what}: request id {id} reused");
    }
    // Echoed when the client sends one, on success and on errors alike.
    for (method, path, token) in [
        (Method::GET, "/api/v1/campaigns/", TOKEN),
        (Method::GET, "/api/v1/campaigns/", ""),
        (Method::GET, "/api/v1/campaigns/cmp_nope", TOKEN),
        (Method::GET, "/nowhere", TOKEN),
        (Method::GET, "/healthz", ""),
    ] {
        let mut req =
            app.client.request(method.clone(), format!("{}{path}", app.base)).header("x-request-id", "trace-abc-123");
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        let r = app.send(req).await;
        assert_eq!(r.header("x-request-id"), Some("trace-abc-123"), "{method} {path}");
    }
}

#[tokio::test]
async fn timestamps_are_rfc3339_utc_with_z() {
    let app = TestApp::start().await;
    let c = app.create_campaign(campaign_body("Time")).await;
    let r = app.patch(&campaign_path(&id_of(&c), ""), json!({"name": "Time 2"})).await;
    for (what, v) in
        [("created_at", &c["created_at"]), ("updated_at", &c["updated_at"]), ("patched", &r.body["updated_at"])]
    {
        let text = v.as_str().unwrap_or_else(|| panic!("{what} is not a string: {v}"));
        assert!(text.ends_with('Z'), "{what}: {text}");
        let parsed = chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{what}: {text}: {e}"));
        assert_eq!(parsed.offset().local_minus_utc(), 0);
        let age = chrono::Utc::now().signed_duration_since(parsed);
        assert!(age.num_seconds().abs() < 60, "{what} is not now: {text}");
    }
    assert!(instant(&r.body["updated_at"]) >= instant(&c["created_at"]));
}

//! Conventions of API.md §1: auth, errors, request ids, trailing slashes, unknown routes.

use crate::common::{Resp, TOKEN, TestApp, campaign_body, campaign_path, id_of, instant};
use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::json;

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

// ---------------------------------------------------------------- robustness

#[tokio::test]
async fn path_ids_that_are_not_utf8_are_not_found() {
    let app = TestApp::start().await;
    for id in ["%FF%FE", "cmp_%C3", "cmp_0000000000000000000000000%FF"] {
        for (method, suffix) in
            [(Method::GET, ""), (Method::DELETE, ""), (Method::GET, "/stats"), (Method::POST, "/cancel")]
        {
            let r = app.call(method.clone(), &campaign_path(id, suffix), None).await;
            assert_eq!(r.status, 404, "{method} {id}{suffix}: {}", r.text);
            assert_eq!(r.body, json!({"detail": "Campaign not found"}), "{method} {id}{suffix}");
        }
    }
}

#[tokio::test]
async fn a_path_naming_nothing_is_not_found_before_its_body_is_read() {
    let app = TestApp::start().await;
    // A malformed body to a path that names nothing: the path answers first, and the body is never read.
    let r = app.call(Method::PATCH, &campaign_path("cmp_nope", ""), Some(json!(["not", "an", "object"]))).await;
    assert_eq!((r.status, r.body), (404, json!({"detail": "Campaign not found"})));
    let r = app.call(Method::GET, "/api/v1/batches/bat_nope/contacts?limit=0", None).await;
    assert_eq!((r.status, r.body), (404, json!({"detail": "Batch not found"})), "before the query's 422");
    let r = app.call(Method::GET, "/api/v1/campaigns/cmp_nope/batches?status=nope", None).await;
    assert_eq!((r.status, r.body), (404, json!({"detail": "Campaign not found"})));
}

#[tokio::test]
async fn no_input_produces_a_server_error() {
    let app = TestApp::start().await;
    let long = "x".repeat(300);
    let long_cmp = format!("cmp_{}", "z".repeat(300));
    let ids = [
        long.as_str(),
        long_cmp.as_str(),
        "cmp_%C3%A9%C3%A9%C3%A9",
        "%00",
        "cmp_%00%00",
        "%E2%9C%93",
        "..%2F..%2Fetc",
        "cmp_7zzzzzzzzzzzzzzzzzzzzzzzzz",
        "cmp_8zzzzzzzzzzzzzzzzzzzzzzzzz",
        "%20",
        "null",
        "-1",
    ];
    for id in ids {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::DELETE, ""),
            (Method::PATCH, ""),
            (Method::GET, "/stats"),
            (Method::POST, "/pause"),
            (Method::POST, "/cancel"),
        ] {
            let r = app.call(method.clone(), &campaign_path(id, suffix), Some(json!({"name": "x"}))).await;
            assert_eq!((r.status, r.detail()), (404, "Campaign not found"), "{method} {id}{suffix}: {}", r.text);
        }
    }
    // Odd query strings.
    for q in [
        "?limit=%FF",
        "?skip=99999999999999999999",
        "?limit=%00",
        "?status=%00",
        "?status=%E2%9C%93",
        "?skip=2147483647",
        "?organization_id=%00",
        "?a=%zz",
    ] {
        let r = app.get(&format!("/api/v1/campaigns/{q}")).await;
        assert!(r.status < 500, "{q}: {} {}", r.status, r.text);
        assert!(r.status == 200 || r.status == 422 || r.status == 403, "{q}: {} {}", r.status, r.text);
    }
    // Bodies Postgres cannot store as given (NUL characters), deep nesting, huge numbers.
    let mut nested = String::new();
    for _ in 0..5000 {
        nested.push('[');
    }
    for _ in 0..5000 {
        nested.push(']');
    }
    let deep =
        format!(r#"{{"name":"deep","agent_id":"a","phone_numbers":["+919876543210"],"metadata":{{"x":{nested}}}}}"#);
    let r = app.send_raw(Method::POST, "/api/v1/campaigns/", deep).await;
    assert_eq!(r.status, 422, "deep nesting: {}", r.text);
    let mut bodies = Vec::new();
    let mut b = campaign_body("nul \u{0} in name");
    bodies.push(("NUL in name", b.clone()));
    b = campaign_body("ok");
    b["metadata"] = json!({"note": "nul \u{0} here"});
    bodies.push(("NUL in metadata value", b.clone()));
    b = campaign_body("ok");
    b["default_call_variables"] = json!({"k\u{0}": "v"});
    bodies.push(("NUL in a variable name", b.clone()));
    b = campaign_body("ok");
    b["agent_id"] = json!("agent\u{0}");
    bodies.push(("NUL in agent_id", b.clone()));
    b = campaign_body("ok");
    b["retry_policy"] = json!({"max_retries": 1e300});
    bodies.push(("huge number", b.clone()));
    b = campaign_body("ok");
    b["metadata"] = json!({"concurrency_limit": 18446744073709551615_u64});
    bodies.push(("u64 max", b.clone()));
    b = campaign_body("ok");
    b["name"] = json!("\u{1F600} emoji name \u{202E} rtl");
    bodies.push(("emoji", b.clone()));
    let mut failures = Vec::new();
    for (what, body) in bodies {
        let r = app.post("/api/v1/campaigns/", body).await;
        if r.status != 201 && r.status != 422 {
            failures.push(format!("POST {what}: {} {}", r.status, r.text));
        }
    }
    let raw = r#"{"name":"x","agent_id":"a","phone_numbers":["+919876543210"],"metadata":{"n":1e999}}"#;
    let r = app.send_raw(Method::POST, "/api/v1/campaigns/", raw).await;
    if r.status != 201 && r.status != 422 {
        failures.push(format!("POST 1e999: {} {}", r.status, r.text));
    }
    // Whatever was stored comes back out.
    let r = app.get("/api/v1/campaigns/?limit=1000").await;
    if r.status != 200 {
        failures.push(format!("list after odd bodies: {} {}", r.status, r.text));
    }
    // PATCH with NUL characters too.
    let id = id_of(&app.create_campaign(campaign_body("patch nul")).await);
    for (what, patch) in [
        ("PATCH NUL in name", json!({"name": "a\u{0}b"})),
        ("PATCH NUL in metadata", json!({"metadata": {"x": "\u{0}"}})),
        ("PATCH NUL in a variable name", json!({"default_call_variables": {"\u{0}": 1}})),
    ] {
        let r = app.patch(&campaign_path(&id, ""), patch).await;
        if r.status != 200 && r.status != 422 {
            failures.push(format!("{what}: {} {}", r.status, r.text));
        }
    }
    assert!(failures.is_empty(), "bad input answered with a server error:\n{}", failures.join("\n"));
}

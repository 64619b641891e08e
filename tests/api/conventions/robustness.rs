//! Hostile input (API.md §1): path ids that are not UTF-8 or name nothing, odd query strings, and
//! bodies with NUL characters, deep nesting or huge numbers are answered 404 or 422, never a `5xx`.

use crate::common::{TestApp, campaign_body, campaign_path, id_of};
use reqwest::Method;
use serde_json::json;

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

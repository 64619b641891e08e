//! Operations (API.md §9): health, readiness, metrics, the OpenAPI document, and its sync with the router.

use crate::common::{TestApp, campaign_body, campaign_path, id_of};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn trim_path(path: &str) -> String {
    match path.trim_end_matches('/') {
        "" => "/".to_owned(),
        p => p.to_owned(),
    }
}

/// The OpenAPI document in the repository.
fn openapi_document() -> serde_yaml::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("openapi.yaml is readable");
    serde_yaml::from_str(&text).expect("openapi.yaml is valid YAML")
}

/// Every `(METHOD, path with trailing slash trimmed)` of the document's `paths`, with its operation.
fn documented_operations(doc: &serde_yaml::Value) -> Vec<(String, String, serde_yaml::Value)> {
    let paths = doc["paths"].as_mapping().expect("`paths` is a mapping");
    let mut out = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        let item = item.as_mapping().unwrap_or_else(|| panic!("{path} is not a mapping"));
        for (key, op) in item {
            let key = key.as_str().unwrap_or_default();
            if HTTP_METHODS.contains(&key) {
                out.push((key.to_uppercase(), trim_path(path), op.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::start().await;
    for token in ["", crate::common::TOKEN] {
        let r = app.call_as(token, Method::GET, "/healthz", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"status": "ok"}));
        let r = app.call_as(token, Method::GET, "/readyz", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"status": "ready"}));
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_route_labels() {
    let app = TestApp::start().await;
    let id = id_of(&app.create_campaign(campaign_body("Metered")).await);
    assert_eq!(app.get(&campaign_path(&id, "")).await.status, 200);
    assert_eq!(app.get(&campaign_path(&id, "")).await.status, 200);
    assert_eq!(app.get("/api/v1/this/path/does/not/exist/12345").await.status, 404);

    let r = app.call_as("", Method::GET, "/metrics", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = &r.text;
    assert!(text.contains("# TYPE graine_http_requests_total counter"), "{text}");
    assert!(text.contains("# TYPE graine_http_request_duration_seconds histogram"), "{text}");
    let labels = r#"method="GET",route="/api/v1/campaigns/{campaign_id}",status="200""#;
    assert!(text.contains(&format!("graine_http_requests_total{{{labels}}} 2")), "{text}");
    assert!(text.contains(&format!("graine_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 2")), "{text}");
    assert!(text.contains(&format!("graine_http_request_duration_seconds_count{{{labels}}} 2")), "{text}");
    // Raw paths never become labels (bounded cardinality).
    assert!(!text.contains(&id), "a campaign id leaked into a label");
    assert!(!text.contains("/does/not/exist"), "an unmatched path leaked into a label");
    // Every sample line parses as `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line: {line}");
        assert!(line.starts_with("graine_"), "unprefixed metric: {line}");
    }
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = TestApp::start().await;
    let r = app.call_as("", Method::GET, "/openapi.yaml", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap_or_default().contains("yaml"), "{:?}", r.headers);
    let served: serde_yaml::Value = serde_yaml::from_str(&r.text).expect("served document is YAML");
    assert_eq!(served, openapi_document(), "the served document is the repository's openapi.yaml");
    assert!(served["openapi"].as_str().unwrap_or_default().starts_with("3."), "openapi version");
    assert!(r.header("x-request-id").is_some());
}

#[test]
fn openapi_paths_match_the_router() {
    let doc = openapi_document();
    let documented: BTreeSet<(String, String)> =
        documented_operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let served: BTreeSet<(String, String)> =
        graine::http::route_table().into_iter().map(|(m, p)| (m.as_str().to_owned(), trim_path(p))).collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes served but not in openapi.yaml: {undocumented:?}; documented but not served: {unserved:?}"
    );
    assert!(!served.is_empty());
}

#[test]
fn every_operation_has_a_unique_operation_id() {
    let doc = openapi_document();
    let mut seen = BTreeSet::new();
    for (method, path, op) in documented_operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(!id.is_empty(), "{method} {path} has an empty operationId");
        assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
    }
}

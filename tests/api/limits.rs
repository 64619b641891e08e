//! Abuse limits: a per-token rate limit, the size of a request head, and clients too slow to send one.

use crate::common::{TOKEN, TestApp, campaign_body};
use reqwest::Method;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after() {
    let app = TestApp::start_with(|c| c.rate_limit = 3).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/campaigns/").await.status, 200);
    }
    let r = app.post("/api/v1/campaigns/", campaign_body("over the limit")).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry_after: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=20).contains(&retry_after), "one request comes back every 20 s: {retry_after}");
    assert_eq!(
        r.detail(),
        format!("Too many requests: the limit is 3 per minute per token; retry after {retry_after} s")
    );
    assert_eq!(app.db().await.number("SELECT count(*) FROM campaigns").await, 0, "the refused request did nothing");
    // Another token has its own allowance; routes without a token have none.
    let (_, other) = app.other_org();
    assert_eq!(app.call_as(&other, Method::GET, "/api/v1/campaigns/", None).await.status, 200);
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn without_a_rate_limit_nothing_is_refused() {
    let app = TestApp::start().await;
    for _ in 0..200 {
        assert_eq!(app.get("/api/v1/campaigns/").await.status, 200);
    }
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let app = TestApp::start_with(|c| c.max_header_bytes = 16 * 1024).await;
    let r = app.send(app.request(Method::GET, "/api/v1/campaigns/").header("x-padding", "a".repeat(20 * 1024))).await;
    assert_eq!(r.status, 431);
    let r = app.send(app.request(Method::GET, "/api/v1/campaigns/").header("x-padding", "a".repeat(8 * 1024))).await;
    assert_eq!(r.status, 200, "a head under the limit is served");
}

/// Opens a connection to the server and writes `bytes`; returns what the server sent back until it
/// closed the connection (at most 10 s).
async fn send_and_wait(app: &TestApp, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .unwrap_or_default();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_stalls_its_request_head_is_disconnected() {
    let app = TestApp::start_with(|c| c.client_timeout = 1).await;
    let answer = send_and_wait(&app, b"GET /api/v1/campaigns/ HTTP/1.1\r\nHost: graine\r\n").await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.get("/healthz").await.status, 200, "the server still serves others");
}

#[tokio::test]
async fn a_request_body_that_stalls_gets_408() {
    let app = TestApp::start_with(|c| c.client_timeout = 1).await;
    let head = format!(
        "POST /api/v1/campaigns/ HTTP/1.1\r\nHost: graine\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"name\": "
    );
    let answer = send_and_wait(&app, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.ends_with(r#"{"detail":"Request body was not received in time"}"#), "{answer}");
    assert_eq!(app.campaign_count().await, 0);
}

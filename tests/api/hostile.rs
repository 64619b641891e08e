//! Hostile clients: credentials are judged before a body is read, a signature check costs one MAC,
//! failed authentication is limited per client address, and the test clock's routes do not exist
//! without the test clock (API.md §1, §8, §11).

use crate::common::{TOKEN, TestApp};
use graine::signing::Secret;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CALLBACK: &str = "/api/v1/webhooks/call-status";

async fn server() -> TestApp {
    TestApp::start_with(|c| c.webhook_secret = Some(SECRET.into())).await
}

/// Writes a request head announcing a body of `length` bytes, sends none of it, and returns the
/// response head the server sends meanwhile (failing if none comes within 5 s).
async fn answer_without_body(app: &TestApp, path: &str, headers: &[(&str, String)], length: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: graine\r\nContent-Type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {length}\r\nConnection: close\r\n\r\n"));
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the server waited for a body it should have refused unread");
    String::from_utf8_lossy(&answer).into_owned()
}

fn signed_headers(stamp: i64, signature: String) -> Vec<(&'static str, String)> {
    vec![("webhook-id", "msg_1".into()), ("webhook-timestamp", stamp.to_string()), ("webhook-signature", signature)]
}

#[tokio::test]
async fn a_callback_with_stale_or_too_many_signatures_is_refused_before_its_body_is_read() {
    let app = server().await;
    let now = chrono::Utc::now().timestamp();
    let secret = Secret::parse(SECRET).unwrap();
    let stale = signed_headers(now - 600, secret.sign("msg_1", now - 600, b"{}"));
    let answer = answer_without_body(&app, CALLBACK, &stale, 1 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let many = signed_headers(now, ["v1,"; 16_000].join(" "));
    let answer = answer_without_body(&app, CALLBACK, &many, 1 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let too_large = signed_headers(now, secret.sign("msg_1", now, b"{}"));
    let answer = answer_without_body(&app, CALLBACK, &too_large, (1 << 20) + 1).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "a declared body over 1 MiB is refused unread: {answer}");
    // Bearer routes judge the token first too.
    let bad_token = vec![("Authorization", "Bearer gat_not_a_real_token_000000".to_owned())];
    let answer = answer_without_body(&app, "/api/v1/batches/", &bad_token, 1 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

/// Sends a callback body with the given signature headers.
async fn callback(app: &TestApp, stamp: &str, signature: &str, body: Vec<u8>) -> crate::common::Resp {
    let req = app
        .client
        .post(format!("{}{CALLBACK}", app.base))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", stamp)
        .header("webhook-signature", signature)
        .body(body);
    app.send(req).await
}

#[tokio::test]
async fn a_callback_carries_at_most_ten_signatures_and_one_mebibyte_signed_over_the_timestamp_as_sent() {
    let app = server().await;
    let secret = Secret::parse(SECRET).unwrap();
    let body =
        serde_json::to_vec(&json!({"execution_id": "exec_00000000000000000000000000", "call_status": "busy"})).unwrap();
    let now = chrono::Utc::now().timestamp();
    let valid = secret.sign("msg_1", now, &body);
    let stamp = now.to_string();
    let ten = format!("{} {valid}", ["v1,AAAA"; 9].join(" "));
    assert_eq!(callback(&app, &stamp, &ten, body.clone()).await.status, 200, "ten signatures, one valid");
    let eleven = format!("{} {valid}", ["v1,AAAA"; 10].join(" "));
    let r = callback(&app, &stamp, &eleven, body.clone()).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid webhook signature"), "eleven are refused");
    // The MAC covers the timestamp exactly as written, leading zero included.
    let padded = format!("0{now}");
    let signed_as_sent = sign_raw(&padded, &body);
    assert_eq!(callback(&app, &padded, &signed_as_sent, body.clone()).await.status, 200);
    assert_eq!(callback(&app, &stamp, &signed_as_sent, body.clone()).await.status, 401);
    // Over 1 MiB, even correctly signed: 413.
    let mut big = json!({"execution_id": "exec_00000000000000000000000000", "call_status": "busy"});
    big["padding"] = json!("a".repeat(1 << 20));
    let big = serde_json::to_vec(&big).unwrap();
    let r = callback(&app, &stamp, &secret.sign("msg_1", now, &big), big).await;
    assert_eq!(r.status, 413, "{}", r.text);
}

/// A Standard Webhooks signature over `msg_1.<stamp>.<body>` with `stamp` as written.
fn sign_raw(stamp: &str, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let key = base64::engine::general_purpose::STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("msg_1.{stamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn repeated_failed_authentication_from_one_address_gets_429_before_any_token_lookup() {
    let app = TestApp::start_with(|c| {
        c.auth_failure_limit = 5;
        c.webhook_secret = Some(SECRET.into());
    })
    .await;
    let (_, other) = app.other_org();
    // A token verified before the failures stays served from memory.
    assert_eq!(app.get("/api/v1/campaigns/").await.status, 200);
    for i in 0..5 {
        let token = format!("gat_random_token_{i:020}");
        let r = app.call_as(&token, Method::GET, "/api/v1/campaigns/", None).await;
        assert_eq!((r.status, r.detail()), (401, "Invalid API token"));
    }
    let r = app.call_as("gat_random_token_99999999999999999999", Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry_after: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=12).contains(&retry_after), "one failure comes back every 12 s: {retry_after}");
    assert!(r.detail().starts_with("Too many failed authentication attempts from this address"), "{}", r.text);
    // A valid token nobody has used yet would need a lookup: refused without one.
    let r = app.call_as(&other, Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!(r.status, 429, "the limited address gets no database lookup: {}", r.text);
    assert_eq!(app.call_as("", Method::GET, "/api/v1/campaigns/", None).await.status, 429);
    let r = callback(&app, "1", "v1,AAAA", b"{}".to_vec()).await;
    assert_eq!(r.status, 429, "callbacks count the same address");
    assert_eq!(app.get("/api/v1/campaigns/").await.status, 200, "the verified token still works");
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn without_the_test_clock_its_routes_do_not_exist_with_or_without_a_token() {
    let app = TestApp::start().await;
    for token in ["", TOKEN, "gat_random_token_00000000000000000000"] {
        let r = app.call_as(token, Method::GET, "/api/v1/test/clock", None).await;
        assert_eq!((r.status, r.detail()), (404, "Not Found"), "token {token:?}");
        let r = app.call_as(token, Method::POST, "/api/v1/test/clock", Some(json!({"advance_seconds": 1}))).await;
        assert_eq!((r.status, r.detail()), (404, "Not Found"), "token {token:?}");
        let mut req = app.client.post(format!("{}/api/v1/test/clock", app.base)).header("idempotency-key", "k1");
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        assert_eq!(app.send(req.json(&json!({"advance_seconds": 1}))).await.status, 404, "token {token:?}");
    }
}

//! Endpoint URLs that could reach inside the server's network are refused (`422`): plain `http://`
//! unless `--allow-http-webhooks`, private, loopback, link-local, unspecified and multicast hosts unless
//! `--allow-private-webhooks`; on create and on PATCH alike. (Public names need DNS, so only a public
//! IP literal is used for acceptance.)

use super::{DELIVERY, MONDAY_10, PHONES, endpoint, endpoint_id, endpoint_path, local_app, run_campaign};
use crate::common::{Resp, TestApp, eventually};
use crate::fakes::receiver::Receiver;
use serde_json::json;

/// A public address (no DNS needed); nothing is ever sent to it here.
const PUBLIC: &str = "93.184.215.14";

/// Hosts that are, or resolve to, addresses an endpoint may not reach by default.
const INSIDE: [&str; 16] = [
    "https://127.0.0.1/hook",
    "https://127.0.0.1:8443/hook",
    "https://127.8.9.10/hook",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fd00::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://localhost/",
    "https://localhost:9443/hook",
];

fn assert_url_refused(r: &Resp, what: &str) {
    assert_eq!(r.status, 422, "{what}: {}", r.text);
    assert!(r.error_locs().iter().any(|l| l == "body.url"), "{what}: the error names body.url: {}", r.text);
}

async fn create(app: &TestApp, url: &str) -> Resp {
    app.post("/api/v1/webhook-endpoints", json!({"url": url, "events": ["*"]})).await
}

#[tokio::test]
async fn by_default_only_https_to_public_addresses_is_accepted() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let receiver = Receiver::start().await;
    for url in [format!("http://{PUBLIC}/hook"), receiver.url()] {
        assert_url_refused(&create(&app, &url).await, &format!("POST {url} without --allow-http-webhooks"));
    }
    for url in INSIDE {
        assert_url_refused(&create(&app, url).await, &format!("POST {url} without --allow-private-webhooks"));
    }
    assert_eq!(app.get("/api/v1/webhook-endpoints").await.total_count(), 0, "nothing refused was stored");

    let public = format!("https://{PUBLIC}/hook");
    let id = endpoint_id(&endpoint(&app, &public, json!(["*"])).await);
    for url in [format!("http://{PUBLIC}/hook")].iter().map(String::as_str).chain(INSIDE) {
        let r = app.patch(&endpoint_path(&id, ""), json!({"url": url})).await;
        assert_url_refused(&r, &format!("PATCH url {url}"));
    }
    assert_eq!(app.get(&endpoint_path(&id, "")).await.body["url"], json!(public), "the URL is unchanged");
}

#[tokio::test]
async fn allowing_http_does_not_allow_private_hosts() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.events.allow_http_webhooks = true).await;
    let receiver = Receiver::start().await;
    for url in [receiver.url(), "http://localhost/hook".to_owned(), "http://10.1.2.3/".to_owned()] {
        assert_url_refused(&create(&app, &url).await, &format!("POST {url} without --allow-private-webhooks"));
    }
    for url in INSIDE {
        assert_url_refused(&create(&app, url).await, &format!("POST {url} without --allow-private-webhooks"));
    }
    endpoint(&app, &format!("http://{PUBLIC}/hook"), json!(["*"])).await;
    endpoint(&app, &format!("https://{PUBLIC}/hook"), json!(["*"])).await;
}

#[tokio::test]
async fn allowing_private_hosts_does_not_allow_http() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.events.allow_private_webhooks = true).await;
    let receiver = Receiver::start().await;
    assert_url_refused(&create(&app, &receiver.url()).await, "POST http:// without --allow-http-webhooks");
    endpoint(&app, "https://127.0.0.1:8443/hook", json!(["*"])).await;
    endpoint(&app, "https://10.0.0.1/", json!(["*"])).await;
}

#[tokio::test]
async fn with_both_flags_a_local_http_receiver_is_accepted() {
    let app = TestApp::with_clock(MONDAY_10, |c| {
        c.events.allow_http_webhooks = true;
        c.events.allow_private_webhooks = true;
    })
    .await;
    let receiver = Receiver::start().await;
    let created = endpoint(&app, &receiver.url(), json!(["*"])).await;
    assert_eq!(created["url"], json!(receiver.url()));
    assert_url_refused(&create(&app, "ftp://127.0.0.1/hook").await, "POST ftp://");
}

/// A name is judged by its addresses at every lookup while sending, not only when it is saved: an
/// endpoint saved as `localhost` by a server with `--allow-private-webhooks` is sent to by that
/// server, and gets nothing from a server on the same database without the flag, whose tries say why.
#[tokio::test]
async fn a_name_is_judged_again_by_its_addresses_when_sending() {
    let app = local_app().await;
    let receiver = Receiver::start().await;
    let url = receiver.url().replace("127.0.0.1", "localhost");
    assert_ne!(url, receiver.url(), "the receiver's URL names its host by address");
    let id = endpoint_id(&endpoint(&app, &url, json!(["call.ended"])).await);
    run_campaign(&app, &PHONES[..1]).await;
    receiver.wait_for_count(1, DELIVERY).await;
    let database_url = app.database_url.clone();
    app.stop().await;

    let strict = TestApp::start_on(&database_url, |c| {
        c.test_clock = true;
        c.clock_start = Some(crate::common::at(MONDAY_10));
        c.events.allow_http_webhooks = true;
        c.simulated_call_seconds = 30;
    })
    .await;
    run_campaign(&strict, &PHONES[..1]).await;
    let path = endpoint_path(&id, "/deliveries");
    let refused = |tries: &Resp| {
        tries.body.as_array().is_some_and(|all| {
            all.iter()
                .any(|t| t["status_code"].is_null() && t["error"].as_str().is_some_and(|e| e.contains("localhost")))
        })
    };
    eventually("a try refused at its lookup", || async { refused(&strict.get(&path).await) }).await;
    assert_eq!(receiver.count(), 1, "nothing more reached the receiver: {:?}", strict.get(&path).await.text);
}

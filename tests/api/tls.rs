//! Outbound HTTPS: the http placer reaches telephony over TLS, trusting the system's authorities
//! plus `--extra-ca-certs`, against a local server whose certificate the test generates.

use crate::common::TestApp;
use crate::telephony::{MONDAY_10, SECRET, Stub, contact, setup, stub_app};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_rustls::rustls;

#[path = "../support/authority.rs"]
mod authority;

fn authority_and_server() -> (PathBuf, rustls::ServerConfig) {
    authority::authority_and_server("Graine test authority")
}

/// The telephony stub served over HTTPS; returns it and its URL.
async fn start_tls_stub(config: rustls::ServerConfig) -> (Stub, String) {
    let (stub, app) = stub_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/calls", listener.local_addr().unwrap());
    serve_tls(listener, app, config);
    (stub, url)
}

/// Serves `app` over TLS on `listener`.
fn serve_tls(listener: tokio::net::TcpListener, app: axum::Router, config: rustls::ServerConfig) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let io = hyper_util::rt::TokioIo::new(tls);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
}

#[tokio::test]
async fn webhooks_go_over_https_to_a_receiver_signed_by_an_extra_authority_and_nowhere_else() {
    let (ca_file, config) = authority_and_server();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (receiver, app) =
        crate::fakes::receiver::Receiver::unserved(format!("https://{}", listener.local_addr().unwrap()));
    serve_tls(listener, app, config);
    for trusted in [true, false] {
        let app = TestApp::with_clock(MONDAY_10, |c| {
            // https://, on 127.0.0.1: only private addresses need allowing.
            c.events.allow_private_webhooks = true;
            c.extra_ca_certs = trusted.then(|| ca_file.clone());
        })
        .await;
        let r = app.post("/api/v1/webhook-endpoints", json!({"url": receiver.url(), "events": ["*"]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let path = format!("/api/v1/webhook-endpoints/{}/deliveries", r.body["webhook_endpoint_id"].as_str().unwrap());
        let before = receiver.count();
        let added = app.post("/api/v1/suppressions", json!({"entries": [{"phone_number": "+14155550100"}]})).await;
        assert_eq!(added.status, 200, "{}", added.text);
        crate::common::eventually("the try is logged", || async { app.get(&path).await.total_count() >= 1 }).await;
        let tried = app.get(&path).await.body[0].clone();
        if trusted {
            assert_eq!(tried["status_code"], 204, "{tried}");
            assert_eq!(receiver.count(), before + 1);
        } else {
            assert!(tried["status_code"].is_null() && tried["error"].is_string(), "{tried}");
            assert_eq!(receiver.count(), before, "a receiver whose certificate is not trusted gets nothing");
        }
    }
}

async fn server(url: &str, ca: Option<PathBuf>) -> TestApp {
    let url = url.to_owned();
    TestApp::with_clock(MONDAY_10, move |c| {
        c.telephony = graine::config::Telephony::Http;
        c.telephony_url = Some(url);
        c.webhook_secret = Some(SECRET.into());
        c.extra_ca_certs = ca;
    })
    .await
}

#[tokio::test]
async fn calls_are_placed_over_https_to_a_server_signed_by_an_extra_authority() {
    let (ca, config) = authority_and_server();
    let (stub, url) = start_tls_stub(config).await;
    let app = server(&url, Some(ca)).await;
    let (_, batch) = setup(&app, &["+14155551234"], json!({})).await;
    let placed = stub.placed.lock().unwrap().clone();
    assert_eq!(placed.len(), 1, "the call went through TLS");
    assert_eq!(placed[0]["to_number"], "+14155551234");
    assert_eq!(contact(&app, &batch).await["status"], "in_progress");
}

#[tokio::test]
async fn a_server_whose_authority_is_not_trusted_gets_no_call_and_costs_no_attempt() {
    let (_, config) = authority_and_server();
    let (stub, url) = start_tls_stub(config).await;
    let app = server(&url, None).await;
    let (_, batch) = setup(&app, &["+14155551234"], json!({})).await;
    assert!(stub.placed.lock().unwrap().is_empty(), "nothing reached an untrusted server");
    let c = contact(&app, &batch).await;
    assert_eq!((c["status"].as_str(), c["retry_count"].as_i64()), (Some("pending"), Some(0)), "{c}");
}

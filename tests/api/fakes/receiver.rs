//! Fake customer webhook receiver: records every request, answers as scripted (a status, failures, or
//! never), verifies Standard Webhooks signatures, and lets a test wait for arrivals without sleeping.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One request as received, recorded on arrival (before it is answered).
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` and `content-type` ("" when absent).
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    /// The body as sent, and as JSON (`Value::Null` when it is not JSON).
    pub raw: String,
    pub body: Value,
    /// When it arrived (real time).
    pub at: Instant,
    /// The status it was answered with; `None` when it is held open.
    pub answered: Option<u16>,
}

impl Received {
    /// The base64 signatures of the `v1,` entries of `webhook-signature`, in header order.
    pub fn signatures(&self) -> Vec<String> {
        self.signature.split(' ').filter_map(|entry| entry.strip_prefix("v1,")).map(str::to_owned).collect()
    }
}

/// The base64 Standard Webhooks signature of a message: HMAC-SHA256 keyed with the base64-decoded part
/// of `secret` after `whsec_`, over `"{id}.{timestamp}.{body}"`. `None` when the secret does not decode.
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &str) -> Option<String> {
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(B64.encode(mac.finalize().into_bytes()))
}

/// Whether one of the request's `v1` signatures is the one `secret` gives.
pub fn verifies(request: &Received, secret: &str) -> bool {
    match sign(secret, &request.id, &request.timestamp, &request.raw) {
        Some(expected) => request.signatures().contains(&expected),
        None => false,
    }
}

struct Script {
    status: u16,
    fail_next: usize,
    hang: bool,
}

struct Inner {
    requests: Vec<Received>,
    script: Script,
}

/// The receiver, serving on `base` until the test's runtime ends.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    arrivals: Arc<watch::Sender<usize>>,
    /// While true, requests wait before they are answered (`hold`).
    held: Arc<watch::Sender<bool>>,
}

async fn receive(
    State(r): State<Receiver>,
    uri: Uri,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let answer = {
        let mut inner = r.inner.lock().unwrap();
        let answer = if inner.script.hang {
            None
        } else if inner.script.fail_next > 0 {
            inner.script.fail_next -= 1;
            Some(500)
        } else {
            Some(inner.script.status)
        };
        inner.requests.push(Received {
            method: method.to_string(),
            path: uri.path().to_owned(),
            id: text("webhook-id"),
            timestamp: text("webhook-timestamp"),
            signature: text("webhook-signature"),
            content_type: text("content-type"),
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
            at: Instant::now(),
            answered: answer,
        });
        answer
    };
    let mut held = r.held.subscribe();
    r.arrivals.send_modify(|n| *n += 1);
    let _ = held.wait_for(|h| !*h).await;
    let Some(status) = answer else {
        // A stuck receiver: the connection stays open until the sender gives up.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let status = StatusCode::from_u16(status).expect("a valid status code");
    if status.is_redirection() {
        return (status, [(header::LOCATION, "/redirected")]).into_response();
    }
    status.into_response()
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1:0 answering 204 to everything.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (receiver, app) = Receiver::unserved(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    /// A receiver the caller serves at `base` (over TLS, say), and its app.
    pub fn unserved(base: String) -> (Receiver, Router) {
        let script = Script { status: 204, fail_next: 0, hang: false };
        let receiver = Receiver {
            base,
            inner: Arc::new(Mutex::new(Inner { requests: Vec::new(), script })),
            arrivals: Arc::new(watch::channel(0).0),
            held: Arc::new(watch::channel(false).0),
        };
        let app = Router::new().fallback(receive).with_state(receiver.clone());
        (receiver, app)
    }

    /// The URL to register as an endpoint.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    /// Answers this status from now on (the default is 204).
    pub fn answer(&self, status: u16) {
        self.inner.lock().unwrap().script.status = status;
    }

    /// Answers the next `n` requests with 500, then the scripted status again.
    pub fn fail_next(&self, n: usize) {
        self.inner.lock().unwrap().script.fail_next = n;
    }

    /// Holds every request from now on open, never answering (`false` answers again).
    pub fn hang(&self, on: bool) {
        self.inner.lock().unwrap().script.hang = on;
    }

    /// Holds requests arriving from now on open until `release` (then they get their scripted answer).
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Answers the held requests, and answers at once again.
    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// How many requests have arrived.
    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().requests.len()
    }

    /// The requests whose `webhook-id` is `id`, in arrival order.
    pub fn with_id(&self, id: &str) -> Vec<Received> {
        self.requests().into_iter().filter(|r| r.id == id).collect()
    }

    /// Waits until `done` holds of the requests received, for at most `within` (real time); panics
    /// naming `what` and listing what arrived when it does not. Returns the requests then.
    pub async fn wait_until(&self, what: &str, within: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        let mut arrivals = self.arrivals.subscribe();
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            if tokio::time::timeout_at(deadline, arrivals.changed()).await.is_err() {
                let seen: Vec<(&str, Option<u16>)> = requests.iter().map(|r| (r.id.as_str(), r.answered)).collect();
                panic!(
                    "receiver {}: {what}: not within {within:?}; received (webhook-id, answer): {seen:?}",
                    self.base
                );
            }
        }
    }

    /// Waits until at least `k` requests have arrived; returns them all.
    pub async fn wait_for_count(&self, k: usize, within: Duration) -> Vec<Received> {
        self.wait_until(&format!("{k} requests"), within, |r| r.len() >= k).await
    }

    /// Waits for a request with this `webhook-id`; returns the first one.
    pub async fn wait_for_id(&self, id: &str, within: Duration) -> Received {
        let requests =
            self.wait_until(&format!("a request with webhook-id {id}"), within, |r| r.iter().any(|r| r.id == id)).await;
        requests.into_iter().find(|r| r.id == id).unwrap()
    }

    /// Waits until `n` requests with this `webhook-id` have arrived; returns them.
    pub async fn wait_for_tries(&self, id: &str, n: usize, within: Duration) -> Vec<Received> {
        let what = format!("{n} requests with webhook-id {id}");
        self.wait_until(&what, within, |r| r.iter().filter(|r| r.id == id).count() >= n).await;
        self.with_id(id)
    }

    /// Whether no new request arrives during `window` (real time): the one bounded wait for an absence.
    pub async fn stays_quiet(&self, window: Duration) -> bool {
        let before = self.count();
        let mut arrivals = self.arrivals.subscribe();
        let deadline = tokio::time::Instant::now() + window;
        while self.count() == before {
            if tokio::time::timeout_at(deadline, arrivals.changed()).await.is_err() {
                return true;
            }
        }
        false
    }
}

#[tokio::test]
async fn self_test() {
    // The Standard Webhooks test vector.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (id, ts, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", r#"{"test": 2432232314}"#);
    assert_eq!(sign(secret, id, ts, body).as_deref(), Some("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));

    let receiver = Receiver::start().await;
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(500)).build().unwrap();
    let send = |signature: &str| {
        http.post(receiver.url())
            .header("webhook-id", id)
            .header("webhook-timestamp", ts)
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let both = "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(send(both).await.unwrap().status(), 204);
    let got = receiver.wait_for_id(id, Duration::from_secs(1)).await;
    assert!(verifies(&got, secret));
    assert!(!verifies(&got, "whsec_bm9wZQ=="));
    assert_eq!((got.path.as_str(), got.body["test"].as_u64(), got.answered), ("/hook", Some(2432232314), Some(204)));
    assert_eq!(got.signatures().len(), 2);

    receiver.fail_next(1);
    receiver.answer(302);
    assert_eq!(send("v1,bm9wZQ==").await.unwrap().status(), 500);
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(redirect.post(receiver.url()).body("x").send().await.unwrap().status(), 302);
    assert!(!verifies(&receiver.requests()[1], secret));
    receiver.answer(204);
    receiver.hang(true);
    assert!(send(both).await.unwrap_err().is_timeout());
    assert_eq!(receiver.wait_for_count(4, Duration::from_secs(1)).await[3].answered, None);
    assert!(receiver.stays_quiet(Duration::from_millis(50)).await);
    assert_eq!(receiver.with_id(id).len(), 3);

    receiver.hang(false);
    receiver.hold();
    let held = tokio::spawn(send(both));
    receiver.wait_for_count(5, Duration::from_secs(1)).await;
    assert!(!held.is_finished());
    receiver.release();
    assert_eq!(held.await.unwrap().unwrap().status(), 204);
}

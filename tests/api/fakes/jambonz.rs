//! Fake jambonz REST API: records create-call and update requests; sends status and AMD webhooks as jambonz does.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

// The API it serves and the webhooks it sends. `#[path]`: tests/faults and bench/ include this
// file by `#[path]` too, where a plain `mod` would look for the files beside this one.
#[path = "jambonz/api.rs"]
mod api;
#[path = "jambonz/webhooks.rs"]
mod webhooks;
use api::{create_call, update_call};

/// One create-call request as received. `sid` is empty when the request was refused.
#[derive(Clone, Debug)]
pub struct CreatedCall {
    pub sid: String,
    pub bearer: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Vec<CreatedCall>,
    updates: Vec<(String, Value)>,
    /// The answers queued for the next valid create-calls; None holds the request open.
    queued: VecDeque<Option<Response>>,
    /// The calls not ended yet (by an update or a final status).
    live: HashSet<String>,
    /// The SIP Call-ID of every created call.
    call_ids: HashMap<String, String>,
    webhook_secret: Option<String>,
    /// Whether every created call is at once reported completed (for benchmarks).
    auto_complete: bool,
}

/// The fake, serving on `base` until the test's runtime ends.
#[derive(Clone)]
pub struct FakeJambonz {
    pub base: String,
    pub account_sid: String,
    pub api_key: String,
    inner: Arc<Mutex<Inner>>,
    client: reqwest::Client,
    /// Callbacks sent at once by `auto_complete`, as a provider's bounded webhook senders would.
    sending: Arc<tokio::sync::Semaphore>,
}

/// The `Jambonz-Signature` header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},v1={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random version-4 UUID, as jambonz's `crypto.randomUUID()` makes call sids.
pub fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("random bytes");
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

impl FakeJambonz {
    /// Starts the fake on 127.0.0.1:0, accepting `api_key` as the bearer token of `account_sid`.
    pub async fn start(account_sid: &str, api_key: &str) -> FakeJambonz {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(10)).build().unwrap();
        let (account_sid, api_key, inner) = (account_sid.to_owned(), api_key.to_owned(), Arc::default());
        let fake = FakeJambonz {
            base,
            account_sid,
            api_key,
            inner,
            client,
            sending: Arc::new(tokio::sync::Semaphore::new(64)),
        };
        let app = Router::new()
            .route("/v1/Accounts/{account}/Calls", post(create_call))
            .route("/v1/Accounts/{account}/Calls/{call_sid}", post(update_call).put(update_call))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Every create-call request received (also the refused ones), in order.
    pub fn calls(&self) -> Vec<CreatedCall> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Live-call updates received with a valid bearer token: (call sid, JSON body).
    pub fn updates(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().updates.clone()
    }

    /// Whether the fake still counts the call as live (created, not ended by an update or a final status).
    pub fn is_live(&self, sid: &str) -> bool {
        self.inner.lock().unwrap().live.contains(sid)
    }

    /// The next valid create-call answers this instead of 201: a JSON body (`{"msg": ...}` as jambonz does),
    /// a string as a text body, or null for no body.
    pub fn queue_error(&self, status: u16, body: Value, headers: &[(&str, &str)]) {
        let status = StatusCode::from_u16(status).expect("a valid status");
        let mut response = match body {
            Value::Null => status.into_response(),
            Value::String(text) => (status, text).into_response(),
            body => (status, axum::Json(body)).into_response(),
        };
        for (name, value) in headers {
            let name = header::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
            response.headers_mut().append(name, value.parse().expect("a valid header value"));
        }
        self.inner.lock().unwrap().queued.push_back(Some(response));
    }

    /// The next valid create-call is recorded and never answered.
    pub fn queue_silence(&self) {
        self.inner.lock().unwrap().queued.push_back(None);
    }

    /// The account's webhook secret: from now on every webhook carries `Jambonz-Signature`.
    pub fn set_webhook_secret(&self, secret: &str) {
        self.inner.lock().unwrap().webhook_secret = Some(secret.to_owned());
    }

    /// Reports every call created from now on as completed at once (one callback per call).
    pub fn auto_complete(&self) {
        self.inner.lock().unwrap().auto_complete = true;
    }
}

#[tokio::test]
async fn self_test() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use base64::Engine;
    use serde_json::json;
    const ACCOUNT: &str = "9351f46a-678c-43f5-b8a6-d4eb58d131af";
    const KEY: &str = "0b8e4d2c-1f3a-4e5b-9c7d-6a5b4c3d2e1f";
    let body = br#"{"call_sid":"abc","call_status":"completed"}"#;
    let expected = "t=1700000000,v1=aecd436df9708a1682e929bc406f530458cbb019d70f3d9d2e7290c7d41e88f8";
    assert_eq!(signature_header("wh_secret_test", 1_700_000_000, body), expected);

    // A receiver of webhooks: records (headers, body), answers 200.
    let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let log = received.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        log.lock().unwrap().push((headers, body));
        std::future::ready(StatusCode::OK)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/jambonz/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let fake = FakeJambonz::start(ACCOUNT, KEY).await;
    let http = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(2)).build().unwrap();
    let url = format!("{}/v1/Accounts/{ACCOUNT}/Calls", fake.base);
    let create = |token: &str, body: Value| http.post(&url).bearer_auth(token).json(&body).send();
    let request = json!({
        "application_sid": "1b2c3d4e-aaaa-4bbb-8ccc-123456789abc", "from": "+33198765432",
        "to": {"type": "phone", "number": "+33612345678"}, "timeout": 30, "tag": {"call_id": "c-1"},
        "call_status_hook": {"url": hook, "method": "POST", "username": "u", "password": "p"},
        "amd": {"actionHook": hook},
    });
    let response = create(KEY, request.clone()).await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let sid = created["sid"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(sid).unwrap().get_version_num(), 4);
    assert!(created["callId"].is_string());
    let call = fake.calls()[0].clone();
    assert_eq!((call.sid.as_str(), call.bearer.as_str(), &call.body), (sid, KEY, &request));

    assert_eq!(create("nope", request.clone()).await.unwrap().status(), 401);
    let missing = create(KEY, json!({"to": request["to"], "application_sid": "x"})).await.unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.json::<Value>().await.unwrap(), json!({"msg": "missing from parameter"}));
    let untagged = json!({"from": "+1", "to": request["to"], "application_sid": "x", "tag": "t"});
    assert_eq!(create(KEY, untagged).await.unwrap().status(), 400);
    fake.queue_error(429, json!({"msg": "Too many requests"}), &[("Retry-After", "3")]);
    let limited = create(KEY, request.clone()).await.unwrap();
    assert_eq!((limited.status().as_u16(), limited.headers()["retry-after"].to_str().unwrap()), (429, "3"));
    fake.queue_silence();
    assert!(create(KEY, request.clone()).await.unwrap_err().is_timeout());
    assert_eq!(fake.calls().len(), 6);

    fake.set_webhook_secret("wh_secret_test");
    let extra = json!({"call_status": "completed", "sip_status": 200, "sip_reason": "OK", "duration": 42});
    assert_eq!(fake.send_status(&call, extra).await.0, 200);
    let (headers, body) = received.lock().unwrap()[0].clone();
    let signed = headers["jambonz-signature"].to_str().unwrap();
    let t: i64 = signed.strip_prefix("t=").and_then(|r| r.split(',').next()).unwrap().parse().unwrap();
    assert_eq!(signed, signature_header("wh_secret_test", t, &body));
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("u:p"));
    assert_eq!(headers["authorization"].to_str().unwrap(), basic);
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((&sent["call_sid"], &sent["duration"], &sent["to"]), (&json!(sid), &json!(42), &json!("+33612345678")));
    assert_eq!(sent["customerData"], json!({"call_id": "c-1"}));
    assert_eq!(fake.send_amd(&call, "amd_machine_detected").await.0, 200);
    let (_, amd) = received.lock().unwrap()[1].clone();
    let amd: Value = serde_json::from_slice(&amd).unwrap();
    assert_eq!(
        (&amd["type"], &amd["reason"], &amd["call_sid"]),
        (&json!("amd_machine_detected"), &json!("long greeting"), &json!(sid))
    );

    let update = |sid: &str, body: Value| http.put(format!("{url}/{sid}")).bearer_auth(KEY).json(&body).send();
    let second = create(KEY, request.clone()).await.unwrap().json::<Value>().await.unwrap()["sid"].to_string();
    let second = second.trim_matches('"');
    assert_eq!(update(second, json!({"call_status": "hangup"})).await.unwrap().status(), 400);
    assert_eq!(update(second, json!({"call_status": "completed"})).await.unwrap().status(), 202);
    assert_eq!(update(second, json!({"call_status": "completed"})).await.unwrap().status(), 404);
    assert_eq!(update(sid, json!({"call_status": "completed"})).await.unwrap().status(), 404);
    assert_eq!(fake.updates().len(), 4);
}

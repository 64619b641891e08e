//! Fake Twilio Voice REST API: records create-call and hang-up requests; sends callbacks signed as Twilio signs them.

use axum::Router;
use axum::http::header;
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

// The API it serves and the callbacks it sends. `#[path]`: tests/faults and bench/ include this
// file by `#[path]` too, where a plain `mod` would look for the files beside this one.
#[path = "twilio/api.rs"]
mod api;
#[path = "twilio/callbacks.rs"]
mod callbacks;
use api::{create_call, error, update_call};

type Form = Vec<(String, String)>;

/// One create-call request as received. `sid` is empty when the request was refused.
#[derive(Clone, Debug)]
pub struct CreatedCall {
    pub sid: String,
    pub basic_auth: (String, String),
    pub form: Vec<(String, String)>,
}

impl CreatedCall {
    /// The first value of a form parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// Every value of a (repeatable) form parameter, in the order sent.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

#[derive(Default)]
struct Inner {
    api_keys: Vec<(String, String)>,
    calls: Vec<CreatedCall>,
    updates: Vec<(String, Form)>,
    /// The answers queued for the next valid create-calls; None holds the request open.
    queued: VecDeque<Option<Response>>,
    /// The Call resource of every created call, by sid.
    resources: HashMap<String, Value>,
    /// The next SequenceNumber of each call's status callbacks.
    sequence: HashMap<String, u64>,
    /// Whether every created call is at once reported completed (for benchmarks).
    auto_complete: bool,
}

/// The fake, serving on `base` until the test's runtime ends.
#[derive(Clone)]
pub struct FakeTwilio {
    pub base: String,
    pub account_sid: String,
    pub auth_token: String,
    inner: Arc<Mutex<Inner>>,
    client: reqwest::Client,
    /// Callbacks sent at once by `auto_complete`, as a provider's bounded webhook senders would.
    sending: Arc<tokio::sync::Semaphore>,
}

/// The X-Twilio-Signature of a request: base64(HMAC-SHA1(auth_token, url + name+value for each parameter,
/// names sorted, the values of a repeated name de-duplicated and sorted)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name.entry(name).or_default().insert(value);
    }
    let mut data = url.to_owned();
    for (name, values) in by_name {
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// "AC"/"CA"-style identifiers: a prefix and 32 random hex digits.
pub fn random_sid(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes.iter().fold(prefix.to_owned(), |s, b| s + &format!("{b:02x}"))
}

fn now_rfc2822() -> String {
    chrono::Utc::now().to_rfc2822()
}

fn pairs(list: &[(&str, &str)]) -> Form {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl FakeTwilio {
    /// Starts the fake on 127.0.0.1:0. `account_sid` is like "AC" + 32 hex, `auth_token` 32 hex.
    pub async fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(10)).build().unwrap();
        let (account_sid, auth_token, inner) = (account_sid.to_owned(), auth_token.to_owned(), Arc::default());
        let fake = FakeTwilio {
            base,
            account_sid,
            auth_token,
            inner,
            client,
            sending: Arc::new(tokio::sync::Semaphore::new(64)),
        };
        let app = Router::new()
            .route("/2010-04-01/Accounts/{account}/Calls.json", post(create_call))
            .route("/2010-04-01/Accounts/{account}/Calls/{file}", post(update_call))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Also accepts this API key pair on basic auth (the account SID and auth token are always accepted).
    pub fn accept_api_key(&self, key_sid: &str, secret: &str) {
        self.inner.lock().unwrap().api_keys.push((key_sid.to_owned(), secret.to_owned()));
    }

    /// Every create-call request received (also the refused ones), in order.
    pub fn calls(&self) -> Vec<CreatedCall> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Hang-up (call update) requests received with valid credentials: (call sid, form).
    pub fn updates(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.inner.lock().unwrap().updates.clone()
    }

    /// The Call resource of a created call as the fake now sees it.
    pub fn resource(&self, sid: &str) -> Option<Value> {
        self.inner.lock().unwrap().resources.get(sid).cloned()
    }

    /// The next create-call that passes authentication and validation answers this Twilio error instead of 201.
    pub fn queue_error(&self, status: u16, code: u32, message: &str, headers: &[(&str, &str)]) {
        let mut response = error(status, code, message);
        for (name, value) in headers {
            let name = header::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
            response.headers_mut().append(name, value.parse().expect("a valid header value"));
        }
        self.inner.lock().unwrap().queued.push_back(Some(response));
    }

    /// The next create-call that passes authentication and validation is recorded and never answered.
    pub fn queue_silence(&self) {
        self.inner.lock().unwrap().queued.push_back(None);
    }

    /// Reports every call created from now on as completed at once (one callback per call).
    pub fn auto_complete(&self) {
        self.inner.lock().unwrap().auto_complete = true;
    }
}

#[tokio::test]
async fn self_test() {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "fedcba9876543210fedcba9876543210";
    // Twilio's documented example; repeated names are de-duplicated and their values sorted.
    let documented =
        "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
    let documented: Form = serde_urlencoded::from_str(documented).unwrap();
    let example = signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &documented);
    assert_eq!(example, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    let repeated = pairs(&[("b", "x"), ("A", "2"), ("A", "1"), ("A", "2"), ("a", "é")]);
    assert_eq!(signature("12345", "https://example.com/cb", &repeated), "hjoajkQp/ZJ10c4r6pHB2Mcl9GM=");

    // A receiver of callbacks: records (URI, headers, body), answers 200.
    let received: Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>> = Arc::default();
    let log = received.clone();
    let app = Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
        log.lock().unwrap().push((uri.to_string(), headers, body));
        std::future::ready(StatusCode::OK)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/twilio/status?campaign=c1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let fake = FakeTwilio::start(ACCOUNT, TOKEN).await;
    let http = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(2)).build().unwrap();
    let url = format!("{}/2010-04-01/Accounts/{ACCOUNT}/Calls.json", fake.base);
    let encode = |list: &[(&str, &str)]| serde_urlencoded::to_string(list).unwrap();
    let events = encode(&[("StatusCallbackEvent", "answered"), ("StatusCallbackEvent", "completed")]);
    let form = encode(&[("To", "+33612345678"), ("From", "+33198765432"), ("Url", "https://a.example/twiml")]);
    let form = format!("{form}&{}&{events}", encode(&[("StatusCallback", &hook)]));
    let post = |user: &str, password: &str| {
        let request = http.post(&url).basic_auth(user, Some(password)).body(form.clone());
        request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").send()
    };
    let response = post(ACCOUNT, TOKEN).await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let sid = created["sid"].as_str().unwrap().to_owned();
    assert!(sid.len() == 34 && sid.starts_with("CA") && sid[2..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!((created["status"].as_str(), created["to"].as_str()), (Some("queued"), Some("+33612345678")));
    let call = fake.calls()[0].clone();
    assert_eq!(
        (call.sid.as_str(), call.basic_auth.1.as_str(), call.get("StatusCallback")),
        (&sid[..], TOKEN, Some(&hook[..]))
    );
    assert_eq!(call.all("StatusCallbackEvent"), ["answered", "completed"]);

    let refused = post(ACCOUNT, "wrong").await.unwrap();
    assert_eq!(
        (refused.status().as_u16(), refused.json::<Value>().await.unwrap()["code"].as_u64()),
        (401, Some(20003))
    );
    fake.accept_api_key("SK0123456789abcdef0123456789abcdef", "keysecret");
    assert_eq!(post("SK0123456789abcdef0123456789abcdef", "keysecret").await.unwrap().status(), 201);
    fake.queue_error(429, 20429, "Too Many Requests", &[("Retry-After", "2")]);
    let limited = post(ACCOUNT, TOKEN).await.unwrap();
    assert_eq!((limited.status().as_u16(), limited.headers()["retry-after"].to_str().unwrap()), (429, "2"));
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], 20429);
    fake.queue_silence();
    assert!(post(ACCOUNT, TOKEN).await.unwrap_err().is_timeout());
    assert_eq!(fake.calls().len(), 5);

    let (status, _) = fake.send_status(&call, &[("CallStatus", "completed"), ("CallDuration", "42")]).await;
    assert_eq!(status, 200);
    let (uri, headers, body) = received.lock().unwrap()[0].clone();
    let got: Form = serde_urlencoded::from_bytes(&body).unwrap();
    assert_eq!(
        (uri.as_str(), headers["x-twilio-signature"].to_str().unwrap()),
        ("/twilio/status?campaign=c1", &signature(TOKEN, &hook, &got)[..])
    );
    let value = |name: &str| got.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(
        [value("CallSid"), value("SequenceNumber"), value("CallDuration")],
        [sid.clone(), "0".into(), "42".into()]
    );
    assert!(chrono::DateTime::parse_from_rfc2822(&value("Timestamp")).is_ok());

    let hang_up = |sid: &str| {
        let url = format!("{}/2010-04-01/Accounts/{ACCOUNT}/Calls/{sid}.json", fake.base);
        http.post(url).basic_auth(ACCOUNT, Some(TOKEN)).body("Status=completed").send()
    };
    assert_eq!(hang_up(&sid).await.unwrap().json::<Value>().await.unwrap()["status"], "completed");
    assert_eq!(hang_up(&random_sid("CA")).await.unwrap().status(), 404);
    assert_eq!(fake.updates()[0], (sid, pairs(&[("Status", "completed")])));
}

//! Fake jambonz REST API: records create-call and update requests; sends status and AMD webhooks as jambonz does.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

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

fn msg(status: u16, text: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({ "msg": text }))).into_response()
}

/// Express's `res.sendStatus`: the status with its reason phrase as a text body.
fn express_status(status: StatusCode) -> Response {
    (status, status.canonical_reason().unwrap_or_default()).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// JavaScript truthiness of an optional JSON value.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// A hook as jambonz reads it: a URL string or `{url, method?, username?, password?}`.
fn hook_url(body: &Value, name: &str) -> Result<(), String> {
    let url = match body.get(name) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(url)) => url.as_str(),
        Some(Value::Object(hook)) => match hook.get("url") {
            Some(Value::String(url)) => url.as_str(),
            _ => return Err(format!("{name} must be string or an object containing a url property")),
        },
        Some(_) => "",
    };
    let absolute = ["http:", "https:", "ws:", "wss:"].iter().any(|scheme| url.starts_with(scheme));
    if absolute { Ok(()) } else { Err(format!("{name} url be an absolute url")) }
}

/// jambonz's create-call validation (api-server `validateCreateCall`, then the `tag` check).
fn validate_create(body: &Value) -> Result<(), String> {
    let field = |name: &str| body.get(name);
    if !truthy(field("from")) {
        return Err("missing from parameter".into());
    }
    let to = field("to");
    let target_ok = to.is_some_and(|to| match to.get("type").and_then(Value::as_str) {
        Some("phone" | "teams") => to.get("number").is_some_and(Value::is_string),
        Some("user") => to.get("name").is_some_and(Value::is_string),
        Some("sip") => to.get("sipUri").is_some_and(Value::is_string),
        _ => false,
    });
    if !target_ok {
        let shown = to.map_or("undefined".to_owned(), Value::to_string);
        return Err(format!("missing or invalid to property: {shown}"));
    }
    let speech = ["speech_synthesis_vendor", "speech_synthesis_language", "speech_synthesis_voice"];
    let speech = [&speech[..], &["speech_recognizer_vendor", "speech_recognizer_language"]].concat();
    let application = truthy(field("application_sid"));
    if !application && !speech.iter().all(|name| truthy(field(name))) {
        return Err(format!("either application_sid or set of {} required", speech.join(", ")));
    }
    if !truthy(field("call_hook")) && !application {
        return Err("either call_hook or application_sid required".into());
    }
    hook_url(body, "call_hook")?;
    hook_url(body, "call_status_hook")?;
    if field("tag").is_some_and(|tag| !tag.is_object()) {
        return Err("Invalid tag".into());
    }
    Ok(())
}

async fn create_call(
    State(s): State<FakeJambonz>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = bearer(&headers);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let body_value = parsed.clone().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let mut call = CreatedCall { sid: String::new(), bearer: token.clone().unwrap_or_default(), body: body_value };
    let refusal = if token.as_deref() != Some(s.api_key.as_str()) {
        Some(express_status(StatusCode::UNAUTHORIZED))
    } else if account != s.account_sid {
        Some(msg(400, &format!("unauthorized createCall request for account {account}")))
    } else if !parsed.as_ref().is_some_and(Value::is_object) {
        Some(msg(400, "Bad request"))
    } else {
        validate_create(&call.body).err().map(|text| msg(400, &text))
    };
    let answer = {
        let mut inner = s.inner.lock().unwrap();
        let answer = refusal.map(Some).or_else(|| inner.queued.pop_front()).unwrap_or_else(|| {
            call.sid = uuid_v4();
            let call_id = format!("{}@127.0.0.1", uuid_v4());
            inner.live.insert(call.sid.clone());
            inner.call_ids.insert(call.sid.clone(), call_id.clone());
            Some((StatusCode::CREATED, axum::Json(json!({"sid": call.sid, "callId": call_id}))).into_response())
        });
        if inner.auto_complete && !call.sid.is_empty() {
            let (fake, call) = (s.clone(), call.clone());
            let done = json!({"call_status": "completed", "sip_status": 200, "duration": 1});
            tokio::spawn(async move {
                let _sending = fake.sending.acquire().await;
                fake.send_status(&call, done).await
            });
        }
        inner.calls.push(call);
        answer
    };
    match answer {
        Some(answer) => answer,
        None => std::future::pending().await,
    }
}

/// jambonz's `validateUpdateCall`, for the options this fake knows.
fn validate_update(body: &Value) -> Result<(), &'static str> {
    const OPTIONS: &str = "call_hook child_call_hook call_status listen_status transcribe_status conf_hold_status \
        conf_mute_status mute_status sip_request record tag dtmf conferenceParticipantAction dub";
    let set: Vec<&str> = OPTIONS.split_whitespace().filter(|name| truthy(body.get(*name))).collect();
    match set.as_slice() {
        [] if !truthy(body.get("whisper")) => return Err("no valid options supplied to updateCall"),
        [] | [_] | ["call_hook", "child_call_hook"] => {}
        _ => return Err("multiple options are not allowed in updateCall"),
    }
    match body.get("call_status").filter(|v| truthy(Some(v))) {
        Some(status) if !matches!(status.as_str(), Some("completed" | "no-answer")) => Err("invalid call_status"),
        _ => Ok(()),
    }
}

async fn update_call(
    State(s): State<FakeJambonz>,
    Path((account, call_sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bearer(&headers).as_deref() != Some(s.api_key.as_str()) {
        return express_status(StatusCode::UNAUTHORIZED);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return msg(400, "Bad request") };
    let mut inner = s.inner.lock().unwrap();
    inner.updates.push((call_sid.clone(), body.clone()));
    if let Err(text) = validate_update(&body) {
        return msg(400, text);
    }
    if account != s.account_sid || !inner.live.contains(&call_sid) {
        return express_status(StatusCode::NOT_FOUND);
    }
    if body.get("call_status").is_some() {
        inner.live.remove(&call_sid);
    }
    express_status(StatusCode::ACCEPTED)
}

/// A hook's URL, method and Basic credentials (only when both username and password are set).
fn parse_hook(hook: &Value) -> (String, reqwest::Method, Option<(String, String)>) {
    let text = |name: &str| hook.get(name).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned);
    match hook {
        Value::String(url) => (url.clone(), reqwest::Method::POST, None),
        _ => {
            let method = text("method").unwrap_or("POST".into()).to_ascii_uppercase();
            let credentials = text("username").zip(text("password"));
            (text("url").expect("a hook object has a url"), method.parse().expect("a valid method"), credentials)
        }
    }
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

    /// The call fields jambonz puts on every webhook of an outbound REST call.
    fn call_fields(&self, call: &CreatedCall, state: (&str, u16, &str)) -> Map<String, Value> {
        let body = &call.body;
        let to = &body["to"];
        let to = ["number", "name", "sipUri"].iter().find_map(|k| to.get(*k)).cloned().unwrap_or(Value::Null);
        let call_id = self.inner.lock().unwrap().call_ids.get(&call.sid).cloned().unwrap_or_default();
        let mut fields = json!({
            "call_sid": call.sid, "direction": "outbound", "from": body["from"], "to": to, "call_id": call_id,
            "sbc_callid": format!("sbc-{call_id}"), "sip_status": state.1, "sip_reason": state.2,
            "call_status": state.0, "caller_id": body["from"], "account_sid": self.account_sid,
            "trace_id": hex(&[0x5a; 16]), "fs_sip_address": "10.0.0.3:5070",
        });
        let fields = fields.as_object_mut().unwrap();
        if let Some(application) = body.get("application_sid").filter(|v| truthy(Some(v))) {
            fields.insert("application_sid".into(), application.clone());
        }
        if let Some(tag) = body.get("tag").filter(|tag| tag.is_object()) {
            fields.insert("customerData".into(), tag.clone());
        }
        fields.clone()
    }

    /// Reports every call created from now on as completed at once (one callback per call).
    pub fn auto_complete(&self) {
        self.inner.lock().unwrap().auto_complete = true;
    }

    /// Sends a call-status webhook for `call` to its call_status_hook: the call fields merged with `extra`
    /// (a null in `extra` removes a field). A final `call_status` ends the call for the fake.
    pub async fn send_status(&self, call: &CreatedCall, extra: Value) -> (u16, String) {
        let hook = call.body.get("call_status_hook").expect("the call was created without a call_status_hook");
        let mut payload = self.call_fields(call, ("trying", 100, "Trying"));
        merge(&mut payload, extra);
        let status = payload.get("call_status").and_then(Value::as_str).unwrap_or_default();
        if matches!(status, "completed" | "failed" | "busy" | "no-answer") {
            self.inner.lock().unwrap().live.remove(&call.sid);
        }
        self.deliver(hook, payload).await
    }

    /// Sends an AMD event of `event_type` (with the reason and fields jambonz gives it) to the amd.actionHook.
    pub async fn send_amd(&self, call: &CreatedCall, event_type: &str) -> (u16, String) {
        let greeting = "Hi, you have reached Alex, I cannot take your call, please leave a message after the tone";
        let event = match event_type {
            "amd_machine_detected" => json!({"reason": "long greeting", "greeting": greeting, "language": "en-US"}),
            "amd_human_detected" => json!({"reason": "short greeting", "greeting": "Hello?", "language": "en-US"}),
            "amd_tone_detected" => json!({"frequency": 1000, "variance": 12}),
            _ => json!({}),
        };
        let hook = call.body.pointer("/amd/actionHook").expect("the call was created without amd.actionHook");
        let mut payload = self.call_fields(call, ("in-progress", 200, "OK"));
        payload.insert("type".into(), json!(event_type));
        merge(&mut payload, event);
        self.deliver(hook, payload).await
    }

    /// POSTs `body` as JSON to `url` with exactly these extra headers.
    pub async fn send_raw(&self, url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.client.post(url);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.body(body.to_owned())).await
    }

    /// Sends a webhook as jambonz's HTTP requestor does: JSON body (none for GET), signed when a secret is set.
    async fn deliver(&self, hook: &Value, payload: Map<String, Value>) -> (u16, String) {
        let (url, method, credentials) = parse_hook(hook);
        let body = Value::Object(payload).to_string();
        let mut request = self.client.request(method.clone(), url);
        if method != reqwest::Method::GET {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let secret = self.inner.lock().unwrap().webhook_secret.clone();
        if let Some(secret) = secret {
            let now = chrono::Utc::now().timestamp();
            request = request.header("Jambonz-Signature", signature_header(&secret, now, body.as_bytes()));
        }
        if let Some((username, password)) = credentials {
            request = request.basic_auth(username, Some(password));
        }
        answer(request).await
    }
}

fn merge(payload: &mut Map<String, Value>, extra: Value) {
    let Value::Object(extra) = extra else { panic!("extra fields must be a JSON object") };
    payload.extend(extra);
    payload.retain(|_, value| !value.is_null());
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("the webhook was delivered");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn self_test() {
    use base64::Engine;
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

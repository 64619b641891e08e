//! Fake LiveKit server API: the Twirp methods AgentDispatchService/CreateDispatch,
//! SIP/CreateSIPParticipant and RoomService/DeleteRoom behind access-token checks, and webhooks
//! signed as LiveKit signs them (a JWT in `Authorization` whose `sha256` claim hashes the body).

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

// The Twirp API it serves. `#[path]`: tests/faults and bench/ include this file by `#[path]` too,
// where a plain `mod` would look for the file beside this one.
#[path = "livekit/api.rs"]
mod api;
use api::{id, twirp, twirp_method};

/// One Twirp request as received: the method, its token's claims (null when refused) and its body.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub claims: Value,
    pub body: Value,
}

/// How a dial (CreateSIPParticipant with `wait_until_answered`) ends.
pub enum DialEnd {
    /// The callee answered: 200 with the participant's info.
    Answer,
    /// The callee's SIP answer, as LiveKit reports it: a Twirp error with the SIP status in `meta`.
    Sip { status: u16, twirp: &'static str, reason: &'static str },
    /// A Twirp error without a SIP status (ringing timeout, refused request, LiveKit in trouble).
    Twirp { status: u16, code: &'static str, msg: &'static str },
}

/// How a phone that was never answered leaves its room: its last call status and the reason.
type Leaving = (&'static str, &'static str);

/// The reason LiveKit's SIP service gives the room for a dial the callee's side refused.
fn reason_for(sip_status: u16) -> &'static str {
    match sip_status {
        404 | 408 | 480 => "USER_UNAVAILABLE",
        _ => "USER_REJECTED",
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    /// Answers for the next valid CreateDispatch requests.
    dispatch_errors: VecDeque<Response>,
    /// Dials waiting for the test to end them, by room: the answer, and how the phone leaves first.
    held: HashMap<String, oneshot::Sender<(Response, Option<Leaving>)>>,
    rooms: HashSet<String>,
    deleted: Vec<String>,
    /// The SIP call id of each room's phone.
    call_ids: HashMap<String, String>,
    webhook_url: Option<String>,
    /// Every dial is answered at once and its phone reported gone (for benchmarks).
    auto_complete: bool,
}

/// The fake, serving on `base` until the test's runtime ends.
#[derive(Clone)]
pub struct FakeLiveKit {
    pub base: String,
    pub api_key: String,
    secret: String,
    inner: Arc<Mutex<Inner>>,
    client: reqwest::Client,
    sending: Arc<tokio::sync::Semaphore>,
}

/// An HS256 JWT over `claims`, as LiveKit's access tokens are made.
pub fn jwt(secret: &str, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The webhook token LiveKit sends: issued by the API key, valid 5 minutes, hashing the body.
pub fn webhook_token(api_key: &str, secret: &str, body: &[u8], now: i64) -> String {
    let sha = STANDARD.encode(Sha256::digest(body));
    jwt(secret, &json!({"iss": api_key, "iat": now, "nbf": now, "exp": now + 300, "sha256": sha}))
}

impl FakeLiveKit {
    /// Starts the fake on 127.0.0.1:0 with one API key and its secret.
    pub async fn start(api_key: &str, secret: &str) -> FakeLiveKit {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(10)).build().unwrap();
        let fake = FakeLiveKit {
            base,
            api_key: api_key.to_owned(),
            secret: secret.to_owned(),
            inner: Arc::default(),
            client,
            sending: Arc::new(tokio::sync::Semaphore::new(64)),
        };
        let app = Router::new().route("/twirp/{service}/{method}", post(twirp_method)).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Where webhooks go (LiveKit's webhook settings).
    pub fn set_webhook_url(&self, url: &str) {
        self.inner.lock().unwrap().webhook_url = Some(url.to_owned());
    }

    /// Answers every dial at once and reports its phone gone right after.
    pub fn auto_complete(&self) {
        self.inner.lock().unwrap().auto_complete = true;
    }

    /// Every Twirp request received (also the refused ones), in order.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The requests of one method (`"SIP/CreateSIPParticipant"`, …).
    pub fn requests_of(&self, method: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method == format!("livekit.{method}")).collect()
    }

    /// Rooms deleted through DeleteRoom, in order.
    pub fn deleted_rooms(&self) -> Vec<String> {
        self.inner.lock().unwrap().deleted.clone()
    }

    /// Rooms whose dial waits for the test.
    pub fn held_dials(&self) -> Vec<String> {
        self.inner.lock().unwrap().held.keys().cloned().collect()
    }

    /// The next valid CreateDispatch answers this Twirp error.
    pub fn queue_dispatch_error(&self, status: u16, code: &str, msg: &str) {
        let answer = twirp(status, code, msg, None);
        self.inner.lock().unwrap().dispatch_errors.push_back(answer);
    }

    /// Ends the dial held for `room` as `end` says; a callee's refusal and the ringing timeout
    /// make the phone leave the room first, as LiveKit does.
    pub fn end_dial(&self, room: &str, end: DialEnd) {
        let mut leaving = None;
        let answer = match end {
            DialEnd::Answer => StatusCode::OK.into_response(),
            DialEnd::Sip { status, twirp: code, reason } => {
                leaving = Some(("ringing", reason_for(status)));
                let meta = json!({"sip_status_code": status.to_string(), "sip_status": reason});
                let http = match code {
                    "resource_exhausted" => 429,
                    "deadline_exceeded" | "canceled" => 408,
                    "not_found" => 404,
                    "permission_denied" => 403,
                    "aborted" => 409,
                    _ => 500,
                };
                twirp(http, code, &format!("twirp error unknown: {reason}"), Some(meta))
            }
            DialEnd::Twirp { status, code, msg } => {
                if code == "canceled" {
                    leaving = Some(("ringing", "USER_UNAVAILABLE"));
                }
                twirp(status, code, msg, None)
            }
        };
        let held = self.inner.lock().unwrap().held.remove(room).expect("a dial is held for that room");
        assert!(held.send((answer, leaving)).is_ok(), "the dial is still waiting");
    }

    /// The room's phone (a SIP participant) as a webhook shows it, with its last call status and
    /// disconnection reason.
    pub fn phone(&self, room: &str, call_status: &str, disconnect_reason: Option<&str>) -> Value {
        let call_id = self.inner.lock().unwrap().call_ids.get(room).cloned().unwrap_or_default();
        let mut phone = json!({"sid": "PA_phone", "identity": "callee", "name": "Phone", "kind": "SIP",
            "state": if disconnect_reason.is_some() { "DISCONNECTED" } else { "ACTIVE" },
            "joinedAt": chrono::Utc::now().timestamp().to_string(),
            "attributes": {"sip.callStatus": call_status, "sip.callID": call_id, "sip.trunkID": "ST_fake",
                "sip.phoneNumber": "+14155550100", "sip.trunkPhoneNumber": "+919876543210"}});
        if let Some(reason) = disconnect_reason {
            phone["disconnectReason"] = json!(reason);
        }
        phone
    }

    /// The webhook LiveKit sends for `event` in `room`: camelCase fields, int64 as strings, signed.
    pub async fn send_event(&self, event: &str, room: &str, participant: Option<Value>) -> (u16, String) {
        let now = chrono::Utc::now().timestamp();
        let mut body = json!({"event": event, "id": id("EV_"), "createdAt": now.to_string(),
            "room": {"sid": format!("RM_{room}"), "name": room, "emptyTimeout": 300, "creationTime": now.to_string()}});
        if let Some(participant) = participant {
            body["participant"] = participant;
        }
        let body = body.to_string();
        let token = webhook_token(&self.api_key, &self.secret, body.as_bytes(), now);
        self.send_raw(&body, &[("authorization", token.as_str())]).await
    }

    /// Sends a webhook of LiveKit's own accord, when a webhook URL is set.
    async fn notify(&self, event: &str, room: &str, participant: Option<Value>) {
        if self.inner.lock().unwrap().webhook_url.is_some() {
            self.send_event(event, room, participant).await;
        }
    }

    /// POSTs `body` to the webhook URL with exactly these extra headers.
    pub async fn send_raw(&self, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let url = self.inner.lock().unwrap().webhook_url.clone().expect("a webhook URL is set");
        let mut request = self.client.post(url).header(header::CONTENT_TYPE, "application/webhook+json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body.to_owned()).send().await.expect("the webhook was delivered");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn self_test() {
    let fake = FakeLiveKit::start("APIfake", "fake-secret").await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |method: &str, claims: Value, body: Value| {
        let token = jwt("fake-secret", &claims);
        http.post(format!("{}/twirp/livekit.{method}", fake.base)).bearer_auth(token).json(&body).send()
    };
    let exp = chrono::Utc::now().timestamp() + 600;
    let admin = json!({"iss": "APIfake", "exp": exp, "video": {"roomAdmin": true, "room": "r1"}});
    let dispatch = json!({"agent_name": "a", "room": "r1", "metadata": "{}"});
    let r = call("AgentDispatchService/CreateDispatch", admin.clone(), dispatch.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().starts_with("AD_"));
    let other_room = json!({"iss": "APIfake", "exp": exp, "video": {"roomAdmin": true, "room": "r2"}});
    assert_eq!(call("AgentDispatchService/CreateDispatch", other_room, dispatch.clone()).await.unwrap().status(), 401);
    let no_exp = json!({"iss": "APIfake", "video": {"roomAdmin": true, "room": "r1"}});
    assert_eq!(call("AgentDispatchService/CreateDispatch", no_exp, dispatch).await.unwrap().status(), 401);

    let sip = json!({"iss": "APIfake", "exp": exp, "sip": {"call": true}});
    let dial = json!({"sip_trunk_id": "ST_1", "sip_call_to": "+1555", "room_name": "r1", "wait_until_answered": true});
    let pending = tokio::spawn(call("SIP/CreateSIPParticipant", sip.clone(), dial.clone()));
    while fake.held_dials().is_empty() {
        tokio::task::yield_now().await;
    }
    fake.end_dial("r1", DialEnd::Sip { status: 486, twirp: "resource_exhausted", reason: "Busy Here" });
    let busy = pending.await.unwrap().unwrap();
    assert_eq!(busy.status(), 429);
    let error: Value = busy.json().await.unwrap();
    assert_eq!((&error["code"], &error["meta"]["sip_status_code"]), (&json!("resource_exhausted"), &json!("486")));
    let untrunked = json!({"sip_call_to": "+1555", "room_name": "r1"});
    assert_eq!(call("SIP/CreateSIPParticipant", sip, untrunked).await.unwrap().status(), 400);

    let create = json!({"iss": "APIfake", "exp": exp, "video": {"roomCreate": true}});
    assert_eq!(call("RoomService/DeleteRoom", create.clone(), json!({"room": "r1"})).await.unwrap().status(), 200);
    assert_eq!(call("RoomService/DeleteRoom", create, json!({"room": "r1"})).await.unwrap().status(), 404);
    assert_eq!(fake.deleted_rooms(), ["r1"]);

    let token = webhook_token("APIfake", "fake-secret", b"{}", 1_700_000_000);
    let claims = URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&claims).unwrap();
    assert_eq!(claims["sha256"], "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=", "base64 of SHA-256(\"{{}}\")");
    assert_eq!((&claims["iss"], &claims["exp"]), (&json!("APIfake"), &json!(1_700_000_300)));
}

//! LiveKit (API.md §7.1): a call dispatches the agent into a room of its own, then dials the contact
//! into that room through a SIP trunk. The dial waits until the call is answered or refused, so it
//! runs after the placement returns and reports what it learns as a callback would; LiveKit's
//! webhooks (`/api/v1/webhooks/livekit`) say the rest.

use super::answer;
use super::livekit_token;
use super::placer::{CallRequest, Callback, Learned, PlaceFuture, Placement, Placer, Report, ended};
use crate::clock::Clock;
use crate::domain::contact::CallStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::provider::Provider;
use crate::outbound::{OutboundTls, https_twin};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long LiveKit may take to answer a request other than the dial.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a call rings before LiveKit gives up on it (`no_answer`).
const RING_SECONDS: u64 = 30;
/// How long a dial may wait for its answer: the ringing, then time to set the call up.
const DIAL_TIMEOUT: Duration = Duration::from_secs(RING_SECONDS + 15);
/// How long dispatch pauses after LiveKit refused a dial as too many (it names no wait).
const LIMITED_PAUSE: Duration = Duration::from_secs(5);
/// How long each request's token is valid.
const TOKEN_SECONDS: i64 = 600;
/// The callback route, under `--public-url` (configured in LiveKit's webhook settings).
pub const CALLBACK_PATH: &str = "/api/v1/webhooks/livekit";
/// Every call's room is named this followed by its execution id.
pub const ROOM_PREFIX: &str = "graine-";
/// The identity of the contact's SIP participant in its room.
pub const PARTICIPANT_IDENTITY: &str = "callee";

/// The room of a call.
pub fn room_of(execution_id: ExecutionId) -> String {
    format!("{ROOM_PREFIX}{execution_id}")
}

/// The call a room belongs to, when it is one of ours.
pub fn call_of_room(room: &str) -> Option<ExecutionId> {
    room.strip_prefix(ROOM_PREFIX).and_then(ExecutionId::parse)
}

/// LiveKit's server API: Twirp requests, each with a token carrying the grants it needs.
struct Api {
    client: reqwest::Client,
    /// `https://host` (a `wss://` project URL is turned into its HTTPS twin, as LiveKit's SDKs do).
    base: String,
    api_key: String,
    secret: String,
}

impl Api {
    fn request(&self, method: &str, grants: Value, body: &Value) -> reqwest::RequestBuilder {
        let token =
            livekit_token::sign(&self.api_key, &self.secret, grants, Clock::System.now().timestamp(), TOKEN_SECONDS);
        self.client.post(format!("{}/twirp/livekit.{method}", self.base)).bearer_auth(token).json(body)
    }

    /// Deletes a call's room (its agent leaves with it); a failure is only logged.
    async fn delete_room(&self, room: &str) {
        let grants = json!({ "video": { "roomCreate": true } });
        match self.request("RoomService/DeleteRoom", grants, &json!({ "room": room })).send().await {
            // 404: the room is already gone.
            Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {}
            Ok(r) => tracing::warn!(room, status = %r.status(), "livekit did not delete a room"),
            Err(e) => tracing::warn!(room, error = %e, "livekit did not delete a room"),
        }
    }
}

/// Places calls through LiveKit's agent dispatch and SIP services.
pub struct LiveKitPlacer {
    api: Arc<Api>,
    trunk_id: String,
    /// What each dial learns, to the dispatcher.
    learned: mpsc::UnboundedSender<Learned>,
}

impl LiveKitPlacer {
    pub fn new(
        url: &str,
        api_key: &str,
        secret: &str,
        trunk_id: &str,
        learned: mpsc::UnboundedSender<Learned>,
        tls: &OutboundTls,
    ) -> Result<Self, reqwest::Error> {
        let base = https_twin(url.trim_end_matches('/'));
        let api = Api { client: tls.client(ACCEPT_TIMEOUT)?, base, api_key: api_key.into(), secret: secret.into() };
        Ok(Self { api: Arc::new(api), trunk_id: trunk_id.to_owned(), learned })
    }

    /// The body of the agent's dispatch: the agent named by the campaign, in the call's room, with
    /// the call's identity, variables and context as its metadata.
    pub fn dispatch_body(call: &CallRequest) -> Value {
        let metadata = json!({
            "execution_id": call.execution_id,
            "call_variables": call.call_variables,
            "call_context": call.call_context,
        });
        json!({ "agent_name": call.agent_id, "room": room_of(call.execution_id), "metadata": metadata.to_string() })
    }

    /// The body of the dial: the contact, from the call's caller ID, into the call's room; it
    /// returns once the call is answered or refused.
    pub fn dial_body(&self, call: &CallRequest) -> Value {
        json!({
            "sip_trunk_id": self.trunk_id,
            "sip_call_to": call.to_number,
            "sip_number": call.from_number,
            "room_name": room_of(call.execution_id),
            "participant_identity": PARTICIPANT_IDENTITY,
            "participant_name": "Phone",
            "wait_until_answered": true,
            "ringing_timeout": format!("{RING_SECONDS}s"),
            // LiveKit ends the call when graine's call timeout would close it.
            "max_call_duration": format!("{}s", (call.deadline_at - call.dispatched_at).num_seconds().max(1)),
        })
    }
}

impl Placer for LiveKitPlacer {
    fn provider(&self) -> Provider {
        Provider::Livekit
    }

    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a> {
        Box::pin(async move {
            let room = room_of(call.execution_id);
            let grants = json!({ "video": { "roomAdmin": true, "room": room } });
            let sent = self.api.request("AgentDispatchService/CreateDispatch", grants, &Self::dispatch_body(call));
            let placement = match sent.send().await {
                Ok(r) => classify_dispatch(r).await,
                Err(e) => answer::failed_request(&e, "livekit"),
            };
            match &placement {
                Placement::Accepted { .. } => {
                    let (api, body, learned) = (self.api.clone(), self.dial_body(call), self.learned.clone());
                    tokio::spawn(dial(api, call.execution_id, body, learned));
                }
                // The dispatch may exist: its room goes, so that no agent waits for a call never dialled.
                Placement::Unknown(_) => {
                    let api = self.api.clone();
                    tokio::spawn(async move { api.delete_room(&room).await });
                }
                Placement::Rejected { .. } | Placement::Throttled { .. } => {}
            }
            placement
        })
    }
}

/// What LiveKit's answer to a dispatch means: `429` (`resource_exhausted`) and refused credentials
/// use no attempt and slow dispatch down, `408`/`5xx` are doubt, other refusals fail the attempt.
async fn classify_dispatch(r: reqwest::Response) -> Placement {
    let status = r.status();
    if status.is_success() {
        return Placement::Accepted { script: None, provider_call_id: None };
    }
    if let Some(placement) = answer::common(&r, "livekit") {
        return placement;
    }
    let error = TwirpError::read(status.as_u16(), &answer::bounded_body(r).await);
    let reason = answer::short(&format!("livekit {}: {}", error.code, error.msg));
    if matches!(status.as_u16(), 401 | 403) {
        return Placement::Throttled { reason, retry_after: None };
    }
    Placement::Rejected { reason, permanent: false }
}

/// A Twirp error body: `{"code", "msg", "meta"}`; LiveKit puts a refused dial's SIP status in
/// `meta.sip_status_code` and its reason phrase in `meta.sip_status`. A body that names no code
/// (not Twirp's) is named by its HTTP status.
#[derive(Debug, PartialEq)]
pub struct TwirpError {
    pub code: String,
    pub msg: String,
    pub sip_code: Option<u16>,
    pub sip_status: Option<String>,
}

impl TwirpError {
    pub fn read(status: u16, body: &[u8]) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string()));
        let meta = &v["meta"];
        Self {
            code: v["code"].as_str().filter(|c| !c.is_empty()).map_or_else(|| status.to_string(), str::to_owned),
            msg: v["msg"].as_str().unwrap_or_default().to_owned(),
            sip_code: text(&meta["sip_status_code"])
                .and_then(|c| c.trim().parse().ok())
                .filter(|c| (100..700).contains(c)),
            sip_status: text(&meta["sip_status"]).filter(|s| !s.is_empty()),
        }
    }
}

/// What a dial's answer means for the call.
#[derive(Debug)]
pub enum Dialled {
    /// Answered, with LiveKit's SIP call id.
    Answered(Option<String>),
    /// The callee refused or never answered, or LiveKit refused the dial: the call's outcome.
    Ended(Report),
    /// LiveKit refused the dial as too many (no SIP status): the call fails, and dials pause.
    Limited(Report),
    /// Unknown: LiveKit may be dialling; its webhooks or the call timeout decide.
    Doubt,
}

/// Reads a dial's answer.
pub fn dial_result(status: u16, body: &[u8]) -> Dialled {
    if (200..300).contains(&status) {
        let info: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let sid = ["sip_call_id", "sipCallId"].iter().find_map(|k| info[*k].as_str().map(str::to_owned));
        return Dialled::Answered(sid.filter(|s| !s.is_empty()));
    }
    let error = TwirpError::read(status, body);
    if let Some(code) = error.sip_code {
        // The callee's answer, whatever Twirp code carries it: never a rate limit.
        let status = match code {
            486 | 600 => CallStatus::Busy,
            408 | 480 | 487 => CallStatus::NoAnswer,
            _ => CallStatus::Failed,
        };
        let state = error.sip_status.unwrap_or_else(|| error.code.clone());
        return Dialled::Ended(ended(status, &answer::short(&state), Some(code), None, None));
    }
    let refused = || {
        let reason = answer::short(&format!("livekit dial refused: {}: {}", error.code, error.msg));
        ended(CallStatus::Failed, &reason, None, None, None)
    };
    match error.code.as_str() {
        // Nobody answered before the ringing timeout: LiveKit cancels the dial.
        "deadline_exceeded" | "canceled" => {
            Dialled::Ended(ended(CallStatus::NoAnswer, "unanswered timeout", None, None, None))
        }
        "resource_exhausted" => Dialled::Limited(refused()),
        "internal" | "unavailable" | "unknown" | "dataloss" => Dialled::Doubt,
        _ if status >= 500 => Dialled::Doubt,
        _ => Dialled::Ended(refused()),
    }
}

/// Dials an accepted call and reports the answer; a dial that ended the call deletes its room
/// once the outcome is on its way, and one refused as too many pauses dispatch.
async fn dial(api: Arc<Api>, execution_id: ExecutionId, body: Value, learned: mpsc::UnboundedSender<Learned>) {
    let room = room_of(execution_id);
    let grants = json!({ "sip": { "call": true } });
    let dialled = match api.request("SIP/CreateSIPParticipant", grants, &body).timeout(DIAL_TIMEOUT).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            dial_result(status, &answer::bounded_body(r).await)
        }
        Err(e) => {
            tracing::warn!(%execution_id, error = %e, "no answer from livekit to a dial; its webhooks will tell");
            Dialled::Doubt
        }
    };
    let report = |call_sid, report| {
        let callback = Callback { execution_id: Some(execution_id), call_sid, report: Some(report) };
        let _ = learned.send(Learned::Report(callback));
    };
    let outcome = match dialled {
        Dialled::Answered(sid) => return report(sid, Report::Answered(None)),
        Dialled::Doubt => return,
        Dialled::Ended(outcome) => outcome,
        Dialled::Limited(outcome) => {
            tracing::warn!(%execution_id, "livekit refused a dial as too many; dispatch pauses");
            let _ = learned.send(Learned::TooMany(LIMITED_PAUSE));
            outcome
        }
    };
    report(None, outcome);
    api.delete_room(&room).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: u16, body: &str) -> Option<(CallStatus, String, bool)> {
        match dial_result(status, body.as_bytes()) {
            Dialled::Ended(Report::Finished(o)) => Some((o.status, o.hangup_reason.unwrap_or_default(), o.permanent)),
            _ => None,
        }
    }

    #[test]
    fn a_dial_error_with_a_sip_status_is_the_calls_outcome() {
        let busy =
            r#"{"code":"resource_exhausted","msg":"busy","meta":{"sip_status_code":"486","sip_status":"Busy Here"}}"#;
        assert_eq!(outcome(429, busy), Some((CallStatus::Busy, "Busy Here (SIP 486)".into(), false)));
        let gone = r#"{"code":"not_found","msg":"x","meta":{"sip_status_code":"404"}}"#;
        assert_eq!(outcome(404, gone), Some((CallStatus::Failed, "not_found (SIP 404)".into(), true)));
        let late = r#"{"code":"deadline_exceeded","msg":"x","meta":{"sip_status_code":"480"}}"#;
        assert_eq!(outcome(408, late).map(|o| o.0), Some(CallStatus::NoAnswer));
        let timeout = r#"{"code":"canceled","msg":"no answer"}"#;
        assert_eq!(outcome(408, timeout), Some((CallStatus::NoAnswer, "unanswered timeout".into(), false)));
        let refused = r#"{"code":"invalid_argument","msg":"no trunk"}"#;
        assert_eq!(outcome(400, refused).map(|o| o.1), Some("livekit dial refused: invalid_argument: no trunk".into()));
        let limited = dial_result(429, br#"{"code":"resource_exhausted","msg":"too many calls"}"#);
        assert!(
            matches!(limited, Dialled::Limited(Report::Finished(o)) if o.status == CallStatus::Failed && !o.permanent)
        );
        assert!(matches!(dial_result(503, br#"{"code":"unavailable","msg":"x"}"#), Dialled::Doubt));
        assert!(matches!(dial_result(502, b"bad gateway"), Dialled::Doubt));
        let answered = dial_result(200, br#"{"participant_id":"PA_1","sip_call_id":"SCL_1"}"#);
        assert!(matches!(answered, Dialled::Answered(Some(sid)) if sid == "SCL_1"));
    }

    #[test]
    fn rooms_name_their_calls() {
        let id = ExecutionId::generate();
        assert_eq!(call_of_room(&room_of(id)), Some(id));
        assert_eq!(call_of_room("support-room"), None);
    }
}

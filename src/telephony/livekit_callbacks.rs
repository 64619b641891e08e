//! LiveKit's webhooks (API.md §7.1): authenticated by the token in `Authorization` (signed with the
//! API secret, its `sha256` claim the body's hash), read as provider-neutral reports about the
//! contact's SIP participant in its call's room.

use super::livekit::call_of_room;
use super::livekit_token;
use super::placer::{Callback, Report, final_outcome};
use crate::domain::contact::CallStatus;
use crate::domain::outcome::Outcome;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Authenticates LiveKit's webhooks.
#[derive(Clone)]
pub struct LiveKitCallbacks {
    api_key: String,
    secret: String,
}

/// Credentials that do not pass.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

impl LiveKitCallbacks {
    pub fn new(api_key: &str, secret: &str) -> Self {
        Self { api_key: api_key.to_owned(), secret: secret.to_owned() }
    }

    /// Checks the token before the body is read (signature, issuer, validity); returns the body
    /// hash it vouches for.
    pub fn check_header(&self, authorization: Option<&str>, now: i64) -> Result<String, Refused> {
        let token = authorization.ok_or(Refused)?.trim();
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        let claims = livekit_token::verify(token, &self.api_key, &self.secret, now).map_err(|_| Refused)?;
        claims.get("sha256").and_then(Value::as_str).map(str::to_owned).ok_or(Refused)
    }

    /// Whether the body is the one the token vouches for (base64 of its SHA-256).
    pub fn verify_body(&self, sha256: &str, body: &[u8]) -> bool {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        bool::from(hash.as_bytes().ct_eq(sha256.as_bytes()))
    }
}

/// Whether a participant is the contact's phone (a SIP participant).
fn is_phone(participant: &Value) -> bool {
    matches!(participant.get("kind"), Some(Value::String(k)) if k == "SIP")
        || participant.get("kind") == Some(&Value::from(3))
}

/// The reason a phone left, as LiveKit gives it (none when it does not say).
fn disconnect_reason(participant: &Value) -> Option<&str> {
    participant["disconnectReason"].as_str().filter(|r| !r.is_empty() && *r != "UNKNOWN_REASON")
}

/// A guess at what the phone's leaving means when it was never answered (the dial's own answer,
/// when it comes, says it surely): the reason LiveKit gives for the disconnection, else its last
/// call status (still ringing: nobody answered).
fn unanswered(participant: &Value, state: &str) -> Box<Outcome> {
    let status = match (disconnect_reason(participant), participant["attributes"]["sip.callStatus"].as_str()) {
        (Some("USER_REJECTED"), _) => CallStatus::Busy,
        (Some("USER_UNAVAILABLE"), _) | (_, Some("ringing")) => CallStatus::NoAnswer,
        _ => CallStatus::Failed,
    };
    Box::new(final_outcome(status, state, None, None, None))
}

/// A webhook event, read: `None` when it is about no call of ours (another room, or no room).
pub fn read(event: &Value) -> Option<Callback> {
    let name = event["event"].as_str().unwrap_or_default();
    let execution_id = call_of_room(event["room"]["name"].as_str()?)?;
    let participant = &event["participant"];
    let phone = is_phone(participant);
    let call_status = participant["attributes"]["sip.callStatus"].as_str().unwrap_or_default();
    let call_sid = participant["attributes"]["sip.callID"].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let report = match name {
        // A phone joins its room, and publishes its track, while it is still dialling: only
        // `active` is an answer (the dial's success is the usual one).
        "participant_joined" | "track_published" if phone && call_status == "active" => Some(Report::Answered(None)),
        "participant_left" | "participant_connection_aborted" if phone => {
            let reason = disconnect_reason(participant).map_or_else(|| name.to_owned(), |r| format!("{name}: {r}"));
            // LiveKit marks an answered call `hangup` as it ends; a call never answered keeps
            // `dialing` or `ringing`.
            let answered = matches!(call_status, "active" | "hangup" | "automation");
            Some(Report::HungUp { answered, unanswered: Some(unanswered(participant, &reason)), reason })
        }
        // The room finishing ends an answered call; an unanswered one is the dial's, or its phone's.
        "room_finished" => Some(Report::HungUp { reason: name.to_owned(), answered: false, unanswered: None }),
        _ => None,
    };
    Some(Callback { execution_id: Some(execution_id), call_sid, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ExecutionId;
    use crate::telephony::livekit::room_of;
    use serde_json::json;

    fn phone(event: &str, status: &str, reason: Option<&str>) -> Option<Report> {
        let id = ExecutionId::generate();
        let mut body = json!({"event": event, "room": {"name": room_of(id)}, "participant": {"identity": "callee",
            "kind": "SIP", "attributes": {"sip.callStatus": status, "sip.callID": "SCL_1"}}});
        if let Some(reason) = reason {
            body["participant"]["disconnectReason"] = json!(reason);
        }
        let callback = read(&body).unwrap();
        assert_eq!((callback.execution_id, callback.call_sid.as_deref()), (Some(id), Some("SCL_1")));
        callback.report
    }

    fn left(status: &str, reason: Option<&str>) -> (bool, String, CallStatus, bool) {
        match phone("participant_left", status, reason) {
            Some(Report::HungUp { answered, reason, unanswered: Some(guess) }) => {
                let same = guess.hangup_reason.as_deref() == Some(reason.as_str());
                (answered, reason, guess.status, same)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn joining_is_not_answering() {
        assert!(phone("participant_joined", "dialing", None).is_none());
        assert!(phone("participant_joined", "ringing", None).is_none());
        assert!(matches!(phone("participant_joined", "active", None), Some(Report::Answered(None))));
        assert!(matches!(phone("track_published", "active", None), Some(Report::Answered(None))));
        assert!(phone("track_published", "dialing", None).is_none());
    }

    #[test]
    fn leaving_ends_the_call_by_what_livekit_says_of_it() {
        assert!(left("hangup", Some("CLIENT_INITIATED")).0, "LiveKit marks an answered call hangup as it ends");
        assert!(left("active", None).0);
        let rejected = left("ringing", Some("USER_REJECTED"));
        assert_eq!(rejected, (false, "participant_left: USER_REJECTED".into(), CallStatus::Busy, true));
        assert_eq!(left("ringing", Some("USER_UNAVAILABLE")).2, CallStatus::NoAnswer);
        assert_eq!(left("ringing", None).2, CallStatus::NoAnswer);
        assert_eq!(left("dialing", Some("CLIENT_INITIATED")).2, CallStatus::Failed);
        assert!(!left("dialing", None).0);
    }

    #[test]
    fn other_rooms_and_participants_are_not_calls() {
        assert!(read(&json!({"event": "room_started", "room": {"name": "support"}})).is_none());
        assert!(read(&json!({"event": "egress_ended"})).is_none());
        let id = ExecutionId::generate();
        let agent = json!({"event": "participant_left", "room": {"name": room_of(id)},
            "participant": {"identity": "agent-AJ_1", "kind": "AGENT"}});
        assert!(read(&agent).unwrap().report.is_none());
        let finished = read(&json!({"event": "room_finished", "room": {"name": room_of(id)}})).unwrap();
        assert!(matches!(finished.report, Some(Report::HungUp { answered: false, unanswered: None, .. })));
    }

    #[test]
    fn the_body_must_be_the_one_the_token_hashed() {
        let callbacks = LiveKitCallbacks::new("key", "secret");
        let body = br#"{"event":"room_finished"}"#;
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        let token = livekit_token::sign("key", "secret", json!({"sha256": hash}), 1_000, 300);
        let vouched = callbacks.check_header(Some(&token), 1_010).unwrap();
        assert!(callbacks.verify_body(&vouched, body));
        assert!(!callbacks.verify_body(&vouched, br#"{"event":"room_started"}"#));
        assert_eq!(callbacks.check_header(Some(&format!("Bearer {token}")), 1_010), Ok(vouched));
        assert_eq!(callbacks.check_header(None, 1_010), Err(Refused));
        let unhashed = livekit_token::sign("key", "secret", json!({}), 1_000, 300);
        assert_eq!(callbacks.check_header(Some(&unhashed), 1_010), Err(Refused));
    }
}

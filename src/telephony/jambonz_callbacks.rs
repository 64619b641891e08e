//! jambonz's call-status and answering-machine callbacks (API.md §7.1): authenticated by the
//! `Jambonz-Signature` header and/or HTTP basic credentials, read as provider-neutral reports.

use super::placer::{Callback, Report, ended};
use crate::domain::contact::CallStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::voicemail::AnsweredBy;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signature's timestamp may be from now.
const TOLERANCE_SECONDS: i64 = 300;
/// The most signatures one header may carry.
const MAX_SIGNATURES: usize = 10;

/// Authenticates jambonz's callbacks: every configured way must pass.
#[derive(Clone)]
pub struct JambonzCallbacks {
    secret: Option<String>,
    basic: Option<String>,
}

/// Credentials that do not pass.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

/// A `Jambonz-Signature` header that passed the checks made before the body is read.
pub struct Signature {
    timestamp: String,
    candidates: Vec<Vec<u8>>,
}

impl JambonzCallbacks {
    /// `secret`: the account's webhook secret; `basic`: `user:password`.
    pub fn new(secret: Option<&str>, basic: Option<&str>) -> Self {
        Self { secret: secret.map(str::to_owned), basic: basic.map(str::to_owned) }
    }

    /// Checks what can be checked before the body is read: the basic credentials, and the
    /// signature header's shape, count and freshness. `Err` refuses the request.
    pub fn check_headers(
        &self,
        signature: Option<&str>,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Option<Signature>, Refused> {
        if let Some(expected) = &self.basic {
            let given = authorization
                .and_then(|a| a.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
                .ok_or(Refused)?;
            if !bool::from(given.ct_eq(expected.as_bytes())) {
                return Err(Refused);
            }
        }
        if self.secret.is_none() {
            return Ok(None);
        }
        let (mut timestamp, mut candidates) = (None, Vec::new());
        for part in signature.ok_or(Refused)?.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = Some(t.to_owned()),
                Some(("v1", v)) => candidates.push(hex_bytes(v).ok_or(Refused)?),
                _ => {}
            }
            if candidates.len() > MAX_SIGNATURES {
                return Err(Refused);
            }
        }
        let timestamp = timestamp.ok_or(Refused)?;
        let t: i64 = timestamp.parse().map_err(|_| Refused)?;
        if candidates.is_empty() || (now - t).abs() > TOLERANCE_SECONDS {
            return Err(Refused);
        }
        Ok(Some(Signature { timestamp, candidates }))
    }

    /// Whether the body is the one signed: one HMAC-SHA256 over `timestamp.body`, compared with
    /// every candidate in constant time.
    pub fn verify_body(&self, signature: Option<&Signature>, body: &[u8]) -> bool {
        let (Some(secret), Some(sig)) = (&self.secret, signature) else { return self.secret.is_none() };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(sig.timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        sig.candidates.iter().fold(false, |ok, c| ok | bool::from(c.as_slice().ct_eq(expected.as_slice())))
    }
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Reads a call-status callback (`call_status`) or an answering-machine event (`type`: `amd_…`).
pub fn read(body: &Value) -> Callback {
    let execution_id = body["customerData"]["execution_id"].as_str().and_then(ExecutionId::parse);
    let call_sid = body["call_sid"].as_str().map(str::to_owned);
    let report = match (body["type"].as_str(), body["call_status"].as_str()) {
        (Some(event), _) if event.starts_with("amd_") => machine_event(event),
        (_, Some(state)) => status(state, body),
        _ => None,
    };
    Callback { execution_id, call_sid, report }
}

fn machine_event(event: &str) -> Option<Report> {
    let by = match event {
        "amd_human_detected" => AnsweredBy::Human,
        "amd_machine_detected" | "amd_tone_detected" => AnsweredBy::Machine,
        "amd_no_speech_detected" | "amd_decision_timeout" => AnsweredBy::Unknown,
        _ => return None,
    };
    Some(Report::Answered(Some(by)))
}

fn status(state: &str, body: &Value) -> Option<Report> {
    let final_status = match state {
        "trying" | "ringing" | "early-media" | "queued" => return Some(Report::Ringing),
        "in-progress" => return Some(Report::Answered(None)),
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        _ => return None,
    };
    let sip = body["sip_status"].as_u64().and_then(|c| u16::try_from(c).ok());
    Some(ended(final_status, state, sip, body["duration"].as_f64(), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn signatures_are_checked_before_and_after_the_body() {
        let c = JambonzCallbacks::new(Some("wh_secret"), None);
        let body = br#"{"call_sid":"x"}"#;
        let sig = c.check_headers(Some(&header("wh_secret", 1000, body)), None, 1100).unwrap();
        assert!(c.verify_body(sig.as_ref(), body));
        assert!(!c.verify_body(sig.as_ref(), b"{}"), "another body");
        assert!(c.check_headers(Some(&header("wh_secret", 1000, body)), None, 1400).is_err(), "stale");
        assert!(c.check_headers(None, None, 1000).is_err());
        let many = format!("t=1000{}", ",v1=00".repeat(11));
        assert!(c.check_headers(Some(&many), None, 1000).is_err(), "too many signatures");
        let basic = JambonzCallbacks::new(None, Some("graine:pw"));
        assert!(basic.check_headers(None, Some("Basic Z3JhaW5lOnB3"), 0).is_ok());
        assert!(basic.check_headers(None, Some("Basic Z3JhaW5lOnB4"), 0).is_err());
        assert!(basic.check_headers(None, None, 0).is_err());
    }

    #[test]
    fn states_and_machine_events_become_reports() {
        let exec = ExecutionId::generate();
        let cb = read(&json!({"call_sid": "s1", "call_status": "busy", "sip_status": 486,
            "customerData": {"execution_id": exec.to_string()}}));
        assert_eq!((cb.execution_id, cb.call_sid.as_deref()), (Some(exec), Some("s1")));
        let Some(Report::Finished(o)) = cb.report else { panic!("busy is final") };
        assert_eq!((o.status, o.hangup_reason.as_deref()), (CallStatus::Busy, Some("busy (SIP 486)")));
        let Some(Report::Finished(o)) = read(&json!({"call_status": "failed", "sip_status": 404})).report else {
            panic!("failed is final")
        };
        assert!(o.permanent);
        assert!(matches!(read(&json!({"call_status": "early-media"})).report, Some(Report::Ringing)));
        assert!(matches!(
            read(&json!({"type": "amd_machine_detected", "call_status": "in-progress"})).report,
            Some(Report::Answered(Some(AnsweredBy::Machine)))
        ));
        assert!(read(&json!({"type": "amd_stopped"})).report.is_none());
    }
}

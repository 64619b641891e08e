//! Twilio's status and answering-machine callbacks (API.md §7.1): `X-Twilio-Signature` verified
//! over the callback URL and the sorted form, and Twilio's call states read as provider-neutral reports.

use super::placer::{Callback, Report, ended};
use super::twilio::CALLBACK_PATH;
use crate::domain::contact::CallStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::voicemail::AnsweredBy;
use base64::Engine;
use hmac::{Hmac, Mac};

/// Verifies Twilio's callbacks to this server.
#[derive(Clone)]
pub struct TwilioCallbacks {
    auth_token: String,
    /// `{public_url}/api/v1/webhooks/twilio`, as given to Twilio.
    callback_url: String,
}

impl TwilioCallbacks {
    pub fn new(auth_token: &str, public_url: &str) -> Self {
        Self {
            auth_token: auth_token.to_owned(),
            callback_url: format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
        }
    }

    /// Whether `signature` is Twilio's for a callback with this query string and form: one
    /// HMAC-SHA1, compared in constant time.
    pub fn verify(&self, query: Option<&str>, params: &[(String, String)], signature: &str) -> bool {
        let url = match query {
            Some(q) => format!("{}?{q}", self.callback_url),
            None => self.callback_url.clone(),
        };
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
            return false;
        };
        mac(&self.auth_token, &url, params).verify_slice(&given).is_ok()
    }
}

/// Twilio's signature: HMAC-SHA1 keyed with the auth token over the URL followed by each form
/// parameter's name and value, in name order (a repeated name's values in order too), base64.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<sha1::Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// Reads a status callback (`CallStatus`) or an answering-machine verdict (`AnsweredBy` alone).
pub fn read(query: Option<&str>, params: &[(String, String)]) -> Callback {
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let execution_id = query.and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(n, _)| n == "execution_id")
            .and_then(|(_, v)| ExecutionId::parse(&v))
    });
    let answered_by = get("AnsweredBy").map(answered_by);
    let sip = get("SipResponseCode").and_then(|c| c.parse::<u16>().ok());
    let report = match get("CallStatus") {
        None => answered_by.map(|by| Report::Answered(Some(by))),
        Some("queued" | "initiated" | "ringing") => Some(Report::Ringing),
        Some("in-progress") => Some(Report::Answered(answered_by)),
        Some(state) => {
            let status = match state {
                "completed" => CallStatus::Completed,
                "busy" => CallStatus::Busy,
                "no-answer" => CallStatus::NoAnswer,
                "failed" | "canceled" => CallStatus::Failed,
                _ => return Callback { execution_id, call_sid: get("CallSid").map(str::to_owned), report: None },
            };
            let duration = get("CallDuration").and_then(|d| d.parse::<f64>().ok());
            Some(ended(status, state, sip, duration, answered_by))
        }
    };
    Callback { execution_id, call_sid: get("CallSid").map(str::to_owned), report }
}

/// Twilio's `AnsweredBy` in our terms (its `machine_start` and `machine_end_*` are all machines).
fn answered_by(value: &str) -> AnsweredBy {
    match value {
        "human" => AnsweredBy::Human,
        "fax" => AnsweredBy::Fax,
        v if v.starts_with("machine") => AnsweredBy::Machine,
        _ => AnsweredBy::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_signature_covers_the_url_and_the_sorted_form() {
        // Twilio's documented example: the URL, then each parameter's name and value in name order.
        let params = form(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        let callbacks = TwilioCallbacks { auth_token: "12345".into(), callback_url: "https://x.test/cb".into() };
        let sig = signature("12345", "https://x.test/cb?execution_id=e", &params);
        assert!(callbacks.verify(Some("execution_id=e"), &params, &sig));
        assert!(!callbacks.verify(Some("execution_id=f"), &params, &sig), "the query is signed");
        assert!(!callbacks.verify(Some("execution_id=e"), &params[1..], &sig), "so is every parameter");
        assert!(!callbacks.verify(Some("execution_id=e"), &params, "not base64!"));
    }

    #[test]
    fn states_map_onto_call_statuses() {
        let read_status = |pairs: &[(&str, &str)]| read(Some("execution_id=x"), &form(pairs)).report;
        assert!(matches!(read_status(&[("CallStatus", "ringing")]), Some(Report::Ringing)));
        assert!(matches!(read_status(&[("CallStatus", "in-progress")]), Some(Report::Answered(None))));
        assert!(matches!(
            read_status(&[("AnsweredBy", "machine_end_beep")]),
            Some(Report::Answered(Some(AnsweredBy::Machine)))
        ));
        let Some(Report::Finished(o)) = read_status(&[("CallStatus", "completed"), ("CallDuration", "42")]) else {
            panic!("completed is final")
        };
        assert_eq!(
            (o.status, o.duration_seconds, o.hangup_reason.as_deref()),
            (CallStatus::Completed, Some(42.0), Some("completed"))
        );
        let Some(Report::Finished(o)) = read_status(&[("CallStatus", "failed"), ("SipResponseCode", "404")]) else {
            panic!("failed is final")
        };
        assert_eq!(
            (o.status, o.permanent, o.hangup_reason.as_deref()),
            (CallStatus::Failed, true, Some("failed (SIP 404)"))
        );
        assert!(read_status(&[("CallStatus", "teleported")]).is_none());
    }
}

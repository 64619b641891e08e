//! The telephony side as the dispatcher sees it: one trait, implemented by each way of placing calls.

use crate::domain::contact::{CallKind, CallStatus};
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::outcome::Outcome;
use crate::domain::simulate::Script;
use crate::domain::voicemail::{AnsweredBy, VoicemailAction};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Everything telephony needs to place one call (the body of the http placer's request).
#[derive(Clone, Debug, Serialize)]
pub struct CallRequest {
    pub execution_id: ExecutionId,
    pub campaign_id: CampaignId,
    pub batch_id: BatchId,
    pub contact_id: ContactId,
    pub agent_id: String,
    pub from_number: String,
    pub to_number: String,
    /// The campaign's defaults overlaid by the contact's own variables (the contact wins).
    pub call_variables: Map<String, Value>,
    pub call_context: Map<String, Value>,
    pub attempt: i64,
    pub kind: CallKind,
    /// The campaign's `metadata.voicemail_action` (whether machines are detected and hung up on).
    #[serde(skip)]
    pub voicemail_action: VoicemailAction,
    #[serde(skip)]
    pub dispatched_at: DateTime<Utc>,
    /// After this instant the call is closed as timed out: telephony must not start it any more.
    #[serde(serialize_with = "crate::domain::time::serialize_rfc3339")]
    pub deadline_at: DateTime<Utc>,
}

/// What telephony said to a placement (API.md §7, "What telephony's answer means").
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// The call is on its way; a simulated call comes with its script, a provider's with its own id.
    Accepted { script: Option<Box<Script>>, provider_call_id: Option<String> },
    /// Telephony refused the call for good: it was not placed and the attempt fails (`failed`, the
    /// reason kept on the call record), permanently when telephony says the number is invalid.
    Rejected { reason: String, permanent: bool },
    /// Telephony did not take the call for a reason that is not the contact's (too many calls, or
    /// telephony out of reach): no attempt is used, the contact keeps its place, and dispatch waits
    /// `retry_after` (or backs off) before it places more.
    Throttled { reason: String, retry_after: Option<Duration> },
    /// It is not known whether telephony took the call: it stays live until an outcome arrives or
    /// the call timeout closes it, and is never placed again meanwhile.
    Unknown(String),
}

/// What telephony reports about a call, whichever provider it came from.
#[derive(Clone, Debug)]
pub enum Report {
    Ringing,
    /// Answered; who answered, when telephony detected it (possibly in a report of its own).
    Answered(Option<AnsweredBy>),
    Finished(Box<Outcome>),
    /// The call ended at the provider, which does not say how it went: `completed` (lasting from
    /// its recorded answer, `reason` in `hangup_reason`) when it was answered, as recorded or as
    /// `answered` says; otherwise `unanswered`, a guess that stands only if nothing surer (the
    /// dial's own answer) closes the call within `GUESS_GRACE_SECONDS`; `None`: nothing to record.
    HungUp {
        reason: String,
        answered: bool,
        unanswered: Option<Box<Outcome>>,
    },
}

/// A provider's callback, read: the call it names (Twilio's callback URL query, jambonz's
/// `customerData`), the provider's id for it, and what it reports (`None`: nothing that changes
/// the call, or a state the provider may add later).
#[derive(Debug)]
pub struct Callback {
    pub execution_id: Option<ExecutionId>,
    pub call_sid: Option<String>,
    pub report: Option<Report>,
}

/// What a placer learns about its calls after their placement returned (a LiveKit dial's answer).
#[derive(Debug)]
pub enum Learned {
    /// A report about one call, as a callback would bring it.
    Report(Callback),
    /// Telephony refused a call as one too many: dispatch pauses for this long, as after a `429`.
    TooMany(Duration),
}

/// SIP answers that say the number does not exist: the failure is permanent (API.md §7.1).
pub const PERMANENT_SIP: [u16; 4] = [404, 410, 484, 604];
/// How long a provider's guess at an unanswered call's outcome waits for a surer answer.
pub const GUESS_GRACE_SECONDS: i64 = 15;
/// The longest call telephony may report (API.md §7).
pub const MAX_DURATION_SECONDS: f64 = 86_400.0;

/// A provider's final state as an outcome, the same for every provider: the state and SIP code go
/// to `hangup_reason`, a failure with an unallocated-number code is permanent, and a duration out
/// of bounds is left out rather than refusing the callback (a provider does not send it again).
pub fn final_outcome(
    status: CallStatus,
    state: &str,
    sip: Option<u16>,
    duration: Option<f64>,
    answered_by: Option<AnsweredBy>,
) -> Outcome {
    let reason = match sip {
        Some(code) => format!("{state} (SIP {code})"),
        None => state.to_owned(),
    };
    let mut outcome = Outcome::bare(status, "", &reason);
    outcome.hangup_by = None;
    outcome.duration_seconds = duration.filter(|d| (0.0..=MAX_DURATION_SECONDS).contains(d));
    outcome.permanent = status == CallStatus::Failed && sip.is_some_and(|c| PERMANENT_SIP.contains(&c));
    outcome.answered_by = answered_by;
    outcome
}

/// `final_outcome` as a report.
pub fn ended(
    status: CallStatus,
    state: &str,
    sip: Option<u16>,
    duration: Option<f64>,
    answered_by: Option<AnsweredBy>,
) -> Report {
    Report::Finished(Box::new(final_outcome(status, state, sip, duration, answered_by)))
}

/// The longest `Retry-After` honoured: a larger one would stall every campaign on a typo.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A `Retry-After` header's wait: delay seconds, or an HTTP date (RFC 7231) after `now`; at most
/// `MAX_RETRY_AFTER`.
pub fn retry_after(value: Option<&str>, now: DateTime<Utc>) -> Option<Duration> {
    let value = value?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => (DateTime::parse_from_rfc2822(value).ok()?.to_utc() - now).to_std().unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A future returned by a placer.
pub type PlaceFuture<'a> = Pin<Box<dyn Future<Output = Placement> + Send + 'a>>;

/// A way of placing calls.
pub trait Placer: Send + Sync {
    /// The telephony this placer reaches, recorded on every call it places.
    fn provider(&self) -> crate::domain::provider::Provider;

    /// Hands one call to telephony.
    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a>;

    /// For a placer that accepts every call at once, without I/O: the call's script, so that the
    /// claim records the placement in its own transaction. `None`: the call goes through `place`.
    fn accept_at_once(&self, _call: &CallRequest) -> Option<Option<Script>> {
        None
    }

    /// Ends a live call at the provider (a machine answered and the campaign hangs up on machines).
    /// The outcome is already recorded; a failure is only logged. Placers that cannot do it (the
    /// simulated one's calls end by script; the http one's telephony learns it from the callback's
    /// answer) do nothing.
    fn hang_up<'a>(&'a self, _provider_call_id: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().to_utc();
        assert_eq!(retry_after(Some("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some("Thu, 03 Dec 2026 10:00:30 GMT"), now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(Some("Thu, 03 Dec 2026 09:00:00 GMT"), now), Some(Duration::ZERO), "a past date");
        assert_eq!(retry_after(Some("86400"), now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
    }
}

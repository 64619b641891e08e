//! The simulated telephony's script: a call's outcome and timing from the number's last four digits (API.md §7).

use super::contact::CallStatus;
use super::outcome::{self, Outcome};
use super::voicemail::{AnsweredBy, VoicemailAction};
use chrono::{DateTime, Duration, Utc};

/// Cost per answered second, in the account currency.
const COST_PER_SECOND: f64 = 0.0015;

/// How a simulated call will go: when it ends and with what.
#[derive(Clone, PartialEq, Debug)]
pub struct Script {
    pub ends_at: DateTime<Utc>,
    pub outcome: Outcome,
}

fn unanswered(status: CallStatus, reason: &str, ring_seconds: i64, permanent: bool, at: DateTime<Utc>) -> Script {
    let mut outcome = Outcome::bare(status, "system", reason);
    outcome.permanent = permanent;
    outcome.duration_seconds = Some(0.0);
    outcome.total_cost = Some(0.0);
    Script { ends_at: at + Duration::seconds(ring_seconds), outcome }
}

/// How long the simulated machine detection listens before it decides.
const DETECTION_SECONDS: i64 = 4;

/// The script of a call placed at `at` to `to_number`. `first_call` is the contact's first call;
/// `call_seconds` the length of an answered conversation; `action` the campaign's voicemail action.
pub fn script(
    to_number: &str,
    first_call: bool,
    call_seconds: u32,
    callee_name: Option<&str>,
    action: VoicemailAction,
    at: DateTime<Utc>,
) -> Script {
    let last_four = &to_number[to_number.len().saturating_sub(4)..];
    let ring = if call_seconds == 0 { 0 } else { 3 };
    let answered_at = at + Duration::seconds(ring);
    let by = if last_four == "0006" { AnsweredBy::Machine } else { AnsweredBy::Human };
    match last_four {
        "0001" => return unanswered(CallStatus::Busy, "busy", 5, false, at),
        "0002" => return unanswered(CallStatus::NoAnswer, "no_answer", 30, false, at),
        "0003" => return unanswered(CallStatus::Failed, "network_error", 3, false, at),
        "0005" => return unanswered(CallStatus::Failed, "invalid_number", 1, true, at),
        _ => {}
    }
    if let Some(mut outcome) = outcome::ends_call(action, by) {
        // The machine is heard out for a few seconds, then the call is hung up.
        let heard = DETECTION_SECONDS.min(i64::from(call_seconds));
        outcome.duration_seconds = Some(heard as f64);
        outcome.total_cost = Some(cost(heard as f64));
        outcome.answered_at = Some(answered_at);
        return Script { ends_at: answered_at + Duration::seconds(heard), outcome };
    }
    let ends_at = answered_at + Duration::seconds(i64::from(call_seconds));
    let wants_follow_up = last_four == "0004" && first_call;
    let opt_out = last_four == "0007";
    let name = callee_name.unwrap_or("there");
    let (summary, line, sentiment) = match (by, wants_follow_up, opt_out) {
        (AnsweredBy::Machine, _, _) => {
            ("The agent left a voicemail message.", "Agent: Please call us back at your convenience.", "neutral")
        }
        (_, true, _) => {
            ("The contact asked to be called back in an hour.", "User: Could you call me back in an hour?", "neutral")
        }
        (_, _, true) => ("The contact asked not to be called again.", "User: Please do not call me again.", "negative"),
        _ => (
            "The contact listened, asked a question and confirmed interest.",
            "User: Sounds good, thank you.",
            "positive",
        ),
    };
    let outcome = Outcome {
        status: CallStatus::Completed,
        duration_seconds: Some(f64::from(call_seconds)),
        recording_url: Some(format!("https://recordings.invalid/simulated/{}.mp3", to_number.trim_start_matches('+'))),
        transcript: Some(format!("Agent: Hello {name}, this is a call about your account.\n{line}")),
        summary: Some(summary.to_owned()),
        sentiment: Some(sentiment.to_owned()),
        hangup_by: Some(if by == AnsweredBy::Machine { "agent" } else { "user" }.to_owned()),
        hangup_reason: Some("completed".to_owned()),
        total_cost: Some(cost(f64::from(call_seconds))),
        answered_at: Some(answered_at),
        follow_up_at: wants_follow_up.then(|| ends_at + Duration::hours(1)),
        permanent: false,
        answered_by: Some(by),
        opt_out,
        provider_call_id: None,
    };
    Script { ends_at, outcome }
}

/// The cost of `seconds` answered, rounded to a ten-thousandth.
fn cost(seconds: f64) -> f64 {
    (seconds * COST_PER_SECOND * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn magic_numbers() {
        let s = |n: &str, first: bool| script(n, first, 120, Some("Ann"), VoicemailAction::Hangup, at());
        assert_eq!(s("+14155550001", true).outcome.status, CallStatus::Busy);
        assert_eq!(s("+14155550002", true).outcome.status, CallStatus::NoAnswer);
        assert_eq!(s("+14155550002", true).ends_at, at() + Duration::seconds(30));
        assert_eq!(s("+14155550003", true).outcome.status, CallStatus::Failed);
        assert!(!s("+14155550003", true).outcome.permanent);
        assert!(s("+14155550005", true).outcome.permanent);
        let follow = s("+14155550004", true);
        assert_eq!(follow.outcome.status, CallStatus::Completed);
        assert_eq!(follow.ends_at, at() + Duration::seconds(123));
        assert_eq!(follow.outcome.follow_up_at, Some(follow.ends_at + Duration::hours(1)));
        assert_eq!(s("+14155550004", false).outcome.follow_up_at, None, "only on the first call");
        let plain = s("+14155551234", true);
        assert_eq!(plain.outcome.status, CallStatus::Completed);
        assert_eq!(plain.outcome.duration_seconds, Some(120.0));
        assert!(plain.outcome.transcript.unwrap().contains("Ann"));
        assert_eq!(plain.outcome.total_cost, Some(0.18));
        assert_eq!((plain.outcome.answered_by, plain.outcome.opt_out), (Some(AnsweredBy::Human), false));
        assert_eq!(s("+14155550001", true).outcome.answered_by, None, "nobody answered");
    }

    #[test]
    fn machines_and_opt_outs() {
        let machine = script("+14155550006", true, 120, None, VoicemailAction::Hangup, at());
        assert_eq!(
            (machine.outcome.status, machine.outcome.hangup_reason.as_deref(), machine.outcome.answered_by),
            (CallStatus::NoAnswer, Some("voicemail"), Some(AnsweredBy::Machine))
        );
        assert_eq!(machine.ends_at, at() + Duration::seconds(3 + DETECTION_SECONDS));
        let message = script("+14155550006", true, 120, None, VoicemailAction::LeaveMessage, at());
        assert_eq!(
            (message.outcome.status, message.outcome.answered_by),
            (CallStatus::Completed, Some(AnsweredBy::Machine))
        );
        assert_eq!(message.ends_at, at() + Duration::seconds(123));
        let out = script("+14155550007", true, 120, None, VoicemailAction::Hangup, at());
        assert_eq!((out.outcome.status, out.outcome.opt_out), (CallStatus::Completed, true));
    }

    #[test]
    fn zero_length_calls_end_when_placed() {
        assert_eq!(script("+14155551234", true, 0, None, VoicemailAction::Hangup, at()).ends_at, at());
    }
}

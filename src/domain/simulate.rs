//! The simulated telephony's script: a call's outcome and timing from the number's last four digits (API.md §7).

use super::contact::CallStatus;
use super::outcome::Outcome;
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

/// The script of a call placed at `at` to `to_number`. `first_call` is the contact's first call;
/// `call_seconds` the length of an answered conversation.
pub fn script(
    to_number: &str,
    first_call: bool,
    call_seconds: u32,
    callee_name: Option<&str>,
    at: DateTime<Utc>,
) -> Script {
    let last_four = &to_number[to_number.len().saturating_sub(4)..];
    match last_four {
        "0001" => unanswered(CallStatus::Busy, "busy", 5, false, at),
        "0002" => unanswered(CallStatus::NoAnswer, "no_answer", 30, false, at),
        "0003" => unanswered(CallStatus::Failed, "network_error", 3, false, at),
        "0005" => unanswered(CallStatus::Failed, "invalid_number", 1, true, at),
        _ => {
            let ring = if call_seconds == 0 { 0 } else { 3 };
            let answered_at = at + Duration::seconds(ring);
            let ends_at = answered_at + Duration::seconds(i64::from(call_seconds));
            let wants_follow_up = last_four == "0004" && first_call;
            let name = callee_name.unwrap_or("there");
            let (summary, closing) = if wants_follow_up {
                ("The contact asked to be called back in an hour.", "Could you call me back in an hour?")
            } else {
                ("The contact listened, asked a question and confirmed interest.", "Sounds good, thank you.")
            };
            let outcome = Outcome {
                status: CallStatus::Completed,
                duration_seconds: Some(f64::from(call_seconds)),
                recording_url: Some(format!(
                    "https://recordings.invalid/simulated/{}.mp3",
                    to_number.trim_start_matches('+')
                )),
                transcript: Some(format!("Agent: Hello {name}, this is a call about your account.\nUser: {closing}")),
                summary: Some(summary.to_owned()),
                sentiment: Some(if wants_follow_up { "neutral" } else { "positive" }.to_owned()),
                hangup_by: Some("user".to_owned()),
                hangup_reason: Some("completed".to_owned()),
                total_cost: Some((f64::from(call_seconds) * COST_PER_SECOND * 10_000.0).round() / 10_000.0),
                answered_at: Some(answered_at),
                follow_up_at: wants_follow_up.then(|| ends_at + Duration::hours(1)),
                permanent: false,
            };
            Script { ends_at, outcome }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn magic_numbers() {
        let s = |n: &str, first: bool| script(n, first, 120, Some("Ann"), at());
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
    }

    #[test]
    fn zero_length_calls_end_when_placed() {
        assert_eq!(script("+14155551234", true, 0, None, at()).ends_at, at());
    }
}

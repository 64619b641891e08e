//! A call's final result and what it does to the contact (API.md §6 "Outcome → next state").

use super::campaign::{RetryPolicy, RetryStrategy};
use super::contact::{CallKind, CallStatus, ContactStatus};
use super::voicemail::{AnsweredBy, VoicemailAction};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Follow-ups one contact may have at most.
pub const MAX_FOLLOW_UPS: i64 = 3;
/// The longest cooldown between attempts.
const MAX_COOLDOWN_MINUTES: i64 = 24 * 60;

/// A call's final result, as telephony (simulated or real) reports it.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// `completed`, `busy`, `no_answer` or `failed`.
    pub status: CallStatus,
    pub duration_seconds: Option<f64>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub sentiment: Option<String>,
    pub hangup_by: Option<String>,
    pub hangup_reason: Option<String>,
    pub total_cost: Option<f64>,
    pub answered_at: Option<DateTime<Utc>>,
    /// When the conversation asked to be continued.
    pub follow_up_at: Option<DateTime<Utc>>,
    /// A failure that retrying cannot fix (e.g. an invalid number).
    pub permanent: bool,
    /// Who answered, where telephony detected it.
    #[serde(default)]
    pub answered_by: Option<AnsweredBy>,
    /// The person asked not to be called again.
    #[serde(default)]
    pub opt_out: bool,
    /// The provider's own id for the call, when the outcome names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_call_id: Option<String>,
}

impl Outcome {
    /// An outcome with nothing but a status and a reason (timeouts, rejected placements).
    pub fn bare(status: CallStatus, hangup_by: &str, hangup_reason: &str) -> Self {
        Self {
            status,
            duration_seconds: None,
            recording_url: None,
            transcript: None,
            summary: None,
            sentiment: None,
            hangup_by: Some(hangup_by.to_owned()),
            hangup_reason: Some(hangup_reason.to_owned()),
            total_cost: None,
            answered_at: None,
            follow_up_at: None,
            permanent: false,
            answered_by: None,
            opt_out: false,
            provider_call_id: None,
        }
    }
}

/// The attempts a contact has had so far.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Attempts {
    pub retry_count: i64,
    pub follow_up_count: i64,
}

/// The contact after an outcome.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NextContact {
    pub status: ContactStatus,
    pub attempts: Attempts,
    pub next_retry_at: Option<DateTime<Utc>>,
}

/// The wait before retry number `retry` (1 = the first retry).
pub fn cooldown(policy: &RetryPolicy, retry: i64) -> Duration {
    let base = i64::from(policy.cooldown_minutes);
    let minutes = match policy.strategy {
        RetryStrategy::Fixed => base,
        RetryStrategy::Exponential => {
            let doublings = u32::try_from((retry - 1).clamp(0, 20)).unwrap_or(20);
            base.saturating_mul(1 << doublings)
        }
    };
    Duration::minutes(minutes.min(MAX_COOLDOWN_MINUTES))
}

/// What `outcome` makes of a contact. `max_retries` is the batch override or the campaign's;
/// `may_continue` is false once the batch is cancelled or expired (no retry, no follow-up then).
pub fn next_contact(
    outcome: &Outcome,
    kind: CallKind,
    attempts: Attempts,
    max_retries: u8,
    policy: &RetryPolicy,
    ended_at: DateTime<Utc>,
    may_continue: bool,
) -> NextContact {
    let own = match outcome.status {
        CallStatus::Completed => ContactStatus::Completed,
        CallStatus::Busy => ContactStatus::Busy,
        CallStatus::NoAnswer => ContactStatus::NoAnswer,
        _ => ContactStatus::Failed,
    };
    let done = NextContact { status: own, attempts, next_retry_at: None };
    if !may_continue {
        return done;
    }
    if own == ContactStatus::Completed {
        return match outcome.follow_up_at {
            Some(at) if attempts.follow_up_count < MAX_FOLLOW_UPS => NextContact {
                status: ContactStatus::FollowupScheduled,
                attempts: Attempts { follow_up_count: attempts.follow_up_count + 1, ..attempts },
                next_retry_at: Some(at.max(ended_at)),
            },
            _ => done,
        };
    }
    // Follow-ups use no retries, and telephony's permanent failures are not retried.
    if kind == CallKind::FollowUp || outcome.permanent {
        return done;
    }
    let max = i64::from(max_retries);
    if attempts.retry_count < max {
        let retry = attempts.retry_count + 1;
        NextContact {
            status: ContactStatus::Retrying,
            attempts: Attempts { retry_count: retry, ..attempts },
            next_retry_at: Some(ended_at + cooldown(policy, retry)),
        }
    } else if max > 0 {
        NextContact { status: ContactStatus::MaxRetriesReached, ..done }
    } else {
        done
    }
}

/// The outcome that ends a call at once when `by` answered it, or `None` when the call goes on:
/// a machine, under `hangup`, ends as `no_answer` with `hangup_reason:"voicemail"` (and is retried
/// as a no-answer); a fax can take no message, so it always ends the same way (`"fax"`).
pub fn ends_call(action: VoicemailAction, by: AnsweredBy) -> Option<Outcome> {
    let reason = match (by, action) {
        (AnsweredBy::Fax, _) => "fax",
        (AnsweredBy::Machine, VoicemailAction::Hangup) => "voicemail",
        _ => return None,
    };
    let mut outcome = Outcome::bare(CallStatus::NoAnswer, "system", reason);
    outcome.answered_by = Some(by);
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_end_the_call_only_under_hangup() {
        let ended = ends_call(VoicemailAction::Hangup, AnsweredBy::Machine).unwrap();
        assert_eq!(
            (ended.status, ended.hangup_reason.as_deref(), ended.answered_by),
            (CallStatus::NoAnswer, Some("voicemail"), Some(AnsweredBy::Machine))
        );
        assert_eq!(ends_call(VoicemailAction::LeaveMessage, AnsweredBy::Machine), None);
        assert_eq!(ends_call(VoicemailAction::Hangup, AnsweredBy::Human), None);
        assert_eq!(ends_call(VoicemailAction::Hangup, AnsweredBy::Unknown), None, "a doubt is given to the person");
        let fax = ends_call(VoicemailAction::LeaveMessage, AnsweredBy::Fax).unwrap();
        assert_eq!(fax.hangup_reason.as_deref(), Some("fax"));
    }

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn outcome(status: CallStatus) -> Outcome {
        Outcome::bare(status, "user", "test")
    }

    const START: Attempts = Attempts { retry_count: 0, follow_up_count: 0 };

    #[test]
    fn fixed_and_exponential_cooldowns() {
        let fixed = RetryPolicy { max_retries: 3, strategy: RetryStrategy::Fixed, cooldown_minutes: 30 };
        assert_eq!(cooldown(&fixed, 1), Duration::minutes(30));
        assert_eq!(cooldown(&fixed, 3), Duration::minutes(30));
        let exp = RetryPolicy { strategy: RetryStrategy::Exponential, ..fixed };
        let waits: Vec<i64> = (1..=4).map(|n| cooldown(&exp, n).num_minutes()).collect();
        assert_eq!(waits, [30, 60, 120, 240]);
        assert_eq!(cooldown(&exp, 20), Duration::hours(24), "capped at a day");
        let big = RetryPolicy { cooldown_minutes: 10_080, ..fixed };
        assert_eq!(cooldown(&big, 1), Duration::hours(24));
    }

    #[test]
    fn failures_retry_until_the_limit() {
        let policy = RetryPolicy::default();
        let end = t("2026-11-28T10:00:00Z");
        let n = next_contact(&outcome(CallStatus::Busy), CallKind::Initial, START, 2, &policy, end, true);
        assert_eq!(n.status, ContactStatus::Retrying);
        assert_eq!(n.attempts.retry_count, 1);
        assert_eq!(n.next_retry_at, Some(t("2026-11-28T10:30:00Z")));
        let last = Attempts { retry_count: 2, follow_up_count: 0 };
        let n = next_contact(&outcome(CallStatus::NoAnswer), CallKind::Retry, last, 2, &policy, end, true);
        assert_eq!((n.status, n.next_retry_at), (ContactStatus::MaxRetriesReached, None));
        let n = next_contact(&outcome(CallStatus::Failed), CallKind::Initial, START, 0, &policy, end, true);
        assert_eq!(n.status, ContactStatus::Failed, "no retries at all: the outcome's own status");
    }

    #[test]
    fn permanent_failures_and_follow_up_calls_are_not_retried() {
        let policy = RetryPolicy::default();
        let end = t("2026-11-28T10:00:00Z");
        let mut permanent = outcome(CallStatus::Failed);
        permanent.permanent = true;
        assert_eq!(
            next_contact(&permanent, CallKind::Initial, START, 3, &policy, end, true).status,
            ContactStatus::Failed
        );
        let n = next_contact(&outcome(CallStatus::Busy), CallKind::FollowUp, START, 3, &policy, end, true);
        assert_eq!(n.status, ContactStatus::Busy);
    }

    #[test]
    fn follow_ups_are_scheduled_at_most_three_times() {
        let policy = RetryPolicy::default();
        let end = t("2026-11-28T10:00:00Z");
        let mut asked = outcome(CallStatus::Completed);
        asked.follow_up_at = Some(t("2026-11-28T11:00:00Z"));
        let n = next_contact(&asked, CallKind::Initial, START, 3, &policy, end, true);
        assert_eq!(n.status, ContactStatus::FollowupScheduled);
        assert_eq!(n.attempts.follow_up_count, 1);
        assert_eq!(n.next_retry_at, Some(t("2026-11-28T11:00:00Z")));
        let three = Attempts { retry_count: 0, follow_up_count: 3 };
        assert_eq!(
            next_contact(&asked, CallKind::FollowUp, three, 3, &policy, end, true).status,
            ContactStatus::Completed
        );
        asked.follow_up_at = Some(t("2026-11-28T09:00:00Z"));
        let n = next_contact(&asked, CallKind::Initial, START, 3, &policy, end, true);
        assert_eq!(n.next_retry_at, Some(end), "a follow-up is never due before the call ended");
    }

    #[test]
    fn a_closed_batch_takes_the_outcome_as_it_is() {
        let policy = RetryPolicy::default();
        let end = t("2026-11-28T10:00:00Z");
        let n = next_contact(&outcome(CallStatus::Busy), CallKind::Initial, START, 3, &policy, end, false);
        assert_eq!((n.status, n.next_retry_at), (ContactStatus::Busy, None));
    }
}

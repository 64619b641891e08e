//! A call's final result and what it does to the contact (API.md §6 "Outcome → next state").

use super::batch::BatchStatus;
use super::campaign::{Campaign, RetryPolicy, RetryStrategy};
use super::contact::{CallKind, CallStatus, ContactStatus};
use super::voicemail::{AnsweredBy, VoicemailAction};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

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
/// `may_continue` is false once the batch is cancelled or expired (no retry, no follow-up then). A
/// person who opted out gets no retry or follow-up either (API.md §12.3).
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
    if !may_continue || outcome.opt_out {
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

/// A live call about to be closed, as read under the writers' locks: its contact, batch and
/// campaign (by whatever key the store reads them with) and its kind.
pub struct LiveCall<K> {
    pub contact: K,
    pub batch: K,
    pub campaign: K,
    pub kind: CallKind,
}

/// Counter changes of one batch: per-status deltas and the change of calls in flight.
#[derive(Default)]
pub struct BatchTally {
    pub counts: [i64; 11],
    pub in_flight: i64,
}

impl BatchTally {
    /// One contact moved from `from` to `to`.
    pub fn moved(&mut self, from: ContactStatus, to: ContactStatus) {
        self.counts[from.index()] -= 1;
        self.counts[to.index()] += 1;
    }
}

/// Counter changes of one campaign from recorded outcomes.
#[derive(Default)]
pub struct CampaignTally {
    pub in_flight: i64,
    pub completed: i64,
    pub failed: i64,
    pub busy: i64,
    pub no_answer: i64,
    pub answered: i64,
    pub answered_seconds: f64,
    /// The earliest retry or follow-up these outcomes scheduled, which the campaign's `due_at` must
    /// not be later than.
    pub due: Option<DateTime<Utc>>,
}

/// Everything recording a set of outcomes changes.
pub struct Recorded<'a, K> {
    /// Each closed call: its key, outcome and end.
    pub calls: Vec<(K, &'a Outcome, DateTime<Utc>)>,
    /// Each contact that moves on, and where to.
    pub contacts: Vec<(K, NextContact)>,
    pub batches: BTreeMap<K, BatchTally>,
    pub campaigns: BTreeMap<K, CampaignTally>,
}

/// Decides what the outcomes of the `live` calls among `finished` (key, outcome, end) do, calls no
/// longer live left out, from the current state of their contacts, batches (status and retry
/// override) and campaigns: each call closed, each contact moved on by `next_contact`, and the
/// counters that follow.
pub fn decide<'a, K: Copy + Eq + Hash + Ord>(
    finished: impl IntoIterator<Item = (K, &'a Outcome, DateTime<Utc>)>,
    mut live: HashMap<K, LiveCall<K>>,
    contacts: &HashMap<K, (ContactStatus, Attempts)>,
    batches: &HashMap<K, (BatchStatus, Option<i64>)>,
    campaigns: &HashMap<K, Campaign>,
) -> Recorded<'a, K> {
    let mut out = Recorded {
        calls: Vec::with_capacity(live.len()),
        contacts: Vec::with_capacity(live.len()),
        batches: BTreeMap::new(),
        campaigns: BTreeMap::new(),
    };
    for (key, o, ended_at) in finished {
        let Some(call) = live.remove(&key) else { continue };
        out.calls.push((key, o, ended_at));
        let cd = out.campaigns.entry(call.campaign).or_default();
        cd.in_flight -= 1;
        match o.status {
            CallStatus::Completed => cd.completed += 1,
            CallStatus::Busy => cd.busy += 1,
            CallStatus::NoAnswer => cd.no_answer += 1,
            _ => cd.failed += 1,
        }
        if o.status == CallStatus::Completed {
            cd.answered += 1;
            cd.answered_seconds += o.duration_seconds.unwrap_or(0.0);
        }
        let bd = out.batches.entry(call.batch).or_default();
        bd.in_flight -= 1;
        let (Some((status, attempts)), Some((batch_status, override_retries)), Some(campaign)) =
            (contacts.get(&call.contact).copied(), batches.get(&call.batch).copied(), campaigns.get(&call.campaign))
        else {
            continue;
        };
        // A contact skipped while its call was placed keeps its status; the outcome stays on the call.
        if !matches!(status, ContactStatus::Dispatched | ContactStatus::InProgress) {
            continue;
        }
        let policy = &campaign.settings.retry_policy;
        let max_retries = override_retries.map_or(policy.max_retries, |r| r as u8);
        let may_continue = !batch_status.is_terminal();
        let next = next_contact(o, call.kind, attempts, max_retries, policy, ended_at, may_continue);
        bd.moved(status, next.status);
        if let Some(due) = next.next_retry_at {
            let cd = out.campaigns.entry(call.campaign).or_default();
            cd.due = Some(cd.due.map_or(due, |d| d.min(due)));
        }
        out.contacts.push((call.contact, next));
    }
    out
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

//! What both stores share: column lists, decoding of stored JSON, counter deltas, and the in-memory
//! decision of what recorded outcomes do to calls, contacts, batches and campaigns.

use super::{FinishedCall, IdempotencyBegin};
use crate::domain::batch::BatchStatus;
use crate::domain::campaign::Campaign;
use crate::domain::contact::{CallKind, CallStatus, ContactStatus};
use crate::domain::outcome::{Attempts, NextContact, Outcome, next_contact};
use crate::domain::working_hours::{DayHours, WorkingHours};
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Calls in these statuses are live.
pub const LIVE: &str = "('dispatched', 'ringing', 'in_progress')";

pub const CAMPAIGN_COLUMNS: &str = "id, organization_id, name, agent_id, status, phone_numbers, \
    phone_number_strategy, working_hours_enforced, timezone, working_hours, max_retries, retry_strategy, \
    cooldown_minutes, default_call_variables, metadata, concurrency_limit, completed_calls, failed_calls, \
    busy_calls, no_answer_calls, follow_up_calls, in_flight, call_attempts, answered_calls, answered_seconds, \
    created_at, updated_at";

pub const BATCH_COLUMNS: &str = "id, campaign_id, organization_id, status, total_contacts, concurrency_limit, \
    max_retries_override, scheduled_start, expires_at, call_context, metadata, n_pending, n_dispatched, \
    n_in_progress, n_retrying, n_followup_scheduled, n_completed, n_failed, n_busy, n_no_answer, n_skipped, \
    n_max_retries_reached, in_flight, created_at, updated_at, completed_at";

pub const CONTACT_COLUMNS: &str = "id, batch_id, campaign_id, phone_number, call_variables, status, retry_count, \
    follow_up_count, latest_retry_count, last_attempted_at, next_retry_at";

pub const CALL_COLUMNS: &str = "id, contact_id, call_status, attempt, kind, from_number, to_number, \
    duration_seconds, recording_url, transcript, summary, sentiment, hangup_by, hangup_reason, total_cost, \
    provider, provider_call_id, answered_by, opt_out, dispatched_at, answered_at, ended_at";

/// The counter column of each contact status, in the order of `ContactStatus::ALL`.
pub const COUNTER_COLUMNS: [&str; 11] = [
    "n_pending",
    "n_dispatched",
    "n_in_progress",
    "n_retrying",
    "n_followup_scheduled",
    "n_completed",
    "n_failed",
    "n_busy",
    "n_no_answer",
    "n_skipped",
    "n_max_retries_reached",
];

/// An error for a stored value that does not decode.
pub fn corrupt(what: &str) -> Error {
    Error::internal(format!("stored data has an invalid {what}"))
}

/// A nullable stored enum read back: null stays `None`, an unknown spelling is corrupt data.
pub fn nullable<T>(text: Option<String>, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Option<T>, Error> {
    text.map(|t| parse(&t).ok_or_else(|| corrupt(what))).transpose()
}

/// A stored JSON object.
pub fn object(value: Value, what: &str) -> Result<Map<String, Value>, Error> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(corrupt(what)),
    }
}

/// Working hours from their stored JSON text, read straight into the seven days (no value tree:
/// listings decode one per campaign).
pub fn working_hours_from_text(text: &str) -> Result<WorkingHours, Error> {
    use std::borrow::Cow;
    #[derive(serde::Deserialize)]
    struct Day<'a> {
        #[serde(borrow)]
        start: Cow<'a, str>,
        #[serde(borrow)]
        end: Cow<'a, str>,
        enabled: bool,
    }
    #[derive(serde::Deserialize)]
    struct Week<'a> {
        #[serde(borrow)]
        monday: Day<'a>,
        #[serde(borrow)]
        tuesday: Day<'a>,
        #[serde(borrow)]
        wednesday: Day<'a>,
        #[serde(borrow)]
        thursday: Day<'a>,
        #[serde(borrow)]
        friday: Day<'a>,
        #[serde(borrow)]
        saturday: Day<'a>,
        #[serde(borrow)]
        sunday: Day<'a>,
    }
    let w: Week<'_> = serde_json::from_str(text).map_err(|_| corrupt("working_hours"))?;
    let days = [w.monday, w.tuesday, w.wednesday, w.thursday, w.friday, w.saturday, w.sunday];
    let mut hours = WorkingHours::default();
    for (slot, day) in hours.days.iter_mut().zip(days) {
        *slot = DayHours::parse(&day.start, &day.end, day.enabled).map_err(|_| corrupt("working_hours"))?;
    }
    Ok(hours)
}

/// What to answer for an idempotency key already taken, from its stored record.
pub fn idempotent_answer(
    stored_hash: &[u8],
    request_hash: &[u8; 32],
    status: Option<i64>,
    body: Option<Vec<u8>>,
) -> IdempotencyBegin {
    if stored_hash != request_hash {
        return IdempotencyBegin::Mismatch;
    }
    match (status, body) {
        (Some(status), Some(body)) => IdempotencyBegin::Replay { status: status as u16, body },
        _ => IdempotencyBegin::InProgress,
    }
}

/// Counter changes of one batch: per-status deltas and the change of calls in flight.
#[derive(Default)]
pub struct BatchDelta {
    pub counts: [i64; 11],
    pub in_flight: i64,
}

impl BatchDelta {
    pub fn moved(&mut self, from: ContactStatus, to: ContactStatus) {
        self.counts[from.index()] -= 1;
        self.counts[to.index()] += 1;
    }

    /// The `SET` list of an update applying this delta (numbers computed here, never client text);
    /// empty when nothing changes.
    pub fn assignments(&self) -> Vec<String> {
        let mut sets: Vec<String> = COUNTER_COLUMNS
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n != 0)
            .map(|(column, n)| format!("{column} = {column} + ({n})"))
            .collect();
        if self.in_flight != 0 {
            sets.push(format!("in_flight = in_flight + ({})", self.in_flight));
        }
        sets
    }
}

/// The counter changes of releasing unplaced calls: per batch (calls in flight, and the contacts
/// `restored` back from `dispatched` to their prior status), and per campaign (calls and follow-ups).
pub fn released_deltas(
    released: &[&crate::store::UnplacedCall],
    restored: impl Fn(&crate::store::UnplacedCall) -> bool,
) -> (BTreeMap<Uuid, BatchDelta>, BTreeMap<Uuid, (i64, i64)>) {
    let mut batches: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
    let mut campaigns: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    for c in released {
        let d = batches.entry(c.batch_id.uuid()).or_default();
        d.in_flight -= 1;
        if restored(c) {
            d.moved(ContactStatus::Dispatched, c.prior.status);
        }
        let n = campaigns.entry(c.campaign_id.uuid()).or_default();
        n.0 += 1;
        n.1 += i64::from(c.kind == CallKind::FollowUp);
    }
    (batches, campaigns)
}

/// Counter changes of one campaign from recorded outcomes.
#[derive(Default)]
pub struct CampaignDelta {
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

/// Adds a `CampaignDelta` to campaign `$1`: in flight `$2`, completed `$3`, failed `$4`, busy `$5`,
/// no answer `$6`, answered `$7`, answered seconds `$8`, and the earliest work scheduled `$9` (or
/// null) lowers `due_at` (both stores number parameters so).
pub const ADD_CAMPAIGN_OUTCOMES: &str = "UPDATE campaigns SET in_flight = in_flight + $2,
    completed_calls = completed_calls + $3, failed_calls = failed_calls + $4, busy_calls = busy_calls + $5,
    no_answer_calls = no_answer_calls + $6, answered_calls = answered_calls + $7,
    answered_seconds = answered_seconds + $8,
    due_at = CASE WHEN $9 IS NOT NULL AND $9 < due_at THEN $9 ELSE due_at END
 WHERE id = $1";

/// A live call about to be closed, as read under the writers' locks.
pub struct LiveCall {
    pub contact: Uuid,
    pub batch: Uuid,
    pub campaign: Uuid,
    pub kind: CallKind,
}

/// Everything recording a set of outcomes writes.
pub struct Recorded<'a> {
    /// Each closed call: its id, outcome and end.
    pub calls: Vec<(Uuid, &'a Outcome, DateTime<Utc>)>,
    /// Each contact that moves on, and where to.
    pub contacts: Vec<(Uuid, NextContact)>,
    pub batches: BTreeMap<Uuid, BatchDelta>,
    pub campaigns: BTreeMap<Uuid, CampaignDelta>,
}

/// Decides what the outcomes of the `live` calls among `finished` do (calls no longer live are
/// left out), from the current state of their contacts, batches (status and retry override) and
/// campaigns.
pub fn decide<'a>(
    finished: &'a [FinishedCall],
    mut live: HashMap<Uuid, LiveCall>,
    contacts: &HashMap<Uuid, (ContactStatus, Attempts)>,
    batches: &HashMap<Uuid, (BatchStatus, Option<i64>)>,
    campaigns: &HashMap<Uuid, Campaign>,
) -> Recorded<'a> {
    let mut out = Recorded {
        calls: Vec::with_capacity(live.len()),
        contacts: Vec::with_capacity(live.len()),
        batches: BTreeMap::new(),
        campaigns: BTreeMap::new(),
    };
    for f in finished {
        let Some(call) = live.remove(&f.execution_id.uuid()) else { continue };
        let o = &f.outcome;
        out.calls.push((f.execution_id.uuid(), o, f.ended_at));
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
        let next = next_contact(o, call.kind, attempts, max_retries, policy, f.ended_at, may_continue);
        bd.moved(status, next.status);
        if let Some(due) = next.next_retry_at {
            let cd = out.campaigns.entry(call.campaign).or_default();
            cd.due = Some(cd.due.map_or(due, |d| d.min(due)));
        }
        out.contacts.push((call.contact, next));
    }
    out
}

//! What both stores share: column lists, decoding of stored JSON, counter deltas and the statements
//! that apply them.

use super::IdempotencyBegin;
use crate::domain::contact::{CallKind, ContactStatus};
pub use crate::domain::outcome::BatchTally as BatchDelta;
use crate::domain::working_hours::{DayHours, WorkingHours};
use crate::error::Error;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Contacts in these statuses with a `next_retry_at` wait for it: retries and follow-ups, and
/// contacts a frequency cap holds back (pending ones included).
pub const WAITING: &str = "('pending', 'retrying', 'followup_scheduled')";

/// A batch's pending contacts no frequency cap holds back, an expression over the row `batches`:
/// its pending count when one is not held, else 0 (`/stats` counts held ones as waiting for their
/// hold, like retries).
pub const UNHELD: &str = "CASE WHEN batches.n_pending > 0 AND EXISTS (SELECT 1 FROM contacts h
    WHERE h.batch_id = batches.id AND h.status = 'pending' AND h.next_retry_at IS NULL) THEN batches.n_pending
    ELSE 0 END";

/// Calls in these statuses are live.
pub const LIVE: &str = "('dispatched', 'ringing', 'in_progress')";

pub const CAMPAIGN_COLUMNS: &str = "id, organization_id, name, agent_id, status, phone_numbers, \
    phone_number_strategy, working_hours_enforced, timezone, working_hours, working_hours_basis, calendar_ids, frequency_caps, \
    max_retries, retry_strategy, cooldown_minutes, default_call_variables, metadata, concurrency_limit, completed_calls, failed_calls, \
    busy_calls, no_answer_calls, follow_up_calls, in_flight, call_attempts, answered_calls, answered_seconds, \
    created_at, updated_at";

pub const BATCH_COLUMNS: &str = "id, campaign_id, organization_id, status, total_contacts, concurrency_limit, \
    max_retries_override, scheduled_start, expires_at, call_context, metadata, n_pending, n_dispatched, \
    n_in_progress, n_retrying, n_followup_scheduled, n_completed, n_failed, n_busy, n_no_answer, n_skipped, \
    n_max_retries_reached, in_flight, created_at, updated_at, completed_at";

pub const CONTACT_COLUMNS: &str = "id, batch_id, campaign_id, phone_number, call_variables, status, retry_count, \
    follow_up_count, latest_retry_count, last_attempted_at, next_retry_at, zone_key, timezone_source, skip_reason";

pub const CALL_COLUMNS: &str = "id, contact_id, call_status, attempt, kind, from_number, to_number, \
    duration_seconds, recording_url, transcript, summary, sentiment, hangup_by, hangup_reason, total_cost, \
    provider, provider_call_id, answered_by, opt_out, dispatched_at, answered_at, ended_at, \
    CAST(decision AS TEXT) AS decision";

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

/// A value as JSON text, for a JSON column (SQLite: `text`; PostgreSQL: `json`, cast in the statement).
pub fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(Error::internal)
}

/// An error for a stored value that does not decode.
pub fn corrupt(what: &str) -> Error {
    Error::internal(format!("stored data has an invalid {what}"))
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

/// The `SET` list of an update applying a batch's counter changes (numbers computed here, never
/// client text); empty when nothing changes.
pub fn assignments(d: &BatchDelta) -> Vec<String> {
    let mut sets: Vec<String> = COUNTER_COLUMNS
        .iter()
        .zip(d.counts)
        .filter(|(_, n)| *n != 0)
        .map(|(column, n)| format!("{column} = {column} + ({n})"))
        .collect();
    if d.in_flight != 0 {
        sets.push(format!("in_flight = in_flight + ({})", d.in_flight));
    }
    sets
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

/// Adds a `CampaignDelta` to campaign `$1`: in flight `$2`, completed `$3`, failed `$4`, busy `$5`,
/// no answer `$6`, answered `$7`, answered seconds `$8`, and the earliest work scheduled `$9` (or
/// null) lowers `due_at` (both stores number parameters so).
pub const ADD_CAMPAIGN_OUTCOMES: &str = "UPDATE campaigns SET in_flight = in_flight + $2,
    completed_calls = completed_calls + $3, failed_calls = failed_calls + $4, busy_calls = busy_calls + $5,
    no_answer_calls = no_answer_calls + $6, answered_calls = answered_calls + $7,
    answered_seconds = answered_seconds + $8,
    due_at = CASE WHEN $9 IS NOT NULL AND $9 < due_at THEN $9 ELSE due_at END
 WHERE id = $1";

/// The distinct zone keys of a batch being ingested, each written once as text (a batch has a few
/// hundred at most, whatever its size).
#[derive(Default)]
pub struct KeySet(std::collections::HashMap<crate::domain::zone_key::ZoneKey, String>);

impl KeySet {
    /// The text of `key`, remembered.
    pub fn text(&mut self, key: crate::domain::zone_key::ZoneKey) -> &str {
        self.0.entry(key).or_insert_with_key(|k| k.text())
    }

    /// Every key's text, sorted.
    pub fn into_sorted(self) -> Vec<String> {
        let mut keys: Vec<String> = self.0.into_values().collect();
        keys.sort();
        keys
    }
}

/// The outcomes of `finished`, those of the calls in `opted` (ids) marked as opted out: an opt-out
/// reported during a call counts with whatever outcome closes it.
pub fn with_opt_outs<'a>(
    finished: &'a [crate::store::FinishedCall],
    opted: &[uuid::Uuid],
) -> Vec<std::borrow::Cow<'a, crate::domain::outcome::Outcome>> {
    finished
        .iter()
        .map(|f| {
            if opted.contains(&f.execution_id.uuid()) && !f.outcome.opt_out {
                std::borrow::Cow::Owned(crate::domain::outcome::Outcome { opt_out: true, ..f.outcome.clone() })
            } else {
                std::borrow::Cow::Borrowed(&f.outcome)
            }
        })
        .collect()
}

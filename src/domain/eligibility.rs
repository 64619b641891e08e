//! Whether a batch's contacts may be called now, and if not, why (API.md §6 conditions 1–4, §12.5):
//! for a batch, and for one contact with when it next could be.

use super::batch::{Batch, BatchStatus};
pub use super::calling_hours::HoursNow;
use super::calling_hours::{CallingHours, ZoneWork};
use super::campaign::{Campaign, CampaignStatus};
use super::contact::{Contact, ContactStatus};
use super::ids::BatchId;
use super::wire::wire_enum;
use super::zone_key::ZoneKey;
use chrono::{DateTime, Utc};

wire_enum!(
    /// A reason no call of a batch can start now.
    BlockedBy {
        CampaignPaused = "campaign_paused",
        BatchPaused = "batch_paused",
        ScheduledStart = "scheduled_start",
        OutsideWorkingHours = "outside_working_hours",
        ConcurrencyLimit = "concurrency_limit",
        CallsPerSecond = "calls_per_second",
        Holiday = "holiday",
        FrequencyCap = "frequency_cap",
        Suppressed = "suppressed",
        NothingDue = "nothing_due",
    }
);

/// Every reason no contact of `batch` can be called at `now`; empty when calls can start.
/// `next_due_retry` is the earliest due time of the batch's retries and follow-ups; `paced` says
/// that this second's `--calls-per-second` are all used; `open` that the calling hours let some of
/// its contacts be called now (`hours_open`); `capped` that every pending contact is held back by a
/// frequency cap (then `next_due_retry` counts them too, at the end of their hold).
pub fn blocked_by(
    campaign: &Campaign,
    batch: &Batch,
    next_due_retry: Option<DateTime<Utc>>,
    paced: bool,
    open: HoursNow,
    capped: bool,
    now: DateTime<Utc>,
) -> Vec<BlockedBy> {
    let mut reasons = reasons_now(campaign, batch, open, paced, now);
    let pending = batch.counters.get(ContactStatus::Pending) > 0 && !capped;
    let due = pending || next_due_retry.is_some_and(|t| t <= now);
    if batch.status.is_terminal() || !due {
        let held = capped && !batch.status.is_terminal();
        reasons.push(if held { BlockedBy::FrequencyCap } else { BlockedBy::NothingDue });
    }
    reasons
}

/// The reasons a batch's contact and the batch alike may be held at `now`: a pause, the batch's
/// start, the calling hours (`open`), a full concurrency limit, this second's pacing.
fn reasons_now(campaign: &Campaign, batch: &Batch, open: HoursNow, paced: bool, now: DateTime<Utc>) -> Vec<BlockedBy> {
    let mut reasons = Vec::new();
    if campaign.status == CampaignStatus::Paused {
        reasons.push(BlockedBy::CampaignPaused);
    }
    if batch.status == BatchStatus::Paused {
        reasons.push(BlockedBy::BatchPaused);
    }
    if now < batch.scheduled_start {
        reasons.push(BlockedBy::ScheduledStart);
    }
    match open {
        HoursNow::Open => {}
        HoursNow::Closed => reasons.push(BlockedBy::OutsideWorkingHours),
        HoursNow::Holiday => reasons.push(BlockedBy::Holiday),
    }
    if at_limit(campaign, batch.concurrency_limit, batch.in_flight) {
        reasons.push(BlockedBy::ConcurrencyLimit);
    }
    if paced {
        reasons.push(BlockedBy::CallsPerSecond);
    }
    reasons
}

/// Whether the campaign's concurrency limit, or the batch's own (`batch_limit`), is reached.
fn at_limit(campaign: &Campaign, batch_limit: Option<u32>, batch_in_flight: i64) -> bool {
    campaign.in_flight >= i64::from(campaign.settings.concurrency_limit)
        || batch_limit.is_some_and(|l| batch_in_flight >= i64::from(l))
}

/// What decides when a batch may next dispatch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BatchState {
    pub status: BatchStatus,
    pub scheduled_start: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub concurrency_limit: Option<u32>,
    pub in_flight: i64,
    pub pending: i64,
}

impl From<&Batch> for BatchState {
    fn from(b: &Batch) -> Self {
        Self {
            status: b.status,
            scheduled_start: b.scheduled_start,
            expires_at: b.expires_at,
            concurrency_limit: b.concurrency_limit,
            in_flight: b.in_flight,
            pending: b.counters.get(ContactStatus::Pending),
        }
    }
}

/// The earliest instant at or after `now` when a call of `batch` may start, as far as its status,
/// start, expiry, due work, working hours, limits and pacing (`paced_until`: the next second, when
/// this one's calls are all used) tell; `None` when nothing is waiting, the batch cannot dispatch,
/// or a full concurrency limit must first free a slot.
pub fn earliest_start(
    campaign: &Campaign,
    hours: &CallingHours,
    batch: &BatchState,
    next_due_retry: Option<DateTime<Utc>>,
    paced_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let startable = campaign.status == CampaignStatus::Active
        && matches!(batch.status, BatchStatus::Pending | BatchStatus::InProgress);
    let full = at_limit(campaign, batch.concurrency_limit, batch.in_flight);
    if !startable || full {
        return None;
    }
    let work = if batch.pending > 0 { Some(now) } else { next_due_retry }?;
    let mut t = work.max(batch.scheduled_start).max(now);
    if let Some(paced) = paced_until {
        t = t.max(paced);
    }
    t = hours.next_open(None, t)?;
    match batch.expires_at {
        Some(expiry) if expiry <= t => None,
        _ => Some(t),
    }
}

/// What a contact with nothing to wait for shows (a finished one, or one of a batch that is over):
/// `nothing_due`, and eligible never.
pub fn nothing_due() -> (Vec<BlockedBy>, Option<DateTime<Utc>>) {
    (vec![BlockedBy::NothingDue], None)
}

/// Every reason `contact` of `batch` cannot be called at `now`, and the first instant at or after
/// `now` when it could be as far as its state, its batch's start and expiry, and the calling hours of
/// its zones tell (`None` for a contact with nothing more to do, or while the campaign or its batch
/// is paused). A full concurrency limit or this second's pacing is reported, but frees at a time no
/// rule tells, so it does not move `next_eligible_at`. `rules` says whether its number is suppressed
/// (then it will never be called) or capped (it waits for the cap).
pub fn contact_blocked_by(
    campaign: &Campaign,
    batch: &Batch,
    contact: &Contact,
    hours: &CallingHours,
    paced: bool,
    rules: NumberRules,
    now: DateTime<Utc>,
) -> (Vec<BlockedBy>, Option<DateTime<Utc>>) {
    let due = match contact.status {
        ContactStatus::Pending => Some(batch.scheduled_start),
        ContactStatus::Retrying | ContactStatus::FollowupScheduled => contact.next_retry_at,
        _ => None,
    };
    let live = matches!(campaign.status, CampaignStatus::Active | CampaignStatus::Paused)
        && matches!(batch.status, BatchStatus::Pending | BatchStatus::InProgress | BatchStatus::Paused);
    let Some(due) = due.filter(|_| live) else { return nothing_due() };
    if rules.suppressed {
        // Skipped at its next turn: it will never be called.
        return (vec![BlockedBy::Suppressed], None);
    }
    // A pending contact with a `next_retry_at` is held by a cap until then.
    let held = if contact.status == ContactStatus::Pending { contact.next_retry_at } else { None };
    let capped = rules.capped_until.max(held).filter(|t| *t > now);
    let paused = campaign.status == CampaignStatus::Paused || batch.status == BatchStatus::Paused;
    let open = hours.state(contact.zone_key.as_ref(), now);
    let mut reasons = reasons_now(campaign, batch, open, paced, now);
    if capped.is_some() {
        // A retry a cap holds is waiting for the cap, whatever its own cooldown.
        reasons.push(BlockedBy::FrequencyCap);
    } else if contact.status != ContactStatus::Pending && due > now {
        reasons.push(BlockedBy::NothingDue);
    }
    let due = due.max(capped.unwrap_or(due));
    let next = hours
        .next_open(contact.zone_key.as_ref(), due.max(batch.scheduled_start).max(now))
        .filter(|t| !paused && batch.expires_at.is_none_or(|e| *t < e));
    (reasons, next)
}

/// What the do-not-call list and the frequency caps say about a contact's number now.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NumberRules {
    /// An entry in force stops the campaign from calling it.
    pub suppressed: bool,
    /// A cap holds it back until then.
    pub capped_until: Option<DateTime<Utc>>,
}

/// Whether the calling hours let some waiting contact of `batch` be called at `now`: in the
/// campaign basis, whether its hours are open; in the recipient basis, whether one of the batch's
/// zone keys with work (`work`, the campaign's) is open.
pub fn hours_open(hours: &CallingHours, batch: BatchId, work: &[ZoneWork], now: DateTime<Utc>) -> HoursNow {
    if !hours.by_key() {
        return hours.state(None, now);
    }
    let due = |w: &&ZoneWork| w.pending || w.next_retry_at.is_some_and(|t| t <= now);
    let keys: Vec<Option<ZoneKey>> = work
        .iter()
        .filter(|w| w.batch == batch)
        .filter(due)
        .filter_map(|w| match &w.zone_key {
            None => Some(None),
            Some(text) => ZoneKey::parse(text).map(Some),
        })
        .collect();
    let states: Vec<HoursNow> = keys.iter().map(|k| hours.state(k.as_ref(), now)).collect();
    // No key with work due now: the hours hold nothing back (other reasons say why nothing starts).
    if states.is_empty() || states.contains(&HoursNow::Open) {
        HoursNow::Open
    } else if states.contains(&HoursNow::Holiday) {
        HoursNow::Holiday
    } else {
        HoursNow::Closed
    }
}

/// In the recipient basis, the earliest instant at or after `now` when a call of the campaign may
/// start, from the work waiting in its zone keys of batches with room; `None` when none may, the
/// campaign is not active or its concurrency limit is full.
pub fn earliest_start_by_zone(
    campaign: &Campaign,
    hours: &CallingHours,
    work: &[ZoneWork],
    paced_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if campaign.status != CampaignStatus::Active || at_limit(campaign, None, 0) {
        return None;
    }
    hours.next_start(work.iter().filter(|w| !w.batch_full), paced_until.map_or(now, |p| p.max(now)))
}

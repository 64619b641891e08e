//! Whether a batch's contacts may be called now, and if not, why (API.md §6 conditions 1–4).

use super::batch::{Batch, BatchStatus};
use super::campaign::{Campaign, CampaignStatus};
use super::contact::ContactStatus;
use super::wire::wire_enum;
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
        NothingDue = "nothing_due",
    }
);

/// Every reason no contact of `batch` can be called at `now`; empty when calls can start.
/// `next_due_retry` is the earliest due time of the batch's retries and follow-ups; `paced` says
/// that this second's `--calls-per-second` are all used.
pub fn blocked_by(
    campaign: &Campaign,
    batch: &Batch,
    next_due_retry: Option<DateTime<Utc>>,
    paced: bool,
    now: DateTime<Utc>,
) -> Vec<BlockedBy> {
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
    let s = &campaign.settings;
    if s.working_hours_enforced && !s.working_hours.is_open(s.timezone.tz(), now) {
        reasons.push(BlockedBy::OutsideWorkingHours);
    }
    let batch_full = batch.concurrency_limit.is_some_and(|l| batch.in_flight >= i64::from(l));
    if campaign.in_flight >= i64::from(s.concurrency_limit) || batch_full {
        reasons.push(BlockedBy::ConcurrencyLimit);
    }
    if paced {
        reasons.push(BlockedBy::CallsPerSecond);
    }
    let due = batch.counters.get(ContactStatus::Pending) > 0 || next_due_retry.is_some_and(|t| t <= now);
    if batch.status.is_terminal() || !due {
        reasons.push(BlockedBy::NothingDue);
    }
    reasons
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
    batch: &BatchState,
    next_due_retry: Option<DateTime<Utc>>,
    paced_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let s = &campaign.settings;
    let startable = campaign.status == CampaignStatus::Active
        && matches!(batch.status, BatchStatus::Pending | BatchStatus::InProgress);
    let full = campaign.in_flight >= i64::from(s.concurrency_limit)
        || batch.concurrency_limit.is_some_and(|l| batch.in_flight >= i64::from(l));
    if !startable || full {
        return None;
    }
    let work = if batch.pending > 0 { Some(now) } else { next_due_retry }?;
    let mut t = work.max(batch.scheduled_start).max(now);
    if let Some(paced) = paced_until {
        t = t.max(paced);
    }
    if s.working_hours_enforced {
        t = s.working_hours.next_open(s.timezone.tz(), t)?;
    }
    match batch.expires_at {
        Some(expiry) if expiry <= t => None,
        _ => Some(t),
    }
}

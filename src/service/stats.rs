//! Campaign statistics (API.md §3.4 `/stats`), read from counters kept exact by every write.

use crate::domain::batch::BatchStatus;
use crate::domain::campaign::CallCounters;
use crate::domain::contact::{ContactStatus, StatusCounts};
use crate::domain::eligibility::{earliest_start, earliest_start_by_zone};
use crate::domain::ids::{CampaignId, OrgId};
use crate::domain::pacing;
use crate::error::Error;
use crate::store::{StatsSnapshot, Store};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Everything `/stats` reports.
#[derive(Clone, Debug)]
pub struct CampaignStats {
    pub campaign_id: CampaignId,
    pub contact_counts: StatusCounts,
    /// Every batch status with its count, zeros included.
    pub batch_counts: Vec<(BatchStatus, i64)>,
    pub call_counters: CallCounters,
    /// Contacts now `retrying`, by their `retry_count`.
    pub retry_breakdown: BTreeMap<i64, i64>,
    pub active_calls: i64,
    pub total_call_attempts: i64,
    pub answered_calls: i64,
    pub answered_seconds: f64,
    pub next_dispatch_at: Option<DateTime<Utc>>,
}

impl CampaignStats {
    /// `dispatched + in_progress + retrying + followup_scheduled`.
    pub fn in_flight_contacts(&self) -> i64 {
        use ContactStatus::*;
        [Dispatched, InProgress, Retrying, FollowupScheduled].into_iter().map(|s| self.contact_counts.get(s)).sum()
    }

    /// Answered calls over finished calls, or `None` before any call ended.
    pub fn answer_rate(&self) -> Option<f64> {
        let c = &self.call_counters;
        let finished = c.completed_calls + c.failed_calls + c.busy_calls + c.no_answer_calls;
        (finished > 0).then(|| self.answered_calls as f64 / finished as f64)
    }

    /// Mean length of answered calls in seconds, or `None` before any.
    pub fn avg_duration_seconds(&self) -> Option<f64> {
        (self.answered_calls > 0).then(|| self.answered_seconds / self.answered_calls as f64)
    }
}

/// The live statistics of the organization's campaign.
pub async fn campaign_stats(
    store: &dyn Store,
    org: OrgId,
    id: CampaignId,
    calls_per_second: Option<u32>,
    now: DateTime<Utc>,
) -> Result<CampaignStats, Error> {
    let StatsSnapshot { campaign, batches, retry_breakdown } =
        store.campaign_stats_snapshot(org, id).await?.ok_or(Error::NotFound("Campaign"))?;
    let mut contact_counts = StatusCounts::default();
    let paced_until = paced_until(store, calls_per_second, now).await?;
    for (_, counts, _) in &batches {
        contact_counts.add(counts);
    }
    // Judged by zone key, the work waiting in each key tells; else each batch's.
    let hours = store.calling_hours(&campaign).await?;
    let next_dispatch_at = if hours.by_key() {
        let work = store.zone_work(campaign.id).await?;
        earliest_start_by_zone(&campaign, &hours, &work, paced_until, now)
    } else {
        batches
            .iter()
            .filter_map(|(state, _, next_due)| earliest_start(&campaign, &hours, state, *next_due, paced_until, now))
            .min()
    };
    let batch_counts = BatchStatus::ALL
        .iter()
        .map(|s| (*s, batches.iter().filter(|(b, _, _)| b.status == *s).count() as i64))
        .collect();
    Ok(CampaignStats {
        campaign_id: campaign.id,
        contact_counts,
        batch_counts,
        call_counters: campaign.counters,
        retry_breakdown,
        active_calls: campaign.in_flight,
        total_call_attempts: campaign.call_attempts,
        answered_calls: campaign.answered_calls,
        answered_seconds: campaign.answered_seconds,
        next_dispatch_at,
    })
}

/// Until when `--calls-per-second` holds calls back at `now`: the next second, when this one's are
/// all started.
pub async fn paced_until(
    store: &dyn Store,
    calls_per_second: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(match calls_per_second {
        Some(_) => pacing::held_until(calls_per_second, store.paced_calls(pacing::second_of(now)).await?, now),
        None => None,
    })
}

//! Campaign statistics (API.md §3.4 `/stats`).

use crate::domain::batch::BatchStatus;
use crate::domain::campaign::CallCounters;
use crate::domain::contact::ContactStatus;
use crate::domain::ids::{CampaignId, OrgId};
use crate::error::Error;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Everything `/stats` reports, with every status present (zeros included).
#[derive(Clone, Debug)]
pub struct CampaignStats {
    pub campaign_id: CampaignId,
    pub contact_counts: Vec<(ContactStatus, i64)>,
    pub batch_counts: Vec<(BatchStatus, i64)>,
    pub call_counters: CallCounters,
    /// Contacts now `retrying`, by their `retry_count`.
    pub retry_breakdown: BTreeMap<i64, i64>,
    pub active_calls: i64,
    pub total_call_attempts: i64,
    pub answered_calls: i64,
    pub total_answered_seconds: f64,
    pub next_dispatch_at: Option<DateTime<Utc>>,
}

impl CampaignStats {
    /// The number of contacts in `status`.
    pub fn contacts(&self, status: ContactStatus) -> i64 {
        self.contact_counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n)
    }

    /// `dispatched + in_progress + retrying + followup_scheduled`.
    pub fn in_flight_contacts(&self) -> i64 {
        use ContactStatus::*;
        [Dispatched, InProgress, Retrying, FollowupScheduled].into_iter().map(|s| self.contacts(s)).sum()
    }

    /// Answered calls over finished calls, or `None` before any call ended.
    pub fn answer_rate(&self) -> Option<f64> {
        let c = &self.call_counters;
        let finished = c.completed_calls + c.failed_calls + c.busy_calls + c.no_answer_calls;
        (finished > 0).then(|| self.answered_calls as f64 / finished as f64)
    }

    /// Mean length of answered calls, or `None` before any.
    pub fn avg_duration_seconds(&self) -> Option<f64> {
        (self.answered_calls > 0).then(|| self.total_answered_seconds / self.answered_calls as f64)
    }
}

/// The live statistics of the organization's campaign.
pub async fn campaign_stats(store: &Store, org: OrgId, id: CampaignId) -> Result<CampaignStats, Error> {
    let campaign = store.get_campaign(org, id).await?.ok_or(Error::NotFound("Campaign"))?;
    // Batches, contacts and calls arrive with the batch resource; until then a campaign has none.
    Ok(CampaignStats {
        campaign_id: campaign.id,
        contact_counts: ContactStatus::ALL.iter().map(|s| (*s, 0)).collect(),
        batch_counts: BatchStatus::ALL.iter().map(|s| (*s, 0)).collect(),
        call_counters: campaign.counters,
        retry_breakdown: BTreeMap::new(),
        active_calls: 0,
        total_call_attempts: 0,
        answered_calls: 0,
        total_answered_seconds: 0.0,
        next_dispatch_at: None,
    })
}

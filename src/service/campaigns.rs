//! Campaign use-cases: create, read, list, update, lifecycle actions, delete and stats.

use super::Wake;
use crate::domain::batch::{BatchAction, BatchStatus, BatchTransition};
use crate::domain::campaign::{
    CallCounters, Campaign, CampaignAction, CampaignPatch, CampaignSettings, CampaignStatus, Transition,
};
use crate::domain::ids::{CampaignId, OrgId};
use crate::error::Error;
use crate::store::{Page, Store};
use chrono::{DateTime, Utc};

const NOT_FOUND: Error = Error::NotFound("Campaign");

/// Creates a campaign in `draft`.
pub async fn create(
    store: &dyn Store,
    org: OrgId,
    settings: CampaignSettings,
    now: DateTime<Utc>,
) -> Result<Campaign, Error> {
    super::calendars::check_known(store, org, &settings.calendar_ids).await?;
    let campaign = Campaign {
        id: CampaignId::generate(),
        organization_id: org,
        status: CampaignStatus::Draft,
        settings,
        counters: CallCounters::default(),
        in_flight: 0,
        call_attempts: 0,
        answered_calls: 0,
        answered_seconds: 0.0,
        created_at: now,
        updated_at: now,
    };
    if super::idempotency::holding() {
        let mut tx = store.begin().await?;
        tx.insert_campaign(&campaign).await?;
        super::idempotency::commit(tx).await?;
    } else {
        // One statement, one round trip: the common case.
        store.insert_campaign(&campaign).await?;
    }
    Ok(campaign)
}

/// The organization's campaign, or `404`.
pub async fn get(store: &dyn Store, org: OrgId, id: CampaignId) -> Result<Campaign, Error> {
    store.get_campaign(org, id).await?.ok_or(NOT_FOUND)
}

/// A page of campaigns, newest first, with the total count.
pub async fn list(
    store: &dyn Store,
    org: OrgId,
    status: Option<CampaignStatus>,
    page: &Page,
) -> Result<(Vec<Campaign>, i64), Error> {
    store.list_campaigns(org, status, page).await
}

/// Applies a partial update; `409` on a cancelled campaign.
pub async fn update(
    store: &dyn Store,
    wake: &Wake,
    org: OrgId,
    id: CampaignId,
    patch: CampaignPatch,
    now: DateTime<Utc>,
) -> Result<Campaign, Error> {
    if let Some(ids) = &patch.calendar_ids {
        super::calendars::check_known(store, org, ids).await?;
    }
    let mut tx = store.begin().await?;
    let mut campaign = tx.lock_campaign(org, id).await?.ok_or(NOT_FOUND)?;
    campaign.status.apply(CampaignAction::Update).map_err(|f| Error::Conflict(f.0))?;
    campaign.settings.apply(patch);
    campaign.updated_at = now;
    if !tx.update_campaign_settings(&campaign, campaign.status).await? {
        return Err(Error::internal("campaign changed under its row lock"));
    }
    // In the recipient basis `due_at` waits for the zones' hours: new settings may open them earlier.
    tx.refresh_due_at(id).await?;
    super::idempotency::commit(tx).await?;
    // New hours, numbers or limits may let calls start now.
    wake.nudge();
    Ok(campaign)
}

/// Pauses, resumes or cancels, carrying the change to the batches (and, on cancel, skipping their open
/// contacts). Repeating the action that led to the current status is a no-op.
pub async fn act(
    store: &dyn Store,
    wake: &Wake,
    org: OrgId,
    id: CampaignId,
    action: CampaignAction,
    now: DateTime<Utc>,
) -> Result<Campaign, Error> {
    let mut tx = store.begin().await?;
    let mut campaign = tx.lock_campaign(org, id).await?.ok_or(NOT_FOUND)?;
    match campaign.status.apply(action).map_err(|f| Error::Conflict(f.0))? {
        Transition::To(next) => {
            if !tx.set_campaign_status(id, campaign.status, next, now).await? {
                return Err(Error::internal("campaign changed under its row lock"));
            }
            // What the campaign's action does to each batch is the batch lifecycle's rule: a pause
            // stops the running ones, a resume restarts the paused ones (`pending` while their
            // start is ahead), a cancel ends every open one and skips its open contacts.
            let carried = match action {
                CampaignAction::Pause => Some((BatchAction::Pause, Some(BatchStatus::InProgress))),
                CampaignAction::Resume => Some((BatchAction::Resume, Some(BatchStatus::Paused))),
                CampaignAction::Cancel => Some((BatchAction::Cancel, None)),
                _ => None,
            };
            if let Some((batch_action, only)) = carried {
                for batch in tx.lock_open_batches(id).await? {
                    if only.is_some_and(|status| status != batch.status) {
                        continue;
                    }
                    let start_ahead = batch.scheduled_start > now;
                    if let Ok(BatchTransition::To(to)) = batch.status.apply(batch_action, false, start_ahead) {
                        tx.set_batch_status(batch.id, batch.status, to, now).await?;
                        if to == BatchStatus::Cancelled {
                            tx.skip_open_contacts(batch.id, now).await?;
                        }
                    }
                }
            }
            if action == CampaignAction::Resume {
                tx.mark_due(id, now).await?;
            }
            campaign.status = next;
            campaign.updated_at = now;
            super::idempotency::commit(tx).await?;
        }
        Transition::Stay => {}
        Transition::Remove => return Err(Error::internal("remove is not a lifecycle action")),
    }
    // A resume lets calls start now; after a pause or cancel the dispatcher plans its next wake-up anew.
    wake.nudge();
    Ok(campaign)
}

/// Deletes a campaign in `draft`, `completed` or `cancelled`, with everything under it.
pub async fn delete(store: &dyn Store, org: OrgId, id: CampaignId) -> Result<(), Error> {
    let mut tx = store.begin().await?;
    let campaign = tx.lock_campaign(org, id).await?.ok_or(NOT_FOUND)?;
    match campaign.status.apply(CampaignAction::Delete).map_err(|f| Error::Conflict(f.0))? {
        Transition::Remove => {
            if !tx.delete_campaign(id, campaign.status).await? {
                return Err(Error::internal("campaign changed under its row lock"));
            }
            super::idempotency::commit(tx).await
        }
        other => Err(Error::internal(format!("delete resolved to {other:?}"))),
    }
}

//! Batch use-cases: create (with its contacts, in one transaction), read, list, lifecycle actions,
//! contacts listing and the `/debug` diagnosis.

use super::Wake;
use crate::domain::batch::{Batch, BatchAction, BatchSettings, BatchStatus, BatchTransition, NewContact};
use crate::domain::campaign::{CampaignAction, CampaignStatus, Transition};
use crate::domain::contact::{CallRecord, Contact, ContactStatus, StatusCounts};
use crate::domain::eligibility::{BlockedBy, blocked_by, contact_blocked_by, hours_open};
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId, OrgId};
use crate::error::{Error, Loc};
use crate::store::{BatchFilter, Page, StatusBreakdown, Store, Tx};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use tokio::sync::mpsc;

const NOT_FOUND: Error = Error::NotFound("Batch");

/// A batch's contacts as they arrive, and the check of all of them, which resolves once every contact
/// has been checked (while the first ones are already being stored).
pub struct Upload<F> {
    pub contacts: mpsc::Receiver<Vec<NewContact>>,
    pub checked: F,
}

/// Creates a batch under the organization's campaign with the uploaded contacts, all or nothing: when
/// the check fails, nothing is stored and its error is the answer, whatever else went wrong. Returns
/// the batch, how many of its contacts were stored skipped because their numbers are suppressed, and
/// the check's result.
pub async fn create<T>(
    store: &dyn Store,
    wake: &Wake,
    org: OrgId,
    campaign_id: CampaignId,
    settings: BatchSettings,
    upload: Upload<impl Future<Output = Result<T, Error>>>,
    now: DateTime<Utc>,
) -> Result<(Batch, i64, T), Error> {
    let Upload { mut contacts, checked } = upload;
    let stored = store_batch(store, org, campaign_id, settings, &mut contacts, now).await;
    // A checker still sending learns that nothing more will be read.
    drop(contacts);
    let checked = checked.await?;
    let (tx, (batch, suppressed)) = stored?;
    super::idempotency::commit(tx).await?;
    wake.nudge();
    Ok((batch, suppressed, checked))
}

/// Writes the batch and its contacts in a transaction left open for the caller to commit; returns
/// the batch and how many contacts were suppressed.
async fn store_batch(
    store: &dyn Store,
    org: OrgId,
    campaign_id: CampaignId,
    settings: BatchSettings,
    contacts: &mut mpsc::Receiver<Vec<NewContact>>,
    now: DateTime<Utc>,
) -> Result<(Box<dyn Tx>, (Batch, i64)), Error> {
    let mut tx = store.begin().await?;
    let campaign = tx.lock_campaign(org, campaign_id).await?.ok_or(Error::NotFound("Campaign"))?;
    let transition = campaign.status.apply(CampaignAction::AddBatch).map_err(|f| Error::Conflict(f.0))?;
    let scheduled_start = settings.scheduled_start.map_or(now, |s| s.resolve(campaign.settings.timezone.tz()));
    if let Some(expires_at) = settings.expires_at {
        let problem = if expires_at <= now {
            Some("Value error, expires_at must be in the future")
        } else if expires_at <= scheduled_start {
            Some("Value error, expires_at must be later than scheduled_start")
        } else {
            None
        };
        if let Some(msg) = problem {
            return Err(Error::invalid(vec![Loc::from("body"), Loc::from("expires_at")], "value_error", msg));
        }
    }
    let status = if campaign.status == CampaignStatus::Paused {
        BatchStatus::Paused
    } else if scheduled_start > now {
        BatchStatus::Pending
    } else {
        BatchStatus::InProgress
    };
    let id = BatchId::generate();
    // Contacts first: the batch row's counters must sum to the number stored.
    let ingested = tx.insert_contacts(id, campaign_id, campaign.settings.timezone, contacts, now).await?;
    let total = ingested.count as i64;
    // Numbers on the do-not-call list are stored skipped (API.md §12.3).
    let suppressed = if total > 0 { tx.skip_suppressed(org, campaign_id, id, now).await? } else { 0 };
    let mut counters = StatusCounts::default();
    counters.0[ContactStatus::Pending.index()] = total - suppressed;
    counters.0[ContactStatus::Skipped.index()] = suppressed;
    // Nothing left to call: the batch is done at once.
    let done = total > 0 && suppressed == total;
    let status = if done { BatchStatus::Completed } else { status };
    let batch = Batch {
        id,
        campaign_id,
        organization_id: org,
        status,
        total_contacts: total,
        concurrency_limit: settings.concurrency_limit,
        max_retries_override: settings.max_retries_override,
        scheduled_start,
        expires_at: settings.expires_at,
        call_context: settings.call_context,
        metadata: settings.metadata,
        counters,
        in_flight: 0,
        created_at: now,
        updated_at: now,
        completed_at: done.then_some(now),
    };
    let mut status_now = campaign.status;
    if let Transition::To(next) = transition {
        tx.set_campaign_status(campaign_id, campaign.status, next, now).await?;
        status_now = next;
    }
    tx.insert_batch(&batch).await?;
    tx.set_batch_zone_keys(id, &ingested.zone_keys).await?;
    if done {
        complete_campaign_if_done(&mut *tx, campaign_id, status_now, now).await?;
    } else {
        tx.mark_due(campaign_id, scheduled_start).await?;
    }
    Ok((tx, (batch, suppressed)))
}

/// The organization's batch, or `404`.
pub async fn get(store: &dyn Store, org: OrgId, id: BatchId) -> Result<Batch, Error> {
    store.get_batch(org, id).await?.ok_or(NOT_FOUND)
}

/// A page of batches, newest first, with the total count.
pub async fn list(
    store: &dyn Store,
    org: OrgId,
    filter: &BatchFilter,
    page: &Page,
) -> Result<(Vec<Batch>, i64), Error> {
    store.list_batches(org, filter, page).await
}

/// A page of the campaign's batches; `404` when the campaign is not the organization's.
pub async fn list_of_campaign(
    store: &dyn Store,
    org: OrgId,
    campaign: CampaignId,
    filter: BatchFilter,
    page: &Page,
) -> Result<(Vec<Batch>, i64), Error> {
    store.get_campaign(org, campaign).await?.ok_or(Error::NotFound("Campaign"))?;
    store.list_batches(org, &BatchFilter { campaign_id: Some(campaign), ..filter }, page).await
}

/// Pauses, resumes or cancels a batch; repeating the action that led to its status is a no-op.
pub async fn act(
    store: &dyn Store,
    wake: &Wake,
    org: OrgId,
    id: BatchId,
    action: BatchAction,
    now: DateTime<Utc>,
) -> Result<Batch, Error> {
    let campaign_id = get(store, org, id).await?.campaign_id;
    let mut tx = store.begin().await?;
    // Campaign first, then batch: the order every writer takes, so no two transactions deadlock.
    let campaign = tx.lock_campaign(org, campaign_id).await?.ok_or(NOT_FOUND)?;
    let mut batch = tx.lock_batch(org, id).await?.ok_or(NOT_FOUND)?;
    let paused = campaign.status == CampaignStatus::Paused;
    let transition =
        batch.status.apply(action, paused, batch.scheduled_start > now).map_err(|f| Error::Conflict(f.0))?;
    if let BatchTransition::To(next) = transition {
        if !tx.set_batch_status(id, batch.status, next, now).await? {
            return Err(Error::internal("batch changed under its row lock"));
        }
        if next == BatchStatus::Cancelled {
            tx.skip_open_contacts(id, now).await?;
            complete_campaign_if_done(&mut *tx, campaign.id, campaign.status, now).await?;
        }
        // The campaign's next due work changes with the batch's: sooner on resume, maybe later else.
        match action {
            BatchAction::Resume => tx.mark_due(campaign.id, now).await?,
            _ => {
                tx.refresh_due_at(campaign.id).await?;
            }
        }
        batch.status = next;
        batch.updated_at = now;
        super::idempotency::commit(tx).await?;
    }
    if action == BatchAction::Resume {
        wake.nudge();
    }
    Ok(batch)
}

/// Marks a campaign `completed` when every batch is terminal and at least one completed.
pub async fn complete_campaign_if_done(
    tx: &mut dyn Tx,
    campaign: CampaignId,
    status: CampaignStatus,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if status.completes(&tx.batch_statuses(campaign).await?) {
        tx.set_campaign_status(campaign, status, CampaignStatus::Completed, now).await?;
    }
    Ok(())
}

/// Expires a batch whose `expires_at` has passed, in the caller's transaction: `expired`, its open
/// contacts skipped, and the campaign completed when that was its last open batch. `false` when the
/// batch is gone, already ended, or not yet expired.
pub async fn expire(
    tx: &mut dyn Tx,
    org: OrgId,
    campaign: CampaignId,
    batch: BatchId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let Some(c) = tx.lock_campaign(org, campaign).await? else { return Ok(false) };
    let Some(b) = tx.lock_batch(org, batch).await? else { return Ok(false) };
    if !b.expires_by(now) {
        return Ok(false);
    }
    tx.set_batch_status(batch, b.status, BatchStatus::Expired, now).await?;
    tx.skip_open_contacts(batch, now).await?;
    tx.refresh_due_at(campaign).await?;
    complete_campaign_if_done(tx, campaign, c.status, now).await?;
    Ok(true)
}

/// `POST /batches/{id}/dispatch`: checks the batch can still dispatch, nudges the dispatcher, and says
/// how many contacts wait.
pub async fn dispatch(store: &dyn Store, wake: &Wake, org: OrgId, id: BatchId) -> Result<Batch, Error> {
    let batch = get(store, org, id).await?;
    batch.status.apply(BatchAction::Dispatch, false, false).map_err(|f| Error::Conflict(f.0))?;
    wake.nudge();
    Ok(batch)
}

/// One contact as listed, with its latest call and, when asked, every call.
pub struct ContactWithCalls {
    pub contact: Contact,
    /// Why it cannot be called now, and when it next could (API.md §12.5).
    pub blocked_by: Vec<BlockedBy>,
    pub next_eligible_at: Option<DateTime<Utc>>,
    pub current_call: Option<CallRecord>,
    pub call_records: Option<Vec<CallRecord>>,
}

/// Which contacts to list, and whether with every call.
pub struct ContactQuery<'a> {
    pub status: Option<ContactStatus>,
    pub include_calls: bool,
    pub page: &'a Page,
}

/// A page of the batch's contacts in upload order, with the total matching.
pub async fn contacts(
    store: &dyn Store,
    org: OrgId,
    id: BatchId,
    query: ContactQuery<'_>,
    calls_per_second: Option<u32>,
    now: DateTime<Utc>,
) -> Result<(Vec<ContactWithCalls>, i64), Error> {
    let ContactQuery { status, include_calls, page } = query;
    let batch = get(store, org, id).await?;
    let campaign = store.get_campaign(org, batch.campaign_id).await?.ok_or(NOT_FOUND)?;
    let hours = store.calling_hours(&campaign).await?;
    let paced = super::stats::paced_until(store, calls_per_second, now).await?.is_some();
    let total = status.map_or(batch.total_contacts, |s| batch.counters.get(s));
    let contacts = store.list_contacts(id, status, page).await?;
    let mut rules = super::suppressions::number_rules(store, &campaign, &contacts, now).await?;
    let ids: Vec<ContactId> = contacts.iter().map(|c| c.id).collect();
    let mut calls: HashMap<ContactId, Vec<CallRecord>> = HashMap::new();
    if include_calls {
        for call in store.calls_of(&ids).await? {
            calls.entry(call.contact_id).or_default().push(call);
        }
    } else {
        for (contact, call) in latest_calls(store, &ids, &[]).await? {
            calls.insert(contact, vec![call]);
        }
    }
    let items = contacts
        .into_iter()
        .map(|contact| {
            let mine = calls.remove(&contact.id).unwrap_or_default();
            let current_call = mine.last().cloned();
            let rules = rules.remove(&contact.id).unwrap_or_default();
            let (blocked_by, next_eligible_at) =
                contact_blocked_by(&campaign, &batch, &contact, &hours, paced, rules, now);
            ContactWithCalls {
                contact,
                blocked_by,
                next_eligible_at,
                current_call,
                call_records: include_calls.then_some(mine),
            }
        })
        .collect();
    Ok((items, total))
}

/// What `/debug` reports about a batch.
pub struct BatchDebug {
    pub batch: Batch,
    pub breakdown: Vec<StatusBreakdown>,
    pub pending_sample: Vec<ContactId>,
    pub stuck_pending: i64,
    pub blocked_by: Vec<BlockedBy>,
}

/// Pending contacts untouched this long while calls could start are reported as stuck.
const STUCK_AFTER_MINUTES: i64 = 30;

/// Diagnoses why a batch is or is not dispatching.
pub async fn debug(
    store: &dyn Store,
    org: OrgId,
    id: BatchId,
    calls_per_second: Option<u32>,
    now: DateTime<Utc>,
) -> Result<BatchDebug, Error> {
    let batch = get(store, org, id).await?;
    let campaign = store.get_campaign(org, batch.campaign_id).await?.ok_or(NOT_FOUND)?;
    let next_due = store.next_due_retry(id).await?;
    let paced = super::stats::paced_until(store, calls_per_second, now).await?.is_some();
    let hours = store.calling_hours(&campaign).await?;
    let work = if hours.by_key() { store.zone_work(campaign.id).await? } else { Vec::new() };
    let open = hours_open(&hours, batch.id, &work, now);
    let capped = batch.counters.get(ContactStatus::Pending) > 0 && !store.any_pending_unheld(id).await?;
    let blocked_by = blocked_by(&campaign, &batch, next_due, paced, open, capped, now);
    let stuck_pending = if blocked_by.is_empty() {
        store.pending_untouched_since(id, now - Duration::minutes(STUCK_AFTER_MINUTES)).await?
    } else {
        0
    };
    Ok(BatchDebug {
        breakdown: store.status_breakdown(id).await?,
        pending_sample: store.pending_sample(id, 3).await?,
        stuck_pending,
        blocked_by,
        batch,
    })
}

/// Each contact's latest call (contacts with none are left out), by its id, then by the record:
/// those in any of `known` (by execution id) are not read again.
pub async fn latest_calls(
    store: &dyn Store,
    contacts: &[ContactId],
    known: &[&HashMap<uuid::Uuid, CallRecord>],
) -> Result<HashMap<ContactId, CallRecord>, Error> {
    let at_hand = |call: &ExecutionId| known.iter().find_map(|k| k.get(&call.uuid()));
    let latest = store.latest_call_ids(contacts).await?;
    let missing: Vec<ExecutionId> =
        latest.iter().map(|(_, call)| *call).filter(|call| at_hand(call).is_none()).collect();
    let mut read: HashMap<uuid::Uuid, CallRecord> =
        store.calls_by_id(&missing).await?.into_iter().map(|c| (c.execution_id.uuid(), c)).collect();
    let mut found = HashMap::with_capacity(latest.len());
    for (contact, call) in latest {
        if let Some(record) = read.remove(&call.uuid()).or_else(|| at_hand(&call).cloned()) {
            found.insert(contact, record);
        }
    }
    Ok(found)
}

//! The dispatcher's queries: claiming due contacts, recording placements and outcomes with exact
//! counters, batch starts and expiries, and when there is next something to do.
//!
//! Every transaction that changes a campaign's contacts, batches or calls first locks the campaign
//! row (several in id order), so writers never deadlock and limits hold across replicas.

use super::batches::batch_from_row;
use super::campaigns::campaign_from_row;
use super::{Store, Tx};
use crate::domain::batch::{Batch, BatchStatus};
use crate::domain::campaign::Campaign;
use crate::domain::contact::{CallKind, CallStatus, ContactStatus};
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId, OrgId};
use crate::domain::outcome::{Attempts, Outcome};
use crate::error::Error;
use crate::store::shared::{
    ADD_CAMPAIGN_OUTCOMES, BATCH_COLUMNS, BatchDelta, CAMPAIGN_COLUMNS, LIVE, LiveCall, corrupt, decide,
};
use crate::store::{AcceptedCall, ClaimedContact, FinishedCall, LockedForDispatch, NewCall, PriorState};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Applies counter deltas to batches (the numbers are computed here, never client text).
pub(super) async fn apply_batch_deltas(
    conn: &mut sqlx::PgConnection,
    deltas: &BTreeMap<Uuid, BatchDelta>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    for (batch, d) in deltas {
        let sets = d.assignments();
        if sets.is_empty() {
            continue;
        }
        let sql = format!("UPDATE batches SET {}, updated_at = $2 WHERE id = $1", sets.join(", "));
        sqlx::query(&sql).bind(batch).bind(now).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Locks campaigns in id order and returns them.
pub(super) async fn lock_campaigns(
    conn: &mut sqlx::PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Campaign>, Error> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ANY($1) ORDER BY id FOR UPDATE");
    let rows = sqlx::query(&sql).bind(ids).fetch_all(&mut *conn).await?;
    rows.iter().map(|r| campaign_from_row(r).map(|c| (c.id.uuid(), c))).collect()
}

/// Completes the batches among `batches` whose contacts are all terminal, then their campaigns when
/// every batch is terminal and one completed.
async fn complete_finished(conn: &mut sqlx::PgConnection, batches: &[Uuid], now: DateTime<Utc>) -> Result<(), Error> {
    let campaigns: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE batches SET status = 'completed', completed_at = $2, updated_at = $2
         WHERE id = ANY($1) AND status IN ('in_progress', 'paused')
           AND n_pending + n_dispatched + n_in_progress + n_retrying + n_followup_scheduled = 0
         RETURNING campaign_id",
    )
    .bind(batches)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if campaigns.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE campaigns c SET status = 'completed', updated_at = $2
         WHERE c.id = ANY($1) AND c.status IN ('active', 'paused')
           AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.campaign_id = c.id
                           AND b.status IN ('pending', 'in_progress', 'paused'))",
    )
    .bind(&campaigns)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The advisory-lock namespace of dispatch slots ("gr" "ds").
const DISPATCH_SLOTS: i32 = 0x6772_6473;

/// How long a dispatch transaction waits for a slot when every slot is busy. A slot is normally
/// held for well under a second; one held longer belongs to a frozen or cut-off process, and the
/// waiter gives up for this pass rather than hold up its replica.
const SLOT_WAIT: &str = "2s";

/// Takes any free slot of `slots`, else waits (at most `SLOT_WAIT`) for `slot`; the lock is
/// released when the transaction ends, or its connection drops. Says whether it got one.
async fn take_slot(conn: &mut sqlx::PgConnection, slot: u32, slots: u32) -> Result<bool, Error> {
    let free: Option<i32> = sqlx::query_scalar(
        "SELECT s FROM generate_series(0, $2 - 1) AS s WHERE pg_try_advisory_xact_lock($1, s) LIMIT 1",
    )
    .bind(DISPATCH_SLOTS)
    .bind(i32::try_from(slots).map_err(Error::internal)?)
    .fetch_optional(&mut *conn)
    .await?;
    if free.is_some() {
        return Ok(true);
    }
    sqlx::query("SELECT set_config('lock_timeout', $1, true)").bind(SLOT_WAIT).execute(&mut *conn).await?;
    let waited = sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(DISPATCH_SLOTS)
        .bind(i32::try_from(slot).map_err(Error::internal)?)
        .execute(&mut *conn)
        .await;
    match waited {
        Ok(_) => {
            sqlx::query("SET LOCAL lock_timeout TO DEFAULT").execute(&mut *conn).await?;
            Ok(true)
        }
        // lock_not_available: the wait timed out (the transaction is now aborted).
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Tx {
    /// Takes one of `slots` dispatch slots for the rest of the transaction: any free one, else
    /// `slot` once it frees, waiting at most `SLOT_WAIT`. Says whether it got one.
    pub async fn take_dispatch_slot(&mut self, slot: u32, slots: u32) -> Result<bool, Error> {
        take_slot(&mut self.0, slot, slots).await
    }

    /// Locks an active campaign for a claim, skipping it when another transaction holds it.
    /// Returns it with its round-robin cursor.
    pub async fn lock_campaign_for_dispatch(&mut self, id: CampaignId) -> Result<Option<LockedForDispatch>, Error> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS}, round_robin_cursor, due_at FROM campaigns
             WHERE id = $1 AND status = 'active' FOR UPDATE SKIP LOCKED"
        );
        let row = sqlx::query(&sql).bind(id.uuid()).fetch_optional(&mut *self.0).await?;
        row.map(|r| {
            Ok(LockedForDispatch {
                campaign: campaign_from_row(&r)?,
                round_robin_cursor: r.try_get("round_robin_cursor")?,
                due_at: r.try_get("due_at")?,
            })
        })
        .transpose()
    }

    /// The campaign's running, unexpired batches with contacts still to call, oldest first, locked
    /// (a batch whose contacts are all in calls or done is neither locked nor read).
    pub async fn running_batches(&mut self, campaign: CampaignId, now: DateTime<Utc>) -> Result<Vec<Batch>, Error> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE campaign_id = $1 AND status = 'in_progress'
                AND (expires_at IS NULL OR expires_at > $2)
                AND (n_pending > 0 OR n_retrying > 0 OR n_followup_scheduled > 0) ORDER BY created_at, id FOR UPDATE"
        );
        let rows = sqlx::query(&sql).bind(campaign.uuid()).bind(now).fetch_all(&mut *self.0).await?;
        rows.iter().map(batch_from_row).collect()
    }

    /// Up to `limit` contacts of the batch callable now: due retries and follow-ups first (soonest
    /// due first), then pending contacts in upload order.
    pub async fn claim_contacts(
        &mut self,
        batch: BatchId,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedContact>, Error> {
        let columns = "id, batch_id, phone_number, call_variables, status, retry_count, follow_up_count, \
            next_retry_at, last_attempted_at, latest_retry_count";
        let due = format!(
            "SELECT {columns} FROM contacts WHERE batch_id = $1 AND status IN ('retrying', 'followup_scheduled')
                AND next_retry_at <= $2 ORDER BY next_retry_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED"
        );
        let mut rows = sqlx::query(&due).bind(batch.uuid()).bind(now).bind(limit).fetch_all(&mut *self.0).await?;
        let rest = limit - rows.len() as i64;
        if rest > 0 {
            let pending = format!(
                "SELECT {columns} FROM contacts WHERE batch_id = $1 AND status = 'pending'
                 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED"
            );
            rows.extend(sqlx::query(&pending).bind(batch.uuid()).bind(rest).fetch_all(&mut *self.0).await?);
        }
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let status = ContactStatus::parse(&status).ok_or_else(|| corrupt("contact status"))?;
                Ok(ClaimedContact {
                    id: ContactId::from_uuid(r.try_get("id")?),
                    batch_id: BatchId::from_uuid(r.try_get("batch_id")?),
                    phone_number: r.try_get("phone_number")?,
                    call_variables: match r.try_get("call_variables")? {
                        Value::Object(m) => m,
                        _ => return Err(corrupt("call_variables")),
                    },
                    status,
                    retry_count: i64::from(r.try_get::<i16, _>("retry_count")?),
                    follow_up_count: i64::from(r.try_get::<i16, _>("follow_up_count")?),
                    prior: PriorState {
                        status,
                        next_retry_at: r.try_get("next_retry_at")?,
                        last_attempted_at: r.try_get("last_attempted_at")?,
                        latest_retry_count: i64::from(r.try_get::<i16, _>("latest_retry_count")?),
                    },
                })
            })
            .collect()
    }

    /// Calls in flight per caller-ID number of the campaign.
    pub async fn live_calls_by_number(&mut self, campaign: CampaignId) -> Result<HashMap<String, i64>, Error> {
        let sql = format!(
            "SELECT from_number, count(*) AS n FROM call_records WHERE campaign_id = $1 AND call_status IN {LIVE}
             GROUP BY from_number"
        );
        let rows = sqlx::query(&sql).bind(campaign.uuid()).fetch_all(&mut *self.0).await?;
        rows.iter().map(|r| Ok((r.try_get("from_number")?, r.try_get("n")?))).collect()
    }

    /// Writes the claimed calls (`dispatched`), marks their contacts, and moves every counter: the
    /// batches', and the campaign's calls in flight, attempts, follow-ups and round-robin cursor.
    pub async fn insert_calls(
        &mut self,
        campaign: CampaignId,
        calls: &[NewCall],
        cursor_advance: i64,
    ) -> Result<(), Error> {
        if calls.is_empty() {
            return Ok(());
        }
        let now = calls[0].dispatched_at;
        let ids: Vec<Uuid> = calls.iter().map(|c| c.execution_id.uuid()).collect();
        let contacts: Vec<Uuid> = calls.iter().map(|c| c.contact_id.uuid()).collect();
        let batches: Vec<Uuid> = calls.iter().map(|c| c.batch_id.uuid()).collect();
        let attempts: Vec<i16> = calls.iter().map(|c| c.attempt as i16).collect();
        let kinds: Vec<&str> = calls.iter().map(|c| c.kind.as_str()).collect();
        let from: Vec<&str> = calls.iter().map(|c| c.from_number.as_str()).collect();
        let to: Vec<&str> = calls.iter().map(|c| c.to_number.as_str()).collect();
        let providers: Vec<&str> = calls.iter().map(|c| c.provider.as_str()).collect();
        let deadlines: Vec<DateTime<Utc>> = calls.iter().map(|c| c.deadline_at).collect();
        let statuses: Vec<&str> =
            calls.iter().map(|c| if c.accepted.is_some() { "ringing" } else { "dispatched" }).collect();
        fn script(c: &NewCall) -> Option<&crate::domain::simulate::Script> {
            c.accepted.as_ref().and_then(Option::as_ref)
        }
        let ends: Vec<Option<DateTime<Utc>>> = calls.iter().map(|c| script(c).map(|s| s.ends_at)).collect();
        let plans: Vec<Option<Value>> = calls
            .iter()
            .map(|c| script(c).map(|s| serde_json::to_value(&s.outcome)).transpose())
            .collect::<Result<_, _>>()
            .map_err(Error::internal)?;
        sqlx::query(
            "INSERT INTO call_records (id, contact_id, batch_id, campaign_id, attempt, kind, call_status,
                from_number, to_number, dispatched_at, deadline_at, planned_end_at, planned_outcome, provider)
             SELECT t.id, t.contact_id, t.batch_id, $4, t.attempt, t.kind, t.status, t.from_number,
                t.to_number, $9, t.deadline_at, t.ends, t.plan, t.provider
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $5::int2[], $6::text[], $7::text[], $8::text[],
                $10::timestamptz[], $11::text[], $12::timestamptz[], $13::jsonb[], $14::text[])
                AS t(id, contact_id, batch_id, attempt, kind, from_number, to_number, deadline_at, status, ends, plan,
                     provider)",
        )
        .bind(&ids)
        .bind(&contacts)
        .bind(&batches)
        .bind(campaign.uuid())
        .bind(&attempts)
        .bind(&kinds)
        .bind(&from)
        .bind(&to)
        .bind(now)
        .bind(&deadlines)
        .bind(&statuses)
        .bind(&ends)
        .bind(&plans)
        .bind(&providers)
        .execute(&mut *self.0)
        .await?;
        let contact_statuses: Vec<&str> =
            calls.iter().map(|c| if c.accepted.is_some() { "in_progress" } else { "dispatched" }).collect();
        sqlx::query(
            "UPDATE contacts SET status = t.status, last_attempted_at = $3, latest_retry_count = retry_count,
                next_retry_at = NULL, updated_at = $3
             FROM UNNEST($1::uuid[], $2::text[]) AS t(id, status) WHERE contacts.id = t.id",
        )
        .bind(&contacts)
        .bind(&contact_statuses)
        .bind(now)
        .execute(&mut *self.0)
        .await?;
        let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
        for c in calls {
            let d = deltas.entry(c.batch_id.uuid()).or_default();
            let to = if c.accepted.is_some() { ContactStatus::InProgress } else { ContactStatus::Dispatched };
            d.moved(c.from_status, to);
            d.in_flight += 1;
        }
        apply_batch_deltas(&mut self.0, &deltas, now).await?;
        let follow_ups = calls.iter().filter(|c| c.kind == CallKind::FollowUp).count() as i64;
        sqlx::query(
            "UPDATE campaigns SET in_flight = in_flight + $2, call_attempts = call_attempts + $2,
                follow_up_calls = follow_up_calls + $3, round_robin_cursor = round_robin_cursor + $4
             WHERE id = $1",
        )
        .bind(campaign.uuid())
        .bind(calls.len() as i32)
        .bind(follow_ups)
        .bind(cursor_advance)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Records that telephony accepted these calls: they ring, their contacts are in progress, and a
    /// simulated call's script is kept so that it ends on the server's clock.
    pub async fn mark_accepted(&self, calls: &[AcceptedCall], now: DateTime<Utc>) -> Result<usize, Error> {
        self.mark_live(calls, false, now).await
    }

    /// Records that a live call was answered; `false` when it is not ringing or dispatched any more.
    pub async fn mark_answered(&self, call: ExecutionId, now: DateTime<Utc>) -> Result<bool, Error> {
        Ok(self.mark_live(&[AcceptedCall { execution_id: call, script: None }], true, now).await? > 0)
    }

    /// Moves calls forward while they are live: to `ringing` (accepted), or to `in_progress`
    /// (`answered`), under their campaigns' locks; their contacts become `in_progress`. Returns how
    /// many calls moved.
    async fn mark_live(&self, calls: &[AcceptedCall], answered: bool, now: DateTime<Utc>) -> Result<usize, Error> {
        if calls.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = calls.iter().map(|c| c.execution_id.uuid()).collect();
        let ends: Vec<Option<DateTime<Utc>>> = calls.iter().map(|c| c.script.as_ref().map(|s| s.ends_at)).collect();
        let plans: Vec<Option<Value>> = calls
            .iter()
            .map(|c| c.script.as_ref().map(|s| serde_json::to_value(&s.outcome)).transpose())
            .collect::<Result<_, _>>()
            .map_err(Error::internal)?;
        let mut tx = self.pool.begin().await?;
        let campaigns: Vec<Uuid> =
            sqlx::query_scalar("SELECT DISTINCT campaign_id FROM call_records WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
        lock_campaigns(&mut tx, &campaigns).await?;
        let contacts: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE call_records cr SET call_status = CASE WHEN $4 THEN 'in_progress' ELSE 'ringing' END,
                answered_at = CASE WHEN $4 THEN COALESCE(cr.answered_at, $5) ELSE cr.answered_at END,
                planned_end_at = COALESCE(t.ends, cr.planned_end_at), planned_outcome = COALESCE(t.plan, cr.planned_outcome)
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::jsonb[]) AS t(id, ends, plan)
             WHERE cr.id = t.id AND (cr.call_status = 'dispatched' OR ($4 AND cr.call_status = 'ringing'))
             RETURNING cr.contact_id",
        )
        .bind(&ids)
        .bind(&ends)
        .bind(&plans)
        .bind(answered)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let moved: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE contacts SET status = 'in_progress', updated_at = $2 WHERE id = ANY($1) AND status = 'dispatched'
             RETURNING batch_id",
        )
        .bind(&contacts)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
        for batch in moved {
            deltas.entry(batch).or_default().moved(ContactStatus::Dispatched, ContactStatus::InProgress);
        }
        apply_batch_deltas(&mut tx, &deltas, now).await?;
        tx.commit().await?;
        Ok(contacts.len())
    }

    /// Records final outcomes. A call that is no longer live (already recorded, timed out, or a
    /// duplicate callback) is left as it is. Returns the statuses of the calls it closed.
    pub async fn record_outcomes(
        &self,
        finished: &[FinishedCall],
        now: DateTime<Utc>,
    ) -> Result<Vec<CallStatus>, Error> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = finished.iter().map(|f| f.execution_id.uuid()).collect();
        let mut tx = self.pool.begin().await?;
        let campaign_ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT DISTINCT campaign_id FROM call_records WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
        let campaigns = lock_campaigns(&mut tx, &campaign_ids).await?;
        record_locked(tx, campaigns, finished, now).await
    }

    /// Records the outcomes of simulated calls that ended by `now`, up to `limit` of them, taking only
    /// calls of campaigns no other transaction holds (so that replicas settle disjoint campaigns side
    /// by side). Returns the statuses of the calls it closed.
    pub async fn settle_simulated_ends(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        slot: u32,
        slots: u32,
    ) -> Result<Option<Vec<CallStatus>>, Error> {
        let mut tx = self.pool.begin().await?;
        if !take_slot(&mut tx, slot, slots).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let sql = format!(
            "SELECT cr.id, cr.campaign_id, cr.planned_end_at, cr.planned_outcome
             FROM call_records cr JOIN campaigns c ON c.id = cr.campaign_id
             WHERE cr.call_status IN {LIVE} AND cr.planned_end_at IS NOT NULL AND cr.planned_end_at <= $1
             ORDER BY cr.planned_end_at, cr.id LIMIT $2 FOR UPDATE OF c SKIP LOCKED"
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&mut *tx).await?;
        let finished: Vec<FinishedCall> = rows.iter().map(planned_end).collect::<Result<_, _>>()?;
        let mut campaign_ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("campaign_id")).collect::<Result<_, _>>()?;
        if finished.is_empty() {
            tx.rollback().await?;
            return Ok(Some(Vec::new()));
        }
        campaign_ids.sort_unstable();
        campaign_ids.dedup();
        // Already locked by this transaction: this only reads them.
        let campaigns = lock_campaigns(&mut tx, &campaign_ids).await?;
        record_locked(tx, campaigns, &finished, now).await.map(Some)
    }
}

impl Store {
    /// Closes up to `limit` live calls whose deadline passed by `now` with `outcome`, ended at their
    /// deadline. With `skip_held`, only calls of campaigns no other transaction holds (the others are
    /// left for a later call); without, it waits for those campaigns. Returns the statuses of the
    /// calls it closed.
    pub async fn close_overdue(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        outcome: &Outcome,
        skip_held: bool,
    ) -> Result<Vec<CallStatus>, Error> {
        let overdue = |r: &sqlx::postgres::PgRow| -> Result<FinishedCall, Error> {
            let execution_id = ExecutionId::from_uuid(r.try_get("id")?);
            Ok(FinishedCall { execution_id, outcome: outcome.clone(), ended_at: r.try_get("deadline_at")? })
        };
        if !skip_held {
            // Read without locks; recording then locks the campaigns in id order, waiting for them.
            let sql = format!(
                "SELECT id, deadline_at FROM call_records WHERE call_status IN {LIVE} AND deadline_at <= $1
                 ORDER BY deadline_at, id LIMIT $2"
            );
            let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&self.pool).await?;
            let finished = rows.iter().map(overdue).collect::<Result<Vec<_>, _>>()?;
            return self.record_outcomes(&finished, now).await;
        }
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT cr.id, cr.campaign_id, cr.deadline_at FROM call_records cr JOIN campaigns c ON c.id = cr.campaign_id
             WHERE cr.call_status IN {LIVE} AND cr.deadline_at <= $1
             ORDER BY cr.deadline_at, cr.id LIMIT $2 FOR UPDATE OF c SKIP LOCKED"
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let finished = rows.iter().map(overdue).collect::<Result<Vec<_>, _>>()?;
        let mut campaign_ids = rows.iter().map(|r| r.try_get("campaign_id")).collect::<Result<Vec<Uuid>, _>>()?;
        campaign_ids.sort_unstable();
        campaign_ids.dedup();
        // Already locked by this transaction: this only reads them.
        let campaigns = lock_campaigns(&mut tx, &campaign_ids).await?;
        record_locked(tx, campaigns, &finished, now).await
    }
}

/// A simulated call's scripted end, from a row with `id`, `planned_end_at` and `planned_outcome`.
fn planned_end(r: &sqlx::postgres::PgRow) -> Result<FinishedCall, Error> {
    let plan: Value = r.try_get("planned_outcome")?;
    Ok(FinishedCall {
        execution_id: ExecutionId::from_uuid(r.try_get("id")?),
        outcome: serde_json::from_value(plan).map_err(|_| corrupt("planned outcome"))?,
        ended_at: r.try_get("planned_end_at")?,
    })
}

/// Records final outcomes in `tx`, which holds the locks of `campaigns`; calls of other campaigns
/// are left as they are. Commits, and returns the statuses of the calls it closed.
async fn record_locked(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    campaigns: HashMap<Uuid, Campaign>,
    finished: &[FinishedCall],
    now: DateTime<Utc>,
) -> Result<Vec<CallStatus>, Error> {
    let ids: Vec<Uuid> = finished.iter().map(|f| f.execution_id.uuid()).collect();
    let locked: Vec<Uuid> = campaigns.keys().copied().collect();
    let live_sql = format!(
        "SELECT id, contact_id, batch_id, campaign_id, kind FROM call_records
         WHERE id = ANY($1) AND campaign_id = ANY($2) AND call_status IN {LIVE} FOR UPDATE"
    );
    let live = sqlx::query(&live_sql).bind(&ids).bind(&locked).fetch_all(&mut *tx).await?;
    if live.is_empty() {
        return Ok(Vec::new());
    }
    let mut calls: HashMap<Uuid, LiveCall> = HashMap::with_capacity(live.len());
    for r in &live {
        let kind: String = r.try_get("kind")?;
        calls.insert(
            r.try_get("id")?,
            LiveCall {
                contact: r.try_get("contact_id")?,
                batch: r.try_get("batch_id")?,
                campaign: r.try_get("campaign_id")?,
                kind: CallKind::parse(&kind).ok_or_else(|| corrupt("call kind"))?,
            },
        );
    }
    let contact_ids: Vec<Uuid> = calls.values().map(|c| c.contact).collect();
    let batch_ids: Vec<Uuid> = calls.values().map(|c| c.batch).collect();
    let contact_rows = sqlx::query(
        "SELECT id, status, retry_count, follow_up_count FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&contact_ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut contacts: HashMap<Uuid, (ContactStatus, Attempts)> = HashMap::new();
    for r in &contact_rows {
        let status: String = r.try_get("status")?;
        contacts.insert(
            r.try_get("id")?,
            (
                ContactStatus::parse(&status).ok_or_else(|| corrupt("contact status"))?,
                Attempts {
                    retry_count: i64::from(r.try_get::<i16, _>("retry_count")?),
                    follow_up_count: i64::from(r.try_get::<i16, _>("follow_up_count")?),
                },
            ),
        );
    }
    let batch_rows =
        sqlx::query("SELECT id, status, max_retries_override FROM batches WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&batch_ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut batches: HashMap<Uuid, (BatchStatus, Option<i64>)> = HashMap::new();
    for r in &batch_rows {
        let status: String = r.try_get("status")?;
        batches.insert(
            r.try_get("id")?,
            (
                BatchStatus::parse(&status).ok_or_else(|| corrupt("batch status"))?,
                r.try_get::<Option<i16>, _>("max_retries_override")?.map(i64::from),
            ),
        );
    }

    let recorded = decide(finished, calls, &contacts, &batches, &campaigns);

    // Write.
    let ids: Vec<Uuid> = recorded.calls.iter().map(|c| c.0).collect();
    let statuses: Vec<&str> = recorded.calls.iter().map(|c| c.1.status.as_str()).collect();
    let durations: Vec<Option<f64>> = recorded.calls.iter().map(|c| c.1.duration_seconds).collect();
    let text = |f: fn(&Outcome) -> &Option<String>| -> Vec<Option<String>> {
        recorded.calls.iter().map(|c| f(c.1).clone()).collect()
    };
    let costs: Vec<Option<f64>> = recorded.calls.iter().map(|c| c.1.total_cost).collect();
    let answered: Vec<Option<DateTime<Utc>>> = recorded.calls.iter().map(|c| c.1.answered_at).collect();
    let ended: Vec<DateTime<Utc>> = recorded.calls.iter().map(|c| c.2).collect();
    sqlx::query(
            "UPDATE call_records cr SET call_status = t.status, duration_seconds = t.duration,
                recording_url = t.recording_url, transcript = t.transcript, summary = t.summary,
                sentiment = t.sentiment, hangup_by = t.hangup_by, hangup_reason = t.hangup_reason,
                total_cost = t.cost, answered_at = COALESCE(t.answered_at, cr.answered_at, CASE WHEN t.status = 'completed'
                    THEN t.ended_at - make_interval(secs => COALESCE(t.duration, 0)) END),
                ended_at = t.ended_at,
                planned_end_at = NULL, planned_outcome = NULL, closed_seq = nextval('call_events')
             FROM UNNEST($1::uuid[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::float8[], $11::timestamptz[], $12::timestamptz[])
                AS t(id, status, duration, recording_url, transcript, summary, sentiment, hangup_by, hangup_reason,
                     cost, answered_at, ended_at)
             WHERE cr.id = t.id",
        )
        .bind(&ids)
        .bind(&statuses)
        .bind(&durations)
        .bind(text(|o| &o.recording_url))
        .bind(text(|o| &o.transcript))
        .bind(text(|o| &o.summary))
        .bind(text(|o| &o.sentiment))
        .bind(text(|o| &o.hangup_by))
        .bind(text(|o| &o.hangup_reason))
        .bind(&costs)
        .bind(&answered)
        .bind(&ended)
        .execute(&mut *tx)
        .await?;
    if !recorded.contacts.is_empty() {
        let ids: Vec<Uuid> = recorded.contacts.iter().map(|c| c.0).collect();
        let statuses: Vec<&str> = recorded.contacts.iter().map(|c| c.1.status.as_str()).collect();
        let retries: Vec<i16> = recorded.contacts.iter().map(|c| c.1.attempts.retry_count as i16).collect();
        let follow_ups: Vec<i16> = recorded.contacts.iter().map(|c| c.1.attempts.follow_up_count as i16).collect();
        let due: Vec<Option<DateTime<Utc>>> = recorded.contacts.iter().map(|c| c.1.next_retry_at).collect();
        sqlx::query(
            "UPDATE contacts c SET status = t.status, retry_count = t.retry_count, follow_up_count = t.follow_ups,
                    next_retry_at = t.due, updated_at = $6
                 FROM UNNEST($1::uuid[], $2::text[], $3::int2[], $4::int2[], $5::timestamptz[])
                    AS t(id, status, retry_count, follow_ups, due)
                 WHERE c.id = t.id",
        )
        .bind(&ids)
        .bind(&statuses)
        .bind(&retries)
        .bind(&follow_ups)
        .bind(&due)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    apply_batch_deltas(&mut tx, &recorded.batches, now).await?;
    for (campaign, d) in &recorded.campaigns {
        sqlx::query(ADD_CAMPAIGN_OUTCOMES)
            .bind(campaign)
            .bind(d.in_flight as i32)
            .bind(d.completed)
            .bind(d.failed)
            .bind(d.busy)
            .bind(d.no_answer)
            .bind(d.answered)
            .bind(d.answered_seconds)
            .bind(d.due)
            .execute(&mut *tx)
            .await?;
    }
    let touched: Vec<Uuid> = recorded.batches.keys().copied().collect();
    complete_finished(&mut tx, &touched, now).await?;
    tx.commit().await?;
    Ok(recorded.calls.iter().map(|c| c.1.status).collect())
}

impl Store {
    /// Live simulated calls whose scripted end is at or before `now`, soonest first.
    pub async fn simulated_ends(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<FinishedCall>, Error> {
        let sql = format!(
            "SELECT id, planned_end_at, planned_outcome FROM call_records
             WHERE call_status IN {LIVE} AND planned_end_at IS NOT NULL AND planned_end_at <= $1
             ORDER BY planned_end_at, id LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(planned_end).collect()
    }

    /// Moves pending batches whose start has come to `in_progress`; returns how many.
    pub async fn start_due_batches(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE batches SET status = 'in_progress', updated_at = $1
             WHERE id IN (SELECT id FROM batches WHERE status = 'pending' AND scheduled_start <= $1
                          ORDER BY id FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Open batches whose expiry has passed: `(org, campaign, batch)`.
    pub async fn expired_batches(&self, now: DateTime<Utc>) -> Result<Vec<(OrgId, CampaignId, BatchId)>, Error> {
        let rows = sqlx::query(
            "SELECT organization_id, campaign_id, id FROM batches
             WHERE status IN ('pending', 'in_progress', 'paused') AND expires_at <= $1 ORDER BY expires_at, id LIMIT 100",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    OrgId::from_uuid(r.try_get("organization_id")?),
                    CampaignId::from_uuid(r.try_get("campaign_id")?),
                    BatchId::from_uuid(r.try_get("id")?),
                ))
            })
            .collect()
    }
}

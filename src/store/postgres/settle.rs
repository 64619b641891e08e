//! Recording what became of calls: outcomes (from callbacks, simulated scripts and timeouts) with
//! exact counters, each under its campaign's lock.

use super::Store;
use super::dispatch::{apply_batch_deltas, complete_finished, lock_campaigns, take_slot};
use crate::domain::batch::BatchStatus;
use crate::domain::campaign::Campaign;
use crate::domain::contact::ContactStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::{Attempts, Outcome};
use crate::domain::outcome::{LiveCall, decide};
use crate::error::Error;
use crate::store::rows::{self, Cells};
use crate::store::shared::{ADD_CAMPAIGN_OUTCOMES, LIVE};
use crate::store::{Closed, FinishedCall};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;

impl Store {
    /// Records final outcomes. A call that is no longer live (already recorded, timed out, or a
    /// duplicate callback) is left as it is. Returns the calls it closed, with their statuses.
    pub async fn record_outcomes(&self, finished: &[FinishedCall], now: DateTime<Utc>) -> Result<Vec<Closed>, Error> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = finished.iter().map(|f| f.execution_id.uuid()).collect();
        let mut tx = self.pool.begin().await?;
        plan_for_sizes(&mut tx).await?;
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
    /// by side). Returns the calls it closed, with their statuses.
    pub async fn settle_simulated_ends(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        slot: u32,
        slots: u32,
    ) -> Result<Option<Vec<Closed>>, Error> {
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
        let finished: Vec<FinishedCall> = rows.iter().map(rows::planned_end).collect::<Result<_, _>>()?;
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
    ) -> Result<Vec<Closed>, Error> {
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
        plan_for_sizes(&mut tx).await?;
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

/// Outcome statements join arrays of any length to tables that grow fast (a batch upload, a burst
/// of calls): callbacks' and placements' few rows are planned for the sizes at hand in each
/// transaction, since a plan kept from when the tables were small scans them whole (30 ms a callback
/// at 100,000 calls, BENCHMARKS.md). Simulated ends, settled thousands at a time, keep the kept plan:
/// planning their long arrays each time cost the burn-down a fifth of its rate.
pub(super) async fn plan_for_sizes(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>) -> Result<(), Error> {
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan").execute(&mut **tx).await?;
    Ok(())
}

/// Records final outcomes in `tx`, which holds the locks of `campaigns`; calls of other campaigns
/// are left as they are. Commits, and returns the calls it closed, with their statuses.
async fn record_locked(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    campaigns: HashMap<Uuid, Campaign>,
    finished: &[FinishedCall],
    now: DateTime<Utc>,
) -> Result<Vec<Closed>, Error> {
    let ids: Vec<Uuid> = finished.iter().map(|f| f.execution_id.uuid()).collect();
    let locked: Vec<Uuid> = campaigns.keys().copied().collect();
    let live_sql = format!(
        "SELECT id, contact_id, batch_id, campaign_id, kind, opt_out FROM call_records
         WHERE id = ANY($1) AND campaign_id = ANY($2) AND call_status IN {LIVE} FOR UPDATE"
    );
    let live = sqlx::query(&live_sql).bind(&ids).bind(&locked).fetch_all(&mut *tx).await?;
    if live.is_empty() {
        return Ok(Vec::new());
    }
    let calls: HashMap<Uuid, LiveCall<Uuid>> = live.iter().map(rows::live_call).collect::<Result<_, _>>()?;
    let contact_ids: Vec<Uuid> = calls.values().map(|c| c.contact).collect();
    let batch_ids: Vec<Uuid> = calls.values().map(|c| c.batch).collect();
    let contact_rows = sqlx::query(
        "SELECT id, status, retry_count, follow_up_count FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&contact_ids)
    .fetch_all(&mut *tx)
    .await?;
    let contacts: HashMap<Uuid, (ContactStatus, Attempts)> =
        contact_rows.iter().map(rows::contact_attempts).collect::<Result<_, _>>()?;
    let batch_rows =
        sqlx::query("SELECT id, status, max_retries_override FROM batches WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&batch_ids)
            .fetch_all(&mut *tx)
            .await?;
    let batches: HashMap<Uuid, (BatchStatus, Option<i64>)> =
        batch_rows.iter().map(rows::batch_retries).collect::<Result<_, _>>()?;

    // An opt-out reported during the call counts with the outcome.
    let opted: Vec<Uuid> =
        live.iter().filter(|r| r.flag("opt_out").unwrap_or(false)).map(|r| r.id("id")).collect::<Result<_, _>>()?;
    let outcomes = crate::store::shared::with_opt_outs(finished, &opted);
    let closing = finished.iter().zip(&outcomes).map(|(f, o)| (f.execution_id.uuid(), o.as_ref(), f.ended_at));
    let recorded = decide(closing, calls, &contacts, &batches, &campaigns);

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
    let answered_by: Vec<Option<&str>> = recorded.calls.iter().map(|c| c.1.answered_by.map(|b| b.as_str())).collect();
    let opt_outs: Vec<bool> = recorded.calls.iter().map(|c| c.1.opt_out).collect();
    sqlx::query(
            "UPDATE call_records cr SET call_status = t.status, duration_seconds = t.duration,
                recording_url = t.recording_url, transcript = t.transcript, summary = t.summary,
                sentiment = t.sentiment, hangup_by = t.hangup_by, hangup_reason = t.hangup_reason,
                total_cost = t.cost, answered_at = COALESCE(t.answered_at, cr.answered_at, CASE WHEN t.status = 'completed'
                    THEN t.ended_at - make_interval(secs => COALESCE(t.duration, 0)) END),
                ended_at = t.ended_at, answered_by = COALESCE(t.answered_by, cr.answered_by), opt_out = t.opt_out,
                provider_call_id = COALESCE(cr.provider_call_id, t.provider_call_id),
                planned_end_at = NULL, planned_outcome = NULL, closed_seq = nextval('call_events')
             FROM UNNEST($1::uuid[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::float8[], $11::timestamptz[], $12::timestamptz[], $13::text[],
                $14::bool[], $15::text[])
                AS t(id, status, duration, recording_url, transcript, summary, sentiment, hangup_by, hangup_reason,
                     cost, answered_at, ended_at, answered_by, opt_out, provider_call_id)
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
        .bind(&answered_by)
        .bind(&opt_outs)
        .bind(text(|o| &o.provider_call_id))
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
    let opted_out: Vec<Uuid> = recorded.calls.iter().filter(|c| c.1.opt_out).map(|c| c.0).collect();
    super::suppressions::record_opt_outs(&mut tx, &opted_out, now).await?;
    tx.commit().await?;
    Ok(recorded.calls.iter().map(|c| (ExecutionId::from_uuid(c.0), c.1.status)).collect())
}

impl Store {
    pub async fn simulated_ends(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<FinishedCall>, Error> {
        let sql = format!(
            "SELECT id, planned_end_at, planned_outcome FROM call_records
             WHERE call_status IN {LIVE} AND planned_end_at IS NOT NULL AND planned_end_at <= $1
             ORDER BY planned_end_at, id LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(rows::planned_end).collect()
    }
}

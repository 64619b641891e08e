//! Recording what became of calls: outcomes (from callbacks, simulated scripts and timeouts) with
//! exact counters, on the single writer connection.

use super::dispatch::{apply_batch_deltas, complete_finished, ids, lock_campaigns, rows_in, take_seqs, uuids};
use super::{Store, id, id_list, micros};
use crate::domain::batch::BatchStatus;
use crate::domain::campaign::Campaign;
use crate::domain::contact::{CallStatus, ContactStatus};
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::{Attempts, Outcome};
use crate::domain::outcome::{LiveCall, decide};
use crate::error::Error;
use crate::store::rows::{self, Cells};
use crate::store::shared::{ADD_CAMPAIGN_OUTCOMES, LIVE};
use crate::store::{Closed, FinishedCall};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::Sqlite;
use std::collections::HashMap;
use uuid::Uuid;

impl Store {
    /// Records final outcomes. A call that is no longer live (already recorded, timed out, or a
    /// duplicate callback) is left as it is. Returns the calls it closed, with their statuses.
    pub async fn record_outcomes(&self, finished: &[FinishedCall], now: DateTime<Utc>) -> Result<Vec<Closed>, Error> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?.0;
        let campaign_ids = sqlx::query_scalar(
            "SELECT DISTINCT campaign_id FROM call_records WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(id_list(finished.iter().map(|f| f.execution_id.uuid())))
        .fetch_all(&mut *tx)
        .await?;
        let campaigns = lock_campaigns(&mut tx, &uuids(campaign_ids)).await?;
        record_locked(tx, campaigns, finished, now).await
    }

    /// Records the outcomes of simulated calls that ended by `now`, up to `limit` of them. Settles
    /// run one at a time on the writer and each takes the calls still live when it runs, so settles
    /// side by side take disjoint calls. Returns the calls it closed, with their statuses.
    /// Every write goes through the one writer connection, so dispatch slots need no lock here.
    pub async fn settle_simulated_ends(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        _slot: u32,
        _slots: u32,
    ) -> Result<Option<Vec<Closed>>, Error> {
        self.settle_ended(now, limit).await.map(Some)
    }

    async fn settle_ended(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Closed>, Error> {
        // Nothing due (seen by a reader): leave the writer alone.
        let any: bool = sqlx::query_scalar(&format!("SELECT EXISTS ({})", due_ends_sql("")))
            .bind(micros(now))
            .bind(1_i64)
            .fetch_one(&self.reads)
            .await?;
        if !any {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?.0;
        let rows =
            sqlx::query(&due_ends_sql(", campaign_id")).bind(micros(now)).bind(limit).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let finished: Vec<FinishedCall> = rows.iter().map(rows::planned_end).collect::<Result<_, _>>()?;
        let mut campaign_ids: Vec<Uuid> = rows.iter().map(|r| r.id("campaign_id")).collect::<Result<_, _>>()?;
        campaign_ids.sort_unstable();
        campaign_ids.dedup();
        let campaigns = lock_campaigns(&mut tx, &campaign_ids).await?;
        record_locked(tx, campaigns, &finished, now).await
    }
}

/// Live simulated calls whose scripted end is at or before `?1`, soonest first, at most `?2`:
/// `id, planned_end_at, planned_outcome` and `extra` columns.
fn due_ends_sql(extra: &str) -> String {
    format!(
        "SELECT id, planned_end_at, planned_outcome{extra} FROM call_records
         WHERE call_status IN {LIVE} AND planned_end_at IS NOT NULL AND planned_end_at <= ?1
         ORDER BY planned_end_at, id LIMIT ?2"
    )
}

/// When a completed call was answered, if nothing says: its end less its duration.
fn answered_fallback(o: &Outcome, ended_at: DateTime<Utc>) -> Option<i64> {
    (o.status == CallStatus::Completed).then(|| {
        let seconds = o.duration_seconds.unwrap_or(0.0);
        // Callbacks bound the duration; an absurd one still never overflows here.
        let length = chrono::Duration::microseconds((seconds * 1e6).round() as i64);
        micros(ended_at.checked_sub_signed(length).unwrap_or(ended_at))
    })
}

/// Records final outcomes in `tx`, which holds the writer and read `campaigns`; calls of other
/// campaigns are left as they are. Commits, and returns the calls it closed, with their statuses.
async fn record_locked(
    mut tx: sqlx::Transaction<'static, Sqlite>,
    campaigns: HashMap<Uuid, Campaign>,
    finished: &[FinishedCall],
    now: DateTime<Utc>,
) -> Result<Vec<Closed>, Error> {
    let live_sql = format!(
        "SELECT id, contact_id, batch_id, campaign_id, kind, opt_out FROM call_records
         WHERE id IN (SELECT value FROM json_each(?1)) AND campaign_id IN (SELECT value FROM json_each(?2))
           AND call_status IN {LIVE}"
    );
    let live = sqlx::query(&live_sql)
        .bind(id_list(finished.iter().map(|f| f.execution_id.uuid())))
        .bind(ids(campaigns.keys()))
        .fetch_all(&mut *tx)
        .await?;
    if live.is_empty() {
        return Ok(Vec::new());
    }
    let calls: HashMap<Uuid, LiveCall<Uuid>> = live.iter().map(rows::live_call).collect::<Result<_, _>>()?;
    let select = "SELECT id, status, retry_count, follow_up_count FROM contacts";
    let contact_rows = rows_in(&mut tx, select, id_list(calls.values().map(|c| c.contact))).await?;
    let contacts: HashMap<Uuid, (ContactStatus, Attempts)> =
        contact_rows.iter().map(rows::contact_attempts).collect::<Result<_, _>>()?;
    let select = "SELECT id, status, max_retries_override FROM batches";
    let batch_rows = rows_in(&mut tx, select, id_list(calls.values().map(|c| c.batch))).await?;
    let batches: HashMap<Uuid, (BatchStatus, Option<i64>)> =
        batch_rows.iter().map(rows::batch_retries).collect::<Result<_, _>>()?;

    // An opt-out reported during the call counts with the outcome.
    let opted: Vec<Uuid> =
        live.iter().filter(|r| r.flag("opt_out").unwrap_or(false)).map(|r| r.id("id")).collect::<Result<_, _>>()?;
    let outcomes = crate::store::shared::with_opt_outs(finished, &opted);
    let closing = finished.iter().zip(&outcomes).map(|(f, o)| (f.execution_id.uuid(), o.as_ref(), f.ended_at));
    let recorded = decide(closing, calls, &contacts, &batches, &campaigns);

    // Write.
    let first = take_seqs(&mut tx, recorded.calls.len() as i64).await?;
    let rows: Vec<Value> = (first..)
        .zip(&recorded.calls)
        .map(|(seq, (call, o, ended_at))| {
            json!([
                call.to_string(),
                o.status.as_str(),
                o.duration_seconds,
                o.total_cost,
                o.answered_at.map(micros),
                answered_fallback(o, *ended_at),
                micros(*ended_at),
                seq,
                o.recording_url,
                o.transcript,
                o.summary,
                o.sentiment,
                o.hangup_by,
                o.hangup_reason,
                o.answered_by.map(|b| b.as_str()),
                o.opt_out,
                o.provider_call_id,
            ])
        })
        .collect();
    // One statement for every call and one for every contact: a statement costs a round trip to
    // SQLite's thread, which is most of a small write's time.
    sqlx::query(
        "UPDATE call_records SET call_status = t.status, duration_seconds = t.duration, total_cost = t.cost,
            answered_at = COALESCE(t.answered, call_records.answered_at, t.fallback), ended_at = t.ended,
            planned_end_at = NULL, planned_outcome = NULL, closed_seq = t.seq, recording_url = t.recording_url,
            transcript = t.transcript, summary = t.summary, sentiment = t.sentiment, hangup_by = t.hangup_by,
            hangup_reason = t.hangup_reason, answered_by = COALESCE(t.answered_by, call_records.answered_by),
            opt_out = t.opt_out, provider_call_id = COALESCE(call_records.provider_call_id, t.provider_call_id)
         FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS duration, value ->> 3 AS cost,
                value ->> 4 AS answered, value ->> 5 AS fallback, value ->> 6 AS ended, value ->> 7 AS seq,
                value ->> 8 AS recording_url, value ->> 9 AS transcript, value ->> 10 AS summary,
                value ->> 11 AS sentiment, value ->> 12 AS hangup_by, value ->> 13 AS hangup_reason,
                value ->> 14 AS answered_by, value ->> 15 AS opt_out, value ->> 16 AS provider_call_id
               FROM json_each(?1)) AS t
         WHERE call_records.id = t.id",
    )
    .bind(Value::Array(rows).to_string())
    .execute(&mut *tx)
    .await?;
    if !recorded.contacts.is_empty() {
        let rows: Vec<Value> = recorded
            .contacts
            .iter()
            .map(|(contact, next)| {
                json!([
                    contact.to_string(),
                    next.status.as_str(),
                    next.attempts.retry_count,
                    next.attempts.follow_up_count,
                    next.next_retry_at.map(micros),
                ])
            })
            .collect();
        sqlx::query(
            "UPDATE contacts SET status = t.status, retry_count = t.retries, follow_up_count = t.follow_ups,
                next_retry_at = t.due, updated_at = ?2
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS retries, value ->> 3 AS follow_ups,
                    value ->> 4 AS due FROM json_each(?1)) AS t
             WHERE contacts.id = t.id",
        )
        .bind(Value::Array(rows).to_string())
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
    }
    apply_batch_deltas(&mut tx, &recorded.batches, now).await?;
    for (campaign, d) in &recorded.campaigns {
        sqlx::query(ADD_CAMPAIGN_OUTCOMES)
            .bind(id(*campaign))
            .bind(d.in_flight)
            .bind(d.completed)
            .bind(d.failed)
            .bind(d.busy)
            .bind(d.no_answer)
            .bind(d.answered)
            .bind(d.answered_seconds)
            .bind(d.due.map(micros))
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
        let rows = sqlx::query(&due_ends_sql("")).bind(micros(now)).bind(limit).fetch_all(&self.reads).await?;
        rows.iter().map(rows::planned_end).collect()
    }

    /// Closes up to `limit` overdue calls with `outcome`, ended at their deadline. The one writer
    /// connection holds every campaign at once, so there is never a held campaign to skip.
    pub async fn close_overdue(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        outcome: &Outcome,
        _skip_held: bool,
    ) -> Result<Vec<Closed>, Error> {
        let sql = format!(
            "SELECT id, deadline_at FROM call_records WHERE call_status IN {LIVE} AND deadline_at <= ?
             ORDER BY deadline_at, id LIMIT ?"
        );
        let rows = sqlx::query(&sql).bind(micros(now)).bind(limit).fetch_all(&self.reads).await?;
        let finished = rows
            .iter()
            .map(|r| {
                let execution_id = ExecutionId::from_uuid(r.id("id")?);
                Ok(FinishedCall { execution_id, outcome: outcome.clone(), ended_at: r.at("deadline_at")? })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.record_outcomes(&finished, now).await
    }
}

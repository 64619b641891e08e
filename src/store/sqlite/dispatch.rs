//! The dispatcher's queries: claiming due contacts, recording placements and outcomes with exact
//! counters, batch starts, and when there is next something to do.
//!
//! Every write holds the single writer connection, which is exclusive: no other transaction can
//! change a campaign meanwhile, so the Postgres store's campaign-order locking is unnecessary here.

use super::batches::batch_from_row;
use super::campaigns::campaign_from_row;
use super::{RowExt, Store, Tx, id, id_list, json_text, micros};
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
use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

/// A text column parsed into a domain enum.
fn parsed<T>(r: &SqliteRow, column: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T, Error> {
    let text: &str = r.try_get(column)?;
    parse(text).ok_or_else(|| corrupt(what))
}

/// Ids as one bound value, for `IN (SELECT value FROM json_each(?))`.
fn ids<'a>(list: impl IntoIterator<Item = &'a Uuid>) -> String {
    id_list(list.into_iter().copied())
}

/// Rows of `select` (a query without `WHERE`) whose `id` is among `ids`.
async fn rows_in(conn: &mut SqliteConnection, select: &str, ids: String) -> Result<Vec<SqliteRow>, Error> {
    let sql = format!("{select} WHERE id IN (SELECT value FROM json_each(?))");
    Ok(sqlx::query(&sql).bind(ids).fetch_all(conn).await?)
}

/// Ids as decoded from their text.
fn uuids(list: Vec<Hyphenated>) -> Vec<Uuid> {
    list.into_iter().map(Hyphenated::into_uuid).collect()
}

/// Takes `n` numbers of the `call_events` counter; returns the first (they run up to `first + n - 1`).
async fn take_seqs(conn: &mut SqliteConnection, n: i64) -> Result<i64, Error> {
    let last: i64 = sqlx::query_scalar("UPDATE call_events SET last = last + ? WHERE only = 1 RETURNING last")
        .bind(n)
        .fetch_one(conn)
        .await?;
    Ok(last - n + 1)
}

/// Applies counter deltas to batches (the numbers are computed here, never client text).
pub(super) async fn apply_batch_deltas(
    conn: &mut SqliteConnection,
    deltas: &BTreeMap<Uuid, BatchDelta>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    for (batch, d) in deltas {
        let sets = d.assignments();
        if sets.is_empty() {
            continue;
        }
        let sql = format!("UPDATE batches SET {}, updated_at = ?2 WHERE id = ?1", sets.join(", "));
        sqlx::query(&sql).bind(id(*batch)).bind(micros(now)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Reads the campaigns (the writer, held, already keeps them from changing under us).
pub(super) async fn lock_campaigns(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Campaign>, Error> {
    let rows = rows_in(conn, &format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns"), self::ids(ids)).await?;
    rows.iter().map(|r| campaign_from_row(r).map(|c| (c.id.uuid(), c))).collect()
}

/// Completes the batches among `batches` whose contacts are all terminal, then their campaigns when
/// every batch is terminal and one completed.
async fn complete_finished(conn: &mut SqliteConnection, batches: &[Uuid], now: DateTime<Utc>) -> Result<(), Error> {
    let campaigns: Vec<Hyphenated> = sqlx::query_scalar(
        "UPDATE batches SET status = 'completed', completed_at = ?2, updated_at = ?2
         WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('in_progress', 'paused')
           AND n_pending + n_dispatched + n_in_progress + n_retrying + n_followup_scheduled = 0
         RETURNING campaign_id",
    )
    .bind(ids(batches))
    .bind(micros(now))
    .fetch_all(&mut *conn)
    .await?;
    if campaigns.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE campaigns SET status = 'completed', updated_at = ?2
         WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('active', 'paused')
           AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.campaign_id = campaigns.id
                           AND b.status IN ('pending', 'in_progress', 'paused'))",
    )
    .bind(id_list(uuids(campaigns)))
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Tx {
    /// Dispatch slots need no lock: the one writer connection already runs one transaction at a time.
    pub async fn take_dispatch_slot(&mut self, _slot: u32, _slots: u32) -> Result<bool, Error> {
        Ok(true)
    }

    /// Reads an active campaign for a claim (the transaction holds the writer, so nobody else
    /// holds it). Returns it with its round-robin cursor.
    pub async fn lock_campaign_for_dispatch(&mut self, id: CampaignId) -> Result<Option<LockedForDispatch>, Error> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS}, round_robin_cursor, due_at FROM campaigns WHERE id = ? AND status = 'active'"
        );
        let row = sqlx::query(&sql).bind(super::id(id.uuid())).fetch_optional(&mut *self.0).await?;
        row.map(|r| {
            Ok(LockedForDispatch {
                campaign: campaign_from_row(&r)?,
                round_robin_cursor: r.try_get("round_robin_cursor")?,
                due_at: r.at("due_at")?,
            })
        })
        .transpose()
    }

    /// The campaign's running, unexpired batches with contacts still to call, oldest first (a batch
    /// whose contacts are all in calls or done is not read).
    pub async fn running_batches(&mut self, campaign: CampaignId, now: DateTime<Utc>) -> Result<Vec<Batch>, Error> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE campaign_id = ?1 AND status = 'in_progress'
                AND (expires_at IS NULL OR expires_at > ?2)
                AND (n_pending > 0 OR n_retrying > 0 OR n_followup_scheduled > 0) ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).bind(id(campaign.uuid())).bind(micros(now)).fetch_all(&mut *self.0).await?;
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
            "SELECT {columns} FROM contacts WHERE batch_id = ?1 AND status IN ('retrying', 'followup_scheduled')
                AND next_retry_at <= ?2 ORDER BY next_retry_at, seq LIMIT ?3"
        );
        let mut rows =
            sqlx::query(&due).bind(id(batch.uuid())).bind(micros(now)).bind(limit).fetch_all(&mut *self.0).await?;
        let rest = limit - rows.len() as i64;
        if rest > 0 {
            let pending = format!(
                "SELECT {columns} FROM contacts WHERE batch_id = ? AND status = 'pending' ORDER BY seq LIMIT ?"
            );
            rows.extend(sqlx::query(&pending).bind(id(batch.uuid())).bind(rest).fetch_all(&mut *self.0).await?);
        }
        rows.iter()
            .map(|r| {
                let status = parsed(r, "status", ContactStatus::parse, "contact status")?;
                Ok(ClaimedContact {
                    id: ContactId::from_uuid(r.uuid("id")?),
                    batch_id: BatchId::from_uuid(r.uuid("batch_id")?),
                    phone_number: r.try_get("phone_number")?,
                    call_variables: r.object("call_variables")?,
                    status,
                    retry_count: r.try_get("retry_count")?,
                    follow_up_count: r.try_get("follow_up_count")?,
                    prior: PriorState {
                        status,
                        next_retry_at: r.at_opt("next_retry_at")?,
                        last_attempted_at: r.at_opt("last_attempted_at")?,
                        latest_retry_count: r.try_get("latest_retry_count")?,
                    },
                })
            })
            .collect()
    }

    /// Calls in flight per caller-ID number of the campaign.
    pub async fn live_calls_by_number(&mut self, campaign: CampaignId) -> Result<HashMap<String, i64>, Error> {
        let sql = format!(
            "SELECT from_number, count(*) AS n FROM call_records WHERE campaign_id = ? AND call_status IN {LIVE}
             GROUP BY from_number"
        );
        let rows = sqlx::query(&sql).bind(id(campaign.uuid())).fetch_all(&mut *self.0).await?;
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
        let first = take_seqs(&mut self.0, calls.len() as i64).await?;
        let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
        let mut rows = Vec::with_capacity(calls.len());
        let (mut dispatched, mut in_progress) = (Vec::new(), Vec::new());
        for (seq, c) in (first..).zip(calls) {
            let script = c.accepted.as_ref().and_then(Option::as_ref);
            let (status, contact_status) = match c.accepted {
                Some(_) => ("ringing", ContactStatus::InProgress),
                None => ("dispatched", ContactStatus::Dispatched),
            };
            rows.push(json!([
                c.execution_id.uuid().to_string(),
                c.contact_id.uuid().to_string(),
                c.batch_id.uuid().to_string(),
                c.attempt,
                c.kind.as_str(),
                status,
                c.from_number,
                c.to_number,
                micros(c.deadline_at),
                script.map(|s| micros(s.ends_at)),
                script.map(|s| json_text(&s.outcome)).transpose()?,
                seq,
                c.provider.as_str(),
            ]));
            match contact_status {
                ContactStatus::InProgress => in_progress.push(c.contact_id.uuid()),
                _ => dispatched.push(c.contact_id.uuid()),
            }
            let d = deltas.entry(c.batch_id.uuid()).or_default();
            d.moved(c.from_status, contact_status);
            d.in_flight += 1;
        }
        // One statement each, however many calls: a statement costs a round trip to SQLite's thread.
        sqlx::query(
            "INSERT INTO call_records (id, contact_id, batch_id, campaign_id, attempt, kind, call_status,
                from_number, to_number, dispatched_at, deadline_at, planned_end_at, planned_outcome, placed_seq,
                provider)
             SELECT value ->> 0, value ->> 1, value ->> 2, ?2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
                value ->> 7, ?3, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12
             FROM json_each(?1)",
        )
        .bind(Value::Array(rows).to_string())
        .bind(id(campaign.uuid()))
        .bind(micros(now))
        .execute(&mut *self.0)
        .await?;
        for (status, contacts) in [(ContactStatus::Dispatched, dispatched), (ContactStatus::InProgress, in_progress)] {
            if contacts.is_empty() {
                continue;
            }
            sqlx::query(
                "UPDATE contacts SET status = ?1, last_attempted_at = ?2, latest_retry_count = retry_count,
                    next_retry_at = NULL, updated_at = ?2
                 WHERE id IN (SELECT value FROM json_each(?3))",
            )
            .bind(status.as_str())
            .bind(micros(now))
            .bind(id_list(contacts))
            .execute(&mut *self.0)
            .await?;
        }
        apply_batch_deltas(&mut self.0, &deltas, now).await?;
        let follow_ups = calls.iter().filter(|c| c.kind == CallKind::FollowUp).count() as i64;
        sqlx::query(
            "UPDATE campaigns SET in_flight = in_flight + ?2, call_attempts = call_attempts + ?2,
                follow_up_calls = follow_up_calls + ?3, round_robin_cursor = round_robin_cursor + ?4
             WHERE id = ?1",
        )
        .bind(id(campaign.uuid()))
        .bind(calls.len() as i64)
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
    /// (`answered`), in one transaction on the writer; their contacts become `in_progress`. Returns
    /// how many calls moved.
    async fn mark_live(&self, calls: &[AcceptedCall], answered: bool, now: DateTime<Utc>) -> Result<usize, Error> {
        if calls.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Value> = calls
            .iter()
            .map(|c| {
                let plan = c.script.as_ref().map(|s| json_text(&s.outcome)).transpose()?;
                Ok(json!([c.execution_id.uuid().to_string(), c.script.as_ref().map(|s| micros(s.ends_at)), plan]))
            })
            .collect::<Result<_, Error>>()?;
        let mut tx = self.begin().await?.0;
        let contacts: Vec<Hyphenated> = sqlx::query_scalar(
            "UPDATE call_records SET call_status = CASE WHEN ?1 THEN 'in_progress' ELSE 'ringing' END,
                answered_at = CASE WHEN ?1 THEN COALESCE(answered_at, ?2) ELSE answered_at END,
                planned_end_at = COALESCE(t.ends, planned_end_at), planned_outcome = COALESCE(t.plan, planned_outcome)
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS ends, value ->> 2 AS plan FROM json_each(?3)) AS t
             WHERE call_records.id = t.id AND (call_status = 'dispatched' OR (?1 AND call_status = 'ringing'))
             RETURNING contact_id",
        )
        .bind(answered)
        .bind(micros(now))
        .bind(Value::Array(rows).to_string())
        .fetch_all(&mut *tx)
        .await?;
        let contacts = uuids(contacts);
        let moved: Vec<Hyphenated> = sqlx::query_scalar(
            "UPDATE contacts SET status = 'in_progress', updated_at = ?2
             WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'dispatched'
             RETURNING batch_id",
        )
        .bind(ids(&contacts))
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
        let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
        for batch in moved {
            deltas.entry(batch.into_uuid()).or_default().moved(ContactStatus::Dispatched, ContactStatus::InProgress);
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
    /// side by side take disjoint calls. Returns the statuses of the calls it closed.
    /// Every write goes through the one writer connection, so dispatch slots need no lock here.
    pub async fn settle_simulated_ends(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        _slot: u32,
        _slots: u32,
    ) -> Result<Option<Vec<CallStatus>>, Error> {
        self.settle_ended(now, limit).await.map(Some)
    }

    async fn settle_ended(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<CallStatus>, Error> {
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
        let finished: Vec<FinishedCall> = rows.iter().map(planned_end).collect::<Result<_, _>>()?;
        let mut campaign_ids: Vec<Uuid> = rows.iter().map(|r| r.uuid("campaign_id")).collect::<Result<_, _>>()?;
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

/// A simulated call's scripted end, from a row with `id`, `planned_end_at` and `planned_outcome`.
fn planned_end(r: &SqliteRow) -> Result<FinishedCall, Error> {
    let plan: &str = r.try_get("planned_outcome")?;
    Ok(FinishedCall {
        execution_id: ExecutionId::from_uuid(r.uuid("id")?),
        outcome: serde_json::from_str(plan).map_err(|_| corrupt("planned outcome"))?,
        ended_at: r.at("planned_end_at")?,
    })
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
/// campaigns are left as they are. Commits, and returns the statuses of the calls it closed.
async fn record_locked(
    mut tx: sqlx::Transaction<'static, Sqlite>,
    campaigns: HashMap<Uuid, Campaign>,
    finished: &[FinishedCall],
    now: DateTime<Utc>,
) -> Result<Vec<CallStatus>, Error> {
    let live_sql = format!(
        "SELECT id, contact_id, batch_id, campaign_id, kind FROM call_records
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
    let mut calls: HashMap<Uuid, LiveCall> = HashMap::with_capacity(live.len());
    for r in &live {
        let call = LiveCall {
            contact: r.uuid("contact_id")?,
            batch: r.uuid("batch_id")?,
            campaign: r.uuid("campaign_id")?,
            kind: parsed(r, "kind", CallKind::parse, "call kind")?,
        };
        calls.insert(r.uuid("id")?, call);
    }
    let select = "SELECT id, status, retry_count, follow_up_count FROM contacts";
    let contact_rows = rows_in(&mut tx, select, id_list(calls.values().map(|c| c.contact))).await?;
    let mut contacts: HashMap<Uuid, (ContactStatus, Attempts)> = HashMap::new();
    for r in &contact_rows {
        let attempts =
            Attempts { retry_count: r.try_get("retry_count")?, follow_up_count: r.try_get("follow_up_count")? };
        contacts.insert(r.uuid("id")?, (parsed(r, "status", ContactStatus::parse, "contact status")?, attempts));
    }
    let select = "SELECT id, status, max_retries_override FROM batches";
    let batch_rows = rows_in(&mut tx, select, id_list(calls.values().map(|c| c.batch))).await?;
    let mut batches: HashMap<Uuid, (BatchStatus, Option<i64>)> = HashMap::new();
    for r in &batch_rows {
        let status = parsed(r, "status", BatchStatus::parse, "batch status")?;
        batches.insert(r.uuid("id")?, (status, r.try_get("max_retries_override")?));
    }

    let recorded = decide(finished, calls, &contacts, &batches, &campaigns);

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
            hangup_reason = t.hangup_reason
         FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS duration, value ->> 3 AS cost,
                value ->> 4 AS answered, value ->> 5 AS fallback, value ->> 6 AS ended, value ->> 7 AS seq,
                value ->> 8 AS recording_url, value ->> 9 AS transcript, value ->> 10 AS summary,
                value ->> 11 AS sentiment, value ->> 12 AS hangup_by, value ->> 13 AS hangup_reason
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
    tx.commit().await?;
    Ok(recorded.calls.iter().map(|c| c.1.status).collect())
}

impl Store {
    /// Live simulated calls whose scripted end is at or before `now`, soonest first.
    pub async fn simulated_ends(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<FinishedCall>, Error> {
        let rows = sqlx::query(&due_ends_sql("")).bind(micros(now)).bind(limit).fetch_all(&self.reads).await?;
        rows.iter().map(planned_end).collect()
    }

    /// Closes up to `limit` overdue calls with `outcome`, ended at their deadline. The one writer
    /// connection holds every campaign at once, so there is never a held campaign to skip.
    pub async fn close_overdue(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        outcome: &Outcome,
        _skip_held: bool,
    ) -> Result<Vec<CallStatus>, Error> {
        let sql = format!(
            "SELECT id, deadline_at FROM call_records WHERE call_status IN {LIVE} AND deadline_at <= ?
             ORDER BY deadline_at, id LIMIT ?"
        );
        let rows = sqlx::query(&sql).bind(micros(now)).bind(limit).fetch_all(&self.reads).await?;
        let finished = rows
            .iter()
            .map(|r| {
                let execution_id = ExecutionId::from_uuid(r.uuid("id")?);
                Ok(FinishedCall { execution_id, outcome: outcome.clone(), ended_at: r.at("deadline_at")? })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.record_outcomes(&finished, now).await
    }

    /// Moves pending batches whose start has come to `in_progress`; returns how many.
    pub async fn start_due_batches(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE batches SET status = 'in_progress', updated_at = ?1 WHERE status = 'pending' AND scheduled_start <= ?1",
        )
        .bind(micros(now))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Open batches whose expiry has passed: `(org, campaign, batch)`.
    pub async fn expired_batches(&self, now: DateTime<Utc>) -> Result<Vec<(OrgId, CampaignId, BatchId)>, Error> {
        let rows = sqlx::query(
            "SELECT organization_id, campaign_id, id FROM batches
             WHERE status IN ('pending', 'in_progress', 'paused') AND expires_at <= ? ORDER BY expires_at, id LIMIT 100",
        )
        .bind(micros(now))
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    OrgId::from_uuid(r.uuid("organization_id")?),
                    CampaignId::from_uuid(r.uuid("campaign_id")?),
                    BatchId::from_uuid(r.uuid("id")?),
                ))
            })
            .collect()
    }
}

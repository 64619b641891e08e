//! The dispatcher's claims: dispatch slots, the campaign's lock, due contacts, and the calls they
//! become, with exact counters (and the counter and lock helpers that recording outcomes shares).
//!
//! Every write holds the single writer connection, which is exclusive: no other transaction can
//! change a campaign meanwhile, so the Postgres store's campaign-order locking is unnecessary here.

use super::{Tx, id, id_list, json_text, micros};
use crate::domain::campaign::Campaign;
use crate::domain::contact::{CallKind, ContactStatus};
use crate::domain::ids::CampaignId;
use crate::error::Error;
use crate::store::NewCall;
use crate::store::rows;
use crate::store::shared::{BatchDelta, CAMPAIGN_COLUMNS, assignments};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

/// Ids as one bound value, for `IN (SELECT value FROM json_each(?))`.
pub(super) fn ids<'a>(list: impl IntoIterator<Item = &'a Uuid>) -> String {
    id_list(list.into_iter().copied())
}

/// Rows of `select` (a query without `WHERE`) whose `id` is among `ids`.
pub(super) async fn rows_in(conn: &mut SqliteConnection, select: &str, ids: String) -> Result<Vec<SqliteRow>, Error> {
    let sql = format!("{select} WHERE id IN (SELECT value FROM json_each(?))");
    Ok(sqlx::query(&sql).bind(ids).fetch_all(conn).await?)
}

/// Ids as decoded from their text.
pub(super) fn uuids(list: Vec<Hyphenated>) -> Vec<Uuid> {
    list.into_iter().map(Hyphenated::into_uuid).collect()
}

/// Takes `n` numbers of the `call_events` counter; returns the first (they run up to `first + n - 1`).
pub(super) async fn take_seqs(conn: &mut SqliteConnection, n: i64) -> Result<i64, Error> {
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
        let sets = assignments(d);
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
    rows.iter().map(|r| rows::campaign(r).map(|c| (c.id.uuid(), c))).collect()
}

/// Completes the batches among `batches` whose contacts are all terminal, then their campaigns when
/// every batch is terminal and one completed: `CampaignStatus::completes`, set-based for the
/// outcomes recorded at hand (a batch it completes is the one completed batch the rule asks for).
pub(super) async fn complete_finished(
    conn: &mut SqliteConnection,
    batches: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), Error> {
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

crate::store::common::claim_reads!();

impl Tx<'_> {
    /// Dispatch slots need no lock: the one writer connection already runs one transaction at a time.
    pub async fn take_dispatch_slot(&mut self, _slot: u32, _slots: u32) -> Result<bool, Error> {
        Ok(true)
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
                &*c.decision,
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
                provider, decision)
             SELECT value ->> 0, value ->> 1, value ->> 2, ?2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
                value ->> 7, ?3, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13
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

//! The dispatcher's claims: dispatch slots, the campaign's lock, due contacts, and the calls they
//! become, with exact counters (and the counter and lock helpers that recording outcomes shares).
//!
//! Every transaction that changes a campaign's contacts, batches or calls first locks the campaign
//! row (several in id order), so writers never deadlock and limits hold across replicas.

use super::Tx;
use crate::domain::campaign::Campaign;
use crate::domain::contact::{CallKind, ContactStatus};
use crate::domain::ids::CampaignId;
use crate::error::Error;
use crate::store::NewCall;
use crate::store::rows;
use crate::store::shared::{BatchDelta, CAMPAIGN_COLUMNS, assignments};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Applies counter deltas to batches (the numbers are computed here, never client text).
pub(super) async fn apply_batch_deltas(
    conn: &mut sqlx::PgConnection,
    deltas: &BTreeMap<Uuid, BatchDelta>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    for (batch, d) in deltas {
        let sets = assignments(d);
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
    rows.iter().map(|r| rows::campaign(r).map(|c| (c.id.uuid(), c))).collect()
}

/// Completes the batches among `batches` whose contacts are all terminal, then their campaigns when
/// every batch is terminal and one completed: `CampaignStatus::completes`, set-based for the
/// outcomes recorded at hand (a batch it completes is the one completed batch the rule asks for).
pub(super) async fn complete_finished(
    conn: &mut sqlx::PgConnection,
    batches: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), Error> {
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
pub(super) async fn take_slot(conn: &mut sqlx::PgConnection, slot: u32, slots: u32) -> Result<bool, Error> {
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

crate::store::common::claim_reads!();

impl Tx<'_> {
    /// Takes one of `slots` dispatch slots for the rest of the transaction: any free one, else
    /// `slot` once it frees, waiting at most `SLOT_WAIT`. Says whether it got one.
    pub async fn take_dispatch_slot(&mut self, slot: u32, slots: u32) -> Result<bool, Error> {
        take_slot(&mut self.0, slot, slots).await
    }

    /// Writes the claimed calls (`dispatched`), marks their contacts, and moves every counter: the
    /// batches', and the campaign's calls in flight, attempts, follow-ups and round-robin cursor.
    pub async fn insert_calls(
        &mut self,
        campaign: CampaignId,
        calls: &[NewCall],
        cursor_advance: i64,
    ) -> Result<(), Error> {
        match calls.first() {
            Some(first) => write_calls(&mut self.0, campaign, calls, cursor_advance, first.dispatched_at).await,
            None => Ok(()),
        }
    }
}

/// The statements of `Tx::insert_calls`, dispatched at `now` (with no calls they change nothing: a
/// new connection runs them so to plan them, see `warm`).
pub(super) async fn write_calls(
    conn: &mut sqlx::PgConnection,
    campaign: CampaignId,
    calls: &[NewCall],
    cursor_advance: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let ids: Vec<Uuid> = calls.iter().map(|c| c.execution_id.uuid()).collect();
    let contacts: Vec<Uuid> = calls.iter().map(|c| c.contact_id.uuid()).collect();
    let batches: Vec<Uuid> = calls.iter().map(|c| c.batch_id.uuid()).collect();
    let attempts: Vec<i16> = calls.iter().map(|c| c.attempt as i16).collect();
    let kinds: Vec<&str> = calls.iter().map(|c| c.kind.as_str()).collect();
    let from: Vec<&str> = calls.iter().map(|c| c.from_number.as_str()).collect();
    let to: Vec<&str> = calls.iter().map(|c| c.to_number.as_str()).collect();
    let providers: Vec<&str> = calls.iter().map(|c| c.provider.as_str()).collect();
    let decisions: Vec<&str> = calls.iter().map(|c| &*c.decision).collect();
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
                from_number, to_number, dispatched_at, deadline_at, planned_end_at, planned_outcome, provider,
                decision)
             SELECT t.id, t.contact_id, t.batch_id, $4, t.attempt, t.kind, t.status, t.from_number,
                t.to_number, $9, t.deadline_at, t.ends, t.plan, t.provider, t.decision::json
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $5::int2[], $6::text[], $7::text[], $8::text[],
                $10::timestamptz[], $11::text[], $12::timestamptz[], $13::jsonb[], $14::text[], $15::text[])
                AS t(id, contact_id, batch_id, attempt, kind, from_number, to_number, deadline_at, status, ends, plan,
                     provider, decision)",
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
    .bind(&decisions)
    .execute(&mut *conn)
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
    .execute(&mut *conn)
    .await?;
    let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
    for c in calls {
        let d = deltas.entry(c.batch_id.uuid()).or_default();
        let to = if c.accepted.is_some() { ContactStatus::InProgress } else { ContactStatus::Dispatched };
        d.moved(c.from_status, to);
        d.in_flight += 1;
    }
    apply_batch_deltas(conn, &deltas, now).await?;
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
    .execute(&mut *conn)
    .await?;
    Ok(())
}

//! Adding do-not-call entries in bulk (one insert over a JSON array, closed entries reopened with
//! their episode kept), and the shared statements of lists and caps
//! (`store/common/suppressions.rs`). The one writer orders additions and claims.

use super::{Tx, id, micros};
use crate::domain::ids::{BatchId, CampaignId, ContactId, OrgId};
use crate::domain::suppression::NewSuppression;
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use std::collections::HashSet;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

crate::store::common::suppression_statements!();

impl Tx<'_> {
    /// Holds claimed contacts back until the instants given (a frequency cap), in one statement:
    /// they keep their status and are due again then.
    pub async fn hold_claimed(&mut self, holds: &[(ContactId, DateTime<Utc>)]) -> Result<(), Error> {
        if holds.is_empty() {
            return Ok(());
        }
        let rows: Vec<Value> = holds.iter().map(|(c, t)| json!([id(c.uuid()).to_string(), micros(*t)])).collect();
        sqlx::query(
            "UPDATE contacts SET next_retry_at = t.value ->> 1 FROM json_each(?1) AS t
             WHERE contacts.id = t.value ->> 0",
        )
        .bind(Value::Array(rows).to_string())
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Skips the contacts of a batch being stored whose numbers an entry in force stops its
    /// campaign from calling; returns how many (SQLite probes the list's index once per contact).
    pub async fn skip_suppressed(
        &mut self,
        org: OrgId,
        campaign: CampaignId,
        batch: BatchId,
        now: DateTime<Utc>,
    ) -> Result<i64, Error> {
        // Most organizations have no list: one probe spares the join.
        if !self.has_suppressions(org).await? {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE contacts SET status = 'skipped', skip_reason = 'suppressed'
             WHERE batch_id = $1 AND EXISTS (SELECT 1 FROM suppressions s
                WHERE s.organization_id = $2 AND s.phone_number = contacts.phone_number AND {})",
            suppressions_written_once::in_force("s.", "$4", "$3")
        );
        let done = sqlx::query(&sql)
            .bind(id(batch.uuid()))
            .bind(id(org.uuid()))
            .bind(suppressions_written_once::scope_of(campaign))
            .bind(micros(now))
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() as i64)
    }
}

impl Tx<'_> {
    /// Adds entries (deduplicated by number and scope); an entry already in force is left as it is.
    /// Returns how many were added.
    pub async fn add_suppressions(
        &mut self,
        org: OrgId,
        entries: &[NewSuppression],
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        add(&mut self.0, org.uuid(), entries, now).await
    }

    /// Nothing to do: the one writer already runs claims one after the other.
    pub async fn lock_numbers(&mut self, _numbers: &[String]) -> Result<(), Error> {
        Ok(())
    }
}

/// Which existing entries `s` an addition `t` (expiry at `t.value ->> 5`) replaces at `?3`: removed,
/// expired, or in force until sooner than the addition would be (an addition never shortens an
/// entry, and an opt-out makes a temporary entry permanent).
const REPLACED: &str = "(s.removed_at IS NOT NULL OR s.expires_at <= ?3
    OR (s.expires_at IS NOT NULL AND (t.value ->> 5 IS NULL OR t.value ->> 5 > s.expires_at)))";

/// Adds entries of organization `org` in `conn`'s transaction (see `Tx::add_suppressions`); also
/// records opt-outs with the outcome that carried them.
pub(super) async fn add(
    conn: &mut SqliteConnection,
    org: Uuid,
    entries: &[NewSuppression],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    if entries.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = entries.iter().map(|_| Uuid::now_v7()).collect();
    let rows: Vec<Value> = entries
        .iter()
        .zip(&ids)
        .map(|(e, i)| {
            let campaign = e.campaign_id.map(|c| c.uuid().hyphenated().to_string());
            json!([
                i.hyphenated().to_string(),
                e.phone_number,
                campaign.clone().unwrap_or_default(),
                campaign,
                e.reason,
                e.expires_at.map(micros)
            ])
        })
        .collect();
    let inserted: Vec<Hyphenated> = sqlx::query_scalar(
        "INSERT INTO suppressions (id, organization_id, phone_number, scope, campaign_id, reason, expires_at, created_at)
         SELECT value ->> 0, ?2, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, ?3
         FROM json_each(?1) WHERE true
         ON CONFLICT (organization_id, phone_number, scope) DO NOTHING RETURNING id",
    )
    .bind(Value::Array(rows.clone()).to_string())
    .bind(id(org))
    .bind(micros(now))
    .fetch_all(&mut *conn)
    .await?;
    if inserted.len() == entries.len() {
        return Ok(inserted.len() as u64);
    }
    // The others have an entry already: those removed or expired are reopened, and those in force
    // that expire sooner than the new one are extended, their episode kept (see `REPLACED`).
    let fresh: HashSet<Uuid> = inserted.into_iter().map(Hyphenated::into_uuid).collect();
    let rest: Vec<&Value> = rows.iter().zip(&ids).filter(|(_, i)| !fresh.contains(i)).map(|(r, _)| r).collect();
    let rest = serde_json::to_string(&rest).map_err(Error::internal)?;
    let sql = format!(
        "INSERT INTO suppression_history (suppression_id, added_at, reason, expires_at, removed_at, closed_at)
         SELECT s.id, s.created_at, s.reason, s.expires_at, s.removed_at, ?3
         FROM suppressions s JOIN json_each(?2) AS t
            ON s.phone_number = t.value ->> 1 AND s.scope = t.value ->> 2
         WHERE s.organization_id = ?1 AND {REPLACED}"
    );
    sqlx::query(&sql).bind(id(org)).bind(&rest).bind(micros(now)).execute(&mut *conn).await?;
    let sql = format!(
        "UPDATE suppressions AS s SET reason = t.value ->> 4, expires_at = t.value ->> 5, created_at = ?3,
            removed_at = NULL
         FROM json_each(?2) AS t
         WHERE s.organization_id = ?1 AND s.phone_number = t.value ->> 1 AND s.scope = t.value ->> 2 AND {REPLACED}"
    );
    let reopened =
        sqlx::query(&sql).bind(id(org)).bind(&rest).bind(micros(now)).execute(&mut *conn).await?.rows_affected();
    Ok(fresh.len() as u64 + reopened)
}

/// Adds the numbers of calls that ended with an opt-out to their organizations' lists (reason
/// `opt_out`), in the transaction recording those outcomes.
pub(super) async fn record_opt_outs(
    conn: &mut SqliteConnection,
    calls: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if calls.is_empty() {
        return Ok(());
    }
    let rows: Vec<(Hyphenated, String)> = sqlx::query_as(
        "SELECT c.organization_id, cr.to_number FROM call_records cr JOIN campaigns c ON c.id = cr.campaign_id
         WHERE cr.id IN (SELECT value FROM json_each(?1)) ORDER BY 1, 2",
    )
    .bind(super::id_list(calls.iter().copied()))
    .fetch_all(&mut *conn)
    .await?;
    let rows = rows.into_iter().map(|(org, number)| (org.into_uuid(), number));
    for (org, entries) in crate::domain::suppression::opt_outs_by_org(rows) {
        add(conn, org, &entries, now).await?;
    }
    Ok(())
}

//! Adding do-not-call entries in bulk (one `UNNEST` insert, closed entries reopened with their
//! episode kept), the locks that order additions and claims, and the shared statements of lists
//! and caps (`store/common/suppressions.rs`).

use super::{ORG_EXCLUSIVE, Tx};
use crate::domain::ids::{BatchId, CampaignId, ContactId, OrgId};
use crate::domain::suppression::NewSuppression;
use crate::error::Error;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use uuid::Uuid;

crate::store::common::suppression_statements!();

impl Tx<'_> {
    /// Holds claimed contacts back until the instants given (a frequency cap), in one statement:
    /// they keep their status and are due again then.
    pub async fn hold_claimed(&mut self, holds: &[(ContactId, DateTime<Utc>)]) -> Result<(), Error> {
        if holds.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = holds.iter().map(|(c, _)| c.uuid()).collect();
        let until: Vec<DateTime<Utc>> = holds.iter().map(|(_, t)| *t).collect();
        sqlx::query(
            "UPDATE contacts c SET next_retry_at = t.until
             FROM UNNEST($1::uuid[], $2::timestamptz[]) AS t(id, until) WHERE c.id = t.id",
        )
        .bind(&ids)
        .bind(&until)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Skips the contacts of a batch being stored whose numbers an entry in force stops its
    /// campaign from calling; returns how many. One index probe per contact, forced (`LATERAL …
    /// LIMIT`): the batch's rows are new in the transaction, and a planner that thinks the batch
    /// empty scans it once per entry of the list. JIT is off for it: compiling the statement costs
    /// more than running it.
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
        sqlx::query("SET LOCAL jit = off").execute(&mut *self.0).await?;
        let sql = format!(
            "UPDATE contacts SET status = 'skipped', skip_reason = 'suppressed' WHERE id IN (
                SELECT c.id FROM contacts c CROSS JOIN LATERAL (SELECT 1 FROM suppressions s
                    WHERE s.organization_id = $2 AND s.phone_number = c.phone_number AND {} LIMIT 1) AS hit
                WHERE c.batch_id = $1)",
            suppressions_written_once::in_force("s.", "$4", "$3")
        );
        let done = sqlx::query(&sql)
            .bind(batch.uuid())
            .bind(org.uuid())
            .bind(suppressions_written_once::scope_of(campaign))
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        sqlx::query("SET LOCAL jit = DEFAULT").execute(&mut *self.0).await?;
        Ok(done.rows_affected() as i64)
    }
}

/// Which existing entries `s` an addition `t` (with `t.expires`) replaces at `$now`: removed, expired,
/// or in force until sooner than the addition would be (an addition never shortens an entry, and an
/// opt-out makes a temporary entry permanent).
const REPLACED: &str = "(s.removed_at IS NOT NULL OR s.expires_at <= $now
    OR (s.expires_at IS NOT NULL AND (t.expires IS NULL OR t.expires > s.expires_at)))";

/// The advisory-lock namespace of numbers being claimed under an organization-wide cap ("gr" "nb").
const NUMBERS: i32 = 0x6772_6e62;

impl Tx<'_> {
    /// Adds entries (deduplicated by number and scope) after taking the organization's row
    /// exclusively; an entry already in force is left as it is. Returns how many were added.
    pub async fn add_suppressions(
        &mut self,
        org: OrgId,
        entries: &[NewSuppression],
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        add(&mut self.0, org.uuid(), entries, now).await
    }

    /// Holds these numbers until the transaction ends, in one order, so that two claims of the
    /// same number under an organization-wide cap count one after the other.
    pub async fn lock_numbers(&mut self, numbers: &[String]) -> Result<(), Error> {
        sqlx::query(
            "SELECT pg_advisory_xact_lock($1, h) FROM (SELECT DISTINCT hashtext(n) AS h FROM UNNEST($2::text[]) AS n
             ORDER BY 1) AS s",
        )
        .bind(NUMBERS)
        .bind(numbers)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}

/// Adds entries of organization `org` in `conn`'s transaction (see `Tx::add_suppressions`); also
/// records opt-outs with the outcome that carried them.
pub(super) async fn add(
    conn: &mut sqlx::PgConnection,
    org: Uuid,
    entries: &[NewSuppression],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let lock = format!("SELECT id FROM organizations WHERE id = $1{ORG_EXCLUSIVE}");
    sqlx::query(&lock).bind(org).execute(&mut *conn).await?;
    if entries.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = entries.iter().map(|_| Uuid::now_v7()).collect();
    let phones: Vec<&str> = entries.iter().map(|e| e.phone_number.as_str()).collect();
    let scopes: Vec<String> =
        entries.iter().map(|e| e.campaign_id.map(|c| c.uuid().hyphenated().to_string()).unwrap_or_default()).collect();
    let campaigns: Vec<Option<Uuid>> = entries.iter().map(|e| e.campaign_id.map(|c| c.uuid())).collect();
    let reasons: Vec<Option<&str>> = entries.iter().map(|e| e.reason.as_deref()).collect();
    let expires: Vec<Option<DateTime<Utc>>> = entries.iter().map(|e| e.expires_at).collect();
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO suppressions (id, organization_id, phone_number, scope, campaign_id, reason, expires_at, created_at)
         SELECT t.id, $2, t.phone, t.scope, t.campaign, t.reason, t.expires, $8
         FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::timestamptz[])
            AS t(id, phone, scope, campaign, reason, expires)
         ON CONFLICT (organization_id, phone_number, scope) DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(org)
    .bind(&phones)
    .bind(&scopes)
    .bind(&campaigns)
    .bind(&reasons)
    .bind(&expires)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if inserted.len() == entries.len() {
        return Ok(inserted.len() as u64);
    }
    // The others have an entry already: those removed or expired are reopened, and those in force
    // that expire sooner than the new one are extended, their episode kept (see `REPLACED`).
    let fresh: HashSet<Uuid> = inserted.iter().copied().collect();
    let rest: Vec<usize> = (0..entries.len()).filter(|i| !fresh.contains(&ids[*i])).collect();
    let pick = |v: &dyn Fn(usize) -> String| rest.iter().map(|i| v(*i)).collect::<Vec<String>>();
    let (phones, scopes) = (pick(&|i| phones[i].to_owned()), pick(&|i| scopes[i].clone()));
    let reasons: Vec<Option<&str>> = rest.iter().map(|i| reasons[*i]).collect();
    let expires: Vec<Option<DateTime<Utc>>> = rest.iter().map(|i| expires[*i]).collect();
    let sql = format!(
        "INSERT INTO suppression_history (suppression_id, added_at, reason, expires_at, removed_at, closed_at)
         SELECT s.id, s.created_at, s.reason, s.expires_at, s.removed_at, $4
         FROM suppressions s JOIN UNNEST($2::text[], $3::text[], $5::timestamptz[]) AS t(phone, scope, expires)
            ON s.phone_number = t.phone AND s.scope = t.scope
         WHERE s.organization_id = $1 AND {}",
        REPLACED.replace("$now", "$4")
    );
    sqlx::query(&sql).bind(org).bind(&phones).bind(&scopes).bind(now).bind(&expires).execute(&mut *conn).await?;
    let sql = format!(
        "UPDATE suppressions s SET reason = t.reason, expires_at = t.expires, created_at = $6, removed_at = NULL
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS t(phone, scope, reason, expires)
         WHERE s.organization_id = $1 AND s.phone_number = t.phone AND s.scope = t.scope AND {}",
        REPLACED.replace("$now", "$6")
    );
    let reopened = sqlx::query(&sql)
        .bind(org)
        .bind(&phones)
        .bind(&scopes)
        .bind(&reasons)
        .bind(&expires)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(inserted.len() as u64 + reopened)
}

/// Adds the numbers of calls that ended with an opt-out to their organizations' lists (reason
/// `opt_out`), in the transaction recording those outcomes.
pub(super) async fn record_opt_outs(
    conn: &mut sqlx::PgConnection,
    calls: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if calls.is_empty() {
        return Ok(());
    }
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT c.organization_id, cr.to_number FROM call_records cr JOIN campaigns c ON c.id = cr.campaign_id
         WHERE cr.id = ANY($1) ORDER BY 1, 2",
    )
    .bind(calls)
    .fetch_all(&mut *conn)
    .await?;
    for (org, entries) in crate::domain::suppression::opt_outs_by_org(rows) {
        add(conn, org, &entries, now).await?;
    }
    Ok(())
}

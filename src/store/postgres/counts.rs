//! The counts of an organization's campaigns and batches by status (`X-Total-Count`), kept by
//! triggers as appended deltas that the server folds every second (migration `list_counts`).

use super::Store;
use crate::domain::ids::OrgId;
use crate::error::Error;
use sqlx::PgPool;

/// Folding runs in one replica at a time: a transaction-level advisory lock in this namespace.
const FOLDING: i64 = 0x6772_6c63;

/// Folded deltas after which the delta table is vacuumed.
const VACUUM_AFTER: u64 = 1000;

/// How many of the organization's `kind` (`campaign` or `batch`) there are, of one status or all.
/// (Its own statement: joined to the page's query, it measured slower, as each run was planned anew.)
pub(super) async fn listed(pool: &PgPool, org: OrgId, kind: &str, status: Option<&str>) -> Result<i64, Error> {
    // Both tables are read in one statement, so in one snapshot: a fold moves rows between them atomically.
    let of_status = if status.is_some() { " AND status = $3" } else { "" };
    let sql = format!(
        "SELECT CAST(COALESCE((SELECT sum(n) FROM list_counts WHERE organization_id = $1 AND kind = $2{of_status}), 0)
              + COALESCE((SELECT sum(delta) FROM list_count_deltas
                          WHERE organization_id = $1 AND kind = $2{of_status}), 0) AS BIGINT)"
    );
    let mut query = sqlx::query_scalar(&sql).bind(org.uuid()).bind(kind);
    if let Some(status) = status {
        query = query.bind(status);
    }
    Ok(query.fetch_one(pool).await?)
}

impl Store {
    /// Folds the appended count deltas into the counts, unless another replica is doing it; returns
    /// how many deltas it folded.
    pub async fn fold_list_counts(&self) -> Result<u64, Error> {
        let pending: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM list_count_deltas)").fetch_one(&self.reads).await?;
        if !pending {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mine: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)").bind(FOLDING).fetch_one(&mut *tx).await?;
        if !mine {
            tx.rollback().await?;
            return Ok(0);
        }
        let folded: Option<i64> = sqlx::query_scalar(
            "WITH moved AS (DELETE FROM list_count_deltas RETURNING organization_id, kind, status, delta),
                  summed AS (SELECT organization_id, kind, status, sum(delta) AS n, count(*) AS rows
                             FROM moved GROUP BY organization_id, kind, status),
                  kept AS (INSERT INTO list_counts (organization_id, kind, status, n)
                           SELECT organization_id, kind, status, n FROM summed
                           ON CONFLICT (organization_id, kind, status) DO UPDATE SET n = list_counts.n + excluded.n)
             SELECT CAST(sum(rows) AS BIGINT) FROM summed",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let folded = folded.unwrap_or(0) as u64;
        // Deleted deltas stay in the table's index until vacuumed, and every count would walk them:
        // after a large fold the table is vacuumed at once (it is small; this blocks no writer).
        if folded >= VACUUM_AFTER {
            sqlx::query("VACUUM list_count_deltas").execute(&self.pool).await?;
        }
        Ok(folded)
    }
}

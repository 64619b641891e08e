//! Batch rows: the statements both engines run are shared (`store/common/listings.rs`,
//! `store/common/batches.rs`); here, the statistics snapshot and skipping a batch's open contacts.

use super::{Store, Tx, id, micros};
use crate::domain::batch::SKIPPABLE;
use crate::domain::contact::StatusCounts;
use crate::domain::eligibility::BatchState;
use crate::domain::ids::{BatchId, CampaignId, OrgId};
use crate::error::Error;
use crate::store::StatsSnapshot;
use crate::store::rows::{self, Cells};
use crate::store::shared::{CAMPAIGN_COLUMNS, COUNTER_COLUMNS, UNHELD, WAITING};
use chrono::{DateTime, Utc};
use sqlx::Row;

crate::store::common::batch_reads!();
crate::store::common::batch_writes!();

impl Store {
    /// Everything `/stats` reads, from one snapshot (a read transaction): the organization's
    /// campaign; for each of its batches what decides its next dispatch, its contacts by status and
    /// (for open batches without pending contacts) when its next retry is due; and its retrying
    /// contacts by retry count.
    pub async fn campaign_stats_snapshot(
        &self,
        org: OrgId,
        campaign: CampaignId,
    ) -> Result<Option<StatsSnapshot>, Error> {
        let mut tx = self.reads.begin().await?;
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?1 AND organization_id = ?2");
        let Some(row) =
            sqlx::query(&sql).bind(id(campaign.uuid())).bind(id(org.uuid())).fetch_optional(&mut *tx).await?
        else {
            return Ok(None);
        };
        let campaign = rows::campaign(&row)?;
        let sql = format!(
            "SELECT status, scheduled_start, expires_at, concurrency_limit, in_flight, {},
                {UNHELD} AS unheld,
                CASE WHEN status IN ('pending', 'in_progress', 'paused') AND ({UNHELD}) = 0
                          AND n_pending + n_retrying + n_followup_scheduled > 0
                     THEN (SELECT min(x.next_retry_at) FROM contacts x WHERE x.batch_id = batches.id AND x.next_retry_at IS NOT NULL
                           AND x.status IN {WAITING}) END AS next_due
             FROM batches WHERE campaign_id = ?1 ORDER BY created_at, id",
            COUNTER_COLUMNS.join(", ")
        );
        let rows = sqlx::query(&sql).bind(id(campaign.id.uuid())).fetch_all(&mut *tx).await?;
        let mut batches = Vec::with_capacity(rows.len());
        for row in &rows {
            let counts = rows::counts(row)?;
            let limit: Option<i64> = row.try_get("concurrency_limit")?;
            let state = BatchState {
                status: rows::batch_status(row)?,
                scheduled_start: row.at("scheduled_start")?,
                expires_at: row.at_opt("expires_at")?,
                concurrency_limit: limit.map(|l| l as u32),
                in_flight: row.try_get("in_flight")?,
                pending: row.try_get("unheld")?,
            };
            batches.push((state, counts, row.at_opt("next_due")?));
        }
        let retry_breakdown = sqlx::query_as::<_, (i64, i64)>(
            "SELECT retry_count, count(*) FROM contacts WHERE campaign_id = ?1 AND status = 'retrying'
             GROUP BY retry_count",
        )
        .bind(id(campaign.id.uuid()))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        tx.commit().await?;
        Ok(Some(StatsSnapshot { campaign, batches, retry_breakdown }))
    }
}

impl Tx<'_> {
    pub async fn skip_open_contacts(&mut self, batch: BatchId, now: DateTime<Utc>) -> Result<i64, Error> {
        let mut moved = StatusCounts::default();
        for status in SKIPPABLE {
            let done = sqlx::query(
                "UPDATE contacts SET status = 'skipped', next_retry_at = NULL, updated_at = ?3
                 WHERE batch_id = ?1 AND status = ?2",
            )
            .bind(id(batch.uuid()))
            .bind(status.as_str())
            .bind(micros(now))
            .execute(&mut *self.0)
            .await?;
            moved.0[status.index()] = done.rows_affected() as i64;
        }
        let skipped = moved.total();
        if skipped > 0 {
            let sets: Vec<String> = SKIPPABLE
                .iter()
                .map(|s| format!("{0} = {0} - {1}", COUNTER_COLUMNS[s.index()], moved.get(*s)))
                .collect();
            let sql =
                format!("UPDATE batches SET {}, n_skipped = n_skipped + {skipped} WHERE id = ?1", sets.join(", "));
            sqlx::query(&sql).bind(id(batch.uuid())).execute(&mut *self.0).await?;
        }
        Ok(skipped)
    }
}

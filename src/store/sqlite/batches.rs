//! Batch rows: insert, read, list, lock, status changes, and the campaign-wide propagations.

use super::{Store, Tx, id, json_text, micros};
use crate::domain::batch::{Batch, BatchStatus, SKIPPABLE};
use crate::domain::contact::{ContactStatus, StatusCounts};
use crate::domain::eligibility::BatchState;
use crate::domain::ids::{BatchId, CampaignId, OrgId};
use crate::error::Error;
use crate::store::rows::{self, Cells};
use crate::store::shared::{BATCH_COLUMNS as COLUMNS, CAMPAIGN_COLUMNS, COUNTER_COLUMNS, corrupt};
use crate::store::{OpenBatch, StatsSnapshot};
use chrono::{DateTime, Utc};
use sqlx::Row;

crate::store::common::batch_reads!();

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
                CASE WHEN status IN ('pending', 'in_progress', 'paused') AND n_pending = 0
                          AND n_retrying + n_followup_scheduled > 0
                     THEN (SELECT min(x.next_retry_at) FROM contacts x WHERE x.batch_id = batches.id
                           AND x.status IN ('retrying', 'followup_scheduled')) END AS next_due
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
                pending: counts.get(ContactStatus::Pending),
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
    pub async fn insert_batch(&mut self, b: &Batch) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO batches (id, campaign_id, organization_id, status, total_contacts, concurrency_limit,
                max_retries_override, scheduled_start, expires_at, call_context, metadata, n_pending,
                created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?5, ?12, ?12)",
        )
        .bind(id(b.id.uuid()))
        .bind(id(b.campaign_id.uuid()))
        .bind(id(b.organization_id.uuid()))
        .bind(b.status.as_str())
        .bind(b.total_contacts)
        .bind(b.concurrency_limit.map(i64::from))
        .bind(b.max_retries_override.map(i64::from))
        .bind(micros(b.scheduled_start))
        .bind(b.expires_at.map(micros))
        .bind(json_text(&b.call_context)?)
        .bind(json_text(&b.metadata)?)
        .bind(micros(b.created_at))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Reads the organization's batch (the writer is held until the transaction ends).
    pub async fn lock_batch(&mut self, org: OrgId, batch: BatchId) -> Result<Option<Batch>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM batches WHERE id = ?1 AND organization_id = ?2");
        let row = sqlx::query(&sql).bind(id(batch.uuid())).bind(id(org.uuid())).fetch_optional(&mut *self.0).await?;
        row.as_ref().map(rows::batch).transpose()
    }

    pub async fn set_batch_status(
        &mut self,
        batch: BatchId,
        from: BatchStatus,
        to: BatchStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE batches SET status = ?3, updated_at = ?4,
                completed_at = CASE WHEN ?3 IN ('completed', 'cancelled', 'expired') THEN ?4 ELSE completed_at END
             WHERE id = ?1 AND status = ?2",
        )
        .bind(id(batch.uuid()))
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(micros(now))
        .execute(&mut *self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }

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

    /// The campaign's batches that are not terminal, locked (the writer is exclusive): id, status
    /// and scheduled start.
    pub async fn lock_open_batches(&mut self, campaign: CampaignId) -> Result<Vec<OpenBatch>, Error> {
        let rows = sqlx::query(
            "SELECT id, status, scheduled_start FROM batches WHERE campaign_id = ?1
                AND status IN ('pending', 'in_progress', 'paused') ORDER BY created_at, id",
        )
        .bind(id(campaign.uuid()))
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OpenBatch {
                    id: BatchId::from_uuid(r.id("id")?),
                    status: rows::batch_status(r)?,
                    scheduled_start: r.at("scheduled_start")?,
                })
            })
            .collect()
    }

    pub async fn batch_statuses(&mut self, campaign: CampaignId) -> Result<Vec<BatchStatus>, Error> {
        let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM batches WHERE campaign_id = ?1")
            .bind(id(campaign.uuid()))
            .fetch_all(&mut *self.0)
            .await?;
        statuses.iter().map(|s| BatchStatus::parse(s).ok_or_else(|| corrupt("status"))).collect()
    }
}

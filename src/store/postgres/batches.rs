//! Batch rows: the statements both engines run are shared (`store/common/listings.rs`,
//! `store/common/batches.rs`); here, the statistics snapshot and skipping a batch's open contacts.

use super::{Store, Tx};
use crate::domain::batch::{BatchStatus, SKIPPABLE};
use crate::domain::contact::{ContactStatus, StatusCounts};
use crate::domain::eligibility::BatchState;
use crate::domain::ids::{BatchId, CampaignId, OrgId};
use crate::error::Error;
use crate::store::StatsSnapshot;
use crate::store::rows;
use crate::store::shared::{CAMPAIGN_COLUMNS, COUNTER_COLUMNS, UNHELD, WAITING, corrupt};
use chrono::{DateTime, Utc};
use sqlx::Row;

crate::store::common::batch_reads!();
crate::store::common::batch_writes!();

impl Store {
    /// Everything `/stats` reads, in one statement and one row: the organization's campaign; for each
    /// of its batches what decides its next dispatch, its contacts by status and (for open batches
    /// without pending contacts) when its next retry is due; and its retrying contacts by retry count.
    pub async fn campaign_stats_snapshot(
        &self,
        org: OrgId,
        campaign: CampaignId,
    ) -> Result<Option<StatsSnapshot>, Error> {
        let counters: Vec<String> = COUNTER_COLUMNS.iter().map(|c| format!("array_agg({c}) AS {c}")).collect();
        let sql = format!(
            "SELECT c.*, b.*, r.* FROM (SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1 AND organization_id = $2) c
             CROSS JOIN LATERAL (
                SELECT array_agg(status) AS b_status, array_agg(scheduled_start) AS b_scheduled_start,
                    array_agg(expires_at) AS b_expires_at, array_agg(concurrency_limit) AS b_concurrency_limit,
                    array_agg(in_flight) AS b_in_flight, {},
                    array_agg(u.unheld) AS b_unheld,
                    array_agg(CASE WHEN status IN ('pending', 'in_progress', 'paused') AND u.unheld = 0
                                   AND n_pending + n_retrying + n_followup_scheduled > 0
                              THEN (SELECT min(x.next_retry_at) FROM contacts x WHERE x.batch_id = batches.id AND x.next_retry_at IS NOT NULL
                                    AND x.status IN {WAITING}) END) AS b_next_due
                FROM batches CROSS JOIN LATERAL (SELECT {UNHELD} AS unheld) u WHERE campaign_id = c.id) b
             CROSS JOIN LATERAL (
                SELECT array_agg(retry_count) AS r_retry_count, array_agg(n) AS r_n FROM (
                    SELECT retry_count, count(*) AS n FROM contacts WHERE campaign_id = c.id AND status = 'retrying'
                    GROUP BY retry_count) g) r",
            counters.join(", ")
        );
        let Some(row) = sqlx::query(&sql).bind(campaign.uuid()).bind(org.uuid()).fetch_optional(&self.reads).await?
        else {
            return Ok(None);
        };
        let campaign = rows::campaign(&row)?;
        let column = |name: &str| row.try_get::<Option<Vec<i32>>, _>(name).map(Option::unwrap_or_default);
        let statuses: Vec<String> = row.try_get::<Option<Vec<String>>, _>("b_status")?.unwrap_or_default();
        let n = statuses.len();
        let starts: Vec<DateTime<Utc>> = row.try_get::<Option<_>, _>("b_scheduled_start")?.unwrap_or_default();
        let expiries: Vec<Option<DateTime<Utc>>> = row.try_get::<Option<_>, _>("b_expires_at")?.unwrap_or_default();
        let limits: Vec<Option<i32>> = row.try_get::<Option<_>, _>("b_concurrency_limit")?.unwrap_or_default();
        let in_flight = column("b_in_flight")?;
        let next_due: Vec<Option<DateTime<Utc>>> = row.try_get::<Option<_>, _>("b_next_due")?.unwrap_or_default();
        let unheld = column("b_unheld")?;
        let counter_columns: Vec<Vec<i32>> = COUNTER_COLUMNS.iter().map(|c| column(c)).collect::<Result<_, _>>()?;
        let lengths = [starts.len(), expiries.len(), limits.len(), in_flight.len(), next_due.len(), unheld.len()];
        if !(lengths.iter().all(|l| *l == n) && counter_columns.iter().all(|c| c.len() == n)) {
            return Err(corrupt("aggregate"));
        }
        let mut batches = Vec::with_capacity(n);
        for i in 0..n {
            let mut counts = StatusCounts::default();
            for (slot, values) in counts.0.iter_mut().zip(&counter_columns) {
                *slot = i64::from(values[i]);
            }
            let state = BatchState {
                status: BatchStatus::parse(&statuses[i]).ok_or_else(|| corrupt("status"))?,
                scheduled_start: starts[i],
                expires_at: expiries[i],
                concurrency_limit: limits[i].map(|l| l as u32),
                in_flight: i64::from(in_flight[i]),
                pending: i64::from(unheld[i]),
            };
            batches.push((state, counts, next_due[i]));
        }
        let retry_counts: Vec<i16> = row.try_get::<Option<_>, _>("r_retry_count")?.unwrap_or_default();
        let retrying: Vec<i64> = row.try_get::<Option<_>, _>("r_n")?.unwrap_or_default();
        let retry_breakdown = retry_counts.into_iter().map(i64::from).zip(retrying).collect();
        Ok(Some(StatsSnapshot { campaign, batches, retry_breakdown }))
    }
}

impl Tx<'_> {
    pub async fn skip_open_contacts(&mut self, id: BatchId, now: DateTime<Utc>) -> Result<i64, Error> {
        let from: Vec<&str> = SKIPPABLE.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(
            "WITH old AS (
                SELECT id, status FROM contacts WHERE batch_id = $1 AND status = ANY($2) FOR UPDATE
             ), changed AS (
                UPDATE contacts c SET status = 'skipped', next_retry_at = NULL, updated_at = $3
                FROM old WHERE c.id = old.id RETURNING old.status AS old_status
             )
             SELECT old_status, count(*) AS n FROM changed GROUP BY old_status",
        )
        .bind(id.uuid())
        .bind(&from)
        .bind(now)
        .fetch_all(&mut *self.0)
        .await?;
        let mut moved = StatusCounts::default();
        for row in &rows {
            let status: String = row.try_get("old_status")?;
            let status = ContactStatus::parse(&status).ok_or_else(|| corrupt("contact status"))?;
            moved.0[status.index()] = row.try_get("n")?;
        }
        let skipped = moved.total();
        if skipped > 0 {
            let sets: Vec<String> = SKIPPABLE
                .iter()
                .map(|s| format!("{0} = {0} - {1}", COUNTER_COLUMNS[s.index()], moved.get(*s)))
                .collect();
            let sql =
                format!("UPDATE batches SET {}, n_skipped = n_skipped + {skipped} WHERE id = $1", sets.join(", "));
            sqlx::query(&sql).bind(id.uuid()).execute(&mut *self.0).await?;
        }
        Ok(skipped)
    }
}

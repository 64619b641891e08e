//! When a campaign has something due, and when the dispatcher next has: each campaign keeps the
//! earliest instant it may have work (`due_at`) and the next opening of its working hours
//! (`opens_at`), so that a pass and the next wake-up read one index instead of every campaign; and
//! the batches whose start or expiry has come.

use super::{Store, Tx};
use crate::domain::ids::CampaignId;
use crate::domain::time::never;
use crate::error::Error;
use crate::store::DueNow;
use crate::store::shared::LIVE;
use chrono::{DateTime, Utc};
use uuid::Uuid;

impl Store {
    pub async fn dispatch_candidates(&self, now: DateTime<Utc>) -> Result<Vec<CampaignId>, Error> {
        dispatch_candidates(&self.pool, now).await
    }

    /// Whether the campaign is active, open and its due work has come (read without a lock: a claim
    /// looks before it waits for a dispatch slot, so that a campaign claimed meanwhile costs none).
    pub async fn still_due(&self, campaign: CampaignId, now: DateTime<Utc>) -> Result<bool, Error> {
        still_due(&self.pool, campaign, now).await
    }

    pub async fn due_now(&self, now: DateTime<Utc>) -> Result<DueNow, Error> {
        due_now(&self.pool, now).await
    }

    pub async fn next_wakeup(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Error> {
        let sql = format!(
            "SELECT LEAST(
                (SELECT min(planned_end_at) FROM call_records WHERE call_status IN {LIVE} AND planned_end_at > $1),
                (SELECT min(deadline_at) FROM call_records WHERE call_status IN {LIVE} AND deadline_at > $1),
                (SELECT min(scheduled_start) FROM batches WHERE status = 'pending' AND scheduled_start > $1),
                (SELECT min(expires_at) FROM batches WHERE status IN ('pending', 'in_progress', 'paused')
                    AND expires_at > $1),
                (SELECT GREATEST(due_at, opens_at) FROM campaigns WHERE status = 'active'
                    AND GREATEST(due_at, opens_at) > $1 AND GREATEST(due_at, opens_at) < $2
                    ORDER BY GREATEST(due_at, opens_at) LIMIT 1))"
        );
        Ok(sqlx::query_scalar(&sql).bind(now).bind(never()).fetch_one(&self.pool).await?)
    }
}

/// The dispatch candidates (see `Store::dispatch_candidates`), on any connection.
pub(super) async fn dispatch_candidates(
    db: impl sqlx::PgExecutor<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<CampaignId>, Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        // The campaigns whose time has come first, on the index: left to itself the planner may
        // walk every running batch instead.
        "WITH due AS MATERIALIZED (
            SELECT id FROM campaigns WHERE status = 'active' AND GREATEST(due_at, opens_at) <= $1
                AND in_flight < concurrency_limit)
         SELECT c.id FROM due c
         WHERE EXISTS (SELECT 1 FROM batches b WHERE b.campaign_id = c.id AND b.status = 'in_progress'
               AND (b.concurrency_limit IS NULL OR b.in_flight < b.concurrency_limit)
               AND (b.expires_at IS NULL OR b.expires_at > $1)
               AND (b.n_pending > 0 OR b.n_retrying > 0 OR b.n_followup_scheduled > 0))",
    )
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(CampaignId::from_uuid).collect())
}

/// Whether the campaign is still due (see `Store::still_due`), on any connection.
pub(super) async fn still_due(
    db: impl sqlx::PgExecutor<'_>,
    campaign: CampaignId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaigns WHERE id = $1 AND status = 'active'
            AND GREATEST(due_at, opens_at) <= $2)",
    )
    .bind(campaign.uuid())
    .bind(now)
    .fetch_one(db)
    .await?)
}

/// Which kinds of timed work are due (see `Store::due_now`), on any connection.
pub(super) async fn due_now(db: impl sqlx::PgExecutor<'_>, now: DateTime<Utc>) -> Result<DueNow, Error> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM call_records WHERE call_status IN {LIVE} AND planned_end_at <= $1),
                EXISTS (SELECT 1 FROM call_records WHERE call_status IN {LIVE} AND deadline_at <= $1),
                EXISTS (SELECT 1 FROM batches WHERE status = 'pending' AND scheduled_start <= $1),
                EXISTS (SELECT 1 FROM batches WHERE status IN ('pending', 'in_progress', 'paused')
                    AND expires_at <= $1)"
    );
    let (simulated_ends, overdue_calls, batch_starts, batch_expiries): (bool, bool, bool, bool) =
        sqlx::query_as(&sql).bind(now).fetch_one(db).await?;
    Ok(DueNow { simulated_ends, overdue_calls, batch_starts, batch_expiries })
}

crate::store::common::due_marks!();

impl Tx<'_> {
    /// Recomputes the campaign's `due_at` from its pending and running batches: the start of one with
    /// pending contacts no cap holds, else its earliest retry, follow-up or held contact, else never. Says whether it changed
    /// (an unchanged one is not written).
    pub async fn refresh_due_at(&mut self, campaign: CampaignId) -> Result<bool, Error> {
        let done = sqlx::query(
            "WITH due AS (SELECT COALESCE((SELECT min(d) FROM (
                SELECT b.scheduled_start AS d FROM batches b
                    WHERE b.campaign_id = $1 AND b.status IN ('pending', 'in_progress') AND b.n_pending > 0
                      AND EXISTS (SELECT 1 FROM contacts x WHERE x.batch_id = b.id AND x.status = 'pending'
                          AND x.next_retry_at IS NULL)
                UNION ALL
                SELECT (SELECT min(x.next_retry_at) FROM contacts x WHERE x.batch_id = b.id AND x.next_retry_at IS NOT NULL
                          AND x.status IN ('pending', 'retrying', 'followup_scheduled'))
                    FROM batches b WHERE b.campaign_id = $1 AND b.status IN ('pending', 'in_progress')
                      AND (b.n_pending > 0 OR b.n_retrying > 0 OR b.n_followup_scheduled > 0)) AS t), $2) AS at)
             UPDATE campaigns SET due_at = due.at FROM due WHERE id = $1 AND due_at <> due.at",
        )
        .bind(campaign.uuid())
        .bind(never())
        .execute(&mut *self.0)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store {
    pub async fn start_due_batches(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE batches SET status = 'in_progress', updated_at = $1
             WHERE id IN (SELECT id FROM batches WHERE status = 'pending' AND scheduled_start <= $1
                          ORDER BY id FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

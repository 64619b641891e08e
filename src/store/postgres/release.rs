//! Putting back calls telephony did not take and that used no attempt (`429`, telephony out of
//! reach): the call record goes, the contact returns to where it was, every counter follows.

use super::Store;
use super::dispatch::{apply_batch_deltas, lock_campaigns};
use crate::error::Error;
use crate::store::UnplacedCall;
use crate::store::shared::released_deltas;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use uuid::Uuid;

impl Store {
    /// Removes calls telephony did not take (still `dispatched`) and puts their contacts back as
    /// they were before the claim; returns how many.
    pub async fn release_unplaced(&self, calls: &[UnplacedCall], now: DateTime<Utc>) -> Result<usize, Error> {
        if calls.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut campaigns: Vec<Uuid> = calls.iter().map(|c| c.campaign_id.uuid()).collect();
        campaigns.sort();
        campaigns.dedup();
        lock_campaigns(&mut tx, &campaigns).await?;
        let ids: Vec<Uuid> = calls.iter().map(|c| c.execution_id.uuid()).collect();
        let removed: HashSet<Uuid> = sqlx::query_scalar(
            "DELETE FROM call_records WHERE id = ANY($1) AND call_status = 'dispatched' RETURNING id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let released: Vec<&UnplacedCall> = calls.iter().filter(|c| removed.contains(&c.execution_id.uuid())).collect();
        if released.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        // A contact skipped meanwhile (its batch cancelled or expired) stays skipped.
        let restored: HashSet<Uuid> = sqlx::query_scalar(
            "UPDATE contacts SET status = t.status, next_retry_at = t.due, last_attempted_at = t.last,
                latest_retry_count = t.latest, updated_at = $6
             FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::int2[])
                AS t(id, status, due, last, latest)
             WHERE contacts.id = t.id AND contacts.status = 'dispatched'
             RETURNING contacts.id",
        )
        .bind(released.iter().map(|c| c.contact_id.uuid()).collect::<Vec<_>>())
        .bind(released.iter().map(|c| c.prior.status.as_str()).collect::<Vec<_>>())
        .bind(released.iter().map(|c| c.prior.next_retry_at).collect::<Vec<_>>())
        .bind(released.iter().map(|c| c.prior.last_attempted_at).collect::<Vec<_>>())
        .bind(released.iter().map(|c| c.prior.latest_retry_count as i16).collect::<Vec<_>>())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let (batches, per_campaign) = released_deltas(&released, |c| restored.contains(&c.contact_id.uuid()));
        apply_batch_deltas(&mut tx, &batches, now).await?;
        for (campaign, (calls, follow_ups)) in per_campaign {
            sqlx::query(
                "UPDATE campaigns SET in_flight = in_flight - $2, call_attempts = call_attempts - $2,
                    follow_up_calls = follow_up_calls - $3, due_at = LEAST(due_at, $4) WHERE id = $1",
            )
            .bind(campaign)
            .bind(calls as i32)
            .bind(follow_ups)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(released.len())
    }
}

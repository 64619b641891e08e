//! Putting back calls telephony did not take and that used no attempt (`429`, telephony out of
//! reach): the call record goes, the contact returns to where it was, every counter follows.

use super::dispatch::{apply_batch_deltas, lock_campaigns};
use super::{Store, id, id_list, micros};
use crate::error::Error;
use crate::store::UnplacedCall;
use crate::store::shared::released_deltas;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

impl Store {
    /// Removes calls telephony did not take (still `dispatched`) and puts their contacts back as
    /// they were before the claim; returns how many.
    pub async fn release_unplaced(&self, calls: &[UnplacedCall], now: DateTime<Utc>) -> Result<usize, Error> {
        if calls.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?.0;
        let campaigns: Vec<Uuid> = calls.iter().map(|c| c.campaign_id.uuid()).collect();
        lock_campaigns(&mut tx, &campaigns).await?;
        let removed: Vec<Hyphenated> = sqlx::query_scalar(
            "DELETE FROM call_records WHERE id IN (SELECT value FROM json_each(?1)) AND call_status = 'dispatched'
             RETURNING id",
        )
        .bind(id_list(calls.iter().map(|c| c.execution_id.uuid())))
        .fetch_all(&mut *tx)
        .await?;
        let removed: HashSet<Uuid> = removed.into_iter().map(Hyphenated::into_uuid).collect();
        let released: Vec<&UnplacedCall> = calls.iter().filter(|c| removed.contains(&c.execution_id.uuid())).collect();
        if released.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let rows: Vec<Value> = released
            .iter()
            .map(|c| {
                json!([
                    id(c.contact_id.uuid()).to_string(),
                    c.prior.status.as_str(),
                    c.prior.next_retry_at.map(micros),
                    c.prior.last_attempted_at.map(micros),
                    c.prior.latest_retry_count,
                ])
            })
            .collect();
        // A contact skipped meanwhile (its batch cancelled or expired) stays skipped.
        let restored: Vec<Hyphenated> = sqlx::query_scalar(
            "UPDATE contacts SET status = t.value ->> 1, next_retry_at = t.value ->> 2,
                last_attempted_at = t.value ->> 3, latest_retry_count = t.value ->> 4, updated_at = ?2
             FROM json_each(?1) AS t
             WHERE contacts.id = t.value ->> 0 AND contacts.status = 'dispatched'
             RETURNING contacts.id",
        )
        .bind(Value::Array(rows).to_string())
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
        let restored: HashSet<Uuid> = restored.into_iter().map(Hyphenated::into_uuid).collect();
        let (batches, per_campaign) = released_deltas(&released, |c| restored.contains(&c.contact_id.uuid()));
        apply_batch_deltas(&mut tx, &batches, now).await?;
        for (campaign, (calls, follow_ups)) in per_campaign {
            sqlx::query(
                "UPDATE campaigns SET in_flight = in_flight - ?2, call_attempts = call_attempts - ?2,
                    follow_up_calls = follow_up_calls - ?3, due_at = min(due_at, ?4) WHERE id = ?1",
            )
            .bind(id(campaign))
            .bind(calls)
            .bind(follow_ups)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(released.len())
    }
}

//! Calls telephony took and that are still live: placements accepted (ringing) and answers
//! (in progress, with who answered), moved under their campaigns' locks; and what a callback needs
//! to know of its call before it is applied.

use super::Store;
use super::dispatch::{apply_batch_deltas, lock_campaigns};
use super::settle::plan_for_sizes;
use crate::domain::contact::ContactStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::Outcome;
use crate::domain::voicemail::VoicemailAction;
use crate::error::Error;
use crate::store::AcceptedCall;
use crate::store::shared::BatchDelta;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

crate::store::common::live_call_statements!();

impl Store {
    pub async fn voicemail_action_of(&self, call: ExecutionId) -> Result<Option<VoicemailAction>, Error> {
        let row: Option<(Value,)> = sqlx::query_as(
            "SELECT c.metadata FROM call_records cr JOIN campaigns c ON c.id = cr.campaign_id WHERE cr.id = $1",
        )
        .bind(call.uuid())
        // The read pool plans for the tables as they are (a plan kept from when they were small
        // would scan `call_records` whole).
        .fetch_optional(&self.reads)
        .await?;
        Ok(row.map(|(m,)| m.as_object().map_or(VoicemailAction::Hangup, VoicemailAction::of_metadata)))
    }

    pub async fn defer_outcome(&self, call: ExecutionId, at: DateTime<Utc>, outcome: &Outcome) -> Result<bool, Error> {
        let plan = serde_json::to_value(outcome).map_err(Error::internal)?;
        let done = sqlx::query(
            "UPDATE call_records SET planned_end_at = $2, planned_outcome = $3
             WHERE id = $1 AND call_status IN ('dispatched', 'ringing') AND planned_end_at IS NULL",
        )
        .bind(call.uuid())
        .bind(at)
        .bind(plan)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Moves calls forward while they are live: to `ringing` (accepted), or to `in_progress`
    /// (`answered`), under their campaigns' locks; their contacts become `in_progress`; a live call
    /// gets the provider's id it did not have. Returns how many calls changed.
    pub async fn mark_live(&self, calls: &[AcceptedCall], answered: bool, now: DateTime<Utc>) -> Result<usize, Error> {
        if calls.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = calls.iter().map(|c| c.execution_id.uuid()).collect();
        let ends: Vec<Option<DateTime<Utc>>> = calls.iter().map(|c| c.script.as_ref().map(|s| s.ends_at)).collect();
        let plans: Vec<Option<Value>> = calls
            .iter()
            .map(|c| c.script.as_ref().map(|s| serde_json::to_value(&s.outcome)).transpose())
            .collect::<Result<_, _>>()
            .map_err(Error::internal)?;
        let provider_ids: Vec<Option<&str>> = calls.iter().map(|c| c.provider_call_id.as_deref()).collect();
        let answered_by: Vec<Option<&str>> = calls.iter().map(|c| c.answered_by.map(|b| b.as_str())).collect();
        let mut tx = self.pool.begin().await?;
        plan_for_sizes(&mut tx).await?;
        let campaigns: Vec<Uuid> =
            sqlx::query_scalar("SELECT DISTINCT campaign_id FROM call_records WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
        lock_campaigns(&mut tx, &campaigns).await?;
        let contacts: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE call_records cr SET
                call_status = CASE WHEN $4 OR cr.call_status = 'in_progress' THEN 'in_progress' ELSE 'ringing' END,
                answered_at = CASE WHEN $4 THEN COALESCE(cr.answered_at, $5) ELSE cr.answered_at END,
                planned_end_at = COALESCE(t.ends, cr.planned_end_at), planned_outcome = COALESCE(t.plan, cr.planned_outcome),
                provider_call_id = COALESCE(cr.provider_call_id, t.provider_call_id),
                answered_by = COALESCE(t.answered_by, cr.answered_by)
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::jsonb[], $6::text[], $7::text[])
                AS t(id, ends, plan, provider_call_id, answered_by)
             WHERE cr.id = t.id AND (cr.call_status = 'dispatched' OR ($4 AND cr.call_status = 'ringing')
                OR ($4 AND cr.call_status = 'in_progress' AND cr.answered_by IS NULL AND t.answered_by IS NOT NULL)
                OR (cr.call_status IN ('ringing', 'in_progress') AND cr.provider_call_id IS NULL
                    AND t.provider_call_id IS NOT NULL))
             RETURNING cr.contact_id",
        )
        .bind(&ids)
        .bind(&ends)
        .bind(&plans)
        .bind(answered)
        .bind(now)
        .bind(&provider_ids)
        .bind(&answered_by)
        .fetch_all(&mut *tx)
        .await?;
        let moved: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE contacts SET status = 'in_progress', updated_at = $2 WHERE id = ANY($1) AND status = 'dispatched'
             RETURNING batch_id",
        )
        .bind(&contacts)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
        for batch in moved {
            deltas.entry(batch).or_default().moved(ContactStatus::Dispatched, ContactStatus::InProgress);
        }
        apply_batch_deltas(&mut tx, &deltas, now).await?;
        tx.commit().await?;
        Ok(contacts.len())
    }
}

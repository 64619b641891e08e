//! Calls telephony took and that are still live: placements accepted (ringing) and answers
//! (in progress, with who answered), moved in one transaction on the writer; and what a callback
//! needs to know of its call before it is applied.

use super::dispatch::{apply_batch_deltas, ids, uuids};
use super::{Store, id, json_text, micros};
use crate::domain::contact::ContactStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::Outcome;
use crate::domain::voicemail::VoicemailAction;
use crate::error::Error;
use crate::store::AcceptedCall;
use crate::store::shared::BatchDelta;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

crate::store::common::live_call_statements!();

impl Store {
    pub async fn voicemail_action_of(&self, call: ExecutionId) -> Result<Option<VoicemailAction>, Error> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT c.metadata ->> '$.voicemail_action' FROM call_records cr JOIN campaigns c ON c.id = cr.campaign_id
             WHERE cr.id = ?1",
        )
        .bind(id(call.uuid()))
        .fetch_optional(&self.reads)
        .await?;
        Ok(row.map(|(a,)| a.as_deref().and_then(VoicemailAction::parse).unwrap_or(VoicemailAction::Hangup)))
    }

    pub async fn defer_outcome(&self, call: ExecutionId, at: DateTime<Utc>, outcome: &Outcome) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE call_records SET planned_end_at = ?2, planned_outcome = ?3
             WHERE id = ?1 AND call_status IN ('dispatched', 'ringing') AND planned_end_at IS NULL",
        )
        .bind(id(call.uuid()))
        .bind(micros(at))
        .bind(json_text(outcome)?)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Moves calls forward while they are live: to `ringing` (accepted), or to `in_progress`
    /// (`answered`), in one transaction on the writer; their contacts become `in_progress`; a live
    /// call gets the provider's id it did not have. Returns how many calls changed.
    pub async fn mark_live(&self, calls: &[AcceptedCall], answered: bool, now: DateTime<Utc>) -> Result<usize, Error> {
        if calls.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Value> = calls
            .iter()
            .map(|c| {
                let plan = c.script.as_ref().map(|s| json_text(&s.outcome)).transpose()?;
                Ok(json!([
                    c.execution_id.uuid().to_string(),
                    c.script.as_ref().map(|s| micros(s.ends_at)),
                    plan,
                    c.provider_call_id,
                    c.answered_by.map(|b| b.as_str()),
                ]))
            })
            .collect::<Result<_, Error>>()?;
        let mut tx = self.begin().await?.0;
        let contacts: Vec<Hyphenated> = sqlx::query_scalar(
            "UPDATE call_records SET
                call_status = CASE WHEN ?1 OR call_status = 'in_progress' THEN 'in_progress' ELSE 'ringing' END,
                answered_at = CASE WHEN ?1 THEN COALESCE(answered_at, ?2) ELSE answered_at END,
                planned_end_at = COALESCE(t.ends, planned_end_at), planned_outcome = COALESCE(t.plan, planned_outcome),
                provider_call_id = COALESCE(call_records.provider_call_id, t.provider_call_id),
                answered_by = COALESCE(t.answered_by, call_records.answered_by)
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS ends, value ->> 2 AS plan, value ->> 3 AS provider_call_id,
                    value ->> 4 AS answered_by FROM json_each(?3)) AS t
             WHERE call_records.id = t.id AND (call_status = 'dispatched' OR (?1 AND call_status = 'ringing')
                OR (?1 AND call_status = 'in_progress' AND call_records.answered_by IS NULL
                    AND t.answered_by IS NOT NULL)
                OR (call_status IN ('ringing', 'in_progress') AND call_records.provider_call_id IS NULL
                    AND t.provider_call_id IS NOT NULL))
             RETURNING contact_id",
        )
        .bind(answered)
        .bind(micros(now))
        .bind(Value::Array(rows).to_string())
        .fetch_all(&mut *tx)
        .await?;
        let contacts = uuids(contacts);
        let moved: Vec<Hyphenated> = sqlx::query_scalar(
            "UPDATE contacts SET status = 'in_progress', updated_at = ?2
             WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'dispatched'
             RETURNING batch_id",
        )
        .bind(ids(&contacts))
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
        let mut deltas: BTreeMap<Uuid, BatchDelta> = BTreeMap::new();
        for batch in moved {
            deltas.entry(batch.into_uuid()).or_default().moved(ContactStatus::Dispatched, ContactStatus::InProgress);
        }
        apply_batch_deltas(&mut tx, &deltas, now).await?;
        tx.commit().await?;
        Ok(contacts.len())
    }
}

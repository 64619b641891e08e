//! Contact and call-record rows: bulk ingest by multi-row inserts, listing, and the read models of
//! `/debug` and `/stats`.

use super::{RowExt, Store, Tx, id, id_list, micros};
use crate::domain::batch::NewContact;
use crate::domain::contact::{CallKind, CallRecord, CallStatus, Contact, ContactStatus};
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::provider::Provider;
use crate::domain::voicemail::AnsweredBy;
use crate::error::Error;
use crate::store::shared::{CALL_COLUMNS, CONTACT_COLUMNS, corrupt, nullable};
use crate::store::{Page, StatusBreakdown};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tokio::sync::mpsc;

fn contact_from_row(row: &SqliteRow) -> Result<Contact, Error> {
    let status: &str = row.try_get("status")?;
    Ok(Contact {
        id: ContactId::from_uuid(row.uuid("id")?),
        batch_id: BatchId::from_uuid(row.uuid("batch_id")?),
        campaign_id: CampaignId::from_uuid(row.uuid("campaign_id")?),
        phone_number: row.try_get("phone_number")?,
        call_variables: row.object("call_variables")?,
        status: ContactStatus::parse(status).ok_or_else(|| corrupt("status"))?,
        retry_count: row.try_get("retry_count")?,
        follow_up_count: row.try_get("follow_up_count")?,
        latest_retry_count: row.try_get("latest_retry_count")?,
        last_attempted_at: row.at_opt("last_attempted_at")?,
        next_retry_at: row.at_opt("next_retry_at")?,
    })
}

fn call_from_row(row: &SqliteRow) -> Result<CallRecord, Error> {
    let status: &str = row.try_get("call_status")?;
    let kind: &str = row.try_get("kind")?;
    Ok(CallRecord {
        execution_id: ExecutionId::from_uuid(row.uuid("id")?),
        contact_id: ContactId::from_uuid(row.uuid("contact_id")?),
        call_status: CallStatus::parse(status).ok_or_else(|| corrupt("call status"))?,
        attempt: row.try_get("attempt")?,
        kind: CallKind::parse(kind).ok_or_else(|| corrupt("call kind"))?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        duration_seconds: row.try_get("duration_seconds")?,
        recording_url: row.try_get("recording_url")?,
        transcript: row.try_get("transcript")?,
        summary: row.try_get("summary")?,
        sentiment: row.try_get("sentiment")?,
        hangup_by: row.try_get("hangup_by")?,
        hangup_reason: row.try_get("hangup_reason")?,
        total_cost: row.try_get("total_cost")?,
        provider: nullable(row.try_get("provider")?, Provider::parse, "call provider")?,
        provider_call_id: row.try_get("provider_call_id")?,
        answered_by: nullable(row.try_get("answered_by")?, AnsweredBy::parse, "answered_by")?,
        opt_out: row.try_get("opt_out")?,
        dispatched_at: row.at("dispatched_at")?,
        answered_at: row.at_opt("answered_at")?,
        ended_at: row.at_opt("ended_at")?,
    })
}

impl Tx {
    /// Inserts a batch's contacts, all `pending`, chunk by chunk as they arrive until the sender
    /// closes (positions follow arrival order). Returns how many were inserted.
    ///
    /// Each chunk is one statement over a JSON array of rows: a statement costs a round trip to
    /// SQLite's thread, and thousands of bound parameters in one statement cost more still (SQLite
    /// looks each parameter's name up in a list).
    pub async fn insert_contacts(
        &mut self,
        batch: BatchId,
        campaign: CampaignId,
        chunks: &mut mpsc::Receiver<Vec<NewContact>>,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let mut seq = 0usize;
        while let Some(chunk) = chunks.recv().await {
            let mut rows = Vec::with_capacity(chunk.len());
            for contact in &chunk {
                let vars = serde_json::to_string(&contact.call_variables).map_err(Error::internal)?;
                rows.push((ContactId::generate().uuid().to_string(), seq, contact.phone_number.as_str(), vars));
                seq += 1;
            }
            sqlx::query(
                "INSERT INTO contacts (id, batch_id, campaign_id, seq, phone_number, call_variables, status, updated_at)
                 SELECT value ->> 0, ?2, ?3, value ->> 1, value ->> 2, value ->> 3, 'pending', ?4 FROM json_each(?1)",
            )
            .bind(serde_json::to_string(&rows).map_err(Error::internal)?)
            .bind(id(batch.uuid()))
            .bind(id(campaign.uuid()))
            .bind(micros(now))
            .execute(&mut *self.0)
            .await?;
        }
        Ok(seq)
    }
}

impl Store {
    /// A page of a batch's contacts in upload order, optionally of one status.
    pub async fn list_contacts(
        &self,
        batch: BatchId,
        status: Option<ContactStatus>,
        page: &Page,
    ) -> Result<Vec<Contact>, Error> {
        // Positions are 0..n-1 within a batch and contacts are never removed one by one, so a page
        // of the whole batch is a range of positions: no rows read only to be skipped.
        let sql = match status {
            None => format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE batch_id = ?1 AND seq >= ?3 AND ?4 IS NULL
                 ORDER BY seq LIMIT ?2"
            ),
            Some(_) => format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE batch_id = ?1 AND status = ?4
                 ORDER BY seq LIMIT ?2 OFFSET ?3"
            ),
        };
        let rows = sqlx::query(&sql)
            .bind(id(batch.uuid()))
            .bind(page.limit)
            .bind(page.skip)
            .bind(status.map(ContactStatus::as_str))
            .fetch_all(&self.reads)
            .await?;
        rows.iter().map(contact_from_row).collect()
    }

    /// The call records of these contacts, oldest first per contact; only the latest of each when
    /// `latest_only`.
    pub async fn calls_of(&self, contacts: &[ContactId], latest_only: bool) -> Result<Vec<CallRecord>, Error> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = id_list(contacts.iter().map(|c| c.uuid()));
        let sql = if latest_only {
            format!(
                "SELECT {CALL_COLUMNS} FROM (
                    SELECT *, row_number() OVER (PARTITION BY contact_id ORDER BY dispatched_at DESC, id DESC) AS rn
                    FROM call_records WHERE contact_id IN (SELECT value FROM json_each(?1)))
                 WHERE rn = 1 ORDER BY contact_id"
            )
        } else {
            format!(
                "SELECT {CALL_COLUMNS} FROM call_records WHERE contact_id IN (SELECT value FROM json_each(?1))
                 ORDER BY contact_id, dispatched_at, id"
            )
        };
        let rows = sqlx::query(&sql).bind(ids).fetch_all(&self.reads).await?;
        rows.iter().map(call_from_row).collect()
    }

    /// Contacts of a batch by status with the oldest `updated_at` of each (for `/debug`).
    pub async fn status_breakdown(&self, batch: BatchId) -> Result<Vec<StatusBreakdown>, Error> {
        let rows = sqlx::query(
            "SELECT status, count(*) AS n, min(updated_at) AS oldest FROM contacts WHERE batch_id = ?1 GROUP BY status",
        )
        .bind(id(batch.uuid()))
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                let status: &str = r.try_get("status")?;
                Ok(StatusBreakdown {
                    status: ContactStatus::parse(status).ok_or_else(|| corrupt("status"))?,
                    count: r.try_get("n")?,
                    oldest_updated_at: r.at_opt("oldest")?,
                })
            })
            .collect()
    }

    /// Up to `n` of the batch's pending contacts, first in dispatch order.
    pub async fn pending_sample(&self, batch: BatchId, n: i64) -> Result<Vec<ContactId>, Error> {
        let rows =
            sqlx::query("SELECT id FROM contacts WHERE batch_id = ?1 AND status = 'pending' ORDER BY seq LIMIT ?2")
                .bind(id(batch.uuid()))
                .bind(n)
                .fetch_all(&self.reads)
                .await?;
        rows.iter().map(|r| Ok(ContactId::from_uuid(r.uuid("id")?))).collect()
    }

    /// Pending contacts of the batch untouched since `before`.
    pub async fn pending_untouched_since(&self, batch: BatchId, before: DateTime<Utc>) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM contacts WHERE batch_id = ?1 AND status = 'pending' AND updated_at < ?2",
        )
        .bind(id(batch.uuid()))
        .bind(micros(before))
        .fetch_one(&self.reads)
        .await?)
    }

    /// The earliest time a retry or follow-up of the batch is due, if any is waiting.
    pub async fn next_due_retry(&self, batch: BatchId) -> Result<Option<DateTime<Utc>>, Error> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT min(next_retry_at) FROM contacts WHERE batch_id = ?1 AND status IN ('retrying', 'followup_scheduled')",
        )
        .bind(id(batch.uuid()))
        .fetch_one(&self.reads)
        .await?;
        due.map(super::instant).transpose()
    }
}

//! Contact and call-record rows: bulk ingest by multi-row inserts, listing, and the read models of
//! `/debug` and `/stats`.

use super::{Store, Tx, id, id_list, micros};
use crate::domain::batch::NewContact;
use crate::domain::contact::{CallRecord, Contact, ContactStatus};
use crate::domain::ids::{BatchId, CampaignId, ContactId};
use crate::error::Error;
use crate::store::rows::{self, Cells};
use crate::store::shared::{CALL_COLUMNS, CONTACT_COLUMNS};
use crate::store::{Page, StatusBreakdown};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

impl Tx<'_> {
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
        rows.iter().map(rows::contact).collect()
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
        rows.iter().map(rows::call).collect()
    }

    /// Contacts of a batch by status with the oldest `updated_at` of each (for `/debug`).
    pub async fn status_breakdown(&self, batch: BatchId) -> Result<Vec<StatusBreakdown>, Error> {
        let rows = sqlx::query(
            "SELECT status, count(*) AS n, min(updated_at) AS oldest FROM contacts WHERE batch_id = ?1 GROUP BY status",
        )
        .bind(id(batch.uuid()))
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(rows::status_breakdown).collect()
    }

    /// Up to `n` of the batch's pending contacts, first in dispatch order.
    pub async fn pending_sample(&self, batch: BatchId, n: i64) -> Result<Vec<ContactId>, Error> {
        let rows =
            sqlx::query("SELECT id FROM contacts WHERE batch_id = ?1 AND status = 'pending' ORDER BY seq LIMIT ?2")
                .bind(id(batch.uuid()))
                .bind(n)
                .fetch_all(&self.reads)
                .await?;
        rows.iter().map(|r| Ok(ContactId::from_uuid(r.id("id")?))).collect()
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

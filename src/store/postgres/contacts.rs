//! Contact and call-record rows: bulk ingest by COPY, listing, and the read models of `/debug` and `/stats`.

use super::{Store, Tx};
use crate::domain::batch::NewContact;
use crate::domain::contact::{CallRecord, Contact, ContactStatus};
use crate::domain::ids::{BatchId, CampaignId, ContactId};
use crate::error::Error;
use crate::store::rows;
use crate::store::shared::{CALL_COLUMNS, CONTACT_COLUMNS};
use crate::store::{Page, StatusBreakdown};
use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt::Write;
use tokio::sync::mpsc;

/// Bytes sent to the server per COPY message.
const COPY_CHUNK: usize = 256 << 10;

/// Appends `text` escaped for COPY's text format.
fn copy_escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

impl Tx<'_> {
    /// Inserts a batch's contacts, all `pending`, in one COPY, chunk by chunk as they arrive until the
    /// sender closes (positions follow arrival order). Returns how many were inserted.
    pub async fn insert_contacts(
        &mut self,
        batch: BatchId,
        campaign: CampaignId,
        chunks: &mut mpsc::Receiver<Vec<NewContact>>,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let mut copy = self
            .0
            .copy_in_raw(
                "COPY contacts (id, batch_id, campaign_id, seq, phone_number, call_variables, status, updated_at) \
                 FROM STDIN",
            )
            .await?;
        let batch = batch.uuid().hyphenated().to_string();
        let campaign = campaign.uuid().hyphenated().to_string();
        let now = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut buf = String::with_capacity(COPY_CHUNK + 4096);
        let mut vars = Vec::with_capacity(256);
        let mut seq = 0usize;
        while let Some(chunk) = chunks.recv().await {
            for contact in chunk {
                let id = ContactId::generate().uuid();
                vars.clear();
                serde_json::to_writer(&mut vars, &contact.call_variables).map_err(Error::internal)?;
                let text = std::str::from_utf8(&vars).map_err(Error::internal)?;
                let _ = write!(buf, "{}\t{batch}\t{campaign}\t{seq}\t{}\t", id.hyphenated(), contact.phone_number);
                copy_escape(&mut buf, text);
                let _ = writeln!(buf, "\tpending\t{now}");
                seq += 1;
                if buf.len() >= COPY_CHUNK {
                    copy.send(buf.as_bytes()).await?;
                    buf.clear();
                }
            }
        }
        if !buf.is_empty() {
            copy.send(buf.as_bytes()).await?;
        }
        copy.finish().await?;
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
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE batch_id = $1 AND seq >= $3 AND $4::text IS NULL
                 ORDER BY seq LIMIT $2"
            ),
            Some(_) => format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE batch_id = $1 AND status = $4
                 ORDER BY seq LIMIT $2 OFFSET $3"
            ),
        };
        let rows = sqlx::query(&sql)
            .bind(batch.uuid())
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
        let ids: Vec<uuid::Uuid> = contacts.iter().map(|c| c.uuid()).collect();
        let sql = if latest_only {
            format!(
                "SELECT DISTINCT ON (contact_id) {CALL_COLUMNS} FROM call_records WHERE contact_id = ANY($1)
                 ORDER BY contact_id, dispatched_at DESC, id DESC"
            )
        } else {
            format!(
                "SELECT {CALL_COLUMNS} FROM call_records WHERE contact_id = ANY($1) ORDER BY contact_id, dispatched_at, id"
            )
        };
        let rows = sqlx::query(&sql).bind(&ids).fetch_all(&self.reads).await?;
        rows.iter().map(rows::call).collect()
    }

    /// Contacts of a batch by status with the oldest `updated_at` of each (for `/debug`).
    pub async fn status_breakdown(&self, batch: BatchId) -> Result<Vec<StatusBreakdown>, Error> {
        let rows = sqlx::query(
            "SELECT status, count(*) AS n, min(updated_at) AS oldest FROM contacts WHERE batch_id = $1 GROUP BY status",
        )
        .bind(batch.uuid())
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(rows::status_breakdown).collect()
    }

    /// Up to `n` of the batch's pending contacts, first in dispatch order.
    pub async fn pending_sample(&self, batch: BatchId, n: i64) -> Result<Vec<ContactId>, Error> {
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE batch_id = $1 AND status = 'pending' ORDER BY seq LIMIT $2",
        )
        .bind(batch.uuid())
        .bind(n)
        .fetch_all(&self.reads)
        .await?;
        Ok(ids.into_iter().map(ContactId::from_uuid).collect())
    }

    /// Pending contacts of the batch untouched since `before`.
    pub async fn pending_untouched_since(&self, batch: BatchId, before: DateTime<Utc>) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM contacts WHERE batch_id = $1 AND status = 'pending' AND updated_at < $2",
        )
        .bind(batch.uuid())
        .bind(before)
        .fetch_one(&self.reads)
        .await?)
    }

    /// The earliest time a retry or follow-up of the batch is due, if any is waiting.
    pub async fn next_due_retry(&self, batch: BatchId) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT min(next_retry_at) FROM contacts WHERE batch_id = $1 AND status IN ('retrying', 'followup_scheduled')",
        )
        .bind(batch.uuid())
        .fetch_one(&self.reads)
        .await?)
    }
}

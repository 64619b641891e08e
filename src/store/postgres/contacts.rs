//! Contact and call-record rows: bulk ingest by COPY, listing, and the read models of `/debug` and `/stats`.

use super::{Store, Tx};
use crate::domain::batch::NewContact;
use crate::domain::contact::{CallKind, CallRecord, CallStatus, Contact, ContactStatus};
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::provider::Provider;
use crate::domain::voicemail::AnsweredBy;
use crate::error::Error;
use crate::store::shared::{CALL_COLUMNS, CONTACT_COLUMNS, corrupt, nullable};
use crate::store::{Page, StatusBreakdown};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
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

fn contact_from_row(row: &PgRow) -> Result<Contact, Error> {
    let status: String = row.try_get("status")?;
    Ok(Contact {
        id: ContactId::from_uuid(row.try_get("id")?),
        batch_id: BatchId::from_uuid(row.try_get("batch_id")?),
        campaign_id: CampaignId::from_uuid(row.try_get("campaign_id")?),
        phone_number: row.try_get("phone_number")?,
        call_variables: match row.try_get("call_variables")? {
            Value::Object(m) => m,
            _ => return Err(corrupt("call_variables")),
        },
        status: ContactStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        retry_count: i64::from(row.try_get::<i16, _>("retry_count")?),
        follow_up_count: i64::from(row.try_get::<i16, _>("follow_up_count")?),
        latest_retry_count: i64::from(row.try_get::<i16, _>("latest_retry_count")?),
        last_attempted_at: row.try_get("last_attempted_at")?,
        next_retry_at: row.try_get("next_retry_at")?,
    })
}

fn call_from_row(row: &PgRow) -> Result<CallRecord, Error> {
    let status: String = row.try_get("call_status")?;
    let kind: String = row.try_get("kind")?;
    Ok(CallRecord {
        execution_id: ExecutionId::from_uuid(row.try_get("id")?),
        contact_id: ContactId::from_uuid(row.try_get("contact_id")?),
        call_status: CallStatus::parse(&status).ok_or_else(|| corrupt("call status"))?,
        attempt: i64::from(row.try_get::<i16, _>("attempt")?),
        kind: CallKind::parse(&kind).ok_or_else(|| corrupt("call kind"))?,
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
        dispatched_at: row.try_get("dispatched_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

impl Tx {
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
        rows.iter().map(contact_from_row).collect()
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
        rows.iter().map(call_from_row).collect()
    }

    /// Contacts of a batch by status with the oldest `updated_at` of each (for `/debug`).
    pub async fn status_breakdown(&self, batch: BatchId) -> Result<Vec<StatusBreakdown>, Error> {
        let rows = sqlx::query(
            "SELECT status, count(*) AS n, min(updated_at) AS oldest FROM contacts WHERE batch_id = $1 GROUP BY status",
        )
        .bind(batch.uuid())
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(StatusBreakdown {
                    status: ContactStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
                    count: r.try_get("n")?,
                    oldest_updated_at: r.try_get("oldest")?,
                })
            })
            .collect()
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

//! Contact and call-record rows: bulk ingest by COPY, listing, and the read models of `/debug` and `/stats`.

use super::{Store, Tx};
use crate::domain::batch::NewContact;
use crate::domain::contact::CallRecord;
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::timezone::Timezone;
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::rows::Cells;
use crate::store::shared::CALL_COLUMNS;
use crate::store::{Ingested, rows};
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
    /// sender closes (positions follow arrival order).
    pub async fn insert_contacts(
        &mut self,
        batch: BatchId,
        campaign: CampaignId,
        zone: Timezone,
        chunks: &mut mpsc::Receiver<Vec<NewContact>>,
        now: DateTime<Utc>,
    ) -> Result<Ingested, Error> {
        let mut copy = self
            .0
            .copy_in_raw(
                "COPY contacts (id, batch_id, campaign_id, seq, phone_number, call_variables, status, updated_at, \
                 zone_key, timezone_source) FROM STDIN",
            )
            .await?;
        let batch = batch.uuid().hyphenated().to_string();
        let campaign = campaign.uuid().hyphenated().to_string();
        let now = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut buf = String::with_capacity(COPY_CHUNK + 4096);
        let mut vars = Vec::with_capacity(256);
        let mut seq = 0usize;
        let mut keys = super::super::shared::KeySet::default();
        while let Some(chunk) = chunks.recv().await {
            for contact in chunk {
                let id = ContactId::generate().uuid();
                vars.clear();
                serde_json::to_writer(&mut vars, &contact.call_variables).map_err(Error::internal)?;
                let text = std::str::from_utf8(&vars).map_err(Error::internal)?;
                let _ = write!(buf, "{}\t{batch}\t{campaign}\t{seq}\t{}\t", id.hyphenated(), contact.phone_number);
                copy_escape(&mut buf, text);
                let key = ZoneKey::of(&contact.zones, contact.region.as_deref(), contact.phone_number.as_str(), zone);
                let key = keys.text(key);
                let _ = write!(buf, "\tpending\t{now}\t");
                copy_escape(&mut buf, key);
                let _ = writeln!(buf, "\t{}", contact.zones.source.as_str());
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
        Ok(Ingested { count: seq, zone_keys: keys.into_sorted() })
    }
}

crate::store::common::contact_reads!();

impl Store {
    pub async fn calls_of(&self, contacts: &[ContactId]) -> Result<Vec<CallRecord>, Error> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = contacts.iter().map(|c| c.uuid()).collect();
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM call_records WHERE contact_id = ANY($1) ORDER BY contact_id, dispatched_at, id"
        );
        let rows = sqlx::query(&sql).bind(&ids).fetch_all(&self.reads).await?;
        rows.iter().map(rows::call).collect()
    }

    /// One backward index probe per contact: a `DISTINCT ON` over `= ANY` was planned as a parallel
    /// bitmap scan and sort, tens of microseconds a contact.
    pub async fn latest_call_ids(&self, contacts: &[ContactId]) -> Result<Vec<(ContactId, ExecutionId)>, Error> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = contacts.iter().map(|c| c.uuid()).collect();
        let rows = sqlx::query(
            "SELECT k.contact_id, cr.id FROM unnest($1::uuid[]) AS k(contact_id)
             CROSS JOIN LATERAL (SELECT id FROM call_records WHERE contact_id = k.contact_id
                                 ORDER BY dispatched_at DESC, id DESC LIMIT 1) cr",
        )
        .bind(&ids)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| Ok((ContactId::from_uuid(r.id("contact_id")?), ExecutionId::from_uuid(r.id("id")?))))
            .collect()
    }
}

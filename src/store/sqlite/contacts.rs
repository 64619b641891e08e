//! Contact and call-record rows: bulk ingest by multi-row inserts, listing, and the read models of
//! `/debug` and `/stats`.

use super::{Store, Tx, id, id_list, micros};
use crate::domain::batch::NewContact;
use crate::domain::contact::CallRecord;
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::timezone::Timezone;
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::rows::Cells;
use crate::store::shared::CALL_COLUMNS;
use crate::store::{Ingested, rows};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

impl Tx<'_> {
    /// Inserts a batch's contacts, all `pending`, chunk by chunk as they arrive until the sender
    /// closes (positions follow arrival order).
    ///
    /// Each chunk is one statement over a JSON array of rows: a statement costs a round trip to
    /// SQLite's thread, and thousands of bound parameters in one statement cost more still (SQLite
    /// looks each parameter's name up in a list).
    pub async fn insert_contacts(
        &mut self,
        batch: BatchId,
        campaign: CampaignId,
        zone: Timezone,
        chunks: &mut mpsc::Receiver<Vec<NewContact>>,
        now: DateTime<Utc>,
    ) -> Result<Ingested, Error> {
        let mut seq = 0usize;
        let mut keys = crate::store::shared::KeySet::default();
        while let Some(chunk) = chunks.recv().await {
            let mut rows = Vec::with_capacity(chunk.len());
            for contact in &chunk {
                let vars = serde_json::to_string(&contact.call_variables).map_err(Error::internal)?;
                let key = ZoneKey::of(&contact.zones, contact.region.as_deref(), contact.phone_number.as_str(), zone);
                let key = keys.text(key).to_owned();
                let id = ContactId::generate().uuid().to_string();
                rows.push((id, seq, contact.phone_number.as_str(), vars, key, contact.zones.source.as_str()));
                seq += 1;
            }
            sqlx::query(
                "INSERT INTO contacts (id, batch_id, campaign_id, seq, phone_number, call_variables, status, updated_at,
                    zone_key, timezone_source)
                 SELECT value ->> 0, ?2, ?3, value ->> 1, value ->> 2, value ->> 3, 'pending', ?4, value ->> 4,
                    value ->> 5 FROM json_each(?1)",
            )
            .bind(serde_json::to_string(&rows).map_err(Error::internal)?)
            .bind(id(batch.uuid()))
            .bind(id(campaign.uuid()))
            .bind(micros(now))
            .execute(&mut *self.0)
            .await?;
        }
        Ok(Ingested { count: seq, zone_keys: keys.into_sorted() })
    }
}

crate::store::common::contact_reads!();

impl Store {
    pub async fn calls_of(&self, contacts: &[ContactId]) -> Result<Vec<CallRecord>, Error> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM call_records WHERE contact_id IN (SELECT value FROM json_each(?1))
             ORDER BY contact_id, dispatched_at, id"
        );
        let rows = sqlx::query(&sql).bind(id_list(contacts.iter().map(|c| c.uuid()))).fetch_all(&self.reads).await?;
        rows.iter().map(rows::call).collect()
    }

    pub async fn latest_call_ids(&self, contacts: &[ContactId]) -> Result<Vec<(ContactId, ExecutionId)>, Error> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT j.value AS contact_id,
                    (SELECT id FROM call_records WHERE contact_id = j.value
                     ORDER BY dispatched_at DESC, id DESC LIMIT 1) AS id
             FROM json_each(?1) j",
        )
        .bind(id_list(contacts.iter().map(|c| c.uuid())))
        .fetch_all(&self.reads)
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(call) = r.id_opt("id")? {
                found.push((ContactId::from_uuid(r.id("contact_id")?), ExecutionId::from_uuid(call)));
            }
        }
        Ok(found)
    }
}

//! What a claim reads: the campaign, its batches with contacts to call, the contacts callable now,
//! and the calls in flight per caller-ID number. PostgreSQL locks these rows (`LOCKED`,
//! `SKIP_LOCKED`); SQLite's transaction already holds its one writer, so the fragments are empty.

/// The claim's reads, for the `Tx` of the engine where it expands.
macro_rules! claim_reads {
    () => {
        mod written_once {
            use super::super::{LOCKED, SKIP_LOCKED, Tx, db_at, db_id};
            use crate::domain::batch::Batch;
            use crate::domain::ids::{BatchId, CampaignId};
            use crate::error::Error;
            use crate::store::rows::{self, Cells};
            use crate::store::shared::{BATCH_COLUMNS, CAMPAIGN_COLUMNS, LIVE};
            use crate::store::{ClaimedContact, LockedForDispatch};
            use chrono::{DateTime, Utc};
            use std::collections::HashMap;

            impl Tx<'_> {
                pub async fn lock_campaign_for_dispatch(
                    &mut self,
                    id: CampaignId,
                ) -> Result<Option<LockedForDispatch>, Error> {
                    let sql = format!(
                        "SELECT {CAMPAIGN_COLUMNS}, round_robin_cursor, due_at FROM campaigns
                         WHERE id = $1 AND status = 'active'{SKIP_LOCKED}"
                    );
                    let row = sqlx::query(&sql).bind(db_id(id.uuid())).fetch_optional(&mut *self.0).await?;
                    row.map(|r| {
                        Ok(LockedForDispatch {
                            campaign: rows::campaign(&r)?,
                            round_robin_cursor: r.int("round_robin_cursor")?,
                            due_at: r.at("due_at")?,
                        })
                    })
                    .transpose()
                }

                pub async fn running_batches(
                    &mut self,
                    campaign: CampaignId,
                    now: DateTime<Utc>,
                ) -> Result<Vec<Batch>, Error> {
                    let sql = format!(
                        "SELECT {BATCH_COLUMNS} FROM batches WHERE campaign_id = $1 AND status = 'in_progress'
                            AND (expires_at IS NULL OR expires_at > $2)
                            AND (n_pending > 0 OR n_retrying > 0 OR n_followup_scheduled > 0)
                         ORDER BY created_at, id{LOCKED}"
                    );
                    let rows =
                        sqlx::query(&sql).bind(db_id(campaign.uuid())).bind(db_at(now)).fetch_all(&mut *self.0).await?;
                    rows.iter().map(rows::batch).collect()
                }

                pub async fn claim_contacts(
                    &mut self,
                    batch: BatchId,
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> Result<Vec<ClaimedContact>, Error> {
                    let columns = rows::CLAIMED_CONTACT_COLUMNS;
                    let due = format!(
                        "SELECT {columns} FROM contacts WHERE batch_id = $1
                            AND status IN ('retrying', 'followup_scheduled') AND next_retry_at <= $2
                         ORDER BY next_retry_at, seq LIMIT $3{SKIP_LOCKED}"
                    );
                    let mut found = sqlx::query(&due)
                        .bind(db_id(batch.uuid()))
                        .bind(db_at(now))
                        .bind(limit)
                        .fetch_all(&mut *self.0)
                        .await?;
                    let rest = limit - found.len() as i64;
                    if rest > 0 {
                        let pending = format!(
                            "SELECT {columns} FROM contacts WHERE batch_id = $1 AND status = 'pending'
                             ORDER BY seq LIMIT $2{SKIP_LOCKED}"
                        );
                        let more = sqlx::query(&pending).bind(db_id(batch.uuid())).bind(rest);
                        found.extend(more.fetch_all(&mut *self.0).await?);
                    }
                    found.iter().map(rows::claimed_contact).collect()
                }

                pub async fn live_calls_by_number(
                    &mut self,
                    campaign: CampaignId,
                ) -> Result<HashMap<String, i64>, Error> {
                    let sql = format!(
                        "SELECT from_number, count(*) AS n FROM call_records
                         WHERE campaign_id = $1 AND call_status IN {LIVE} GROUP BY from_number"
                    );
                    let rows = sqlx::query(&sql).bind(db_id(campaign.uuid())).fetch_all(&mut *self.0).await?;
                    rows.iter().map(|r| Ok((sqlx::Row::try_get(r, "from_number")?, r.int("n")?))).collect()
                }
            }
        }
    };
}
pub(crate) use claim_reads;

//! A batch's row as a transaction writes and locks it (skipping its open contacts, and the
//! statistics snapshot, are each engine's own).

/// Inserting, locking and moving batches, for the `Tx` of the engine where it expands.
macro_rules! batch_writes {
    () => {
        mod writes_written_once {
            use super::super::{JSON, LOCKED, Tx, db_at, db_id};
            use crate::domain::batch::{Batch, BatchStatus};
            use crate::domain::contact::ContactStatus;
            use crate::domain::ids::{BatchId, CampaignId, OrgId};
            use crate::error::Error;
            use crate::store::OpenBatch;
            use crate::store::rows::{self, Cells};
            use crate::store::shared::{BATCH_COLUMNS, json_text};
            use chrono::{DateTime, Utc};

            impl Tx<'_> {
                pub async fn insert_batch(&mut self, b: &Batch) -> Result<(), Error> {
                    let sql = format!(
                        "INSERT INTO batches (id, campaign_id, organization_id, status, total_contacts,
                            concurrency_limit, max_retries_override, scheduled_start, expires_at, call_context,
                            metadata, n_pending, n_skipped, created_at, updated_at, completed_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10{JSON}, $11{JSON}, $13, $14, $12, $12, $15)"
                    );
                    sqlx::query(&sql)
                        .bind(db_id(b.id.uuid()))
                        .bind(db_id(b.campaign_id.uuid()))
                        .bind(db_id(b.organization_id.uuid()))
                        .bind(b.status.as_str())
                        .bind(b.total_contacts)
                        .bind(b.concurrency_limit.map(i64::from))
                        .bind(b.max_retries_override.map(i64::from))
                        .bind(db_at(b.scheduled_start))
                        .bind(b.expires_at.map(db_at))
                        .bind(json_text(&b.call_context)?)
                        .bind(json_text(&b.metadata)?)
                        .bind(db_at(b.created_at))
                        .bind(b.counters.get(ContactStatus::Pending))
                        .bind(b.counters.get(ContactStatus::Skipped))
                        .bind(b.completed_at.map(db_at))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(())
                }

                pub async fn set_batch_zone_keys(&mut self, batch: BatchId, keys: &[String]) -> Result<(), Error> {
                    sqlx::query("UPDATE batches SET zone_keys = $2 WHERE id = $1")
                        .bind(db_id(batch.uuid()))
                        .bind(serde_json::to_string(keys).map_err(Error::internal)?)
                        .execute(&mut *self.0)
                        .await?;
                    Ok(())
                }

                pub async fn lock_batch(&mut self, org: OrgId, id: BatchId) -> Result<Option<Batch>, Error> {
                    let sql =
                        format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1 AND organization_id = $2{LOCKED}");
                    let row =
                        sqlx::query(&sql).bind(db_id(id.uuid())).bind(db_id(org.uuid())).fetch_optional(&mut *self.0).await?;
                    row.as_ref().map(rows::batch).transpose()
                }

                pub async fn set_batch_status(
                    &mut self,
                    id: BatchId,
                    from: BatchStatus,
                    to: BatchStatus,
                    now: DateTime<Utc>,
                ) -> Result<bool, Error> {
                    let done = sqlx::query(
                        "UPDATE batches SET status = $3, updated_at = $4,
                            completed_at = CASE WHEN $3 IN ('completed', 'cancelled', 'expired') THEN $4 ELSE completed_at END
                         WHERE id = $1 AND status = $2",
                    )
                    .bind(db_id(id.uuid()))
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .bind(db_at(now))
                    .execute(&mut *self.0)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                pub async fn lock_open_batches(&mut self, campaign: CampaignId) -> Result<Vec<OpenBatch>, Error> {
                    let sql = format!(
                        "SELECT id, status, scheduled_start FROM batches WHERE campaign_id = $1
                            AND status IN ('pending', 'in_progress', 'paused') ORDER BY created_at, id{LOCKED}"
                    );
                    let rows = sqlx::query(&sql).bind(db_id(campaign.uuid())).fetch_all(&mut *self.0).await?;
                    rows.iter()
                        .map(|r| {
                            Ok(OpenBatch {
                                id: BatchId::from_uuid(r.id("id")?),
                                status: rows::batch_status(r)?,
                                scheduled_start: r.at("scheduled_start")?,
                            })
                        })
                        .collect()
                }

                pub async fn batch_statuses(&mut self, campaign: CampaignId) -> Result<Vec<BatchStatus>, Error> {
                    let rows = sqlx::query("SELECT status FROM batches WHERE campaign_id = $1")
                        .bind(db_id(campaign.uuid()))
                        .fetch_all(&mut *self.0)
                        .await?;
                    rows.iter().map(rows::batch_status).collect()
                }
            }
        }
    };
}
pub(crate) use batch_writes;

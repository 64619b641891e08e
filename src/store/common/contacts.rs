//! A batch's contacts as the API and `/debug` read them, and what a callback reads and names of a
//! live call.

/// Reading a batch's contacts, for the `Store` of the engine where it expands.
macro_rules! contact_reads {
    () => {
        mod written_once {
            use super::super::{Store, db_at, db_id};
            use crate::domain::contact::{Contact, ContactStatus};
            use crate::domain::ids::{BatchId, ContactId};
            use crate::error::Error;
            use crate::store::rows::{self, Cells};
            use crate::store::shared::CONTACT_COLUMNS;
            use crate::store::{Page, StatusBreakdown};
            use chrono::{DateTime, Utc};

            impl Store {
                pub async fn list_contacts(
                    &self,
                    batch: BatchId,
                    status: Option<ContactStatus>,
                    page: &Page,
                ) -> Result<Vec<Contact>, Error> {
                    // Positions are 0..n-1 within a batch and contacts are never removed one by one, so
                    // a page of the whole batch is a range of positions: no rows read only to be skipped.
                    let sql = match status {
                        None => format!(
                            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE batch_id = $1 AND seq >= $3 AND $4 IS NULL
                             ORDER BY seq LIMIT $2"
                        ),
                        Some(_) => format!(
                            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE batch_id = $1 AND status = $4
                             ORDER BY seq LIMIT $2 OFFSET $3"
                        ),
                    };
                    let rows = sqlx::query(&sql)
                        .bind(db_id(batch.uuid()))
                        .bind(page.limit)
                        .bind(page.skip)
                        .bind(status.map(ContactStatus::as_str))
                        .fetch_all(self.reads())
                        .await?;
                    rows.iter().map(rows::contact).collect()
                }

                pub async fn status_breakdown(&self, batch: BatchId) -> Result<Vec<StatusBreakdown>, Error> {
                    let rows = sqlx::query(
                        "SELECT status, count(*) AS n, min(updated_at) AS oldest FROM contacts WHERE batch_id = $1
                         GROUP BY status",
                    )
                    .bind(db_id(batch.uuid()))
                    .fetch_all(self.reads())
                    .await?;
                    rows.iter().map(rows::status_breakdown).collect()
                }

                pub async fn pending_sample(&self, batch: BatchId, n: i64) -> Result<Vec<ContactId>, Error> {
                    let rows = sqlx::query(
                        "SELECT id FROM contacts WHERE batch_id = $1 AND status = 'pending' ORDER BY seq LIMIT $2",
                    )
                    .bind(db_id(batch.uuid()))
                    .bind(n)
                    .fetch_all(self.reads())
                    .await?;
                    rows.iter().map(|r| Ok(ContactId::from_uuid(r.id("id")?))).collect()
                }

                pub async fn any_pending_unheld(&self, batch: BatchId) -> Result<bool, Error> {
                    let row = sqlx::query(
                        "SELECT id FROM contacts WHERE batch_id = $1 AND status = 'pending' AND next_retry_at IS NULL
                         LIMIT 1",
                    )
                    .bind(db_id(batch.uuid()))
                    .fetch_optional(self.reads())
                    .await?;
                    Ok(row.is_some())
                }

                pub async fn pending_untouched_since(&self, batch: BatchId, before: DateTime<Utc>) -> Result<i64, Error> {
                    Ok(sqlx::query_scalar(
                        "SELECT count(*) FROM contacts WHERE batch_id = $1 AND status = 'pending' AND updated_at < $2",
                    )
                    .bind(db_id(batch.uuid()))
                    .bind(db_at(before))
                    .fetch_one(self.reads())
                    .await?)
                }

                pub async fn next_due_retry(&self, batch: BatchId) -> Result<Option<DateTime<Utc>>, Error> {
                    let row = sqlx::query(
                        "SELECT min(next_retry_at) AS due FROM contacts WHERE batch_id = $1 AND next_retry_at IS NOT NULL
                            AND status IN ('pending', 'retrying', 'followup_scheduled')",
                    )
                    .bind(db_id(batch.uuid()))
                    .fetch_one(self.reads())
                    .await?;
                    row.at_opt("due")
                }
            }
        }
    };
}
pub(crate) use contact_reads;

/// What a callback reads and names of a live call, for the `Store` of the engine where it expands.
macro_rules! live_call_statements {
    () => {
        mod calls_written_once {
            use super::super::{Store, db_id};
            use crate::domain::ids::ExecutionId;
            use crate::error::Error;
            use crate::store::rows::Cells;
            use chrono::{DateTime, Utc};

            impl Store {
                pub async fn answered_at_of(&self, call: ExecutionId) -> Result<Option<Option<DateTime<Utc>>>, Error> {
                    let row = sqlx::query("SELECT answered_at FROM call_records WHERE id = $1")
                        .bind(db_id(call.uuid()))
                        .fetch_optional(self.reads())
                        .await?;
                    row.map(|r| r.at_opt("answered_at")).transpose()
                }

                pub async fn name_call(&self, call: ExecutionId, provider_call_id: &str) -> Result<bool, Error> {
                    let done = sqlx::query(
                        "UPDATE call_records SET provider_call_id = $2
                         WHERE id = $1 AND provider_call_id IS NULL
                           AND call_status IN ('dispatched', 'ringing', 'in_progress')",
                    )
                    .bind(db_id(call.uuid()))
                    .bind(provider_call_id)
                    .execute(self.writes())
                    .await?;
                    Ok(done.rows_affected() > 0)
                }
            }
        }
    };
}
pub(crate) use live_call_statements;

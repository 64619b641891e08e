//! Calls started per second by every replica together (API.md §7 "Pacing"), one row per second
//! (PostgreSQL locks the second's row, `LOCKED`, so that concurrent claims count one after another);
//! and the timed work both engines find alike: due marks, expired batches, calls in flight.

/// The pacing statements, for the `Store` and `Tx` of the engine where it expands.
macro_rules! pacing_statements {
    () => {
        use super::{LOCKED, Store, Tx};
        use crate::error::Error;
        use crate::store::rows::Cells;

        /// Seconds of history kept (older rows are removed as new seconds begin).
        const KEPT_SECONDS: i64 = 60;

        impl Tx<'_> {
            pub async fn paced_calls(&mut self, second: i64) -> Result<i64, Error> {
                let created =
                    sqlx::query("INSERT INTO dispatch_pacing (second, placed) VALUES ($1, 0) ON CONFLICT DO NOTHING")
                        .bind(second)
                        .execute(&mut *self.0)
                        .await?
                        .rows_affected();
                if created > 0 {
                    sqlx::query("DELETE FROM dispatch_pacing WHERE second < $1")
                        .bind(second - KEPT_SECONDS)
                        .execute(&mut *self.0)
                        .await?;
                }
                let sql = format!("SELECT placed FROM dispatch_pacing WHERE second = $1{LOCKED}");
                sqlx::query(&sql).bind(second).fetch_one(&mut *self.0).await?.int("placed")
            }

            pub async fn add_paced_calls(&mut self, second: i64, calls: i64) -> Result<(), Error> {
                sqlx::query("UPDATE dispatch_pacing SET placed = placed + $2 WHERE second = $1")
                    .bind(second)
                    .bind(calls.min(i64::from(i32::MAX)))
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }
        }

        impl Store {
            pub async fn paced_calls(&self, second: i64) -> Result<i64, Error> {
                let row = sqlx::query("SELECT placed FROM dispatch_pacing WHERE second = $1")
                    .bind(second)
                    .fetch_optional(self.reads())
                    .await?;
                Ok(row.map(|r| r.int("placed")).transpose()?.unwrap_or(0))
            }
        }
    };
}
pub(crate) use pacing_statements;

/// Lowering a campaign's `due_at`, recording its next opening, finding the batches whose expiry has
/// passed and counting the calls in flight, for the engine where it expands.
macro_rules! due_marks {
    () => {
        mod written_once {
            use super::super::{Store, Tx, db_at, db_id};
            use crate::domain::ids::{BatchId, CampaignId, OrgId};
            use crate::error::Error;
            use crate::store::rows::Cells;
            use crate::store::shared::LIVE;
            use chrono::{DateTime, Utc};

            impl Store {
                pub async fn calls_in_flight(&self) -> Result<i64, Error> {
                    // Counted on the index of live calls (in proportion to them, not to the campaigns).
                    let sql = format!("SELECT count(*) FROM call_records WHERE call_status IN {LIVE}");
                    Ok(sqlx::query_scalar(&sql).fetch_one(self.reads()).await?)
                }

                pub async fn expired_batches(
                    &self,
                    now: DateTime<Utc>,
                ) -> Result<Vec<(OrgId, CampaignId, BatchId)>, Error> {
                    let rows = sqlx::query(
                        "SELECT organization_id, campaign_id, id FROM batches
                         WHERE status IN ('pending', 'in_progress', 'paused') AND expires_at <= $1
                         ORDER BY expires_at, id LIMIT 100",
                    )
                    .bind(db_at(now))
                    .fetch_all(self.lookups())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok((
                                OrgId::from_uuid(r.id("organization_id")?),
                                CampaignId::from_uuid(r.id("campaign_id")?),
                                BatchId::from_uuid(r.id("id")?),
                            ))
                        })
                        .collect()
                }
            }

            impl Tx<'_> {
                pub async fn mark_due(&mut self, campaign: CampaignId, at: DateTime<Utc>) -> Result<(), Error> {
                    sqlx::query("UPDATE campaigns SET due_at = $2 WHERE id = $1 AND due_at > $2")
                        .bind(db_id(campaign.uuid()))
                        .bind(db_at(at))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(())
                }

                pub async fn set_due_at(&mut self, campaign: CampaignId, at: DateTime<Utc>) -> Result<bool, Error> {
                    let done = sqlx::query("UPDATE campaigns SET due_at = $2 WHERE id = $1 AND due_at <> $2")
                        .bind(db_id(campaign.uuid()))
                        .bind(db_at(at))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                pub async fn set_opens_at(&mut self, campaign: CampaignId, at: DateTime<Utc>) -> Result<(), Error> {
                    sqlx::query("UPDATE campaigns SET opens_at = $2 WHERE id = $1")
                        .bind(db_id(campaign.uuid()))
                        .bind(db_at(at))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(())
                }
            }
        }
    };
}
pub(crate) use due_marks;

//! Campaign rows (all but `try_lock_campaign`, each engine's own) and batch rows as the API reads
//! and lists them.

/// Inserting, reading, listing, updating, status changes and deletion of campaigns, for the engine
/// where it expands.
macro_rules! campaign_statements {
    () => {
        mod written_once {
            use super::super::{Db, JSON, LOCKED, Store, Tx, among_ids, db_at, db_id, db_ids, db_texts};
            use crate::domain::campaign::{Campaign, CampaignSettings, CampaignStatus};
            use crate::domain::phone::PhoneNumber;
            use crate::store::shared::json_text;
            use crate::domain::ids::{CampaignId, OrgId};
            use crate::error::Error;
            use crate::store::shared::CAMPAIGN_COLUMNS;
            use crate::store::{Page, rows};
            use chrono::{DateTime, Utc};

            impl Store {
                pub async fn get_campaign(&self, org: OrgId, id: CampaignId) -> Result<Option<Campaign>, Error> {
                    let sql =
                        format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1 AND organization_id = $2");
                    let row = sqlx::query(&sql)
                        .bind(db_id(id.uuid()))
                        .bind(db_id(org.uuid()))
                        .fetch_optional(self.reads())
                        .await?;
                    row.as_ref().map(rows::campaign).transpose()
                }

                pub async fn list_campaigns(
                    &self,
                    org: OrgId,
                    status: Option<CampaignStatus>,
                    page: &Page,
                ) -> Result<(Vec<Campaign>, i64), Error> {
                    // One statement per filter, each on its own index (a generic plan of
                    // `$2 IS NULL OR status = $2` would use neither).
                    let status = status.map(CampaignStatus::as_str);
                    let filter =
                        if status.is_some() { "organization_id = $1 AND status = $4" } else { "organization_id = $1" };
                    let sql = format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE {filter}
                         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                    );
                    let mut query = sqlx::query(&sql).bind(db_id(org.uuid())).bind(page.limit).bind(page.skip);
                    if let Some(status) = status {
                        query = query.bind(status);
                    }
                    let rows = query.fetch_all(self.reads()).await?;
                    let total = super::super::counts::listed(self.reads(), org, "campaign", status).await?;
                    let items = rows.iter().map(rows::campaign).collect::<Result<_, _>>()?;
                    Ok((items, total))
                }
            }

            type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

            /// Binds the settings columns, in the order both statements below list them from `$3` on.
            fn bind_settings<'q>(q: Query<'q>, s: &'q CampaignSettings) -> Result<Query<'q>, Error> {
                Ok(q.bind(&s.name)
                    .bind(&s.agent_id)
                    .bind(db_texts(s.phone_numbers.iter().map(PhoneNumber::as_str).collect())?)
                    .bind(s.phone_number_strategy.as_str())
                    .bind(s.working_hours_enforced)
                    .bind(s.timezone.name())
                    .bind(json_text(&s.working_hours)?)
                    .bind(i64::from(s.retry_policy.max_retries))
                    .bind(s.retry_policy.strategy.as_str())
                    .bind(i64::from(s.retry_policy.cooldown_minutes))
                    .bind(json_text(&s.default_call_variables)?)
                    .bind(json_text(&s.metadata)?)
                    .bind(i64::from(s.concurrency_limit))
                    .bind(s.working_hours_basis.as_str())
                    .bind(json_text(&s.calendar_ids.iter().map(ToString::to_string).collect::<Vec<_>>())?)
                    .bind(crate::domain::frequency::list_to_stored(&s.frequency_caps)))
            }

            /// Inserts a new campaign, on a pool or in a transaction.
            async fn insert<'e>(db: impl sqlx::Executor<'e, Database = Db>, c: &Campaign) -> Result<(), Error> {
                let sql = format!(
                    "INSERT INTO campaigns (id, organization_id, name, agent_id, phone_numbers, phone_number_strategy,
                        working_hours_enforced, timezone, working_hours, max_retries, retry_strategy,
                        cooldown_minutes, default_call_variables, metadata, concurrency_limit, working_hours_basis,
                        calendar_ids, frequency_caps, status, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9{JSON}, $10, $11, $12, $13{JSON}, $14{JSON}, $15,
                        $16, $17, $18, $19, $20, $21)"
                );
                let q = sqlx::query(&sql).bind(db_id(c.id.uuid())).bind(db_id(c.organization_id.uuid()));
                bind_settings(q, &c.settings)?
                    .bind(c.status.as_str())
                    .bind(db_at(c.created_at))
                    .bind(db_at(c.updated_at))
                    .execute(db)
                    .await?;
                Ok(())
            }

            impl Store {
                pub async fn insert_campaign(&self, c: &Campaign) -> Result<(), Error> {
                    insert(self.writes(), c).await
                }
            }

            impl Tx<'_> {
                pub async fn lock_campaign(&mut self, org: OrgId, id: CampaignId) -> Result<Option<Campaign>, Error> {
                    let sql = format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1 AND organization_id = $2{LOCKED}"
                    );
                    let row =
                        sqlx::query(&sql).bind(db_id(id.uuid())).bind(db_id(org.uuid())).fetch_optional(&mut *self.0).await?;
                    row.as_ref().map(rows::campaign).transpose()
                }

                pub async fn insert_campaign(&mut self, c: &Campaign) -> Result<(), Error> {
                    insert(&mut *self.0, c).await
                }

                pub async fn update_campaign_settings(
                    &mut self,
                    c: &Campaign,
                    expected: CampaignStatus,
                ) -> Result<bool, Error> {
                    // New settings may open the hours earlier: the next opening is computed again.
                    let sql = format!(
                        "UPDATE campaigns SET name = $3, agent_id = $4, phone_numbers = $5, phone_number_strategy = $6,
                            working_hours_enforced = $7, timezone = $8, working_hours = $9{JSON}, max_retries = $10,
                            retry_strategy = $11, cooldown_minutes = $12, default_call_variables = $13{JSON},
                            metadata = $14{JSON}, concurrency_limit = $15, working_hours_basis = $16, calendar_ids = $17,
                            frequency_caps = $18, updated_at = $19, opens_at = $20
                         WHERE id = $1 AND status = $2"
                    );
                    let q = sqlx::query(&sql).bind(db_id(c.id.uuid())).bind(expected.as_str());
                    let done = bind_settings(q, &c.settings)?
                        .bind(db_at(c.updated_at))
                        .bind(db_at(DateTime::<Utc>::UNIX_EPOCH))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                pub async fn set_campaign_status(
                    &mut self,
                    id: CampaignId,
                    from: CampaignStatus,
                    to: CampaignStatus,
                    now: DateTime<Utc>,
                ) -> Result<bool, Error> {
                    let done =
                        sqlx::query("UPDATE campaigns SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2")
                            .bind(db_id(id.uuid()))
                            .bind(from.as_str())
                            .bind(to.as_str())
                            .bind(db_at(now))
                            .execute(&mut *self.0)
                            .await?;
                    Ok(done.rows_affected() == 1)
                }

                pub async fn delete_campaign(
                    &mut self,
                    id: CampaignId,
                    expected: CampaignStatus,
                ) -> Result<bool, Error> {
                    // Everything that belongs to the campaign goes with it, by cascade.
                    let deleted = sqlx::query("DELETE FROM campaigns WHERE id = $1 AND status = $2 RETURNING organization_id")
                        .bind(db_id(id.uuid()))
                        .bind(expected.as_str())
                        .fetch_optional(&mut *self.0)
                        .await?;
                    let Some(row) = deleted else { return Ok(false) };
                    let org = rows::Cells::id(&row, "organization_id")?;
                    forget_retries_of_campaign(&mut self.0, org, id).await?;
                    // Its events too: what they are about is gone.
                    sqlx::query("DELETE FROM events WHERE campaign_id = $1")
                        .bind(db_id(id.uuid()))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(true)
                }
            }

            /// Drops the endpoints' retries of a campaign's events, before the events go: an endpoint
            /// whose new events wait behind failed ones waits for nothing once none of them is left.
            /// The organization's endpoint rows are taken first, in the order every writer of tries
            /// takes them, so that no delivery's transaction and this one wait for each other.
            async fn forget_retries_of_campaign(
                conn: &mut <Db as sqlx::Database>::Connection,
                org: uuid::Uuid,
                campaign: CampaignId,
            ) -> Result<(), Error> {
                let endpoints = format!("SELECT id FROM webhook_endpoints WHERE organization_id = $1 ORDER BY id{LOCKED}");
                let rows = sqlx::query(&endpoints).bind(db_id(org)).fetch_all(&mut *conn).await?;
                if rows.is_empty() {
                    return Ok(());
                }
                let ids = rows.iter().map(|r| rows::Cells::id(r, "id")).collect::<Result<Vec<_>, Error>>()?;
                let among = among_ids("$1");
                let forget =
                    format!("DELETE FROM webhook_retries WHERE endpoint_id {among} AND seq IN (SELECT seq FROM events WHERE campaign_id = $2)");
                sqlx::query(&forget).bind(db_ids(ids.clone())).bind(db_id(campaign.uuid())).execute(&mut *conn).await?;
                let ended = crate::store::common::end_waits(&format!("id {among}"));
                sqlx::query(&ended).bind(db_ids(ids)).execute(&mut *conn).await?;
                Ok(())
            }
        }
    };
}
pub(crate) use campaign_statements;

/// Reading and listing batches, for the engine where it expands.
macro_rules! batch_reads {
    () => {
        mod written_once {
            use super::super::{Store, db_id};
            use crate::domain::batch::{Batch, BatchStatus};
            use crate::domain::ids::{BatchId, OrgId};
            use crate::error::Error;
            use crate::store::shared::BATCH_COLUMNS;
            use crate::store::{BatchFilter, Page, rows};

            impl Store {
                pub async fn get_batch(&self, org: OrgId, id: BatchId) -> Result<Option<Batch>, Error> {
                    let sql = format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1 AND organization_id = $2");
                    let row = sqlx::query(&sql)
                        .bind(db_id(id.uuid()))
                        .bind(db_id(org.uuid()))
                        .fetch_optional(self.reads())
                        .await?;
                    row.as_ref().map(rows::batch).transpose()
                }

                pub async fn list_batches(
                    &self,
                    org: OrgId,
                    filter: &BatchFilter,
                    page: &Page,
                ) -> Result<(Vec<Batch>, i64), Error> {
                    // One statement per filter, each on its own index (a generic plan of
                    // `$2 IS NULL OR …` would use none); only the parameters a statement uses are bound.
                    let campaign = filter.campaign_id.map(|c| db_id(c.uuid()));
                    let status = filter.status.map(BatchStatus::as_str);
                    let mut conditions = vec!["organization_id = $1"];
                    if campaign.is_some() {
                        conditions.push("campaign_id = $4");
                    }
                    if status.is_some() {
                        conditions.push(if campaign.is_some() { "status = $5" } else { "status = $4" });
                    }
                    let sql = format!(
                        "SELECT {BATCH_COLUMNS} FROM batches WHERE {}
                         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                        conditions.join(" AND ")
                    );
                    let mut query = sqlx::query(&sql).bind(db_id(org.uuid())).bind(page.limit).bind(page.skip);
                    if let Some(campaign) = campaign {
                        query = query.bind(campaign);
                    }
                    if let Some(status) = status {
                        query = query.bind(status);
                    }
                    let rows = query.fetch_all(self.reads()).await?;
                    let total = match campaign {
                        // A campaign's batches are counted on its index; the organization's are kept counted.
                        Some(campaign) => {
                            let sql = format!(
                                "SELECT count(*) FROM batches WHERE organization_id = $1 AND campaign_id = $2{}",
                                if status.is_some() { " AND status = $3" } else { "" }
                            );
                            let mut query = sqlx::query_scalar(&sql).bind(db_id(org.uuid())).bind(campaign);
                            if let Some(status) = status {
                                query = query.bind(status);
                            }
                            query.fetch_one(self.reads()).await?
                        }
                        None => super::super::counts::listed(self.reads(), org, "batch", status).await?,
                    };
                    Ok((rows.iter().map(rows::batch).collect::<Result<_, _>>()?, total))
                }
            }
        }
    };
}
pub(crate) use batch_reads;

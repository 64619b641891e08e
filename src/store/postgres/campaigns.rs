//! Campaign rows: insert, read, list, lock, update and delete.

use super::{Store, Tx};
use crate::domain::campaign::{Campaign, CampaignStatus};
use crate::domain::ids::{CampaignId, OrgId};
use crate::domain::phone::PhoneNumber;
use crate::error::Error;
use crate::store::rows;
use crate::store::shared::{CAMPAIGN_COLUMNS as COLUMNS, json_text};

crate::store::common::campaign_statements!();

impl Store {}

impl Tx<'_> {
    /// Reads and locks the organization's campaign until the transaction ends.
    pub async fn lock_campaign(&mut self, org: OrgId, id: CampaignId) -> Result<Option<Campaign>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND organization_id = $2 FOR UPDATE");
        let row = sqlx::query(&sql).bind(id.uuid()).bind(org.uuid()).fetch_optional(&mut *self.0).await?;
        row.as_ref().map(rows::campaign).transpose()
    }

    /// Locks the campaign unless another transaction holds it; `false` when held or gone.
    pub async fn try_lock_campaign(&mut self, id: CampaignId) -> Result<bool, Error> {
        let locked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE SKIP LOCKED")
            .bind(id.uuid())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(locked.is_some())
    }

    /// Writes a campaign's settings, if its status is still `expected`; `false` otherwise.
    pub async fn update_campaign_settings(&mut self, c: &Campaign, expected: CampaignStatus) -> Result<bool, Error> {
        let s = &c.settings;
        let numbers: Vec<&str> = s.phone_numbers.iter().map(PhoneNumber::as_str).collect();
        let done = sqlx::query(
            "UPDATE campaigns SET name = $3, agent_id = $4, phone_numbers = $5, phone_number_strategy = $6,
                working_hours_enforced = $7, timezone = $8, working_hours = $9::json, max_retries = $10,
                retry_strategy = $11, cooldown_minutes = $12, default_call_variables = $13::json, metadata = $14::json,
                concurrency_limit = $15, updated_at = $16, opens_at = '1970-01-01T00:00:00Z'
             WHERE id = $1 AND status = $2",
        )
        .bind(c.id.uuid())
        .bind(expected.as_str())
        .bind(&s.name)
        .bind(&s.agent_id)
        .bind(&numbers)
        .bind(s.phone_number_strategy.as_str())
        .bind(s.working_hours_enforced)
        .bind(s.timezone.name())
        .bind(json_text(&s.working_hours)?)
        .bind(i16::from(s.retry_policy.max_retries))
        .bind(s.retry_policy.strategy.as_str())
        .bind(s.retry_policy.cooldown_minutes as i32)
        .bind(json_text(&s.default_call_variables)?)
        .bind(json_text(&s.metadata)?)
        .bind(s.concurrency_limit as i32)
        .bind(c.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Inserts a new campaign, on a pool or in a transaction.
async fn insert<'e>(db: impl sqlx::Executor<'e, Database = sqlx::Postgres>, c: &Campaign) -> Result<(), Error> {
    let s = &c.settings;
    let numbers: Vec<&str> = s.phone_numbers.iter().map(PhoneNumber::as_str).collect();
    sqlx::query(
        "INSERT INTO campaigns (id, organization_id, name, agent_id, status, phone_numbers,
            phone_number_strategy, working_hours_enforced, timezone, working_hours, max_retries,
            retry_strategy, cooldown_minutes, default_call_variables, metadata, concurrency_limit,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json, $11, $12, $13, $14::json, $15::json, $16, $17, $18)",
    )
    .bind(c.id.uuid())
    .bind(c.organization_id.uuid())
    .bind(&s.name)
    .bind(&s.agent_id)
    .bind(c.status.as_str())
    .bind(&numbers)
    .bind(s.phone_number_strategy.as_str())
    .bind(s.working_hours_enforced)
    .bind(s.timezone.name())
    .bind(json_text(&s.working_hours)?)
    .bind(i16::from(s.retry_policy.max_retries))
    .bind(s.retry_policy.strategy.as_str())
    .bind(s.retry_policy.cooldown_minutes as i32)
    .bind(json_text(&s.default_call_variables)?)
    .bind(json_text(&s.metadata)?)
    .bind(s.concurrency_limit as i32)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(db)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a new campaign.
    pub async fn insert_campaign(&self, c: &Campaign) -> Result<(), Error> {
        insert(&self.pool, c).await
    }
}

impl Tx<'_> {
    /// Inserts a new campaign.
    pub async fn insert_campaign(&mut self, c: &Campaign) -> Result<(), Error> {
        insert(&mut *self.0, c).await
    }
}

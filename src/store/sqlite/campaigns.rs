//! Campaign rows: insert, read, list, lock, update and delete.

use super::{Store, Tx, id, json_text, micros};
use crate::domain::campaign::{Campaign, CampaignStatus};
use crate::domain::ids::{CampaignId, OrgId};
use crate::domain::phone::PhoneNumber;
use crate::error::Error;
use crate::store::rows;
use crate::store::shared::CAMPAIGN_COLUMNS as COLUMNS;

/// The settings columns' values, in the order of the INSERT and UPDATE statements below.
struct SettingsText {
    numbers: String,
    working_hours: String,
    variables: String,
    metadata: String,
}

fn settings_text(c: &Campaign) -> Result<SettingsText, Error> {
    let s = &c.settings;
    let numbers: Vec<&str> = s.phone_numbers.iter().map(PhoneNumber::as_str).collect();
    Ok(SettingsText {
        numbers: json_text(&numbers)?,
        working_hours: json_text(&s.working_hours)?,
        variables: json_text(&s.default_call_variables)?,
        metadata: json_text(&s.metadata)?,
    })
}

crate::store::common::campaign_statements!();

impl Store {}

impl Tx<'_> {
    /// The writer, held by this transaction, already excludes every other one.
    pub async fn try_lock_campaign(&mut self, _id: CampaignId) -> Result<bool, Error> {
        Ok(true)
    }

    /// Reads the organization's campaign (the writer is held until the transaction ends).
    pub async fn lock_campaign(&mut self, org: OrgId, campaign: CampaignId) -> Result<Option<Campaign>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = ?1 AND organization_id = ?2");
        let row = sqlx::query(&sql).bind(id(campaign.uuid())).bind(id(org.uuid())).fetch_optional(&mut *self.0).await?;
        row.as_ref().map(rows::campaign).transpose()
    }

    /// Writes a campaign's settings, if its status is still `expected`; `false` otherwise.
    pub async fn update_campaign_settings(&mut self, c: &Campaign, expected: CampaignStatus) -> Result<bool, Error> {
        let s = &c.settings;
        let t = settings_text(c)?;
        let done = sqlx::query(
            "UPDATE campaigns SET name = ?3, agent_id = ?4, phone_numbers = ?5, phone_number_strategy = ?6,
                working_hours_enforced = ?7, timezone = ?8, working_hours = ?9, max_retries = ?10,
                retry_strategy = ?11, cooldown_minutes = ?12, default_call_variables = ?13, metadata = ?14,
                concurrency_limit = ?15, updated_at = ?16, opens_at = 0
             WHERE id = ?1 AND status = ?2",
        )
        .bind(id(c.id.uuid()))
        .bind(expected.as_str())
        .bind(&s.name)
        .bind(&s.agent_id)
        .bind(&t.numbers)
        .bind(s.phone_number_strategy.as_str())
        .bind(s.working_hours_enforced)
        .bind(s.timezone.name())
        .bind(&t.working_hours)
        .bind(i64::from(s.retry_policy.max_retries))
        .bind(s.retry_policy.strategy.as_str())
        .bind(i64::from(s.retry_policy.cooldown_minutes))
        .bind(&t.variables)
        .bind(&t.metadata)
        .bind(i64::from(s.concurrency_limit))
        .bind(micros(c.updated_at))
        .execute(&mut *self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Inserts a new campaign, on a pool or in a transaction.
async fn insert<'e>(db: impl sqlx::Executor<'e, Database = sqlx::Sqlite>, c: &Campaign) -> Result<(), Error> {
    let s = &c.settings;
    let t = settings_text(c)?;
    sqlx::query(
        "INSERT INTO campaigns (id, organization_id, name, agent_id, status, phone_numbers,
            phone_number_strategy, working_hours_enforced, timezone, working_hours, max_retries,
            retry_strategy, cooldown_minutes, default_call_variables, metadata, concurrency_limit,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )
    .bind(id(c.id.uuid()))
    .bind(id(c.organization_id.uuid()))
    .bind(&s.name)
    .bind(&s.agent_id)
    .bind(c.status.as_str())
    .bind(&t.numbers)
    .bind(s.phone_number_strategy.as_str())
    .bind(s.working_hours_enforced)
    .bind(s.timezone.name())
    .bind(&t.working_hours)
    .bind(i64::from(s.retry_policy.max_retries))
    .bind(s.retry_policy.strategy.as_str())
    .bind(i64::from(s.retry_policy.cooldown_minutes))
    .bind(&t.variables)
    .bind(&t.metadata)
    .bind(i64::from(s.concurrency_limit))
    .bind(micros(c.created_at))
    .bind(micros(c.updated_at))
    .execute(db)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a new campaign.
    pub async fn insert_campaign(&self, c: &Campaign) -> Result<(), Error> {
        insert(&self.writer, c).await
    }
}

impl Tx<'_> {
    /// Inserts a new campaign.
    pub async fn insert_campaign(&mut self, c: &Campaign) -> Result<(), Error> {
        insert(&mut *self.0, c).await
    }
}

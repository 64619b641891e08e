//! Campaign rows: insert, read, list, lock, update and delete.

use super::{Store, Tx};
use crate::domain::campaign::{
    CallCounters, Campaign, CampaignSettings, CampaignStatus, PhoneNumberStrategy, RetryPolicy, RetryStrategy,
};
use crate::domain::ids::{CampaignId, OrgId};
use crate::domain::phone::PhoneNumber;
use crate::domain::timezone::Timezone;
use crate::error::Error;
use crate::store::Page;
use crate::store::shared::{CAMPAIGN_COLUMNS as COLUMNS, corrupt, object, working_hours_from_text};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

pub(super) fn campaign_from_row(row: &PgRow) -> Result<Campaign, Error> {
    let status: String = row.try_get("status")?;
    let strategy: String = row.try_get("phone_number_strategy")?;
    let retry_strategy: String = row.try_get("retry_strategy")?;
    let timezone: String = row.try_get("timezone")?;
    let numbers: Vec<String> = row.try_get("phone_numbers")?;
    let max_retries: i16 = row.try_get("max_retries")?;
    let cooldown: i32 = row.try_get("cooldown_minutes")?;
    let limit: i32 = row.try_get("concurrency_limit")?;
    Ok(Campaign {
        id: CampaignId::from_uuid(row.try_get("id")?),
        organization_id: OrgId::from_uuid(row.try_get("organization_id")?),
        status: CampaignStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        settings: CampaignSettings {
            name: row.try_get("name")?,
            agent_id: row.try_get("agent_id")?,
            phone_numbers: numbers.into_iter().map(PhoneNumber::from_trusted).collect(),
            phone_number_strategy: PhoneNumberStrategy::parse(&strategy).ok_or_else(|| corrupt("strategy"))?,
            working_hours_enforced: row.try_get("working_hours_enforced")?,
            timezone: Timezone::parse(&timezone).ok_or_else(|| corrupt("timezone"))?,
            working_hours: working_hours_from_text(
                row.try_get::<&serde_json::value::RawValue, _>("working_hours")?.get(),
            )?,
            retry_policy: RetryPolicy {
                max_retries: u8::try_from(max_retries).map_err(|_| corrupt("max_retries"))?,
                strategy: RetryStrategy::parse(&retry_strategy).ok_or_else(|| corrupt("retry strategy"))?,
                cooldown_minutes: u32::try_from(cooldown).map_err(|_| corrupt("cooldown"))?,
            },
            default_call_variables: object(row.try_get("default_call_variables")?, "default_call_variables")?,
            metadata: object(row.try_get("metadata")?, "metadata")?,
            concurrency_limit: u32::try_from(limit).map_err(|_| corrupt("concurrency_limit"))?,
        },
        counters: CallCounters {
            completed_calls: row.try_get("completed_calls")?,
            failed_calls: row.try_get("failed_calls")?,
            busy_calls: row.try_get("busy_calls")?,
            no_answer_calls: row.try_get("no_answer_calls")?,
            follow_up_calls: row.try_get("follow_up_calls")?,
        },
        in_flight: i64::from(row.try_get::<i32, _>("in_flight")?),
        call_attempts: row.try_get("call_attempts")?,
        answered_calls: row.try_get("answered_calls")?,
        answered_seconds: row.try_get("answered_seconds")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// JSON text for a `json` column (bound as text and cast in the statement).
pub(super) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(Error::internal)
}

impl Store {
    /// The organization's campaign with this id.
    pub async fn get_campaign(&self, org: OrgId, id: CampaignId) -> Result<Option<Campaign>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND organization_id = $2");
        let row = sqlx::query(&sql).bind(id.uuid()).bind(org.uuid()).fetch_optional(&self.reads).await?;
        row.as_ref().map(campaign_from_row).transpose()
    }

    /// A page of the organization's campaigns, newest first, and the number matching in all.
    pub async fn list_campaigns(
        &self,
        org: OrgId,
        status: Option<CampaignStatus>,
        page: &Page,
    ) -> Result<(Vec<Campaign>, i64), Error> {
        // One statement per filter, each on its own index (a generic plan of `$2 IS NULL OR status = $2`
        // would use neither).
        let status = status.map(CampaignStatus::as_str);
        let filter = if status.is_some() { "organization_id = $1 AND status = $4" } else { "organization_id = $1" };
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let mut query = sqlx::query(&sql).bind(org.uuid()).bind(page.limit).bind(page.skip);
        if let Some(status) = status {
            query = query.bind(status);
        }
        let rows = query.fetch_all(&self.reads).await?;
        let total = super::counts::listed(&self.reads, org, "campaign", status).await?;
        let items = rows.iter().map(campaign_from_row).collect::<Result<_, _>>()?;
        Ok((items, total))
    }
}

impl Tx {
    /// Reads and locks the organization's campaign until the transaction ends.
    pub async fn lock_campaign(&mut self, org: OrgId, id: CampaignId) -> Result<Option<Campaign>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND organization_id = $2 FOR UPDATE");
        let row = sqlx::query(&sql).bind(id.uuid()).bind(org.uuid()).fetch_optional(&mut *self.0).await?;
        row.as_ref().map(campaign_from_row).transpose()
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

    /// Moves a campaign from `from` to `to` (compare-and-set); `false` when its status was not `from`.
    pub async fn set_campaign_status(
        &mut self,
        id: CampaignId,
        from: CampaignStatus,
        to: CampaignStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE campaigns SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2")
            .bind(id.uuid())
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a campaign in status `expected`, with everything that belongs to it.
    pub async fn delete_campaign(&mut self, id: CampaignId, expected: CampaignStatus) -> Result<bool, Error> {
        let done = sqlx::query("DELETE FROM campaigns WHERE id = $1 AND status = $2")
            .bind(id.uuid())
            .bind(expected.as_str())
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

impl Tx {
    /// Inserts a new campaign.
    pub async fn insert_campaign(&mut self, c: &Campaign) -> Result<(), Error> {
        insert(&mut *self.0, c).await
    }
}

//! Organizations and API tokens.

use super::{Store, TOKENS_CHANNEL};
use crate::domain::ids::{OrgId, TokenId};
use crate::error::Error;
use crate::store::rows;
use crate::store::{OrgRecord, TokenRecord};
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::store::rows::TOKEN_COLUMNS;

impl Store {
    /// Adds an organization.
    pub async fn insert_org(&self, id: OrgId, name: &str, now: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id.uuid())
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every organization, oldest first.
    pub async fn list_orgs(&self) -> Result<Vec<OrgRecord>, Error> {
        let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgRecord {
                    id: OrgId::from_uuid(r.try_get("id")?),
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Whether the organization exists.
    pub async fn org_exists(&self, id: OrgId) -> Result<bool, Error> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)")
            .bind(id.uuid())
            .fetch_one(&self.pool)
            .await?)
    }

    /// Stores a token's hash.
    pub async fn insert_token(&self, record: &TokenRecord, hash: &[u8; 32]) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO api_tokens (id, organization_id, name, token_hash, token_prefix, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.uuid())
        .bind(record.organization_id.uuid())
        .bind(&record.name)
        .bind(&hash[..])
        .bind(&record.token_prefix)
        .bind(record.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live (not revoked) token with this hash.
    pub async fn find_live_token(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, Error> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL");
        let row = sqlx::query(&sql).bind(&hash[..]).fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::token).transpose()
    }

    /// Whether any token, live or revoked, has this hash.
    pub async fn token_hash_exists(&self, hash: &[u8; 32]) -> Result<bool, Error> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_tokens WHERE token_hash = $1)")
            .bind(&hash[..])
            .fetch_one(&self.pool)
            .await?)
    }

    /// Tokens, optionally of one organization, oldest first.
    pub async fn list_tokens(&self, org: Option<OrgId>) -> Result<Vec<TokenRecord>, Error> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE $1::uuid IS NULL OR organization_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).bind(org.map(|o| o.uuid())).fetch_all(&self.pool).await?;
        rows.iter().map(rows::token).collect()
    }

    /// Revokes a token and tells every server to forget it; `false` when no live token has that id.
    pub async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.uuid())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        sqlx::query("SELECT pg_notify($1, $2)").bind(TOKENS_CHANNEL).bind(id.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Runs `f` while holding a database-wide lock, so that concurrent first starts bootstrap once.
    pub async fn with_bootstrap_lock<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7261001)").execute(&mut *conn).await?;
        let result = f().await;
        sqlx::query("SELECT pg_advisory_unlock(7261001)").execute(&mut *conn).await?;
        result
    }
}

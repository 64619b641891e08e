//! Organizations and API tokens.

use super::{Store, id, micros};
use crate::domain::ids::{OrgId, TokenId};
use crate::error::Error;
use crate::store::rows::{self, Cells};
use crate::store::{OrgRecord, TokenRecord};
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::store::rows::TOKEN_COLUMNS;

impl Store {
    /// Adds an organization.
    pub async fn insert_org(&self, org: OrgId, name: &str, now: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES (?1, ?2, ?3)")
            .bind(id(org.uuid()))
            .bind(name)
            .bind(micros(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Every organization, oldest first.
    pub async fn list_orgs(&self) -> Result<Vec<OrgRecord>, Error> {
        let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(&self.reads)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgRecord {
                    id: OrgId::from_uuid(r.id("id")?),
                    name: r.try_get("name")?,
                    created_at: r.at("created_at")?,
                })
            })
            .collect()
    }

    /// Whether the organization exists.
    pub async fn org_exists(&self, org: OrgId) -> Result<bool, Error> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = ?1)")
            .bind(id(org.uuid()))
            .fetch_one(&self.reads)
            .await?)
    }

    /// Stores a token's hash.
    pub async fn insert_token(&self, record: &TokenRecord, hash: &[u8; 32]) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO api_tokens (id, organization_id, name, token_hash, token_prefix, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(id(record.id.uuid()))
        .bind(id(record.organization_id.uuid()))
        .bind(&record.name)
        .bind(&hash[..])
        .bind(&record.token_prefix)
        .bind(micros(record.created_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The live (not revoked) token with this hash.
    pub async fn find_live_token(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, Error> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL");
        let row = sqlx::query(&sql).bind(&hash[..]).fetch_optional(&self.reads).await?;
        row.as_ref().map(rows::token).transpose()
    }

    /// Whether any token, live or revoked, has this hash.
    pub async fn token_hash_exists(&self, hash: &[u8; 32]) -> Result<bool, Error> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_tokens WHERE token_hash = ?1)")
            .bind(&hash[..])
            .fetch_one(&self.reads)
            .await?)
    }

    /// Tokens, optionally of one organization, oldest first.
    pub async fn list_tokens(&self, org: Option<OrgId>) -> Result<Vec<TokenRecord>, Error> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ?1 IS NULL OR organization_id = ?1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).bind(org.map(|o| id(o.uuid()))).fetch_all(&self.reads).await?;
        rows.iter().map(rows::token).collect()
    }

    /// Revokes a token; `false` when no live token has that id. Servers notice by watching the
    /// revoked tokens (see `TokenEvents`).
    pub async fn revoke_token(&self, token: TokenId, now: DateTime<Utc>) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
            .bind(id(token.uuid()))
            .bind(micros(now))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

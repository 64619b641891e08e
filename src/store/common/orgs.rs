//! Organizations and API tokens (revoking one, and the bootstrap lock, are each engine's own).

/// The organization and token statements, for the `Store` of the engine where it expands.
macro_rules! org_statements {
    () => {
        use crate::domain::ids::OrgId;
        use crate::error::Error;
        use crate::store::rows::{self, Cells, TOKEN_COLUMNS};
        use crate::store::{OrgRecord, TokenRecord};
        use chrono::{DateTime, Utc};

        impl Store {
            pub async fn insert_org(&self, org: OrgId, name: &str, now: DateTime<Utc>) -> Result<(), Error> {
                sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(db_id(org.uuid()))
                    .bind(name)
                    .bind(db_at(now))
                    .execute(self.writes())
                    .await?;
                Ok(())
            }

            pub async fn list_orgs(&self) -> Result<Vec<OrgRecord>, Error> {
                let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
                    .fetch_all(self.lookups())
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(OrgRecord {
                            id: OrgId::from_uuid(r.id("id")?),
                            name: sqlx::Row::try_get(r, "name")?,
                            created_at: r.at("created_at")?,
                        })
                    })
                    .collect()
            }

            pub async fn org_exists(&self, org: OrgId) -> Result<bool, Error> {
                Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)")
                    .bind(db_id(org.uuid()))
                    .fetch_one(self.lookups())
                    .await?)
            }

            pub async fn insert_token(&self, record: &TokenRecord, hash: &[u8; 32]) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, organization_id, name, token_hash, token_prefix, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(db_id(record.id.uuid()))
                .bind(db_id(record.organization_id.uuid()))
                .bind(&record.name)
                .bind(&hash[..])
                .bind(&record.token_prefix)
                .bind(db_at(record.created_at))
                .execute(self.writes())
                .await?;
                Ok(())
            }

            pub async fn find_live_token(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, Error> {
                let sql =
                    format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL");
                let row = sqlx::query(&sql).bind(&hash[..]).fetch_optional(self.lookups()).await?;
                row.as_ref().map(rows::token).transpose()
            }

            pub async fn token_hash_exists(&self, hash: &[u8; 32]) -> Result<bool, Error> {
                Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_tokens WHERE token_hash = $1)")
                    .bind(&hash[..])
                    .fetch_one(self.lookups())
                    .await?)
            }

            pub async fn list_tokens(&self, org: Option<OrgId>) -> Result<Vec<TokenRecord>, Error> {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE $1 IS NULL OR organization_id = $1
                     ORDER BY created_at, id"
                );
                let rows = sqlx::query(&sql).bind(org.map(|o| db_id(o.uuid()))).fetch_all(self.lookups()).await?;
                rows.iter().map(rows::token).collect()
            }
        }
    };
}
pub(crate) use org_statements;

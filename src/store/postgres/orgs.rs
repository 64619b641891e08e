//! Organizations and API tokens: the shared statements (`store/common/orgs.rs`), and what only
//! PostgreSQL does: announcing a revocation, and the bootstrap lock.

use super::{Store, TOKENS_CHANNEL, db_at, db_id};
use crate::domain::ids::TokenId;

crate::store::common::org_statements!();

impl Store {
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

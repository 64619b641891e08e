//! Organizations and API tokens: the shared statements (`store/common/orgs.rs`), and revoking a
//! token (servers watch the revoked tokens, see `TokenEvents`).

use super::{Store, db_at, db_id};
use crate::domain::ids::TokenId;

crate::store::common::org_statements!();

impl Store {
    /// Revokes a token; `false` when no live token has that id. Servers notice by watching the
    /// revoked tokens (see `TokenEvents`).
    pub async fn revoke_token(&self, token: TokenId, now: DateTime<Utc>) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
            .bind(db_id(token.uuid()))
            .bind(db_at(now))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

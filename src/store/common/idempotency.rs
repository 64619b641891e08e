//! Idempotency records: the first response to each `(organization, Idempotency-Key)`, kept 24 hours,
//! and the lease of a key whose request is still running.

/// The idempotency statements, for `Store` and `Tx` of the engine where it expands.
macro_rules! idempotency_statements {
    () => {
        use crate::error::Error;
        use crate::store::rows::Cells;
        use crate::store::shared::idempotent_answer;
        use crate::store::{IdempotencyBegin, IdempotencyClaim};
        use chrono::{DateTime, Utc};
        use sqlx::{Executor, Row};

        /// Stores the response of the request that holds `claim`, if it still does; says whether it did.
        async fn store_response<'e>(
            db: impl Executor<'e, Database = Db>,
            claim: &IdempotencyClaim,
            status: u16,
            body: &[u8],
        ) -> Result<bool, Error> {
            let done = sqlx::query(
                "UPDATE idempotency_keys SET response_status = $4, response_body = $5, locked_until = NULL
                 WHERE organization_id = $1 AND key = $2 AND owner = $3 AND response_status IS NULL",
            )
            .bind(db_id(claim.org.uuid()))
            .bind(&claim.key)
            .bind(db_id(claim.owner))
            .bind(i64::from(status))
            .bind(body)
            .execute(db)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        impl Store {
            pub async fn begin_idempotent(
                &self,
                claim: &IdempotencyClaim,
                request_hash: &[u8; 32],
                now: DateTime<Utc>,
                expired_before: DateTime<Utc>,
                lease_until: DateTime<Utc>,
            ) -> Result<IdempotencyBegin, Error> {
                let claimed = sqlx::query(
                    "INSERT INTO idempotency_keys (organization_id, key, request_hash, created_at, owner, locked_until)
                     VALUES ($1, $2, $3, $4, $6, $7)
                     ON CONFLICT (organization_id, key) DO UPDATE
                        SET request_hash = excluded.request_hash, response_status = NULL, response_body = NULL,
                            created_at = excluded.created_at, owner = excluded.owner,
                            locked_until = excluded.locked_until
                        WHERE idempotency_keys.created_at < $5
                           OR (idempotency_keys.response_status IS NULL
                               AND (idempotency_keys.locked_until IS NULL OR idempotency_keys.locked_until < $4))
                     RETURNING 1",
                )
                .bind(db_id(claim.org.uuid()))
                .bind(&claim.key)
                .bind(&request_hash[..])
                .bind(db_at(now))
                .bind(db_at(expired_before))
                .bind(db_id(claim.owner))
                .bind(db_at(lease_until))
                .fetch_optional(self.writes())
                .await?;
                if claimed.is_some() {
                    return Ok(IdempotencyBegin::Started);
                }
                let row = sqlx::query(
                    "SELECT request_hash, response_status, response_body FROM idempotency_keys
                     WHERE organization_id = $1 AND key = $2",
                )
                .bind(db_id(claim.org.uuid()))
                .bind(&claim.key)
                .fetch_optional(self.writes())
                .await?;
                let Some(row) = row else {
                    // Abandoned between our insert and this read: the client may simply retry.
                    return Ok(IdempotencyBegin::InProgress);
                };
                Ok(idempotent_answer(
                    &row.try_get::<Vec<u8>, _>("request_hash")?,
                    request_hash,
                    row.int_opt("response_status")?,
                    row.try_get("response_body")?,
                ))
            }

            pub async fn renew_idempotent(
                &self,
                claim: &IdempotencyClaim,
                lease_until: DateTime<Utc>,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE idempotency_keys SET locked_until = $4
                     WHERE organization_id = $1 AND key = $2 AND owner = $3 AND response_status IS NULL",
                )
                .bind(db_id(claim.org.uuid()))
                .bind(&claim.key)
                .bind(db_id(claim.owner))
                .bind(db_at(lease_until))
                .execute(self.writes())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn finish_idempotent(
                &self,
                claim: &IdempotencyClaim,
                status: u16,
                body: &[u8],
            ) -> Result<bool, Error> {
                store_response(self.writes(), claim, status, body).await
            }

            pub async fn abandon_idempotent(&self, claim: &IdempotencyClaim) -> Result<(), Error> {
                sqlx::query(
                    "DELETE FROM idempotency_keys
                     WHERE organization_id = $1 AND key = $2 AND owner = $3 AND response_status IS NULL",
                )
                .bind(db_id(claim.org.uuid()))
                .bind(&claim.key)
                .bind(db_id(claim.owner))
                .execute(self.writes())
                .await?;
                Ok(())
            }

            pub async fn purge_idempotency(&self, before: DateTime<Utc>) -> Result<u64, Error> {
                let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(db_at(before))
                    .execute(self.writes())
                    .await?;
                Ok(done.rows_affected())
            }
        }

        impl Tx<'_> {
            pub async fn finish_idempotent(
                &mut self,
                claim: &IdempotencyClaim,
                status: u16,
                body: &[u8],
            ) -> Result<bool, Error> {
                store_response(&mut *self.0, claim, status, body).await
            }
        }
    };
}
pub(crate) use idempotency_statements;

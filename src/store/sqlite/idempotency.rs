//! Idempotency records: the first response to each `(organization, Idempotency-Key)`, kept 24 hours.

use super::{Store, id, micros};
use crate::domain::ids::OrgId;
use crate::error::Error;
use crate::store::IdempotencyBegin;
use crate::store::shared::idempotent_answer;
use chrono::{DateTime, Utc};
use sqlx::Row;

impl Store {
    /// Claims `key` for a request with this hash, or says what to answer instead. Records created
    /// before `expired_before` are forgotten and the key starts afresh.
    pub async fn begin_idempotent(
        &self,
        org: OrgId,
        key: &str,
        request_hash: &[u8; 32],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, Error> {
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (organization_id, key, request_hash, created_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (organization_id, key) DO UPDATE
                SET request_hash = excluded.request_hash, response_status = NULL,
                    response_body = NULL, created_at = excluded.created_at
                WHERE idempotency_keys.created_at < ?5
             RETURNING 1",
        )
        .bind(id(org.uuid()))
        .bind(key)
        .bind(&request_hash[..])
        .bind(micros(now))
        .bind(micros(expired_before))
        .fetch_optional(&self.writer)
        .await?;
        if claimed.is_some() {
            return Ok(IdempotencyBegin::Started);
        }
        let row = sqlx::query(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys
             WHERE organization_id = ?1 AND key = ?2",
        )
        .bind(id(org.uuid()))
        .bind(key)
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else {
            // Abandoned between our insert and this read: the client may simply retry.
            return Ok(IdempotencyBegin::InProgress);
        };
        Ok(idempotent_answer(
            &row.try_get::<Vec<u8>, _>("request_hash")?,
            request_hash,
            row.try_get("response_status")?,
            row.try_get("response_body")?,
        ))
    }

    /// Stores the response of the request that claimed `key`.
    pub async fn finish_idempotent(&self, org: OrgId, key: &str, status: u16, body: &[u8]) -> Result<(), Error> {
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = ?3, response_body = ?4
             WHERE organization_id = ?1 AND key = ?2",
        )
        .bind(id(org.uuid()))
        .bind(key)
        .bind(i64::from(status))
        .bind(body)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Releases `key` after a failure the client should be able to retry.
    pub async fn abandon_idempotent(&self, org: OrgId, key: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE organization_id = ?1 AND key = ?2 AND response_status IS NULL")
            .bind(id(org.uuid()))
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Deletes records older than `before`; returns how many.
    pub async fn purge_idempotency(&self, before: DateTime<Utc>) -> Result<u64, Error> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?1")
            .bind(micros(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}

//! Calls started per second (API.md §7 "Pacing"), one row per second, moved by the single writer.

use super::{Store, Tx};
use crate::error::Error;

/// Seconds of history kept (older rows are removed as new seconds begin).
const KEPT_SECONDS: i64 = 60;

impl Tx<'_> {
    /// The calls started in `second` so far (the writer's transaction sees no other).
    pub async fn paced_calls(&mut self, second: i64) -> Result<i64, Error> {
        let created = sqlx::query("INSERT INTO dispatch_pacing (second, placed) VALUES (?1, 0) ON CONFLICT DO NOTHING")
            .bind(second)
            .execute(&mut *self.0)
            .await?
            .rows_affected();
        if created > 0 {
            sqlx::query("DELETE FROM dispatch_pacing WHERE second < ?1")
                .bind(second - KEPT_SECONDS)
                .execute(&mut *self.0)
                .await?;
        }
        Ok(sqlx::query_scalar("SELECT placed FROM dispatch_pacing WHERE second = ?1")
            .bind(second)
            .fetch_one(&mut *self.0)
            .await?)
    }

    /// Counts `calls` more started in `second`.
    pub async fn add_paced_calls(&mut self, second: i64, calls: i64) -> Result<(), Error> {
        sqlx::query("UPDATE dispatch_pacing SET placed = placed + ?2 WHERE second = ?1")
            .bind(second)
            .bind(calls)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

impl Store {
    /// The calls started in `second` so far.
    pub async fn paced_calls(&self, second: i64) -> Result<i64, Error> {
        let placed: Option<i64> = sqlx::query_scalar("SELECT placed FROM dispatch_pacing WHERE second = ?1")
            .bind(second)
            .fetch_optional(&self.reads)
            .await?;
        Ok(placed.unwrap_or(0))
    }
}

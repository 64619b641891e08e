//! Writing a whole copied database into an empty Postgres one, for `graine migrate-store`.

use super::Store;
use crate::error::Error;
use crate::store::transfer::{Cell, Table};
use sqlx::{Postgres, QueryBuilder};

/// The target's one transaction: nothing is visible, or kept, before `finish`.
pub struct Import(sqlx::Transaction<'static, Postgres>);

impl Store {
    /// Opens the import, refusing a database that already holds an organization.
    pub async fn import(&self) -> Result<Import, Error> {
        let mut tx = self.pool.begin().await?;
        let used: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations)").fetch_one(&mut *tx).await?;
        if used {
            return Err(Error::internal(
                "the target database already holds data; migrate-store copies into an empty database only",
            ));
        }
        Ok(Import(tx))
    }
}

impl Import {
    /// Inserts rows of `table`, each with every column of the table in order.
    pub async fn rows(&mut self, (table, columns): Table, rows: Vec<Vec<Cell>>) -> Result<(), Error> {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({}) ", names.join(", ")));
        insert.push_values(rows, |mut b, row| {
            for cell in row {
                match cell {
                    Cell::Id(v) => b.push_bind(v),
                    Cell::Text(v) => b.push_bind(v),
                    Cell::Int(v) => b.push_bind(v),
                    Cell::Real(v) => b.push_bind(v),
                    Cell::Bool(v) => b.push_bind(v),
                    Cell::Instant(v) => b.push_bind(v),
                    // As text, so a `json` column keeps the keys in their order (either JSON
                    // type takes `json` on assignment).
                    Cell::Json(v) => b.push_bind(v.map(|v| v.to_string())).push_unseparated("::json"),
                    Cell::Bytes(v) => b.push_bind(v),
                    Cell::TextList(v) => b.push_bind(v),
                };
            }
        });
        insert.build().execute(&mut *self.0).await?;
        if table == "suppressions" {
            // The copy brings the entries' events itself, with their numbers: not the trigger's.
            sqlx::query("DELETE FROM events WHERE seq IS NULL").execute(&mut *self.0).await?;
        }
        Ok(())
    }

    /// Rows now in `table`, this transaction's included.
    pub async fn count(&mut self, table: &str) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&mut *self.0).await?)
    }

    /// Moves the call-order and event sequences past every copied number, and commits.
    pub async fn finish(mut self, last_call_event: i64) -> Result<(), Error> {
        sqlx::query(
            "SELECT setval('call_events', GREATEST($1, COALESCE((SELECT max(GREATEST(placed_seq, closed_seq))
                FROM call_records), 0), 1), GREATEST($1, COALESCE((SELECT max(placed_seq) FROM call_records), 0)) > 0)",
        )
        .bind(last_call_event)
        .execute(&mut *self.0)
        .await?;
        // New events are numbered after the copied ones.
        sqlx::query(
            "SELECT setval('event_seq', GREATEST(COALESCE((SELECT max(seq) FROM events), 0), 1),
                (SELECT max(seq) FROM events) IS NOT NULL)",
        )
        .execute(&mut *self.0)
        .await?;
        Ok(self.0.commit().await?)
    }
}

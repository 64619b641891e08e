//! Reading a whole SQLite database table by table, for `graine migrate-store`.

use super::Store;
use crate::error::Error;
use crate::store::transfer::{CHUNK, Cell, Kind, Table};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// A consistent snapshot of the database: every read sees the same committed state.
pub struct Snapshot(sqlx::Transaction<'static, sqlx::Sqlite>);

fn cell(row: &SqliteRow, i: usize, kind: Kind) -> Result<Cell, Error> {
    let bad = |what: &str| Error::internal(format!("stored {what} is invalid"));
    Ok(match kind {
        Kind::Id => Cell::Id(row.try_get::<Option<uuid::fmt::Hyphenated>, _>(i)?.map(|h| h.into_uuid())),
        Kind::Text => Cell::Text(row.try_get(i)?),
        Kind::Int => Cell::Int(row.try_get(i)?),
        Kind::Real => Cell::Real(row.try_get(i)?),
        Kind::Bool => Cell::Bool(row.try_get(i)?),
        Kind::Instant => Cell::Instant(row.try_get::<Option<i64>, _>(i)?.map(super::instant).transpose()?),
        Kind::Json => Cell::Json(
            row.try_get::<Option<&str>, _>(i)?.map(|t| serde_json::from_str(t).map_err(|_| bad("JSON"))).transpose()?,
        ),
        Kind::Bytes => Cell::Bytes(row.try_get(i)?),
        Kind::TextList => Cell::TextList(
            row.try_get::<Option<&str>, _>(i)?.map(|t| serde_json::from_str(t).map_err(|_| bad("list"))).transpose()?,
        ),
    })
}

impl Store {
    /// Opens a read snapshot on one of the read connections.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        Ok(Snapshot(self.reads.begin().await?))
    }
}

impl Snapshot {
    /// Up to `CHUNK` rows of `table` after the row `after` (in storage order), and the last one's
    /// position.
    pub async fn rows(&mut self, (table, columns): Table, after: i64) -> Result<(Vec<Vec<Cell>>, i64), Error> {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let sql = format!("SELECT rowid, {} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2", names.join(", "));
        let rows = sqlx::query(&sql).bind(after).bind(CHUNK).fetch_all(&mut *self.0).await?;
        let mut last = after;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            last = row.try_get(0)?;
            out.push(columns.iter().enumerate().map(|(i, c)| cell(row, i + 1, c.1)).collect::<Result<_, _>>()?);
        }
        Ok((out, last))
    }

    /// The last call-order number handed out.
    pub async fn last_call_event(&mut self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar("SELECT last FROM call_events WHERE only = 1").fetch_one(&mut *self.0).await?)
    }
}

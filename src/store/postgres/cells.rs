//! PostgreSQL's storage as the shared decoders read it: native `uuid`, `timestamptz`, `text[]` and
//! JSON columns, and integers of whatever width the column has.

use crate::error::Error;
use crate::store::rows::Cells;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Column, Row, TypeInfo};
use uuid::Uuid;

/// The column's position and whether it is `smallint`, `integer` or wider.
fn int_column(row: &PgRow, column: &str) -> Result<(usize, u8), Error> {
    let c = row.try_column(column)?;
    let width = match c.type_info().name() {
        "INT2" => 2,
        "INT4" => 4,
        _ => 8,
    };
    Ok((c.ordinal(), width))
}

impl Cells for PgRow {
    crate::store::rows::alike_cells!();

    fn id(&self, column: &str) -> Result<Uuid, Error> {
        Ok(self.try_get(column)?)
    }

    fn id_opt(&self, column: &str) -> Result<Option<Uuid>, Error> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64, Error> {
        Ok(match int_column(self, column)? {
            (i, 2) => i64::from(self.try_get::<i16, _>(i)?),
            (i, 4) => i64::from(self.try_get::<i32, _>(i)?),
            (i, _) => self.try_get(i)?,
        })
    }

    fn int_opt(&self, column: &str) -> Result<Option<i64>, Error> {
        Ok(match int_column(self, column)? {
            (i, 2) => self.try_get::<Option<i16>, _>(i)?.map(i64::from),
            (i, 4) => self.try_get::<Option<i32>, _>(i)?.map(i64::from),
            (i, _) => self.try_get(i)?,
        })
    }

    fn at(&self, column: &str) -> Result<DateTime<Utc>, Error> {
        Ok(self.try_get(column)?)
    }

    fn at_opt(&self, column: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self.try_get(column)?)
    }

    fn json_text(&self, column: &str) -> Result<&str, Error> {
        Ok(self.try_get::<&serde_json::value::RawValue, _>(column)?.get())
    }

    fn texts(&self, column: &str) -> Result<Vec<String>, Error> {
        Ok(self.try_get(column)?)
    }
}

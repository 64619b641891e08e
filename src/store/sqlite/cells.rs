//! SQLite's storage as the shared decoders read it, and the value codecs the modules bind with: ids
//! as hyphenated text, instants as microseconds since the Unix epoch, JSON (and lists) as text.

use crate::error::Error;
use crate::store::rows::Cells;
use crate::store::shared::corrupt;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

/// An instant as stored: microseconds since the Unix epoch.
pub(in crate::store) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(in crate::store) fn instant(m: i64) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_micros(m).ok_or_else(|| corrupt("instant"))
}

/// SQLite's storage as the shared decoders read it: ids as hyphenated text, instants as
/// microseconds, JSON (and lists of texts) as text.
impl Cells for SqliteRow {
    crate::store::rows::alike_cells!();

    fn id(&self, column: &str) -> Result<Uuid, Error> {
        Ok(self.try_get::<uuid::fmt::Hyphenated, _>(column)?.into_uuid())
    }

    fn id_opt(&self, column: &str) -> Result<Option<Uuid>, Error> {
        Ok(self.try_get::<Option<uuid::fmt::Hyphenated>, _>(column)?.map(uuid::fmt::Hyphenated::into_uuid))
    }

    fn int(&self, column: &str) -> Result<i64, Error> {
        Ok(self.try_get(column)?)
    }

    fn int_opt(&self, column: &str) -> Result<Option<i64>, Error> {
        Ok(self.try_get(column)?)
    }

    fn at(&self, column: &str) -> Result<DateTime<Utc>, Error> {
        instant(self.try_get(column)?)
    }

    fn at_opt(&self, column: &str) -> Result<Option<DateTime<Utc>>, Error> {
        self.try_get::<Option<i64>, _>(column)?.map(instant).transpose()
    }

    fn json_text(&self, column: &str) -> Result<&str, Error> {
        Ok(self.try_get(column)?)
    }

    fn texts(&self, column: &str) -> Result<Vec<String>, Error> {
        serde_json::from_str(self.json_text(column)?).map_err(|_| corrupt(column))
    }
}

/// A list of ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
pub(in crate::store) fn id_list(ids: impl IntoIterator<Item = Uuid>) -> String {
    let mut out = String::from("[");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        out.push('"');
    }
    out.push(']');
    out
}

/// The id as bound: hyphenated text.
pub(in crate::store) fn id(u: Uuid) -> uuid::fmt::Hyphenated {
    u.hyphenated()
}

//! A row kept as JSON (an event's copy of a batch or campaign as of its change), read through the
//! same decoders as a row of either engine: PostgreSQL writes it with `row_to_json` (timestamps as
//! RFC 3339 text, arrays and JSON columns nested), SQLite with `json_object` (instants as integer
//! microseconds, JSON columns as their text).

use super::rows::Cells;
use super::shared::corrupt;
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The columns of one row; nested arrays and objects are kept as their JSON text.
pub struct JsonRow(Map<String, Value>);

impl JsonRow {
    /// Reads a row written as a JSON object; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let Value::Object(mut map) = serde_json::from_str(text).ok()? else { return None };
        for value in map.values_mut() {
            if value.is_object() || value.is_array() {
                *value = Value::String(value.to_string());
            }
        }
        Some(Self(map))
    }

    /// A column's value; null for a column the row lacks: one added by a later migration, which a
    /// copy made before it does not have (its decoder reads it as absent, where it may be).
    fn get(&self, column: &str) -> Result<&Value, Error> {
        Ok(self.0.get(column).unwrap_or(&Value::Null))
    }
}

impl Cells for JsonRow {
    fn id(&self, column: &str) -> Result<Uuid, Error> {
        self.id_opt(column)?.ok_or_else(|| corrupt(column))
    }

    fn id_opt(&self, column: &str) -> Result<Option<Uuid>, Error> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::String(s) => Uuid::parse_str(s).map(Some).map_err(|_| corrupt(column)),
            _ => Err(corrupt(column)),
        }
    }

    fn text(&self, column: &str) -> Result<&str, Error> {
        self.text_opt(column)?.ok_or_else(|| corrupt(column))
    }

    fn text_opt(&self, column: &str) -> Result<Option<&str>, Error> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            _ => Err(corrupt(column)),
        }
    }

    fn int(&self, column: &str) -> Result<i64, Error> {
        self.int_opt(column)?.ok_or_else(|| corrupt(column))
    }

    fn int_opt(&self, column: &str) -> Result<Option<i64>, Error> {
        match self.get(column)? {
            Value::Null => Ok(None),
            v => v.as_i64().map(Some).ok_or_else(|| corrupt(column)),
        }
    }

    fn real(&self, column: &str) -> Result<f64, Error> {
        self.real_opt(column)?.ok_or_else(|| corrupt(column))
    }

    fn real_opt(&self, column: &str) -> Result<Option<f64>, Error> {
        match self.get(column)? {
            Value::Null => Ok(None),
            v => v.as_f64().map(Some).ok_or_else(|| corrupt(column)),
        }
    }

    fn flag(&self, column: &str) -> Result<bool, Error> {
        match self.get(column)? {
            Value::Bool(b) => Ok(*b),
            v => v.as_i64().map(|n| n != 0).ok_or_else(|| corrupt(column)),
        }
    }

    fn at(&self, column: &str) -> Result<DateTime<Utc>, Error> {
        self.at_opt(column)?.ok_or_else(|| corrupt(column))
    }

    fn at_opt(&self, column: &str) -> Result<Option<DateTime<Utc>>, Error> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::String(s) => DateTime::parse_from_rfc3339(s).map(|t| Some(t.to_utc())).map_err(|_| corrupt(column)),
            v => v.as_i64().and_then(DateTime::from_timestamp_micros).map(Some).ok_or_else(|| corrupt(column)),
        }
    }

    fn json_text(&self, column: &str) -> Result<&str, Error> {
        self.text(column)
    }

    fn texts(&self, column: &str) -> Result<Vec<String>, Error> {
        serde_json::from_str(self.text(column)?).map_err(|_| corrupt(column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_engines_spellings() {
        let pg = JsonRow::parse(
            r#"{"id":"0193a0b4-0000-7000-8000-000000000001","at":"2026-11-30T10:00:00.5+00:00","on":true,
                "list":["a","b"],"obj":{"k":1},"n":3,"none":null}"#,
        )
        .unwrap();
        let lite = JsonRow::parse(
            r#"{"id":"0193a0b4-0000-7000-8000-000000000001","at":1796032800500000,"on":1,
                "list":"[\"a\",\"b\"]","obj":"{\"k\":1}","n":3,"none":null}"#,
        )
        .unwrap();
        for row in [pg, lite] {
            assert_eq!(row.at("at").unwrap().to_rfc3339(), "2026-11-30T10:00:00.500+00:00");
            assert!(row.flag("on").unwrap());
            assert_eq!(row.texts("list").unwrap(), ["a", "b"]);
            assert_eq!(
                serde_json::from_str::<Value>(row.json_text("obj").unwrap()).unwrap(),
                serde_json::json!({"k": 1})
            );
            assert_eq!(row.int("n").unwrap(), 3);
            assert_eq!(row.at_opt("none").unwrap(), None);
            assert!(row.id("id").is_ok());
            assert!(row.int("missing").is_err());
        }
    }

    #[test]
    fn a_column_the_copy_lacks_reads_as_null() {
        let row = JsonRow::parse(r#"{"id":"0193a0b4-0000-7000-8000-000000000001"}"#).unwrap();
        assert_eq!(row.text_opt("added_later").unwrap(), None);
        assert_eq!(row.at_opt("added_later").unwrap(), None);
        assert_eq!(row.int_opt("added_later").unwrap(), None);
        assert!(row.text("added_later").is_err(), "a column it must have is still corrupt when missing");
    }

    /// A campaign and a batch as PostgreSQL copied them when events began (migration
    /// 20261207000001): every copy ever written has at least these columns. A column added to
    /// `campaigns` or `batches` since must be one their decoders read as optional (older copies lack
    /// it and read it as null), or its migration must add it to the stored copies too; otherwise
    /// every older `campaign.updated` or `batch.updated` event, and the feed with it, fails here.
    const CAMPAIGN_COPY_AS_EVENTS_BEGAN: &str = r#"{"id":"01a24793-1c43-7784-8af4-f1d222c31551","organization_id":"01a24793-18e7-76dd-af2c-a0748f8c77e6","name":"bench 43","agent_id":"agent","status":"completed","phone_numbers":["+919876543210","+919876543211"],"phone_number_strategy":"round_robin","working_hours_enforced":false,"timezone":"UTC","working_hours":{"monday":{"start":"09:00","end":"18:00","enabled":true},"tuesday":{"start":"09:00","end":"18:00","enabled":true},"wednesday":{"start":"09:00","end":"18:00","enabled":true},"thursday":{"start":"09:00","end":"18:00","enabled":true},"friday":{"start":"09:00","end":"18:00","enabled":true},"saturday":{"start":"10:00","end":"14:00","enabled":false},"sunday":{"start":"10:00","end":"14:00","enabled":false}},"max_retries":0,"retry_strategy":"fixed","cooldown_minutes":30,"default_call_variables":{},"metadata":{},"concurrency_limit":10000,"completed_calls":1000,"failed_calls":0,"busy_calls":0,"no_answer_calls":0,"follow_up_calls":0,"in_flight":0,"round_robin_cursor":1000,"created_at":"2026-12-05T18:59:13.091623+00:00","updated_at":"2026-12-05T18:59:17.178415+00:00","call_attempts":1000,"answered_calls":1000,"answered_seconds":0,"due_at":"9999-12-31T00:00:00+00:00","opens_at":"1970-01-01T00:00:00+00:00","working_hours_basis":"campaign","calendar_ids":"[]","frequency_caps":"[]"}"#;
    const BATCH_COPY_AS_EVENTS_BEGAN: &str = r#"{"id":"01a24793-1c46-7729-861d-733bef483d39","campaign_id":"01a24793-1c43-7784-8af4-f1d222c31551","organization_id":"01a24793-18e7-76dd-af2c-a0748f8c77e6","status":"completed","total_contacts":1000,"concurrency_limit":null,"max_retries_override":null,"scheduled_start":"2026-12-05T18:59:13.09368+00:00","expires_at":null,"call_context":{},"metadata":{},"n_pending":0,"n_dispatched":0,"n_in_progress":0,"n_retrying":0,"n_followup_scheduled":0,"n_completed":1000,"n_failed":0,"n_busy":0,"n_no_answer":0,"n_skipped":0,"n_max_retries_reached":0,"in_flight":0,"created_at":"2026-12-05T18:59:13.09368+00:00","updated_at":"2026-12-05T18:59:17.178415+00:00","completed_at":"2026-12-05T18:59:17.178415+00:00","zone_keys":"[\"na|US-CA|America/Los_Angeles\"]"}"#;

    #[test]
    fn copies_written_when_events_began_still_decode() {
        let campaign = super::super::rows::campaign(&JsonRow::parse(CAMPAIGN_COPY_AS_EVENTS_BEGAN).unwrap()).unwrap();
        assert_eq!(campaign.settings.name, "bench 43");
        let batch = super::super::rows::batch(&JsonRow::parse(BATCH_COPY_AS_EVENTS_BEGAN).unwrap()).unwrap();
        assert_eq!(batch.total_contacts, 1000);
    }
}

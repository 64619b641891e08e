//! Copying a whole embedded SQLite database into an empty Postgres one (`graine migrate-store`).
//!
//! Every table is copied column by column in typed form, with its rows' own ids, counters, cursors
//! and call-order numbers, so the Postgres server continues exactly where the SQLite one stopped.
//! The source is read in one read transaction (a consistent snapshot) and the target is written in
//! one transaction: a failed copy leaves the target as it was.

use super::contract::Store;
use super::{postgres, sqlite};
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// How a column is stored on each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Id,
    Text,
    Int,
    Real,
    Bool,
    Instant,
    Json,
    Bytes,
    /// A list of texts: a JSON array in SQLite, `text[]` in Postgres.
    TextList,
}

/// One value in transit; `None` is SQL NULL of the column's type.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Id(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
    Instant(Option<DateTime<Utc>>),
    Json(Option<Value>),
    Bytes(Option<Vec<u8>>),
    TextList(Option<Vec<String>>),
}

/// A table and its columns, in an order that satisfies every reference.
pub type Table = (&'static str, &'static [(&'static str, Kind)]);

use Kind::{Bool, Bytes, Id, Instant, Int, Json, Real, Text, TextList};

pub const TABLES: [Table; 15] = [
    ("organizations", &[("id", Id), ("name", Text), ("created_at", Instant)]),
    (
        "api_tokens",
        &[
            ("id", Id),
            ("organization_id", Id),
            ("name", Text),
            ("token_hash", Bytes),
            ("token_prefix", Text),
            ("created_at", Instant),
            ("revoked_at", Instant),
        ],
    ),
    (
        "calendars",
        &[
            ("id", Id),
            ("organization_id", Id),
            ("name", Text),
            ("entries", Json),
            ("created_at", Instant),
            ("updated_at", Instant),
        ],
    ),
    (
        "campaigns",
        &[
            ("id", Id),
            ("organization_id", Id),
            ("name", Text),
            ("agent_id", Text),
            ("status", Text),
            ("phone_numbers", TextList),
            ("phone_number_strategy", Text),
            ("working_hours_enforced", Bool),
            ("timezone", Text),
            ("working_hours", Json),
            ("working_hours_basis", Text),
            ("calendar_ids", Text),
            ("frequency_caps", Text),
            ("max_retries", Int),
            ("retry_strategy", Text),
            ("cooldown_minutes", Int),
            ("default_call_variables", Json),
            ("metadata", Json),
            ("concurrency_limit", Int),
            ("completed_calls", Int),
            ("failed_calls", Int),
            ("busy_calls", Int),
            ("no_answer_calls", Int),
            ("follow_up_calls", Int),
            ("in_flight", Int),
            ("round_robin_cursor", Int),
            ("call_attempts", Int),
            ("answered_calls", Int),
            ("answered_seconds", Real),
            ("created_at", Instant),
            ("updated_at", Instant),
        ],
    ),
    (
        "idempotency_keys",
        &[
            ("organization_id", Id),
            ("key", Text),
            ("request_hash", Bytes),
            ("response_status", Int),
            ("response_body", Bytes),
            ("created_at", Instant),
        ],
    ),
    (
        "batches",
        &[
            ("id", Id),
            ("campaign_id", Id),
            ("organization_id", Id),
            ("status", Text),
            ("total_contacts", Int),
            ("concurrency_limit", Int),
            ("max_retries_override", Int),
            ("scheduled_start", Instant),
            ("expires_at", Instant),
            ("call_context", Json),
            ("metadata", Json),
            ("n_pending", Int),
            ("n_dispatched", Int),
            ("n_in_progress", Int),
            ("n_retrying", Int),
            ("n_followup_scheduled", Int),
            ("n_completed", Int),
            ("n_failed", Int),
            ("n_busy", Int),
            ("n_no_answer", Int),
            ("n_skipped", Int),
            ("n_max_retries_reached", Int),
            ("in_flight", Int),
            ("created_at", Instant),
            ("updated_at", Instant),
            ("completed_at", Instant),
            ("zone_keys", Text),
        ],
    ),
    (
        "contacts",
        &[
            ("id", Id),
            ("batch_id", Id),
            ("campaign_id", Id),
            ("seq", Int),
            ("phone_number", Text),
            ("call_variables", Json),
            ("status", Text),
            ("retry_count", Int),
            ("follow_up_count", Int),
            ("latest_retry_count", Int),
            ("last_attempted_at", Instant),
            ("next_retry_at", Instant),
            ("updated_at", Instant),
            ("zone_key", Text),
            ("timezone_source", Text),
            ("skip_reason", Text),
        ],
    ),
    (
        "call_records",
        &[
            ("id", Id),
            ("contact_id", Id),
            ("batch_id", Id),
            ("campaign_id", Id),
            ("attempt", Int),
            ("kind", Text),
            ("call_status", Text),
            ("from_number", Text),
            ("to_number", Text),
            ("duration_seconds", Real),
            ("recording_url", Text),
            ("transcript", Text),
            ("summary", Text),
            ("sentiment", Text),
            ("hangup_by", Text),
            ("hangup_reason", Text),
            ("total_cost", Real),
            ("provider", Text),
            ("provider_call_id", Text),
            ("answered_by", Text),
            ("opt_out", Bool),
            ("dispatched_at", Instant),
            ("answered_at", Instant),
            ("ended_at", Instant),
            ("deadline_at", Instant),
            ("planned_end_at", Instant),
            ("planned_outcome", Json),
            ("placed_seq", Int),
            ("closed_seq", Int),
            ("decision", Json),
        ],
    ),
    (
        "suppressions",
        &[
            ("id", Id),
            ("organization_id", Id),
            ("phone_number", Text),
            ("scope", Text),
            ("campaign_id", Id),
            ("reason", Text),
            ("expires_at", Instant),
            ("created_at", Instant),
            ("removed_at", Instant),
        ],
    ),
    (
        "suppression_history",
        &[
            ("suppression_id", Id),
            ("added_at", Instant),
            ("reason", Text),
            ("expires_at", Instant),
            ("removed_at", Instant),
            ("closed_at", Instant),
        ],
    ),
    (
        "events",
        &[
            ("seq", Int),
            ("organization_id", Id),
            ("type", Text),
            ("subject_id", Id),
            ("campaign_id", Id),
            ("status", Text),
            ("data", Text),
            ("created_at", Instant),
        ],
    ),
    ("event_heads", &[("organization_id", Id), ("last_seq", Int)]),
    (
        "webhook_endpoints",
        &[
            ("id", Id),
            ("organization_id", Id),
            ("url", Text),
            ("events", Text),
            ("description", Text),
            ("secret", Text),
            ("previous_secret", Text),
            ("previous_until", Instant),
            ("disabled", Bool),
            ("created_at", Instant),
            ("cursor", Int),
            ("failing", Bool),
            ("lease_owner", Int),
            ("lease_until", Instant),
            ("tries", Int),
        ],
    ),
    (
        "webhook_retries",
        &[
            ("endpoint_id", Id),
            ("seq", Int),
            ("step", Int),
            ("due_at", Instant),
            ("generation", Int),
            ("lease_owner", Int),
            ("lease_until", Instant),
        ],
    ),
    (
        "webhook_attempts",
        &[
            ("endpoint_id", Id),
            ("seq", Int),
            ("attempt", Int),
            ("attempted_at", Instant),
            ("status_code", Int),
            ("duration_ms", Int),
            ("error", Text),
        ],
    ),
];

/// Rows read or written per statement.
pub const CHUNK: i64 = 1000;

/// Rows copied, per table, in copy order.
pub type Copied = Vec<(&'static str, i64)>;

/// Copies everything from a SQLite store into an empty Postgres store (both migrated), checks that
/// each table holds as many rows on both sides, and returns the counts.
pub async fn sqlite_to_postgres(from: &dyn Store, to: &dyn Store) -> Result<Copied, Error> {
    let (Some(source), Some(target)) =
        (from.as_any().downcast_ref::<sqlite::Store>(), to.as_any().downcast_ref::<postgres::Store>())
    else {
        return Err(Error::internal("migrate-store copies a sqlite:// database into a postgres:// one"));
    };
    let mut reader = source.snapshot().await?;
    let mut writer = target.import().await?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let mut after = i64::MIN;
        let mut n = 0;
        loop {
            let (rows, last) = reader.rows(table, after).await?;
            if rows.is_empty() {
                break;
            }
            n += rows.len() as i64;
            writer.rows(table, rows).await?;
            after = last;
        }
        let there = writer.count(table.0).await?;
        if there != n {
            return Err(Error::internal(format!("{}: {n} rows read but {there} in the target", table.0)));
        }
        copied.push((table.0, n));
    }
    writer.finish(reader.last_call_event().await?).await?;
    Ok(copied)
}

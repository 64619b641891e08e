//! Rows read once for both engines: the `Cells` each engine's row gives (ids, texts, numbers,
//! instants and JSON in domain form, whatever the column's storage), and every decoder from a row to
//! a domain value written over it.

use super::TokenRecord;
use super::shared::{COUNTER_COLUMNS, corrupt, working_hours_from_text};
use crate::domain::batch::{Batch, BatchStatus};
use crate::domain::campaign::{
    CallCounters, Campaign, CampaignSettings, CampaignStatus, PhoneNumberStrategy, RetryPolicy, RetryStrategy,
    WorkingHoursBasis,
};
use crate::domain::contact::{CallKind, CallRecord, CallStatus, Contact, ContactStatus, Evidence, StatusCounts};
use crate::domain::ids::{BatchId, CalendarId, CampaignId, ContactId, ExecutionId, OrgId, TokenId};
use crate::domain::outcome::{Attempts, LiveCall};
use crate::domain::phone::PhoneNumber;
use crate::domain::provider::Provider;
use crate::domain::recipient::ZoneSource;
use crate::domain::timezone::Timezone;
use crate::domain::voicemail::AnsweredBy;
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::{ClaimedContact, FinishedCall, PriorState, StatusBreakdown, ZoneWork};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A result row as the decoders read it: each engine maps its own storage (PostgreSQL's `uuid`,
/// `smallint` and arrays; SQLite's text ids, integer microseconds and JSON text) to these.
pub trait Cells {
    fn id(&self, column: &str) -> Result<Uuid, Error>;
    fn id_opt(&self, column: &str) -> Result<Option<Uuid>, Error>;
    fn text(&self, column: &str) -> Result<&str, Error>;
    fn text_opt(&self, column: &str) -> Result<Option<&str>, Error>;
    /// Any integer column, whatever its width.
    fn int(&self, column: &str) -> Result<i64, Error>;
    fn int_opt(&self, column: &str) -> Result<Option<i64>, Error>;
    fn real(&self, column: &str) -> Result<f64, Error>;
    fn real_opt(&self, column: &str) -> Result<Option<f64>, Error>;
    fn flag(&self, column: &str) -> Result<bool, Error>;
    fn at(&self, column: &str) -> Result<DateTime<Utc>, Error>;
    fn at_opt(&self, column: &str) -> Result<Option<DateTime<Utc>>, Error>;
    /// A JSON column's text, as stored.
    fn json_text(&self, column: &str) -> Result<&str, Error>;
    /// A JSON array of texts (PostgreSQL: `text[]`).
    fn texts(&self, column: &str) -> Result<Vec<String>, Error>;

    /// A JSON object column.
    fn object(&self, column: &str) -> Result<Map<String, Value>, Error> {
        match serde_json::from_str(self.json_text(column)?) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(corrupt(column)),
        }
    }
}

/// The `Cells` methods whose column types both engines decode alike (text, floating point, boolean),
/// for use inside each engine's `impl Cells`.
macro_rules! alike_cells {
    () => {
        fn text(&self, column: &str) -> Result<&str, Error> {
            Ok(sqlx::Row::try_get(self, column)?)
        }

        fn text_opt(&self, column: &str) -> Result<Option<&str>, Error> {
            Ok(sqlx::Row::try_get(self, column)?)
        }

        fn real(&self, column: &str) -> Result<f64, Error> {
            Ok(sqlx::Row::try_get(self, column)?)
        }

        fn real_opt(&self, column: &str) -> Result<Option<f64>, Error> {
            Ok(sqlx::Row::try_get(self, column)?)
        }

        fn flag(&self, column: &str) -> Result<bool, Error> {
            Ok(sqlx::Row::try_get(self, column)?)
        }
    };
}
pub(super) use alike_cells;

/// A text column read as one of a closed set of values.
pub fn parsed<T>(row: &impl Cells, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Error> {
    parse(row.text(column)?).ok_or_else(|| corrupt(column))
}

/// A nullable text column read as one of a closed set of values.
fn parsed_opt<T>(row: &impl Cells, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, Error> {
    row.text_opt(column)?.map(|t| parse(t).ok_or_else(|| corrupt(column))).transpose()
}

/// An integer column that must fit `T`.
fn small<T: TryFrom<i64>>(row: &impl Cells, column: &str) -> Result<T, Error> {
    T::try_from(row.int(column)?).map_err(|_| corrupt(column))
}

fn owned(text: Option<&str>) -> Option<String> {
    text.map(str::to_owned)
}

/// A campaign from the columns of `CAMPAIGN_COLUMNS`.
pub fn campaign(row: &impl Cells) -> Result<Campaign, Error> {
    Ok(Campaign {
        id: CampaignId::from_uuid(row.id("id")?),
        organization_id: OrgId::from_uuid(row.id("organization_id")?),
        status: parsed(row, "status", CampaignStatus::parse)?,
        settings: CampaignSettings {
            name: row.text("name")?.to_owned(),
            agent_id: row.text("agent_id")?.to_owned(),
            phone_numbers: row.texts("phone_numbers")?.into_iter().map(PhoneNumber::from_trusted).collect(),
            phone_number_strategy: parsed(row, "phone_number_strategy", PhoneNumberStrategy::parse)?,
            working_hours_enforced: row.flag("working_hours_enforced")?,
            timezone: parsed(row, "timezone", Timezone::parse)?,
            working_hours: working_hours_from_text(row.json_text("working_hours")?)?,
            working_hours_basis: parsed(row, "working_hours_basis", WorkingHoursBasis::parse)?,
            calendar_ids: serde_json::from_str::<Vec<String>>(row.text("calendar_ids")?)
                .map_err(|_| corrupt("calendar_ids"))?
                .iter()
                .map(|t| CalendarId::parse(t).ok_or_else(|| corrupt("calendar_ids")))
                .collect::<Result<_, _>>()?,
            frequency_caps: crate::domain::frequency::list_from_stored(row.text("frequency_caps")?)
                .ok_or_else(|| corrupt("frequency_caps"))?,
            retry_policy: RetryPolicy {
                max_retries: small(row, "max_retries")?,
                strategy: parsed(row, "retry_strategy", RetryStrategy::parse)?,
                cooldown_minutes: small(row, "cooldown_minutes")?,
            },
            default_call_variables: row.object("default_call_variables")?,
            metadata: row.object("metadata")?,
            concurrency_limit: small(row, "concurrency_limit")?,
        },
        counters: CallCounters {
            completed_calls: row.int("completed_calls")?,
            failed_calls: row.int("failed_calls")?,
            busy_calls: row.int("busy_calls")?,
            no_answer_calls: row.int("no_answer_calls")?,
            follow_up_calls: row.int("follow_up_calls")?,
        },
        in_flight: row.int("in_flight")?,
        call_attempts: row.int("call_attempts")?,
        answered_calls: row.int("answered_calls")?,
        answered_seconds: row.real("answered_seconds")?,
        created_at: row.at("created_at")?,
        updated_at: row.at("updated_at")?,
    })
}

/// Contacts by status, from the counter columns of `COUNTER_COLUMNS`.
pub fn counts(row: &impl Cells) -> Result<StatusCounts, Error> {
    let mut counts = StatusCounts::default();
    for (slot, column) in counts.0.iter_mut().zip(COUNTER_COLUMNS) {
        *slot = row.int(column)?;
    }
    Ok(counts)
}

/// A batch's status column.
pub fn batch_status(row: &impl Cells) -> Result<BatchStatus, Error> {
    parsed(row, "status", BatchStatus::parse)
}

/// A batch from the columns of `BATCH_COLUMNS`.
pub fn batch(row: &impl Cells) -> Result<Batch, Error> {
    Ok(Batch {
        id: BatchId::from_uuid(row.id("id")?),
        campaign_id: CampaignId::from_uuid(row.id("campaign_id")?),
        organization_id: OrgId::from_uuid(row.id("organization_id")?),
        status: batch_status(row)?,
        total_contacts: row.int("total_contacts")?,
        concurrency_limit: row.int_opt("concurrency_limit")?.map(|l| l as u32),
        max_retries_override: row.int_opt("max_retries_override")?.map(|r| r as u8),
        scheduled_start: row.at("scheduled_start")?,
        expires_at: row.at_opt("expires_at")?,
        call_context: row.object("call_context")?,
        metadata: row.object("metadata")?,
        counters: counts(row)?,
        in_flight: row.int("in_flight")?,
        created_at: row.at("created_at")?,
        updated_at: row.at("updated_at")?,
        completed_at: row.at_opt("completed_at")?,
    })
}

/// A contact from the columns of `CONTACT_COLUMNS`.
pub fn contact(row: &impl Cells) -> Result<Contact, Error> {
    Ok(Contact {
        id: ContactId::from_uuid(row.id("id")?),
        batch_id: BatchId::from_uuid(row.id("batch_id")?),
        campaign_id: CampaignId::from_uuid(row.id("campaign_id")?),
        phone_number: row.text("phone_number")?.to_owned(),
        call_variables: row.object("call_variables")?,
        status: parsed(row, "status", ContactStatus::parse)?,
        retry_count: row.int("retry_count")?,
        follow_up_count: row.int("follow_up_count")?,
        latest_retry_count: row.int("latest_retry_count")?,
        last_attempted_at: row.at_opt("last_attempted_at")?,
        next_retry_at: row.at_opt("next_retry_at")?,
        zone_key: row.text_opt("zone_key")?.and_then(ZoneKey::parse),
        timezone_source: row.text_opt("timezone_source")?.and_then(ZoneSource::parse),
        skip_reason: owned(row.text_opt("skip_reason")?),
    })
}

/// A call record from the columns of `CALL_COLUMNS`.
pub fn call(row: &impl Cells) -> Result<CallRecord, Error> {
    Ok(CallRecord {
        execution_id: ExecutionId::from_uuid(row.id("id")?),
        contact_id: ContactId::from_uuid(row.id("contact_id")?),
        call_status: parsed(row, "call_status", CallStatus::parse)?,
        attempt: row.int("attempt")?,
        kind: parsed(row, "kind", CallKind::parse)?,
        from_number: row.text("from_number")?.to_owned(),
        to_number: row.text("to_number")?.to_owned(),
        duration_seconds: row.real_opt("duration_seconds")?,
        recording_url: owned(row.text_opt("recording_url")?),
        transcript: owned(row.text_opt("transcript")?),
        summary: owned(row.text_opt("summary")?),
        sentiment: owned(row.text_opt("sentiment")?),
        hangup_by: owned(row.text_opt("hangup_by")?),
        hangup_reason: owned(row.text_opt("hangup_reason")?),
        total_cost: row.real_opt("total_cost")?,
        provider: parsed_opt(row, "provider", Provider::parse)?,
        provider_call_id: owned(row.text_opt("provider_call_id")?),
        answered_by: parsed_opt(row, "answered_by", AnsweredBy::parse)?,
        opt_out: row.flag("opt_out")?,
        dispatched_at: row.at("dispatched_at")?,
        answered_at: row.at_opt("answered_at")?,
        ended_at: row.at_opt("ended_at")?,
        decision: match row.text_opt("decision")? {
            Some(text) => Some(Evidence::from_json(text.to_owned()).ok_or_else(|| corrupt("decision"))?),
            None => None,
        },
    })
}

/// The columns `token` reads.
pub const TOKEN_COLUMNS: &str = "id, organization_id, name, token_prefix, created_at, revoked_at";

/// A token from the columns of `TOKEN_COLUMNS`.
pub fn token(row: &impl Cells) -> Result<TokenRecord, Error> {
    Ok(TokenRecord {
        id: TokenId::from_uuid(row.id("id")?),
        organization_id: OrgId::from_uuid(row.id("organization_id")?),
        name: row.text("name")?.to_owned(),
        token_prefix: row.text("token_prefix")?.to_owned(),
        created_at: row.at("created_at")?,
        revoked_at: row.at_opt("revoked_at")?,
    })
}

/// A simulated call's scripted end, from a row with `id`, `planned_end_at` and `planned_outcome`.
pub fn planned_end(row: &impl Cells) -> Result<FinishedCall, Error> {
    Ok(FinishedCall {
        execution_id: ExecutionId::from_uuid(row.id("id")?),
        outcome: serde_json::from_str(row.json_text("planned_outcome")?).map_err(|_| corrupt("planned outcome"))?,
        ended_at: row.at("planned_end_at")?,
    })
}

/// The columns `claimed_contact` reads.
pub const CLAIMED_CONTACT_COLUMNS: &str = "id, batch_id, phone_number, call_variables, status, retry_count, \
    follow_up_count, next_retry_at, last_attempted_at, latest_retry_count, seq, zone_key";

/// A contact a claim took, with the state to restore if its call is not placed, from the columns of
/// `CLAIMED_CONTACT_COLUMNS`.
pub fn claimed_contact(row: &impl Cells) -> Result<ClaimedContact, Error> {
    let status = parsed(row, "status", ContactStatus::parse)?;
    Ok(ClaimedContact {
        id: ContactId::from_uuid(row.id("id")?),
        batch_id: BatchId::from_uuid(row.id("batch_id")?),
        phone_number: row.text("phone_number")?.to_owned(),
        call_variables: row.object("call_variables")?,
        status,
        retry_count: row.int("retry_count")?,
        follow_up_count: row.int("follow_up_count")?,
        seq: row.int("seq")?,
        zone_key: row.text_opt("zone_key")?.map(str::to_owned),
        prior: PriorState {
            status,
            next_retry_at: row.at_opt("next_retry_at")?,
            last_attempted_at: row.at_opt("last_attempted_at")?,
            latest_retry_count: row.int("latest_retry_count")?,
        },
    })
}

/// A live call about to be closed, keyed by its id, from a row with `id`, `contact_id`, `batch_id`,
/// `campaign_id` and `kind`.
pub fn live_call(row: &impl Cells) -> Result<(Uuid, LiveCall<Uuid>), Error> {
    let call = LiveCall {
        contact: row.id("contact_id")?,
        batch: row.id("batch_id")?,
        campaign: row.id("campaign_id")?,
        kind: parsed(row, "kind", CallKind::parse)?,
    };
    Ok((row.id("id")?, call))
}

/// A contact's status and attempts, keyed by its id (`id, status, retry_count, follow_up_count`).
pub fn contact_attempts(row: &impl Cells) -> Result<(Uuid, (ContactStatus, Attempts)), Error> {
    let attempts = Attempts { retry_count: row.int("retry_count")?, follow_up_count: row.int("follow_up_count")? };
    Ok((row.id("id")?, (parsed(row, "status", ContactStatus::parse)?, attempts)))
}

/// A batch's status and retry override, keyed by its id (`id, status, max_retries_override`).
pub fn batch_retries(row: &impl Cells) -> Result<(Uuid, (BatchStatus, Option<i64>)), Error> {
    Ok((row.id("id")?, (batch_status(row)?, row.int_opt("max_retries_override")?)))
}

/// Contacts of one status with the oldest `updated_at` among them (`status, n, oldest`).
pub fn status_breakdown(row: &impl Cells) -> Result<StatusBreakdown, Error> {
    Ok(StatusBreakdown {
        status: parsed(row, "status", ContactStatus::parse)?,
        count: row.int("n")?,
        oldest_updated_at: row.at_opt("oldest")?,
    })
}

/// The work waiting in one zone key (`id, scheduled_start, expires_at, in_flight, concurrency_limit,
/// zone_key, pending, next_retry_at`).
pub fn zone_work(r: &impl Cells) -> Result<ZoneWork, Error> {
    Ok(ZoneWork {
        batch: BatchId::from_uuid(r.id("id")?),
        scheduled_start: r.at("scheduled_start")?,
        expires_at: r.at_opt("expires_at")?,
        zone_key: r.text_opt("zone_key")?.map(str::to_owned),
        pending: r.flag("pending")?,
        next_retry_at: r.at_opt("next_retry_at")?,
        batch_full: r.int_opt("concurrency_limit")?.is_some_and(|limit| r.int("in_flight").is_ok_and(|n| n >= limit)),
    })
}

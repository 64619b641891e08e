//! Storage: the only place that speaks SQL. Services call these methods in domain types, on either
//! store: Postgres (several replicas, one database) or embedded SQLite (one server, one file).

mod common;
pub mod contract;
mod json_row;
mod key_merge;
mod postgres;
mod rows;
mod shared;
mod sqlite;
pub mod transfer;

pub use contract::{Store, TokenEvents, Tx};

use crate::domain::ids::{OrgId, TokenId};
use crate::error::Error;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Opens the store a URL names: `sqlite:…` (a file, or `sqlite::memory:` for a throwaway one) or
/// `postgres://…` (created when missing). A server is the `owner` of a SQLite file: a second server
/// on the same file is refused, while tools such as the CLI share it. PostgreSQL ends a transaction
/// of ours left idle for `idle_transaction_timeout` (a frozen or cut-off process's).
pub async fn connect(
    url: &str,
    max_connections: u32,
    owner: bool,
    idle_transaction_timeout: Option<Duration>,
) -> Result<std::sync::Arc<dyn Store>, Error> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(sqlite::Store::connect(url, max_connections, owner).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(postgres::Store::connect(url, max_connections, idle_transaction_timeout).await?))
    } else {
        Err(Error::internal(format!(
            "unsupported database URL '{url}': use sqlite://<file>, sqlite::memory: or postgres://…"
        )))
    }
}

/// Twice the CPUs, at least 4: the size of the API read pools. Measured on two cores (BENCHMARKS.md):
/// `/stats` p99 22.0 ms with one Postgres pool of 16 and 14.4–16.7 ms with reads limited to 4
/// connections; a single pool of 4 for everything made writes worse (`POST /campaigns/` p99 29.6 ms
/// against 20.5 ms), hence separate pools.
fn read_pool_size() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (2 * cpus).max(4)
}

/// When this process last saw a database connection die, in milliseconds after `STARTED` (0: never).
/// A server that restarts or cuts its sessions kills every pooled connection at once, so each one
/// idle since then is checked once before its next use rather than failing a request.
static CONNECTION_LOST: AtomicU64 = AtomicU64::new(0);
static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);

fn note_connection_lost() {
    let at = STARTED.elapsed().as_millis() as u64 + 1;
    CONNECTION_LOST.fetch_max(at, Ordering::Relaxed);
}

/// Whether a pooled connection idle for `idle_for` was already idle when a connection was last lost.
fn idle_since_connection_lost(idle_for: Duration) -> bool {
    let lost = CONNECTION_LOST.load(Ordering::Relaxed);
    lost != 0 && STARTED.elapsed().as_millis() as u64 + 1 - lost <= idle_for.as_millis() as u64
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let lost = match &e {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                db.code().is_some_and(|c| matches!(c.as_ref(), "57P01" | "57P02" | "57P03") || c.starts_with("08"))
            }
            _ => false,
        };
        if lost {
            note_connection_lost();
        }
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(Box::new(e)),
            sqlx::Error::Database(ref db) if is_unavailable_code(db.code().as_deref()) => {
                Error::Unavailable(Box::new(e))
            }
            other => Error::Internal(Box::new(other)),
        }
    }
}

/// Codes that mean "try again later": Postgres SQLSTATEs for shutdown, too many connections and
/// cannot connect now; SQLite's busy and locked (extended codes included).
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("57P01" | "57P02" | "57P03" | "53300" | "08000" | "08003" | "08006" | "5" | "6" | "261" | "262" | "517")
    )
}

/// An organization as listed by the CLI.
#[derive(Clone, Debug)]
pub struct OrgRecord {
    pub id: OrgId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API token's record (the secret itself is never stored).
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub id: TokenId,
    pub organization_id: OrgId,
    pub name: String,
    pub token_prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A stored response replayed for a repeated `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key: the request runs and its response is stored.
    Started,
    /// The same request was served before: answer with this.
    Replay { status: u16, body: Vec<u8> },
    /// The key was used with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// An idempotency key as claimed by one request: the key, and the random `owner` that fences
/// every later write of the claim (a request that lost its key to a takeover writes nothing).
#[derive(Clone, Debug)]
pub struct IdempotencyClaim {
    pub org: crate::domain::ids::OrgId,
    pub key: String,
    pub owner: uuid::Uuid,
}

/// Which kinds of timed work are due at an instant, so that a pass asks for nothing else.
#[derive(Clone, Copy, Debug, Default)]
pub struct DueNow {
    /// A live simulated call's scripted end has come.
    pub simulated_ends: bool,
    /// A live call's deadline has passed.
    pub overdue_calls: bool,
    /// A pending batch's start has come.
    pub batch_starts: bool,
    /// An open batch's expiry has come.
    pub batch_expiries: bool,
}

/// Filters of a batch listing.
#[derive(Clone, Debug, Default)]
pub struct BatchFilter {
    pub campaign_id: Option<crate::domain::ids::CampaignId>,
    pub status: Option<crate::domain::batch::BatchStatus>,
}

/// One line of a batch's `/debug` status breakdown.
#[derive(Clone, Debug)]
pub struct StatusBreakdown {
    pub status: crate::domain::contact::ContactStatus,
    pub count: i64,
    pub oldest_updated_at: Option<DateTime<Utc>>,
}

/// A page of a listing: `skip` rows, then at most `limit`.
#[derive(Clone, Debug)]
pub struct Page {
    pub skip: i64,
    pub limit: i64,
}

pub use crate::domain::calling_hours::ZoneWork;

/// What ingesting a batch's contacts stored.
#[derive(Clone, Debug, Default)]
pub struct Ingested {
    /// Contacts inserted.
    pub count: usize,
    /// Their distinct zone keys (`ZoneKey::text`), sorted.
    pub zone_keys: Vec<String>,
}

/// An active campaign locked for a claim.
#[derive(Clone, Debug)]
pub struct LockedForDispatch {
    pub campaign: crate::domain::campaign::Campaign,
    pub round_robin_cursor: i64,
    /// The earliest instant it may have work, as last recorded (see `Tx::refresh_due_at`).
    pub due_at: DateTime<Utc>,
}

/// A contact the dispatcher may call now, as claimed.
#[derive(Clone, Debug)]
pub struct ClaimedContact {
    pub id: crate::domain::ids::ContactId,
    pub batch_id: crate::domain::ids::BatchId,
    pub phone_number: String,
    pub call_variables: serde_json::Map<String, serde_json::Value>,
    pub status: crate::domain::contact::ContactStatus,
    pub retry_count: i64,
    pub follow_up_count: i64,
    /// Its position in the batch.
    pub seq: i64,
    /// Its zone key (`ZoneKey::text`), if stored with one.
    pub zone_key: Option<String>,
    /// What the claim overwrites, to put back should telephony not take the call (`UnplacedCall`).
    pub prior: PriorState,
}

/// A claimed contact a rule of calling turned away (a suppressed number): which, and its status.
#[derive(Clone, Copy, Debug)]
pub struct ScreenedContact {
    pub contact_id: crate::domain::ids::ContactId,
    pub batch_id: crate::domain::ids::BatchId,
    pub status: crate::domain::contact::ContactStatus,
}

/// A contact's dispatch fields as they were before a claim.
#[derive(Clone, Debug)]
pub struct PriorState {
    pub status: crate::domain::contact::ContactStatus,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub last_attempted_at: Option<DateTime<Utc>>,
    pub latest_retry_count: i64,
}

/// A claimed call that telephony did not take, for a reason that is not the contact's (busy or out
/// of reach): it used no attempt, so its record is removed and its contact put back as it was.
#[derive(Clone, Debug)]
pub struct UnplacedCall {
    pub execution_id: crate::domain::ids::ExecutionId,
    pub contact_id: crate::domain::ids::ContactId,
    pub batch_id: crate::domain::ids::BatchId,
    pub campaign_id: crate::domain::ids::CampaignId,
    pub kind: crate::domain::contact::CallKind,
    pub prior: PriorState,
}

/// A batch that is not terminal, as a campaign's lifecycle action reads it.
#[derive(Clone, Copy, Debug)]
pub struct OpenBatch {
    pub id: crate::domain::ids::BatchId,
    pub status: crate::domain::batch::BatchStatus,
    pub scheduled_start: chrono::DateTime<chrono::Utc>,
}

/// A call about to be placed: its record is written in the claim transaction.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub execution_id: crate::domain::ids::ExecutionId,
    pub contact_id: crate::domain::ids::ContactId,
    pub batch_id: crate::domain::ids::BatchId,
    pub campaign_id: crate::domain::ids::CampaignId,
    /// The contact's status before the claim (`pending`, `retrying` or `followup_scheduled`).
    pub from_status: crate::domain::contact::ContactStatus,
    pub attempt: i64,
    pub kind: crate::domain::contact::CallKind,
    pub from_number: String,
    pub to_number: String,
    pub provider: crate::domain::provider::Provider,
    pub dispatched_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    /// The evidence of the decision that let the call start, as JSON text (shared by the calls of a
    /// claim judged alike).
    pub decision: std::sync::Arc<str>,
    /// Set when telephony already accepted the call (a placer that decides at once, without I/O):
    /// it is written ringing, its contact in progress, with the simulated script when there is one.
    pub accepted: Option<Option<crate::domain::simulate::Script>>,
}

/// A call's final result to record, and when the call ended.
#[derive(Clone, Debug)]
pub struct FinishedCall {
    pub execution_id: crate::domain::ids::ExecutionId,
    pub outcome: crate::domain::outcome::Outcome,
    pub ended_at: DateTime<Utc>,
}

/// A call an outcome closed, and the status it closed with.
pub type Closed = (crate::domain::ids::ExecutionId, crate::domain::contact::CallStatus);

/// A call accepted by telephony; simulated calls come with their script.
#[derive(Clone, Debug)]
pub struct AcceptedCall {
    pub execution_id: crate::domain::ids::ExecutionId,
    pub script: Option<crate::domain::simulate::Script>,
    /// The provider's own id for the call, kept unless one was already.
    pub provider_call_id: Option<String>,
    /// Who answered, once telephony detected it.
    pub answered_by: Option<crate::domain::voicemail::AnsweredBy>,
}

impl AcceptedCall {
    /// A call telephony took, with nothing more known of it yet.
    pub fn bare(execution_id: crate::domain::ids::ExecutionId) -> Self {
        Self { execution_id, script: None, provider_call_id: None, answered_by: None }
    }
}

/// What `/stats` reads about a campaign, at one instant.
#[derive(Clone, Debug)]
pub struct StatsSnapshot {
    pub campaign: crate::domain::campaign::Campaign,
    /// Each batch: what decides its next dispatch, its contacts by status, and its next due retry.
    pub batches:
        Vec<(crate::domain::eligibility::BatchState, crate::domain::contact::StatusCounts, Option<DateTime<Utc>>)>,
    /// Contacts now `retrying`, by their `retry_count`.
    pub retry_breakdown: std::collections::BTreeMap<i64, i64>,
}

impl dyn Store {
    /// The calling hours of `campaign`, with its calendars read (none read when it applies none).
    pub async fn calling_hours(
        &self,
        campaign: &crate::domain::campaign::Campaign,
    ) -> Result<crate::domain::calling_hours::CallingHours, Error> {
        use crate::domain::calendar::Calendars;
        let ids = &campaign.settings.calendar_ids;
        let calendars = if ids.is_empty() {
            std::sync::Arc::default()
        } else {
            std::sync::Arc::new(Calendars::new(&self.calendars_of(campaign.organization_id, ids).await?))
        };
        Ok(crate::domain::calling_hours::CallingHours::of(&campaign.settings, calendars))
    }
}

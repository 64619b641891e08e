//! Statements both engines run, written once. Each macro here expands inside an engine's module,
//! where these names mean that engine's own: `Store`, `Tx`, `Db` (its `sqlx::Database`); its pools
//! `self.writes()`, `self.reads()` (listings) and `self.lookups()` (short reads by key); its codecs
//! `db_id` (an id as bound), `db_ids` and `among_ids` (a list of ids, and the test against it),
//! `db_at` (an instant), `db_texts` and `among_texts` (a list of texts, and the test against it) and `JSON` (the cast
//! a JSON text parameter needs); its row locks `LOCKED` and `SKIP_LOCKED`, and `ORG_SHARED` on an organization; and the fragments of the
//! recipient basis, `KEYS_OF_BATCH` and `ZONE_INDEX`. Integers are bound as
//! `i64` (PostgreSQL narrows them on assignment). Placeholders are `$N`, which SQLite reads too.

mod batches;
mod calendars;
mod claim;
mod contacts;
mod deliveries;
mod endpoints;
mod events;
mod idempotency;
mod listings;
mod orgs;
mod pacing;
mod suppressions;

pub(crate) use batches::batch_writes;
pub(crate) use calendars::calendar_statements;
pub(crate) use claim::claim_reads;
pub(crate) use contacts::{contact_reads, live_call_statements};
pub(crate) use deliveries::{delivery_statements, end_waits};
pub(crate) use endpoints::{attempts_listing, endpoint_statements};
pub(crate) use events::event_statements;
pub(crate) use idempotency::idempotency_statements;
pub(crate) use listings::{batch_reads, campaign_statements};
pub(crate) use orgs::org_statements;
pub(crate) use pacing::{due_marks, pacing_statements};
pub(crate) use suppressions::suppression_statements;

//! Statements both engines run, written once. Each macro here expands inside an engine's module,
//! where these names mean that engine's own: `Store`, `Tx`, `Db` (its `sqlx::Database`),
//! `self.writes()`, `self.reads()` (listings) and `self.lookups()` (short reads by key) (its pools), and the value codecs `db_id` (an id as bound),
//! `db_at` (an instant as bound) and `db_small` (a status code as bound). Placeholders are `$N`,
//! which SQLite reads too.

mod batches;
mod claim;
mod contacts;
mod idempotency;
mod listings;
mod orgs;
mod pacing;

pub(crate) use batches::batch_writes;
pub(crate) use claim::claim_reads;
pub(crate) use contacts::{contact_reads, live_call_statements};
pub(crate) use idempotency::idempotency_statements;
pub(crate) use listings::{batch_reads, campaign_statements};
pub(crate) use orgs::org_statements;
pub(crate) use pacing::{due_marks, pacing_statements};

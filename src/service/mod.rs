//! Use-cases: each takes the store and `now`, opens the transactions it needs and applies domain rules.

pub mod batches;
pub mod campaigns;
pub mod idempotency;
pub mod stats;
pub mod tokens;

//! Use-cases: each takes the store and `now`, opens the transactions it needs and applies domain rules;
//! those that add work nudge the dispatcher ([`Wake`]) once it is visible.

pub mod batches;
pub mod calendars;
pub mod campaigns;
pub mod events;
pub mod idempotency;
pub mod stats;
pub mod suppressions;
pub mod tokens;
pub mod wake;
pub mod webhooks;

pub use wake::Wake;

//! Black-box HTTP tests: the real server, real Postgres, responses checked as JSON values.

#[allow(dead_code)] // a shared harness: not every test file uses every helper
mod common;

mod batches;
mod campaigns;
mod conventions;
mod counts;
mod dispatch;
mod docs;
mod events;
#[allow(dead_code)] // fakes offer more than each test uses
mod fakes;
mod hostile;
mod idempotency;
mod idempotency_crash;
mod jambonz;
mod limits;
mod livekit;
mod machines;
mod memory;
mod ops;
mod orgs;
mod pacing;
mod placement;
mod recipient;
mod stores;
mod suppressions;
mod telephony;
mod tls;
mod twilio;
mod wake;

//! Black-box HTTP tests: the real server, real Postgres, responses checked as JSON values.

mod common;

mod campaigns;
mod conventions;

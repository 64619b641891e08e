//! Test harness: the real server on 127.0.0.1:0 against a fresh database per test, on the store
//! `GRAINE_TEST_STORE` names: `postgres` (the default) or `sqlite`. The same tests run on both.
//!
//! `server`: fresh databases and the server on them; `http`: requests and what they answer; `clock`:
//! the test clock, waiting for the real-time loop, and holding what another replica would hold.

mod clock;
mod http;
mod server;

pub use clock::{DISPATCH_SLOTS, at, eventually, release_dispatch_slot};
pub use http::{Resp, campaign_body, campaign_path, id_of, instant};
pub use server::{Db, TestApp, fresh_postgres_url, fresh_sqlite_url, spawn_graine, sqlite};

/// The token every test server is bootstrapped with.
pub const TOKEN: &str = "gat_test_token_0123456789abcdef";

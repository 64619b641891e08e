//! Time and dispatch helpers: the test clock (start, advance, set), polling for the real-time loop,
//! the calls dispatch made, and holding a dispatch slot or a campaign's lock as another replica would.

use super::{Db, TestApp};
use graine::config::ServeConfig;
use serde_json::Value;

/// The advisory-lock namespace of dispatch slots (PostgreSQL), for tests that hold a slot as another
/// replica would.
pub const DISPATCH_SLOTS: &str = "1735550067";

/// Lets go of a slot taken by `TestApp::hold_dispatch_slot`.
pub async fn release_dispatch_slot(holder: &mut Db, slot: u32) {
    let sql = format!("SELECT CAST(CAST(pg_advisory_unlock({DISPATCH_SLOTS}, {slot}) AS INT) AS BIGINT)");
    assert_eq!(holder.number(&sql).await, 1, "slot {slot} was held");
}

/// Polls `check` until it holds, failing with `what` after 20 s: for tests of the real-time loop
/// (with the test clock nothing needs waiting for).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The instant an RFC 3339 text denotes.
pub fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

impl TestApp {
    /// A server whose test clock starts at `start` (RFC 3339).
    pub async fn with_clock(start: &str, adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start_with(|c| {
            c.test_clock = true;
            c.clock_start = Some(at(start));
            adjust(c);
        })
        .await
    }

    /// Advances the test clock and returns the new time as the server wrote it.
    pub async fn advance(&self, seconds: i64) -> String {
        let r = self.post("/api/v1/test/clock", serde_json::json!({ "advance_seconds": seconds })).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["now"].as_str().unwrap().to_owned()
    }

    /// Moves the test clock to `to` (RFC 3339).
    pub async fn set_clock(&self, to: &str) {
        let r = self.post("/api/v1/test/clock", serde_json::json!({ "set": to })).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// Every contact of a batch with its call records.
    pub async fn contacts_with_calls(&self, batch_id: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/batches/{batch_id}/contacts?include_calls=true&limit=1000")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body.as_array().unwrap().clone()
    }

    /// A PostgreSQL connection holding dispatch slot `slot` (a session lock), as another replica's
    /// dispatch transaction would, until `release_dispatch_slot`.
    pub async fn hold_dispatch_slot(&self, slot: u32) -> Db {
        let mut holder = self.db().await;
        let sql = format!("SELECT CAST(1 AS BIGINT) FROM (SELECT pg_advisory_lock({DISPATCH_SLOTS}, {slot})) AS held");
        holder.number(&sql).await;
        holder
    }

    /// A PostgreSQL connection holding the campaign's row lock in an open transaction, as a long
    /// upload or a replica frozen mid-transaction would, until it runs `ROLLBACK` or is dropped.
    pub async fn hold_campaign(&self, campaign: &str) -> Db {
        let mut holder = self.db().await;
        let _: Vec<(i64,)> = holder.rows("BEGIN").await;
        let id = graine::domain::ids::CampaignId::parse(campaign).unwrap().uuid();
        let locked: Vec<(i64,)> =
            holder.rows(&format!("SELECT CAST(1 AS BIGINT) FROM campaigns WHERE id = '{id}' FOR UPDATE")).await;
        assert_eq!(locked.len(), 1, "campaign {campaign} is locked");
        holder
    }
}

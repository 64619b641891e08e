//! Plans the dispatcher's statements on each new write connection, before any claim needs them.
//!
//! PostgreSQL plans a prepared statement on its first run on a connection, and the pool hands out
//! its idle connections in turn: without this, each connection's first claim after it opens (on a
//! new server, or after the pool replaced an old connection) paid 5–15 ms of planning, the slowest
//! samples of idle → first call (BENCHMARKS.md). The statements run, in a transaction rolled back,
//! on ids no row has, so they change nothing and lock nothing.

use super::{Tx, dispatch, wake};
use crate::domain::contact::ContactStatus;
use crate::domain::ids::{BatchId, CampaignId};
use crate::error::Error;
use crate::store::shared::BatchDelta;
use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Runs the claim path's statements once on `conn`; says whether it could. A failure (the tables
/// may not exist yet, before the first migration) only leaves them to be planned on first use.
pub(super) async fn statements(conn: &mut PgConnection) -> bool {
    match run(conn).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "statements not planned ahead on a new connection");
            false
        }
    }
}

async fn run(conn: &mut PgConnection) -> Result<(), Error> {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let campaign = CampaignId::from_uuid(Uuid::nil());
    wake::due_now(&mut *conn, at).await?;
    wake::dispatch_candidates(&mut *conn, at).await?;
    wake::still_due(&mut *conn, campaign, at).await?;
    let mut tx = Tx(conn.begin().await?);
    tx.lock_campaign_for_dispatch(campaign).await?;
    tx.running_batches(campaign, at).await?;
    tx.claim_contacts(BatchId::from_uuid(Uuid::nil()), at, 1).await?;
    tx.live_calls_by_number(campaign).await?;
    dispatch::write_calls(&mut tx.0, campaign, &[], 0, at).await?;
    // A claim's counter update: pending contacts become dispatched, or in progress when telephony
    // took the call at once.
    for to in [ContactStatus::Dispatched, ContactStatus::InProgress] {
        let mut delta = BatchDelta::default();
        delta.moved(ContactStatus::Pending, to);
        delta.in_flight += 1;
        dispatch::apply_batch_deltas(&mut tx.0, &BTreeMap::from([(Uuid::nil(), delta)]), at).await?;
    }
    tx.refresh_due_at(campaign).await?;
    tx.rollback().await
}

#[cfg(test)]
mod tests {
    use super::super::{Store, drop_test_database, test_database};

    #[tokio::test]
    async fn a_new_write_connection_has_the_claim_planned_before_its_first_claim() {
        let url = test_database();
        let store = Store::connect(&url, 4, None).await.unwrap();
        store.migrate().await.unwrap();
        store.fill().await.unwrap();
        let planned = |sql: &'static str| {
            let store = store.clone();
            async move {
                // A connection the pool opens now, and the one that was open before the tables.
                let mut held = vec![store.pool.acquire().await.unwrap(), store.pool.acquire().await.unwrap()];
                let mut counts = Vec::new();
                for conn in &mut held {
                    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut **conn).await.unwrap();
                    counts.push(n);
                }
                counts
            }
        };
        let claim = planned(
            "SELECT count(*) FROM pg_prepared_statements WHERE generic_plans > 0
               AND (statement LIKE '%FOR UPDATE SKIP LOCKED%' OR statement LIKE '%INSERT INTO call_records%'
                    OR statement LIKE '%WITH due AS%') AND statement NOT LIKE '%pg_prepared_statements%'",
        )
        .await;
        // Locking the campaign, the due and the pending contacts, writing the calls, the candidates
        // and the `due_at` refresh.
        assert!(claim.iter().all(|&n| n >= 6), "claim statements planned per connection: {claim:?}");
        store.close().await;
        drop_test_database(&url).await;
    }
}

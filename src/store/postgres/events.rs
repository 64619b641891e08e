//! Events and webhook deliveries on PostgreSQL: the statements written once (`store/common`), and
//! how a replica shows it is alive, so that the others take over the leases of one that died.

use super::Store;
use crate::domain::ids::EndpointId;
use crate::domain::webhook::Attempt;
use crate::error::Error;

crate::store::common::event_statements!();
crate::store::common::endpoint_statements!();
crate::store::common::delivery_statements!();

impl Store {
    /// Holds, on a connection of its own for as long as the store is open, the advisory lock of
    /// `owner`: while it is held, other replicas leave `owner`'s delivery leases alone; once this
    /// process dies its session ends, and they take them over at once.
    pub async fn announce_owner(&self, owner: i64) -> Result<(), Error> {
        use sqlx::Connection;
        let options = self.options.clone();
        let lock = move |options: sqlx::postgres::PgConnectOptions| async move {
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            sqlx::query("SELECT pg_advisory_lock($1)").bind(owner).execute(&mut conn).await?;
            Ok::<_, Error>(conn)
        };
        // Held before the first lease is taken, so that no replica takes this one's leases for a dead one's.
        let mut held = Ok(lock(options.clone()).await?);
        let keep = async move {
            loop {
                if let Ok(conn) = held.as_mut() {
                    // Checked now and then, so that a lost session is opened again.
                    while conn.ping().await.is_ok() {
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                held = lock(options.clone()).await;
            }
        };
        let task = tokio::spawn(keep).abort_handle();
        if let Ok(mut slot) = self.liveness.lock()
            && let Some(previous) = slot.replace(task)
        {
            previous.abort();
        }
        Ok(())
    }
}

/// Writes an endpoint's tries (at least one), each with its number, in one statement: their fields as arrays (a
/// stream's chunk holds hundreds; a parameter per field of each would be parsed and bound apiece).
async fn insert_attempts(
    conn: &mut sqlx::PgConnection,
    endpoint: EndpointId,
    numbered: &[(&Attempt, i64)],
) -> Result<(), Error> {
    let column = |f: fn(&(&Attempt, i64)) -> i64| numbered.iter().map(f).collect::<Vec<i64>>();
    let at: Vec<chrono::DateTime<chrono::Utc>> = numbered.iter().map(|(a, _)| a.attempted_at).collect();
    let status: Vec<Option<i64>> = numbered.iter().map(|(a, _)| a.status_code).collect();
    let error: Vec<Option<&str>> = numbered.iter().map(|(a, _)| a.error.as_deref()).collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (endpoint_id, seq, attempt, attempted_at, status_code, duration_ms, error)
         SELECT $1, * FROM UNNEST($2::int8[], $3::int8[], $4::timestamptz[], $5::int8[], $6::int8[], $7::text[])",
    )
    .bind(endpoint.uuid())
    .bind(column(|(a, _)| a.event.0))
    .bind(column(|(_, n)| *n))
    .bind(at)
    .bind(status)
    .bind(column(|(a, _)| a.duration_ms))
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{PRUNE_EVENTS, Store, drop_test_database, events_in_order, test_database};
    use crate::domain::events::{EventId, TypeFilter};
    use crate::domain::ids::OrgId;

    /// The pages a statement read (its buffers, found or fetched), from its `EXPLAIN (ANALYZE,
    /// BUFFERS, FORMAT JSON)`.
    fn pages(plan: &serde_json::Value) -> i64 {
        let count = |name: &str| plan[0]["Plan"][name].as_i64().unwrap();
        count("Shared Hit Blocks") + count("Shared Read Blocks")
    }

    async fn pages_read(conn: &mut sqlx::PgConnection, sql: &str, org: OrgId, after: i64, most: i64) -> i64 {
        let plan = sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"))
            .bind(org.uuid())
            .bind(after)
            .bind(most)
            .fetch_one(conn)
            .await
            .unwrap();
        pages(&plan)
    }

    /// Without statistics on the events (a new database before its first analyze, or autovacuum
    /// off), reading the next events of a backlog reads about as many pages as it returns, as with
    /// them: not the whole backlog after the cursor, which made catching up cost its square.
    #[tokio::test]
    async fn reading_into_a_backlog_without_statistics_reads_only_the_events_it_returns() {
        let url = test_database();
        let store = Store::connect(&url, 2, None).await.unwrap();
        store.migrate().await.unwrap();
        let (org, other) = (OrgId::from_uuid(uuid::Uuid::now_v7()), OrgId::from_uuid(uuid::Uuid::now_v7()));
        // 60,000 events, every third another organization's.
        sqlx::query(
            "INSERT INTO events (seq, organization_id, type, subject_id, created_at)
             SELECT g, CASE WHEN g % 3 = 0 THEN $2 ELSE $1 END, 'call.ended', gen_random_uuid(), now()
             FROM generate_series(1, 60000) g",
        )
        .bind(org.uuid())
        .bind(other.uuid())
        .execute(&store.pool)
        .await
        .unwrap();
        let read = store.events_after(org, EventId(1000), &TypeFilter::All, 100).await.unwrap();
        let seqs: Vec<i64> = read.iter().map(|e| e.id.0).collect();
        let expected: Vec<i64> = (1001..).filter(|s| s % 3 != 0).take(100).collect();
        assert_eq!(seqs, expected);
        let mut conn = store.pool.acquire().await.unwrap();
        let sql = events_in_order("seq", false);
        // The first read plans the statement; the second is the one measured.
        pages_read(&mut conn, &sql, org, 1000, 100).await;
        let pages = pages_read(&mut conn, &sql, org, 1000, 100).await;
        assert!(pages < 50, "{pages} pages read for 100 events");
        drop(conn);
        store.close().await;
        drop_test_database(&url).await;
    }

    /// A chunk of pruning reads about as many pages as it deletes, not every event before the
    /// retention's limit, nor the whole table: an hour's pruning would otherwise cost its square.
    #[tokio::test]
    async fn a_chunk_of_pruning_reads_only_the_events_it_deletes() {
        let url = test_database();
        let store = Store::connect(&url, 2, None).await.unwrap();
        store.migrate().await.unwrap();
        // 200,000 events, one a second: the first half 40 days old and more, the second half 10.
        sqlx::query(
            "INSERT INTO events (seq, organization_id, type, subject_id, created_at)
             SELECT g, gen_random_uuid(), 'call.ended', gen_random_uuid(),
                    now() - CASE WHEN g <= 100000 THEN interval '40 days' ELSE interval '10 days' END + g * interval '1 second'
             FROM generate_series(1, 200000) g",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let before = chrono::Utc::now() - chrono::Duration::days(30);
        let plan = sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {PRUNE_EVENTS}"))
            .bind(before)
            .bind(100_i64)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let pages = pages(&plan);
        assert!(pages < 1000, "{pages} pages read to delete 100 events");
        // The oldest go first, and the store goes on from where that chunk stopped.
        assert_eq!(store.prune_events(before, 100).await.unwrap(), 100);
        let first: i64 = sqlx::query_scalar("SELECT min(seq) FROM events").fetch_one(&store.pool).await.unwrap();
        assert_eq!(first, 201);
        store.close().await;
        drop_test_database(&url).await;
    }
}

//! The Postgres store: pool, migrations, transactions and error mapping.

mod batches;
mod campaigns;
mod cells;
mod contacts;
mod counts;
mod dispatch;
mod events;
mod idempotency;
mod live;
mod orgs;
mod pacing;
mod release;
mod settle;
mod suppressions;
mod transfer;
mod wake;
mod warm;

use crate::error::Error;
use crate::store::contract::implement_contract;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The channel on which token revocations are announced, so every replica drops its cached tokens.
pub const TOKENS_CHANNEL: &str = "graine_tokens";

/// How many write connections stay open however idle the server is.
const WARM_CONNECTIONS: u32 = 4;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// API reads: a few connections only, so that reads which cost the database CPU queue here
    /// rather than crowd its cores (writes wait on the log flush instead, and gain from a larger pool).
    reads: PgPool,
    /// How to open a connection outside the pools (for the long-lived listener).
    options: PgConnectOptions,
    /// Set when a write connection opened before the tables existed, so could not plan the
    /// claim's statements (see `fill`).
    cold: Arc<AtomicBool>,
    /// The task that shows this process alive to the others (see `announce_owner`).
    liveness: Arc<std::sync::Mutex<Option<tokio::task::AbortHandle>>>,
}

/// How a claim locks the rows it reads: until the transaction ends, skipping rows another holds
/// (`SKIP_LOCKED`) or waiting for them (`LOCKED`).
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
const LOCKED: &str = " FOR UPDATE";

/// The index a claim by zone key reads: PostgreSQL's planner finds it from its statistics.
const ZONE_INDEX: &str = "";

/// How a statement holds a row it reads against the row's deletion, until its transaction ends.
const KEY_SHARE: &str = " FOR KEY SHARE";

/// A webhook endpoint `w`'s event types (a JSON array) as rows `t(value)`.
const TYPES_OF_ENDPOINT: &str = "json_array_elements_text(w.events::json) AS t(value)";

/// A batch `b`'s zone keys (a JSON array) as rows `k(value)`.
const KEYS_OF_BATCH: &str = "json_array_elements_text(b.zone_keys::json) AS k(value)";

/// The engine of the statements written once (`store/common`).
type Db = Postgres;

/// An id as PostgreSQL binds it: `uuid`.
fn db_id(u: uuid::Uuid) -> uuid::Uuid {
    u
}

/// An instant as PostgreSQL binds it: `timestamptz`.
fn db_at(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    t
}

/// A list of ids as PostgreSQL binds it (`uuid[]`), and the test of an id column against the
/// parameter `param` holding one.
fn db_ids(ids: Vec<uuid::Uuid>) -> Vec<uuid::Uuid> {
    ids
}

fn among_ids(param: &str) -> String {
    format!("= ANY({param})")
}

/// The test of a text column against the parameter `param` holding a list of texts (`db_texts`).
fn among_texts(param: &str) -> String {
    format!("= ANY({param})")
}

/// The statement reading an organization's next events (`$1`) after a number (`$2`), in order, at
/// most `$3`, of the types `$4` when `only`: through `events_after` (its migration says why), which
/// walks the feed's index in order whatever statistics the table has.
fn events_in_order(columns: &str, only: bool) -> String {
    let kinds = if only { "$4" } else { "NULL" };
    format!("SELECT {columns} FROM events_after($1, $2, $3, {kinds})")
}

/// Deletes a chunk of the oldest events before `$1`, at most `$2`: found through the index on
/// `created_at`, then deleted by their places in the table. No index has `seq` alone (it is unique
/// within an organization's feed), so deleting `WHERE seq IN (…)` joined the chunk with every event
/// before `$1`, or with the whole table: each chunk cost the table, and an hour's pruning its square.
const PRUNE_EVENTS: &str = "DELETE FROM events
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2))";

/// How a claim holds its organization's row while it reads the do-not-call list, and how an
/// addition to the list holds it (they exclude each other; foreign-key checks are not held up).
const ORG_SHARED: &str = " FOR SHARE";
const ORG_EXCLUSIVE: &str = " FOR NO KEY UPDATE";

/// A list of texts as PostgreSQL binds it: `text[]`.
fn db_texts(items: Vec<&str>) -> Result<Vec<&str>, Error> {
    Ok(items)
}

/// A list of integers as PostgreSQL binds it (`bigint[]`), and the test against it.
fn db_ints(items: Vec<i64>) -> Vec<i64> {
    items
}

fn among_ints(param: &str) -> String {
    format!("= ANY({param})")
}

/// The test that a lease's holder (`column`, its process key) is gone: no session holds the
/// advisory lock of its key (see `announce_owner`). Read once per statement.
fn owner_gone(column: &str) -> String {
    format!(
        "{column} NOT IN (SELECT (l.classid::bigint << 32) | l.objid::bigint FROM pg_locks l
                          WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted)"
    )
}

/// What a statement that writes events itself (not through a table's trigger) runs after it, so
/// that the transaction numbers them at commit.
const REGISTER_EVENTS: Option<&str> = Some("SELECT register_events()");

/// The cast a JSON text parameter needs to be stored in a `json` column.
const JSON: &str = "::json";

impl Store {
    /// Writes and transactions.
    fn writes(&self) -> &PgPool {
        &self.pool
    }

    /// API reads: records and listings.
    fn reads(&self) -> &PgPool {
        &self.reads
    }

    /// Short reads by key (tokens, organizations): the write pool, so that they never queue behind
    /// listings on the read pool.
    fn lookups(&self) -> &PgPool {
        &self.pool
    }
}

/// A transaction opened by a service; dropped without `commit` it rolls back.
pub struct Tx<'c>(sqlx::Transaction<'c, Postgres>);

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), Error> {
        Ok(self.0.commit().await?)
    }

    /// Undoes the transaction now.
    pub async fn rollback(self) -> Result<(), Error> {
        Ok(self.0.rollback().await?)
    }
}

impl Store {
    /// Connects to `url`, creating the database first when it does not exist. A transaction left
    /// idle for `idle_transaction_timeout` is ended by the database: ours never pause between
    /// statements, so it belongs to a frozen or cut-off process, and ending it frees the campaign
    /// locks and the dispatch slot it holds for the other replicas.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        idle_transaction_timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        let options = PgConnectOptions::from_str(url).map_err(Error::internal)?;
        // Set on each new connection rather than as a startup option, which poolers such as
        // PgBouncer refuse by default.
        let set_idle = idle_transaction_timeout
            .map(|idle| format!("SET idle_in_transaction_session_timeout = {}", idle.as_millis()));
        if !Postgres::database_exists(url).await.unwrap_or(true) {
            // Another replica may win the race to create it; that is fine.
            if let Err(e) = Postgres::create_database(url).await
                && !Postgres::database_exists(url).await.unwrap_or(false)
            {
                return Err(Error::internal(e));
            }
        }
        let cold = Arc::new(AtomicBool::new(false));
        let pool_of = |size: u32, generic_plans: bool| {
            PgPoolOptions::new()
                .max_connections(size)
                // The write pool keeps a few connections open, their statements planned (see
                // `warm`), so that a claim on an idle server does not open one first.
                .min_connections(if generic_plans { WARM_CONNECTIONS.min(size) } else { 1 })
                // No ping before each use: a broken connection still surfaces as an error, and the
                // round trip cost a fifth of a simple request's throughput.
                .test_before_acquire(false)
                // ...except once, for a connection idle since another one was found dead.
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if super::idle_since_connection_lost(meta.idle_for) {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                // While the database is away a request waits this long for a connection, then gets 503.
                .acquire_timeout(Duration::from_secs(2))
                .after_connect({
                    let set_idle = set_idle.clone();
                    let cold = cold.clone();
                    move |conn, _| {
                        let set_idle = set_idle.clone();
                        let cold = cold.clone();
                        Box::pin(async move {
                            if let Some(sql) = set_idle {
                                sqlx::Executor::execute(&mut *conn, sql.as_str()).await?;
                            }
                            if generic_plans {
                                // Planned once per connection and the plan kept: the dispatcher's
                                // statements took longer to plan than to run (BENCHMARKS.md).
                                sqlx::Executor::execute(&mut *conn, "SET plan_cache_mode = force_generic_plan").await?;
                                if !warm::statements(conn).await {
                                    cold.store(true, Ordering::Relaxed);
                                }
                            }
                            Ok(())
                        })
                    }
                })
        };
        // Writes and dispatch keep generic plans; reads (listings, whose best plan may depend on the
        // page asked for) are planned for their parameters.
        // Lazy, so that the start does not wait for the idle minimum (see `fill`); one connection
        // now, so that a database out of reach fails the start.
        let pool = pool_of(max_connections, true).connect_lazy_with(options.clone());
        drop(pool.acquire().await?);
        let reads = pool_of(super::read_pool_size().min(max_connections), false).connect_lazy_with(options.clone());
        Ok(Self { pool, reads, options, cold, liveness: Arc::default() })
    }

    /// Applies every pending migration (serialised across replicas by an advisory lock).
    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.pool).await.map_err(Error::internal)?;
        Ok(())
    }

    /// Opens the write pool's idle minimum, each connection planning the claim's statements as it
    /// opens; when one opened before the tables existed (a new database), plans them again on the
    /// connections held, that one among them. Run once the server serves, in the background.
    pub async fn fill(&self) -> Result<(), Error> {
        let mut open = Vec::new();
        while open.len() < WARM_CONNECTIONS.min(self.pool.options().get_max_connections()) as usize {
            open.push(self.pool.acquire().await?);
        }
        if self.cold.swap(false, Ordering::Relaxed) {
            for conn in &mut open {
                warm::statements(conn).await;
            }
        }
        Ok(())
    }

    pub async fn ready(&self) -> Result<(), Error> {
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?;
        if applied < MIGRATOR.iter().count() as i64 {
            return Err(Error::Unavailable("migrations are not applied".into()));
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx<'static>, Error> {
        Ok(Tx(self.pool.begin().await?))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        if let Some(task) = self.liveness.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        self.reads.close().await;
        self.pool.close().await;
    }

    pub async fn token_events(&self) -> Result<TokenEvents, Error> {
        // On a connection of its own, so that it never takes one of the pool's.
        let own = PgPoolOptions::new().max_connections(1).connect_lazy_with(self.options.clone());
        let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
        listener.listen(TOKENS_CHANNEL).await?;
        Ok(TokenEvents(listener))
    }
}

/// A subscription to token revocations.
pub struct TokenEvents(sqlx::postgres::PgListener);

impl TokenEvents {
    /// Waits for the next revocation. After a lost connection it reconnects and returns too, since
    /// a revocation may have been missed meanwhile.
    pub async fn next(&mut self) -> Result<(), Error> {
        self.0.try_recv().await?;
        Ok(())
    }
}

implement_contract!("postgres");

/// A database of its own on the test server (as the API suite names it), for a unit test.
#[cfg(test)]
fn test_database() -> String {
    let url = std::env::var("GRAINE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://localhost:5432/postgres".into());
    let server = url.rsplit_once('/').map_or(url.as_str(), |(s, _)| s).to_owned();
    format!("{server}/graine_t_{}", uuid::Uuid::now_v7().simple())
}

/// Drops a database `test_database` named.
#[cfg(test)]
async fn drop_test_database(url: &str) {
    use sqlx::Connection;
    let (server, name) = url.rsplit_once('/').unwrap_or_default();
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
}

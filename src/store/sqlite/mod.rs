//! The embedded SQLite store: one database file owned by one server, one writer connection, WAL readers.
//!
//! Writes are serialised by design: every transaction and every write runs on the single writer
//! connection, so no two writers ever meet and `SQLITE_BUSY` never decides an outcome. Row locks
//! of the Postgres store (`FOR UPDATE`, `SKIP LOCKED`) have no counterpart here because holding
//! the writer is already exclusive. API reads use a pool of read connections that see the last
//! committed state (WAL), as Postgres readers do.

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

use crate::error::Error;
use crate::store::contract::implement_contract;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-sqlite");

/// A handle on the database file; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// The one connection that writes.
    writer: SqlitePool,
    /// Readers for API reads and the dispatcher's scans.
    reads: SqlitePool,
    own: Arc<Ownership>,
}

/// What this process holds on the file: the server's lock, and a throwaway file to delete.
#[derive(Debug)]
struct Ownership {
    path: PathBuf,
    lock: std::sync::Mutex<Option<std::fs::File>>,
    throwaway: bool,
    /// Serialises first-start bootstraps within the process (the only one that may own the file).
    bootstrap: tokio::sync::Mutex<()>,
}

impl Ownership {
    fn release(&self) {
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
        if self.throwaway {
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let _ = std::fs::remove_file(with_suffix(&self.path, suffix));
            }
        }
    }
}

impl Drop for Ownership {
    fn drop(&mut self) {
        self.release();
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A transaction on the writer; dropped without `commit` it rolls back.
pub struct Tx<'c>(sqlx::Transaction<'c, Sqlite>);

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), Error> {
        Ok(self.0.commit().await?)
    }

    /// Undoes the transaction now, handing the writer back.
    pub async fn rollback(self) -> Result<(), Error> {
        Ok(self.0.rollback().await?)
    }
}

/// The file a `sqlite:` URL names: `None` for `sqlite::memory:` (a throwaway database).
fn file_of(url: &str) -> Result<Option<PathBuf>, Error> {
    let rest = url.strip_prefix("sqlite:").ok_or_else(|| Error::internal(format!("not a sqlite URL: {url}")))?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest.split('?').next().unwrap_or_default();
    Ok(match rest {
        "" | ":memory:" => None,
        path => Some(PathBuf::from(path)),
    })
}

impl Store {
    /// Opens (creating when missing) the database a `sqlite:` URL names. A server (`owner`) takes
    /// the file for itself: a second server on the same file is refused. Tools (the CLI) share it.
    pub async fn connect(url: &str, max_connections: u32, owner: bool) -> Result<Self, Error> {
        let (path, throwaway) = match file_of(url)? {
            Some(path) => (path, false),
            None => {
                let name = format!("graine-memory-{}.db", Uuid::now_v7().simple());
                (std::env::temp_dir().join(name), true)
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("cannot create the directory {}: {e}", dir.display())))?;
        }
        let lock = if owner { Some(take_file(&path)?) } else { None };
        let own = Arc::new(Ownership {
            path: path.clone(),
            lock: std::sync::Mutex::new(lock),
            throwaway,
            bootstrap: tokio::sync::Mutex::new(()),
        });
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A throwaway database need not survive a crash; a real one survives a killed process.
            .synchronous(if throwaway { SqliteSynchronous::Off } else { SqliteSynchronous::Normal })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            // A 100,000-contact batch holds the writer for about a second.
            .acquire_timeout(Duration::from_secs(30))
            // Page caches (negative: KiB): 4 MiB for the writer, 2 MiB per reader. The OS caches the file
            // anyway; larger caches measured no faster and grew the process by their size (with 4 MiB
            // per reader and 8 MiB for the writer, a server idle after ten 100,000-contact batches held
            // 42 MiB; with these, 38 MiB, and ingest measured as fast). The writer
            // checkpoints the log itself (SQLite's default, every 1,000 pages): checkpointing from a
            // reader every second instead measured more POSTs per second but a p99 two to three times
            // longer, as each checkpoint's sync stalled the writes around it.
            .connect_with(options.clone().pragma("cache_size", "-4096"))
            .await?;
        let readers = super::read_pool_size().min(max_connections.max(2));
        let reads = SqlitePoolOptions::new()
            .max_connections(readers)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with(options.pragma("cache_size", "-2048"));
        Ok(Self { writer, reads, own })
    }

    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.writer).await.map_err(Error::internal)
    }

    /// Nothing to open ahead: the writer is one connection, open from the start.
    pub async fn fill(&self) -> Result<(), Error> {
        Ok(())
    }

    pub async fn ready(&self) -> Result<(), Error> {
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.reads).await?;
        if applied < MIGRATOR.iter().count() as i64 {
            return Err(Error::Unavailable("migrations are not applied".into()));
        }
        Ok(())
    }

    /// Opens a transaction on the writer, taking the file's write lock at once.
    pub async fn begin(&self) -> Result<Tx<'static>, Error> {
        Ok(Tx(self.writer.begin_with("BEGIN IMMEDIATE").await?))
    }

    /// Closes every connection and gives the file up (a throwaway database is deleted).
    pub async fn close(&self) {
        self.reads.close().await;
        self.writer.close().await;
        self.own.release();
    }

    /// Subscribes to token revocations. The CLI may revoke a token while the server runs (it shares
    /// the file), so revocations are noticed by watching the revoked tokens' count.
    pub async fn token_events(&self) -> Result<TokenEvents, Error> {
        let seen = self.revoked_tokens().await?;
        Ok(TokenEvents { store: self.clone(), seen })
    }

    async fn revoked_tokens(&self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL")
            .fetch_one(&self.reads)
            .await?)
    }

    /// Runs `f` alone among this process's bootstraps (no other process may own the file).
    pub async fn with_bootstrap_lock<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let _alone = self.own.bootstrap.lock().await;
        f().await
    }
}

/// Takes the server's lock on `<file>.lock`, or explains who holds it.
fn take_file(path: &Path) -> Result<std::fs::File, Error> {
    let lock_path = with_suffix(path, ".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::internal(format!(
            "the SQLite database {} is already used by another graine server; an embedded database \
             belongs to one server at a time (run several replicas against Postgres instead)",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::internal(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
}

/// A subscription to token revocations: polls the revoked tokens' count ten times a second (an
/// indexed count on a small table, in process).
pub struct TokenEvents {
    store: Store,
    seen: i64,
}

impl TokenEvents {
    /// Waits until a token is revoked.
    pub async fn next(&mut self) -> Result<(), Error> {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.store.revoked_tokens().await?;
            if now != self.seen {
                self.seen = now;
                return Ok(());
            }
        }
    }
}

pub(super) use super::shared::json_text;
pub(super) use cells::{id, id_list, instant, micros};

/// No row locks: a transaction holds the one writer, so no other transaction runs meanwhile.
const SKIP_LOCKED: &str = "";
const LOCKED: &str = "";

/// The index a claim by zone key reads. Without statistics SQLite would take the batch's pending
/// range in upload order and filter it by key, reading every waiting contact of the closed keys.
const ZONE_INDEX: &str = " INDEXED BY contacts_zone_due";

/// A batch `b`'s zone keys (a JSON array) as rows `k(value)`.
const KEYS_OF_BATCH: &str = "json_each(b.zone_keys) AS k";
/// A webhook endpoint `w`'s event types (a JSON array) as rows `t(value)`.
const TYPES_OF_ENDPOINT: &str = "json_each(w.events) AS t";
/// The one writer holds every row a statement reads until its transaction ends.
const KEY_SHARE: &str = "";

/// The engine of the statements written once (`store/common`), with its codecs.
type Db = Sqlite;
use id as db_id;
use micros as db_at;

/// A list of texts as SQLite stores it: a JSON array.
fn db_texts(items: Vec<&str>) -> Result<String, Error> {
    json_text(&items)
}

/// A list of ids as bound (a JSON array of their text), and the test of an id column against the
/// parameter `param` holding one.
fn db_ids(ids: Vec<Uuid>) -> String {
    id_list(ids)
}

fn among_ids(param: &str) -> String {
    format!("IN (SELECT value FROM json_each({param}))")
}

/// The test of a text column against the parameter `param` holding a list of texts (`db_texts`).
fn among_texts(param: &str) -> String {
    among_ids(param)
}

/// The statement reading an organization's next events (`$1`) after a number (`$2`), in order, at
/// most `$3`, of the types `$4` when `only`: SQLite walks the feed's index for the order asked.
fn events_in_order(columns: &str, only: bool) -> String {
    let only = if only { format!(" AND type {}", among_texts("$4")) } else { String::new() };
    format!("SELECT {columns} FROM events WHERE organization_id = $1 AND seq > $2{only} ORDER BY seq LIMIT $3")
}

/// Deletes a chunk of the oldest events before `$1`, at most `$2`, found through the index on
/// `created_at`; `seq` is the table's row id, so each is deleted where it lies.
const PRUNE_EVENTS: &str =
    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2)";

/// No row lock: the one writer already orders a claim and an addition to the do-not-call list.
const ORG_SHARED: &str = "";
const ORG_EXCLUSIVE: &str = "";

/// A list of integers as bound (a JSON array), and the test against it.
fn db_ints(items: Vec<i64>) -> String {
    serde_json::Value::from(items).to_string()
}

fn among_ints(param: &str) -> String {
    among_ids(param)
}

/// A lease's holder is never gone while the lease runs: the one server owns the file, and forgets
/// every lease when it starts (see `announce_owner`).
fn owner_gone(_column: &str) -> String {
    "false".into()
}

/// Nothing to run after writing an event: the row id already follows commit order.
const REGISTER_EVENTS: Option<&str> = None;

/// JSON is stored as the text it is bound as.
const JSON: &str = "";

impl Store {
    /// Writes and transactions: the one writer.
    fn writes(&self) -> &SqlitePool {
        &self.writer
    }

    /// API reads: records and listings.
    fn reads(&self) -> &SqlitePool {
        &self.reads
    }

    /// Short reads by key (tokens, organizations).
    fn lookups(&self) -> &SqlitePool {
        &self.reads
    }
}

implement_contract!("sqlite");

//! Starting test servers: a fresh database of this run's store (a PostgreSQL database, or a SQLite
//! file), the server on it and its replicas, stopping it, and the `graine` CLI against its database.

use super::TOKEN;
use graine::config::ServeConfig;
use graine::startup;
use std::sync::OnceLock;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// Where test databases are created: `GRAINE_TEST_DATABASE_URL` names the server (any database on it).
fn server_url() -> String {
    let url = std::env::var("GRAINE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://localhost:5432/postgres".into());
    match url.rfind('/') {
        Some(i) if url[..i].contains("://") && url[i..].len() > 1 => url[..i].to_owned(),
        _ => url.trim_end_matches('/').to_owned(),
    }
}

static CLEANED: OnceCell<()> = OnceCell::const_new();

/// Drops databases left by earlier runs (this binary runs alone, so none of them is in use).
async fn drop_stale_databases() {
    CLEANED
        .get_or_init(|| async {
            use sqlx::Connection;
            let Ok(mut conn) = sqlx::PgConnection::connect(&format!("{}/postgres", server_url())).await else { return };
            let names: Vec<String> =
                sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'graine\\_t\\_%'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
            for name in names {
                let _ =
                    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await;
            }
        })
        .await;
}

/// The store this run tests: `GRAINE_TEST_STORE`, `postgres` unless it says `sqlite`.
pub fn sqlite() -> bool {
    std::env::var("GRAINE_TEST_STORE").is_ok_and(|s| s == "sqlite")
}

/// Where this run's SQLite test databases are created.
fn sqlite_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("graine-tests")
}

static CLEANED_FILES: OnceLock<()> = OnceLock::new();

/// A new Postgres database URL (the database is created by whoever connects first).
pub async fn fresh_postgres_url() -> String {
    drop_stale_databases().await;
    format!("{}/graine_t_{}", server_url(), uuid::Uuid::now_v7().simple())
}

/// A new SQLite database URL, in a directory emptied of earlier runs' files on first use.
pub fn fresh_sqlite_url() -> String {
    CLEANED_FILES.get_or_init(|| {
        let _ = std::fs::remove_dir_all(sqlite_dir());
        std::fs::create_dir_all(sqlite_dir()).unwrap();
    });
    format!("sqlite://{}", sqlite_dir().join(format!("{}.db", uuid::Uuid::now_v7().simple())).display())
}

#[path = "../../support/db.rs"]
mod db;
pub use db::Db;

/// A running server with its own database.
pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    join: Option<tokio::task::JoinHandle<Result<(), graine::error::Error>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

static LOGGING: OnceLock<()> = OnceLock::new();

impl TestApp {
    /// Starts a server on a fresh database with the default settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server on a fresh database of this run's store, letting the test adjust the settings first.
    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        if sqlite() {
            Self::start_on(&fresh_sqlite_url(), adjust).await
        } else {
            Self::start_postgres_with(adjust).await
        }
    }

    /// Starts a server on a fresh Postgres database, whatever this run's store.
    pub async fn start_postgres_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start_on(&fresh_postgres_url().await, adjust).await
    }

    /// Starts a server on a fresh SQLite file, whatever this run's store.
    pub async fn start_sqlite_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start_on(&fresh_sqlite_url(), adjust).await
    }

    /// Starts a server on an existing test database (a second replica of another `TestApp`).
    pub async fn start_on(database_url: &str, adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        LOGGING.get_or_init(|| {
            if std::env::var_os("GRAINE_TEST_LOG").is_some() {
                let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
            }
        });
        let database_url = database_url.to_owned();
        let mut config = ServeConfig::for_database(&database_url, "127.0.0.1:0".parse().unwrap());
        config.bootstrap_token = Some(TOKEN.into());
        adjust(&mut config);
        let shutdown = CancellationToken::new();
        let running = startup::start(config, shutdown.clone()).await.expect("server starts");
        Self {
            base: format!("http://{}", running.addr),
            database_url,
            client: reqwest::Client::new(),
            shutdown,
            join: Some(running.join),
        }
    }

    /// Whether another server may share this one's database (Postgres; a SQLite file has one server).
    pub fn shares_database(&self) -> bool {
        !self.database_url.starts_with("sqlite:")
    }

    /// A second replica on this server's database, when the store allows one.
    pub async fn replica(&self, adjust: impl FnOnce(&mut ServeConfig)) -> Option<Self> {
        if self.shares_database() { Some(Self::start_on(&self.database_url, adjust).await) } else { None }
    }

    /// Stops the server and waits until it has let go of its database.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(join) = self.join.take() {
            join.await.unwrap().unwrap();
        }
    }

    /// A direct connection to this server's database.
    pub async fn db(&self) -> Db {
        Db::connect(&self.database_url).await
    }

    /// Runs the `graine` binary against this server's database; returns stdout, panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_graine"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .output()
            .expect("graine runs");
        assert!(out.status.success(), "graine {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates a second organization and a token for it through the CLI: `(org_id, token)`.
    pub fn other_org(&self) -> (String, String) {
        let org = self.cli(&["org", "create", "Other Org"]).trim().to_owned();
        let token = self.cli(&["token", "create", "--org", &org]).trim().to_owned();
        (org, token)
    }

    /// The `tok_` ids of the tokens of `org`, from `graine token list`.
    pub fn token_ids_of(&self, org: &str) -> Vec<String> {
        self.cli(&["token", "list", "--org", org])
            .lines()
            .filter_map(|line| line.split('\t').next())
            .filter(|id| id.starts_with("tok_"))
            .map(str::to_owned)
            .collect()
    }
}

/// A real `graine serve` process on `url` with the bootstrap token and `args`, its logs quiet; returns
/// it and the base URL it says it listens on (for tests that kill it or read its memory).
pub fn spawn_graine(url: &str, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_graine"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", url, "--bootstrap-token", TOKEN])
        .args(args)
        .env("GRAINE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("graine runs");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("the server says where it listens").unwrap();
        if let Some(url) = line.strip_prefix("graine listening on ") {
            break url.trim().to_owned();
        }
    };
    (child, base)
}

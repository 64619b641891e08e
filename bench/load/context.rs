//! The run's context: its options, HTTP client, Postgres admin pool and log directory; fresh bench
//! databases and servers started on them; and the CPU used between two marks by a server, its Postgres
//! backends and this process.

use super::processes::{Server, cpu_ticks, free_port, machine_busy_ticks};
use super::{Opts, StoreKind, TOKEN};
use sqlx::PgPool;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Ctx {
    pub(crate) opts: Opts,
    pub(crate) client: reqwest::Client,
    pub(crate) admin: PgPool,
    pub(crate) graine_bin: PathBuf,
    pub(crate) logs: PathBuf,
    pub(crate) ticks: f64,
    /// Makes idempotency keys unique across runs.
    pub(crate) nonce: u128,
}

impl Ctx {
    pub(crate) fn db_url(&self, db: &str) -> String {
        format!("{}/{db}", self.opts.pg.trim_end_matches('/'))
    }

    /// Where graine keeps a bench database: on the Postgres server, or in a SQLite file.
    fn graine_url(&self, db: &str) -> String {
        match self.opts.store {
            StoreKind::Postgres => self.db_url(db),
            StoreKind::Sqlite => format!("sqlite://{}", self.logs.join(format!("{db}.db")).display()),
        }
    }

    /// Drops and recreates a bench database (and deletes its SQLite files).
    pub(crate) async fn fresh_db(&self, name: &str) {
        assert!(name.starts_with("graine_bench_"), "only bench databases are dropped");
        for suffix in [".db", ".db-wal", ".db-shm", ".db.lock"] {
            let _ = std::fs::remove_file(self.logs.join(format!("{name}{suffix}")));
        }
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&self.admin)
            .await
            .expect("drop bench database");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&self.admin).await.expect("create bench database");
    }

    /// Starts `graine serve` on a fresh port; `log_level` None keeps the product's default (info).
    pub(crate) async fn start_graine(&self, name: &str, db: &str, log_level: Option<&str>) -> Server {
        let port = free_port();
        let log = self.logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create server log");
        let mut cmd = Command::new(&self.graine_bin);
        cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &self.graine_url(db)])
            .args(["--bootstrap-token", TOKEN])
            .env_remove("GRAINE_LOG")
            .env_remove("DATABASE_URL")
            .env_remove("GRAINE_DB_MAX_CONNECTIONS")
            .env_remove("GRAINE_MAX_BODY_BYTES")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        if let Some(level) = log_level {
            cmd.env("GRAINE_LOG", level);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.graine_bin.display()));
        let server = Server { name: name.into(), child, base: format!("http://127.0.0.1:{port}"), db: db.into(), log };
        self.wait_ready(&server, "/readyz").await;
        server
    }

    /// Starts the bare axum + sqlx server (this binary, `bare-server`).
    pub(crate) async fn start_bare(&self, name: &str, db: &str, ping: bool) -> Server {
        let port = free_port();
        let log = self.logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create server log");
        let exe = std::env::current_exe().expect("own executable");
        let child = Command::new(exe)
            .args(["bare-server", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &self.db_url(db)])
            .args(if ping { &[][..] } else { &["--no-ping"][..] })
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start the bare server");
        let server = Server { name: name.into(), child, base: format!("http://127.0.0.1:{port}"), db: db.into(), log };
        self.wait_ready(&server, "/healthz").await;
        server
    }

    async fn wait_ready(&self, server: &Server, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let r = self.client.get(format!("{}{path}", server.base)).timeout(Duration::from_secs(2)).send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        panic!("{} did not become ready within 60 s; its log:\n{log}", server.name);
    }

    /// The Postgres backends serving a database now.
    async fn backends(&self, db: &str) -> Vec<u32> {
        let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
            .bind(db)
            .fetch_all(&self.admin)
            .await
            .unwrap_or_default();
        pids.into_iter().map(|p| p as u32).collect()
    }
}

/// CPU seconds used between two points by the server, its Postgres backends and this process.
pub(crate) struct CpuMark {
    at: Instant,
    server: u64,
    postgres: u64,
    backends: Vec<u32>,
    client: u64,
    machine: u64,
}

/// CPU use over a window, in % of one core (200% = both cores of this machine).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuUse {
    pub(crate) server: f64,
    pub(crate) postgres: f64,
    pub(crate) client: f64,
    /// Everything else on the machine: other processes, Postgres's background workers, the kernel.
    pub(crate) other: f64,
    pub(crate) secs: f64,
}

impl CpuMark {
    pub(crate) async fn take(ctx: &Ctx, server: &Server) -> Self {
        let backends = ctx.backends(&server.db).await;
        Self {
            at: Instant::now(),
            server: cpu_ticks(server.pid()),
            postgres: backends.iter().map(|p| cpu_ticks(*p)).sum(),
            backends,
            client: cpu_ticks(std::process::id()),
            machine: machine_busy_ticks(),
        }
    }

    /// CPU use since `self`.
    pub(crate) fn since(&self, ctx: &Ctx, server: &Server) -> CpuUse {
        let secs = self.at.elapsed().as_secs_f64();
        let pct = |ticks: u64| ticks as f64 / ctx.ticks / secs * 100.0;
        let pg_now: u64 = self.backends.iter().map(|p| cpu_ticks(*p)).sum();
        let server = pct(cpu_ticks(server.pid()).saturating_sub(self.server));
        let postgres = pct(pg_now.saturating_sub(self.postgres));
        let client = pct(cpu_ticks(std::process::id()).saturating_sub(self.client));
        let machine = pct(machine_busy_ticks().saturating_sub(self.machine));
        CpuUse { server, postgres, client, other: (machine - server - postgres - client).max(0.0), secs }
    }
}

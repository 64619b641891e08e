//! Test harness: the real server on 127.0.0.1:0 against a fresh database per test, on the store
//! `GRAINE_TEST_STORE` names: `postgres` (the default) or `sqlite`. The same tests run on both.

use graine::config::ServeConfig;
use graine::startup;
use reqwest::Method;
use serde_json::Value;
use std::sync::OnceLock;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// The token every test server is bootstrapped with.
pub const TOKEN: &str = "gat_test_token_0123456789abcdef";

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

#[path = "../support/db.rs"]
mod db;
pub use db::Db;

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

/// A response read whole: status, headers and the body as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `detail` string of an error body.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// The `loc` paths of a 422 body, joined with dots.
    pub fn error_locs(&self) -> Vec<String> {
        self.body["detail"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        e["loc"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

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

    /// Sends a request with the bootstrap token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_as(TOKEN, method, path, body).await
    }

    /// Sends a request with `token` (empty: no Authorization header).
    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        Self::read(req.send().await.expect("request sent")).await
    }

    /// A request builder for `path`, with the bootstrap token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN)
    }

    async fn read(response: reqwest::Response) -> Resp {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
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

    /// Creates a campaign from `body` and returns it (asserting `201`).
    pub async fn create_campaign(&self, body: Value) -> Value {
        let r = self.post("/api/v1/campaigns/", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
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
}

/// A minimal valid campaign body.
pub fn campaign_body(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "agent_id": "agent_abc123",
        "phone_numbers": ["+919876543210", "+919876543211"],
    })
}

// ---- Helpers added for the campaign, conventions, idempotency, orgs and ops suites ----

impl Resp {
    /// The `X-Total-Count` header as a number.
    pub fn total_count(&self) -> i64 {
        self.header("x-total-count")
            .unwrap_or_else(|| panic!("no X-Total-Count header: {:?}", self.headers))
            .parse()
            .expect("X-Total-Count is an integer")
    }

    /// The 422 items as `(loc joined with dots, type)`, sorted.
    pub fn error_items(&self) -> Vec<(String, String)> {
        let types = self.body["detail"]
            .as_array()
            .map(|items| items.iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut items: Vec<_> = self.error_locs().into_iter().zip(types).collect();
        items.sort();
        items
    }

    /// Asserts a `422` whose items are located exactly at `locs` (dot-joined, any order), each with
    /// a non-empty `msg` and `type`.
    pub fn assert_invalid_at(&self, locs: &[&str]) {
        assert_eq!(self.status, 422, "expected 422, got {}: {}", self.status, self.text);
        let items = self.body["detail"].as_array().unwrap_or_else(|| panic!("detail is not a list: {}", self.text));
        for item in items {
            assert!(item["msg"].as_str().is_some_and(|m| !m.is_empty()), "item without msg: {item}");
            assert!(item["type"].as_str().is_some_and(|t| !t.is_empty()), "item without type: {item}");
            assert!(item["loc"].is_array(), "item without loc: {item}");
        }
        let mut got = self.error_locs();
        got.sort();
        let mut want: Vec<String> = locs.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{}", self.text);
    }

    /// The `msg` of the 422 item at `loc` (dot-joined).
    pub fn error_msg(&self, loc: &str) -> String {
        let locs = self.error_locs();
        let i = locs.iter().position(|l| l == loc).unwrap_or_else(|| panic!("no error at {loc}: {}", self.text));
        self.body["detail"][i]["msg"].as_str().unwrap_or_default().to_owned()
    }
}

/// The `campaign_id` of a campaign object.
pub fn id_of(campaign: &Value) -> String {
    campaign["campaign_id"].as_str().unwrap_or_else(|| panic!("no campaign_id in {campaign}")).to_owned()
}

/// The path of one campaign, with an optional suffix (`""`, `"/pause"`, …).
pub fn campaign_path(id: &str, suffix: &str) -> String {
    format!("/api/v1/campaigns/{id}{suffix}")
}

impl TestApp {
    /// Creates a campaign with `token` and returns it (asserting `201`).
    pub async fn create_campaign_as(&self, token: &str, body: Value) -> Value {
        let r = self.call_as(token, Method::POST, "/api/v1/campaigns/", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    /// Lists campaigns with `query` (e.g. `"?status=draft"`) as `token`: the items and `X-Total-Count`.
    pub async fn list_campaigns_as(&self, token: &str, query: &str) -> (Vec<Value>, i64) {
        let r = self.call_as(token, Method::GET, &format!("/api/v1/campaigns/{query}"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body.as_array().unwrap_or_else(|| panic!("not a list: {}", r.text)).clone();
        (items, r.total_count())
    }

    /// Lists campaigns with the bootstrap token.
    pub async fn list_campaigns(&self, query: &str) -> (Vec<Value>, i64) {
        self.list_campaigns_as(TOKEN, query).await
    }

    /// How many campaigns the bootstrap token's organization has.
    pub async fn campaign_count(&self) -> i64 {
        self.list_campaigns("").await.1
    }

    /// Sends raw bytes as a JSON body with the bootstrap token.
    pub async fn send_raw(&self, method: Method, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        let req = self.request(method, path).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        self.send(req).await
    }

    /// A request builder on a client that never follows redirects (so a `3xx` shows as itself).
    pub fn request_no_redirect(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        client.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN)
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

/// A timestamp field parsed as RFC 3339 (panics with the value when it is not one).
pub fn instant(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a timestamp string: {v}"));
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

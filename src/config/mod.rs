//! Typed settings for `graine serve`, from flags with `GRAINE_…` environment twins, validated at start.

mod providers;

pub use providers::ProviderArgs;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;

/// The database used when neither `--database-url` nor `DATABASE_URL` is given: an embedded SQLite
/// file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://graine.db";

/// Where the database lives.
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// Where data lives: `sqlite://<file>` (embedded, one server per file), `sqlite::memory:` (a
    /// throwaway database) or `postgres://…` (several replicas); created when it does not exist.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Largest number of pooled database connections for writes and the dispatcher; API reads use a
    /// smaller pool of their own (twice this host's CPUs, at least 4, at most this).
    #[arg(long, env = "GRAINE_DB_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,
    /// PostgreSQL: seconds a transaction may sit idle before the database ends it (0: never). Ours
    /// never pause between statements; one that does belongs to a frozen or cut-off process, and
    /// ending it frees the campaign locks and the dispatch slot it holds.
    #[arg(long, env = "GRAINE_DB_IDLE_TRANSACTION_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub db_idle_transaction_timeout: u32,
}

impl DatabaseArgs {
    /// How long PostgreSQL lets a transaction sit idle, if at all.
    pub fn idle_transaction_timeout(&self) -> Option<std::time::Duration> {
        (self.db_idle_transaction_timeout > 0)
            .then(|| std::time::Duration::from_secs(u64::from(self.db_idle_transaction_timeout)))
    }
}

/// How calls are placed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Telephony {
    /// No network: calls ring and end on the server's clock.
    Simulated,
    /// A signed POST to `--telephony-url` per call.
    Http,
    /// Twilio's Calls API (API.md §7.1).
    Twilio,
    /// jambonz's REST API (API.md §7.1).
    Jambonz,
    /// LiveKit's agent dispatch and SIP services (API.md §7.1).
    Livekit,
}

/// Events and customer webhooks (API.md §13).
#[derive(Args, Clone, Debug)]
pub struct EventArgs {
    /// Days events (and their delivery tries) are kept.
    #[arg(long, env = "GRAINE_EVENT_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,
    /// Accept `http://` webhook endpoint URLs (for tests; production endpoints use `https://`).
    #[arg(long, env = "GRAINE_ALLOW_HTTP_WEBHOOKS")]
    pub allow_http_webhooks: bool,
    /// Accept webhook endpoints on private, loopback and link-local addresses (for tests and private
    /// networks; refused by default, so that an endpoint cannot reach inside the server's network).
    #[arg(long, env = "GRAINE_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// The longest a read of the event feed waits for an event, whatever its `wait_seconds` (below
    /// the idle timeout of a proxy in front of the server, say).
    #[arg(long, env = "GRAINE_EVENT_WAIT_MAX_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=30))]
    pub event_wait_max_seconds: u32,
}

impl Default for EventArgs {
    fn default() -> Self {
        Self {
            event_retention_days: 30,
            allow_http_webhooks: false,
            allow_private_webhooks: false,
            event_wait_max_seconds: 30,
        }
    }
}

/// How log lines are written.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines with key=value fields.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting of `graine serve` (API.md §10).
#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "GRAINE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// How calls are placed.
    #[arg(long, env = "GRAINE_TELEPHONY", value_enum, default_value_t = Telephony::Simulated)]
    pub telephony: Telephony,
    /// Where the http placer sends calls.
    #[arg(long, env = "GRAINE_TELEPHONY_URL")]
    pub telephony_url: Option<String>,
    /// The server's externally reachable base URL (`https://graine.example.com`): providers send
    /// call status to it.
    #[arg(long, env = "GRAINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Calls all replicas together may start in any one second (0: unlimited).
    #[arg(long, env = "GRAINE_CALLS_PER_SECOND", default_value_t = 0)]
    pub calls_per_second: u32,
    #[command(flatten)]
    pub providers: ProviderArgs,
    #[command(flatten)]
    pub events: EventArgs,
    /// A PEM file of certificate authorities that outbound HTTPS trusts besides the system's (for
    /// a telephony service behind a private CA).
    #[arg(long, env = "GRAINE_EXTRA_CA_CERTS")]
    pub extra_ca_certs: Option<std::path::PathBuf>,
    /// Signing secret (`whsec_<base64>`) for placer requests and telephony callbacks.
    #[arg(long, env = "GRAINE_WEBHOOK_SECRET")]
    pub webhook_secret: Option<String>,
    /// Seconds after which a call with no outcome is closed as failed (`status_timeout`).
    #[arg(long, env = "GRAINE_CALL_TIMEOUT", default_value_t = 1800, value_parser = clap::value_parser!(u32).range(1..))]
    pub call_timeout: u32,
    /// Length of an answered simulated call, in seconds.
    #[arg(long, env = "GRAINE_SIMULATED_CALL_SECONDS", default_value_t = 120)]
    pub simulated_call_seconds: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "GRAINE_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1 << 32))]
    pub max_body_bytes: u64,
    /// Requests per minute each API token may make on this server (bursts up to the same number);
    /// more get `429` with `Retry-After`. 0: no limit.
    #[arg(long, env = "GRAINE_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// Failed authentications (bad or missing token, forged callback signature) each client address
    /// may make per minute, in bursts of as many; past them it is answered `429` with `Retry-After`
    /// before its credentials cost any database work. 0: no limit.
    #[arg(long, env = "GRAINE_AUTH_FAILURE_LIMIT", default_value_t = 60)]
    pub auth_failure_limit: u32,
    /// Seconds a client may take to send a request's head, or pause while sending its body; a
    /// slower one is disconnected (head) or answered `408` (body).
    #[arg(long, env = "GRAINE_CLIENT_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub client_timeout: u64,
    /// Largest request head (request line and headers), in bytes; a larger one gets `431`.
    #[arg(long, env = "GRAINE_MAX_HEADER_BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(8192..=1 << 24))]
    pub max_header_bytes: u64,
    /// Freeze the clock; it moves only through `/api/v1/test/clock`.
    #[arg(long, env = "GRAINE_TEST_CLOCK")]
    pub test_clock: bool,
    /// Where the test clock starts (RFC 3339); default: the real time at start.
    #[arg(long, env = "GRAINE_CLOCK_START", requires = "test_clock")]
    pub clock_start: Option<DateTime<Utc>>,
    /// Make the first token a known value (`gat_…`), idempotently.
    #[arg(long, env = "GRAINE_BOOTSTRAP_TOKEN")]
    pub bootstrap_token: Option<String>,
    /// Run the dispatcher in this process (`false`: serve the API only; calls are placed by other replicas).
    #[arg(long, env = "GRAINE_DISPATCH", default_value_t = true, action = clap::ArgAction::Set)]
    pub dispatch: bool,
    /// Dispatch transactions (claims and settles of calls) that may run at once across every
    /// replica on the database; about the database's CPU cores. Give every replica the same value.
    #[arg(long, env = "GRAINE_DISPATCH_STREAMS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub dispatch_streams: u32,
    /// Log line format.
    #[arg(long, env = "GRAINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ServeConfig {
    /// Checks the settings that depend on each other; the message is shown to the operator.
    pub fn validate(&self) -> Result<(), String> {
        let postgres = self.database.database_url.starts_with("postgres");
        if postgres && self.dispatch && self.dispatch_streams >= self.database.db_max_connections {
            return Err(format!(
                "--dispatch-streams ({}) must be below --db-max-connections ({}): each stream holds a pooled \
                 connection while it works, and API writes need connections too",
                self.dispatch_streams, self.database.db_max_connections
            ));
        }
        if self.telephony == Telephony::Http && self.telephony_url.is_none() {
            return Err("--telephony http needs --telephony-url".into());
        }
        if let Some(url) = &self.telephony_url {
            crate::outbound::check_url("--telephony-url", url)?;
        }
        if let Some(url) = &self.public_url {
            crate::outbound::check_url("--public-url", url)?;
        }
        self.providers.validate(self.telephony, self.public_url.as_deref())?;
        if let Some(path) = &self.extra_ca_certs {
            crate::outbound::extra_roots(path)?;
        }
        if self.telephony == Telephony::Http && self.webhook_secret.is_none() {
            return Err(
                "--telephony http needs --webhook-secret (whsec_<base64>) to sign calls and verify callbacks".into()
            );
        }
        if let Some(secret) = &self.webhook_secret
            && crate::signing::Secret::parse(secret).is_none()
        {
            return Err("--webhook-secret must be whsec_ followed by the base64 of at least 16 bytes".into());
        }
        if let Some(token) = &self.bootstrap_token
            && !crate::service::tokens::is_well_formed(token)
        {
            return Err(
                "--bootstrap-token must look like gat_ followed by 20 to 200 letters, digits, '-' or '_'".into()
            );
        }
        Ok(())
    }

    /// Settings for tests and embedding: everything at its default, the given database and bind address.
    pub fn for_database(database_url: &str, bind: SocketAddr) -> Self {
        Self {
            bind,
            database: DatabaseArgs {
                database_url: database_url.to_owned(),
                db_max_connections: 8,
                db_idle_transaction_timeout: 10,
            },
            telephony: Telephony::Simulated,
            telephony_url: None,
            public_url: None,
            calls_per_second: 0,
            providers: ProviderArgs {
                twilio_api_url: "https://api.twilio.com".into(),
                jambonz_api_url: "https://api.jambonz.cloud".into(),
                ..ProviderArgs::default()
            },
            events: EventArgs::default(),
            extra_ca_certs: None,
            webhook_secret: None,
            call_timeout: 1800,
            simulated_call_seconds: 120,
            max_body_bytes: 32 * 1024 * 1024,
            rate_limit: 0,
            auth_failure_limit: 60,
            client_timeout: 30,
            max_header_bytes: 64 * 1024,
            test_clock: false,
            clock_start: None,
            bootstrap_token: None,
            dispatch: true,
            dispatch_streams: 2,
            log_format: LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> ServeConfig {
        ServeConfig::for_database(url, "127.0.0.1:0".parse().unwrap())
    }

    #[test]
    fn dispatch_streams_must_leave_postgres_connections_for_the_api() {
        let mut c = config("postgres://localhost/graine");
        assert_eq!(c.validate(), Ok(()));
        c.dispatch_streams = c.database.db_max_connections;
        let refused = c.validate().unwrap_err();
        assert!(refused.contains("--dispatch-streams (8) must be below --db-max-connections (8)"), "{refused}");
        // An API-only replica runs no streams.
        c.dispatch = false;
        assert_eq!(c.validate(), Ok(()));
        // SQLite's pool size counts readers only; its writes go through one connection anyway.
        let mut c = config("sqlite://graine.db");
        c.dispatch_streams = c.database.db_max_connections;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn http_telephony_needs_a_url_and_a_secret() {
        let mut c = config("sqlite::memory:");
        c.telephony = Telephony::Http;
        assert_eq!(c.validate(), Err("--telephony http needs --telephony-url".into()));
        c.telephony_url = Some("http://127.0.0.1:9/".into());
        assert!(c.validate().unwrap_err().starts_with("--telephony http needs --webhook-secret"));
    }
}

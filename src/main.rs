//! The `graine` command line: serve, migrate, and manage organizations and tokens.

/// The allocator: one that hands freed memory back to the system (BENCHMARKS.md, "Memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use graine::clock::Clock;
use graine::config::{DatabaseArgs, LogFormat, ServeConfig};
use graine::domain::ids::{OrgId, TokenId};
use graine::error::Error;
use graine::service::tokens;
use graine::startup;
use graine::store::{self, Store};
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "graine", version, about = "Outbound AI voice-call campaign server (Graine-compatible API)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (applies migrations first).
    Serve(Box<ServeConfig>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Copy an embedded SQLite database into a new Postgres one, to move to several replicas.
    /// Stop the server first; the target must be empty (it is created and migrated if needed).
    MigrateStore {
        /// The SQLite database to copy (sqlite://<file>).
        #[arg(long)]
        from: String,
        /// The Postgres database to fill (postgres://…).
        #[arg(long)]
        to: String,
    },
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization and print its id.
    Create {
        /// A display name.
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List organizations.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for an organization; the token is printed once and never stored in clear.
    Create {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// A label for listings.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List tokens (ids, prefixes, status), optionally of one organization.
    List {
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke a token by its id (tok_…); every server stops accepting it at once.
    Revoke {
        id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRAINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn open(db: &DatabaseArgs) -> Result<Arc<dyn Store>, Error> {
    let store = store::connect(&db.database_url, 2, false, db.idle_transaction_timeout()).await?;
    store.migrate().await?;
    Ok(store)
}

fn parse_org(text: &str) -> Result<OrgId, String> {
    OrgId::parse(text).ok_or_else(|| format!("'{text}' is not an organization id (org_…)"))
}

async fn run(command: Command) -> Result<(), String> {
    let now = Clock::System.now();
    let fail = |e: Error| match e {
        // Outside a request an internal error is the cause itself (a refused start, a bad URL).
        Error::Internal(cause) => cause.to_string(),
        e => format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()),
    };
    match command {
        Command::Serve(config) => {
            config.validate()?;
            init_logging(config.log_format);
            let shutdown = CancellationToken::new();
            let running = startup::start(*config, shutdown.clone()).await.map_err(fail)?;
            if let Some(b) = &running.bootstrap {
                match &b.minted_token {
                    Some(token) => println!(
                        "Created organization {} and its first API token (shown only once):\n\n    {token}\n",
                        b.organization_id
                    ),
                    None => println!("Registered the bootstrap token for organization {}", b.organization_id),
                }
            }
            println!("graine listening on http://{}", running.addr);
            let mut join = running.join;
            tokio::select! {
                result = &mut join => return result.map_err(|e| e.to_string())?.map_err(fail),
                _ = startup::termination_signal() => {}
            }
            tracing::info!("shutting down");
            shutdown.cancel();
            join.await.map_err(|e| e.to_string())?.map_err(fail)?;
            tracing::info!("stopped");
        }
        Command::Migrate(db) => {
            open(&db).await.map_err(fail)?;
            println!("migrations applied");
        }
        Command::MigrateStore { from, to } => {
            if !from.starts_with("sqlite:") || !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
                return Err("migrate-store copies --from sqlite://<file> --to postgres://…".into());
            }
            if from.trim_start_matches("sqlite:").trim_start_matches('/').is_empty() || from.contains(":memory:") {
                return Err("--from must name a SQLite file".into());
            }
            // As owner: a server still writing to the file would make the copy stale at once.
            let source = store::connect(&from, 2, true, None).await.map_err(fail)?;
            source.migrate().await.map_err(fail)?;
            let target = store::connect(&to, 2, false, None).await.map_err(fail)?;
            target.migrate().await.map_err(fail)?;
            let copied = store::transfer::sqlite_to_postgres(&*source, &*target).await.map_err(fail)?;
            for (table, n) in copied {
                println!("{table}\t{n}");
            }
            source.close().await;
            target.close().await;
            println!("copied; serve from the Postgres database now (DATABASE_URL=postgres://…)");
        }
        Command::Org(OrgCommand::Create { name, db }) => {
            if name.trim().is_empty() || name.chars().count() > 200 {
                return Err("the name must be 1 to 200 characters".into());
            }
            let store = open(&db).await.map_err(fail)?;
            let id = OrgId::generate();
            store.insert_org(id, &name, now).await.map_err(fail)?;
            println!("{id}");
        }
        Command::Org(OrgCommand::List { db }) => {
            let store = open(&db).await.map_err(fail)?;
            for org in store.list_orgs().await.map_err(fail)? {
                println!("{}\t{}\t{}", org.id, org.created_at.to_rfc3339(), org.name);
            }
        }
        Command::Token(TokenCommand::Create { org, name, db }) => {
            let org = parse_org(&org)?;
            let store = open(&db).await.map_err(fail)?;
            if !store.org_exists(org).await.map_err(fail)? {
                return Err(format!("organization {org} does not exist"));
            }
            let (clear, record) = tokens::create(&*store, org, &name, now).await.map_err(fail)?;
            eprintln!("token {} for {org} (shown only once):", record.id);
            println!("{clear}");
        }
        Command::Token(TokenCommand::List { org, db }) => {
            let org = org.as_deref().map(parse_org).transpose()?;
            let store = open(&db).await.map_err(fail)?;
            for t in store.list_tokens(org).await.map_err(fail)? {
                let state = t.revoked_at.map_or("active".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                println!("{}\t{}\t{}…\t{}\t{}", t.id, t.organization_id, t.token_prefix, state, t.name);
            }
        }
        Command::Token(TokenCommand::Revoke { id, db }) => {
            let id = TokenId::parse(&id).ok_or_else(|| format!("'{id}' is not a token id (tok_…)"))?;
            let store = open(&db).await.map_err(fail)?;
            if !store.revoke_token(id, now).await.map_err(fail)? {
                return Err(format!("no active token {id}"));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("graine: {message}");
            ExitCode::FAILURE
        }
    }
}

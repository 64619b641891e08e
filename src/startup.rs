//! Builds and runs the server: database, migrations, bootstrap, listener, background tasks, graceful stop.

use crate::clock::Clock;
use crate::config::{ServeConfig, Telephony};
use crate::dispatch::Dispatcher;
use crate::error::Error;
use crate::http::server::{self, ClientLimits};
use crate::http::{AppState, Shared, app};
use crate::metrics::Metrics;
use crate::outbound::OutboundTls;
use crate::outbound::guard::WebhookRules;
use crate::service::idempotency;
use crate::service::tokens::{self, Bootstrap, TokenCache};
use crate::signing::Secret;
use crate::store::{self, Store, TokenEvents};
use crate::telephony::http::HttpPlacer;
use crate::telephony::jambonz::{AgentApp, JambonzPlacer};
use crate::telephony::jambonz_callbacks::JambonzCallbacks;
use crate::telephony::livekit::LiveKitPlacer;
use crate::telephony::livekit_callbacks::LiveKitCallbacks;
use crate::telephony::placer::{Learned, Placer};
use crate::telephony::simulated::SimulatedPlacer;
use crate::telephony::twilio::{AgentLink, TwilioPlacer};
use crate::telephony::twilio_callbacks::TwilioCallbacks;
use crate::webhooks::Deliveries;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A server that is listening.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// What the first start created, to show the operator once.
    pub bootstrap: Option<Bootstrap>,
    /// Ends when the server has stopped (after `shutdown` is cancelled and requests have drained).
    pub join: JoinHandle<Result<(), Error>>,
}

/// Connects, migrates, bootstraps, binds and starts serving; stops when `shutdown` is cancelled.
pub async fn start(config: ServeConfig, shutdown: CancellationToken) -> Result<Running, Error> {
    config.validate().map_err(Error::internal)?;
    let db = &config.database;
    let store = store::connect(&db.database_url, db.db_max_connections, true, db.idle_transaction_timeout()).await?;
    store.migrate().await?;
    let clock = match (config.test_clock, config.clock_start) {
        (true, Some(start)) => Clock::manual(start),
        (true, None) => Clock::manual(Clock::System.now()),
        (false, _) => Clock::System,
    };
    let bootstrap = tokens::bootstrap(&*store, config.bootstrap_token.as_deref(), clock.now()).await?;
    let listener = tokio::net::TcpListener::bind(config.bind).await.map_err(Error::internal)?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    let webhook_secret = config.webhook_secret.as_deref().and_then(Secret::parse);
    let tls = OutboundTls::new(config.extra_ca_certs.as_deref()).map_err(Error::internal)?;
    // What placers learn after a placement returned (a LiveKit dial's answer), to the dispatcher.
    let (late_reports, late) = tokio::sync::mpsc::unbounded_channel();
    let placer: Arc<dyn Placer> = match config.telephony {
        Telephony::Simulated => Arc::new(SimulatedPlacer { call_seconds: config.simulated_call_seconds }),
        Telephony::Http => {
            let url = config.telephony_url.clone().unwrap_or_default();
            let secret =
                webhook_secret.clone().ok_or_else(|| Error::internal("http telephony needs a webhook secret"))?;
            Arc::new(HttpPlacer::new(url, secret, &tls).map_err(Error::internal)?)
        }
        Telephony::Twilio => Arc::new(twilio_placer(&config, &tls)?),
        Telephony::Jambonz => Arc::new(jambonz_placer(&config, &tls)?),
        Telephony::Livekit => Arc::new(livekit_placer(&config, late_reports, &tls)?),
    };
    let twilio = match (config.telephony, &config.providers.twilio_auth_token, &config.public_url) {
        (Telephony::Twilio, Some(token), Some(public)) => Some(TwilioCallbacks::new(token, public)),
        _ => None,
    };
    let p = &config.providers;
    let jambonz = (config.telephony == Telephony::Jambonz)
        .then(|| JambonzCallbacks::new(p.jambonz_webhook_secret.as_deref(), p.jambonz_webhook_auth.as_deref()));
    let livekit = match (config.telephony, &p.livekit_api_key, &p.livekit_api_secret) {
        (Telephony::Livekit, Some(key), Some(secret)) => Some(LiveKitCallbacks::new(key, secret)),
        _ => None,
    };
    let metrics = Arc::new(Metrics::default());
    let call_timeout = chrono::Duration::seconds(i64::from(config.call_timeout));
    let dispatcher = Arc::new(
        Dispatcher::new(
            store.clone(),
            clock.clone(),
            placer,
            call_timeout,
            config.dispatch,
            config.dispatch_streams,
            metrics.clone(),
        )
        .with_calls_per_second(config.calls_per_second),
    );
    let events = crate::service::events::EventWatch::default();
    let endpoint_changes = crate::service::webhooks::EndpointChanges::default();
    let webhook_rules = WebhookRules {
        allow_http: config.events.allow_http_webhooks,
        allow_private: config.events.allow_private_webhooks,
    };
    let deliveries = Arc::new(Deliveries::new(
        store.clone(),
        clock.clone(),
        crate::outbound::hooks::HookClient::new(&tls, crate::webhooks::TIMEOUT, webhook_rules),
        webhook_rules,
        Arc::new(crate::http::ApiViews),
        events.clone(),
        endpoint_changes.clone(),
    ));
    let state = AppState::new(Shared {
        store: store.clone(),
        clock: clock.clone(),
        tokens: TokenCache::default(),
        metrics: metrics.clone(),
        max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
        rate_limits: (config.rate_limit > 0)
            .then(|| std::sync::Mutex::new(crate::http::rate::RateLimits::new(config.rate_limit))),
        auth_failures: crate::http::FailureLimiter::new(config.auth_failure_limit),
        dispatcher: dispatcher.clone(),
        wake: dispatcher.wakeup.clone(),
        events: events.clone(),
        endpoint_changes,
        event_wait_max: Duration::from_secs(u64::from(config.events.event_wait_max_seconds)),
        webhook_rules,
        webhook_secret,
        twilio,
        jambonz,
        livekit,
    });
    // Subscribed before the first request is served, so that no token read from now on can be
    // revoked unseen.
    let revocations = store.token_events().await?;
    tokio::spawn(forget_revoked_tokens(state.clone(), revocations, shutdown.clone()));
    tokio::spawn(dispatcher.clone().follow(late));
    let dispatch_loop = tokio::spawn(dispatcher.run(shutdown.clone()));
    tokio::spawn(events.clone().run(store.clone(), shutdown.clone()));
    tokio::spawn(deliveries.run(shutdown.clone()));
    let retention = chrono::Duration::days(i64::from(config.events.event_retention_days));
    tokio::spawn(prune_events(store.clone(), clock.clone(), retention, shutdown.clone()));
    tokio::spawn(purge_idempotency_keys(store.clone(), clock, shutdown.clone()));
    tokio::spawn(fold_list_counts(store.clone(), shutdown.clone()));
    let fill = store.clone();
    tokio::spawn(async move {
        if let Err(e) = fill.fill().await {
            tracing::debug!(error = %e, "idle connections not opened ahead");
        }
    });
    let service = app(state);
    let join = tokio::spawn(async move {
        let limits = ClientLimits {
            timeout: Duration::from_secs(config.client_timeout),
            max_header_bytes: usize::try_from(config.max_header_bytes).unwrap_or(usize::MAX),
        };
        server::serve(listener, service, limits, shutdown).await;
        // Stop claiming before the pool closes; calls already placed end by their own rules.
        let _ = dispatch_loop.await;
        store.close().await;
        Ok(())
    });
    tracing::info!(%addr, "listening");
    Ok(Running { addr, bootstrap, join })
}

/// Drops cached tokens whenever any process revokes one, and after a lost subscription (which may
/// have missed one) once subscribed anew.
async fn forget_revoked_tokens(state: AppState, mut events: Box<dyn TokenEvents>, shutdown: CancellationToken) {
    loop {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                event = events.next() => {
                    state.tokens.clear();
                    if event.is_err() {
                        break;
                    }
                }
            }
        }
        events = loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                subscribed = state.store.token_events() => match subscribed {
                    Ok(events) => break events,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot subscribe to token revocations; retrying");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                },
            }
        };
        state.tokens.clear();
    }
}

/// Folds the listings' count deltas every second, so that counting reads few of them.
async fn fold_list_counts(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {
                if let Err(e) = store.fold_list_counts().await {
                    tracing::warn!(error = %e, "folding listing counts failed");
                }
            }
        }
    }
}

/// Deletes events (and delivery tries) past their retention, hourly, a chunk at a time; every second
/// under the test clock, so that moving it past the retention removes them at once.
async fn prune_events(store: Arc<dyn Store>, clock: Clock, retention: chrono::Duration, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(if clock.is_manual() { 1 } else { 3600 }));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {
                let before = clock.now() - retention;
                loop {
                    match store.prune_events(before, 10_000).await {
                        Ok(10_000) => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "pruning events failed");
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Deletes idempotency records past their retention, hourly.
async fn purge_idempotency_keys(store: Arc<dyn Store>, clock: Clock, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {
                if let Err(e) = idempotency::purge(&*store, clock.now()).await {
                    tracing::warn!(error = %e, "idempotency purge failed");
                }
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The Twilio placer the flags describe (checked by `ServeConfig::validate`).
fn twilio_placer(config: &ServeConfig, tls: &OutboundTls) -> Result<TwilioPlacer, Error> {
    let p = &config.providers;
    let missing = || Error::internal("twilio settings were checked at start");
    let account = p.twilio_account_sid.as_deref().ok_or_else(missing)?;
    let credentials = match (&p.twilio_api_key, &p.twilio_api_secret) {
        (Some(key), Some(secret)) => (key.clone(), secret.clone()),
        _ => (account.to_owned(), p.twilio_auth_token.clone().ok_or_else(missing)?),
    };
    let agent = match (&p.twilio_stream_url, &p.twilio_twiml_url) {
        (Some(stream), _) => AgentLink::Stream(stream.clone()),
        (None, Some(url)) => AgentLink::TwimlUrl(url.clone()),
        (None, None) => return Err(missing()),
    };
    let public = config.public_url.as_deref().ok_or_else(missing)?;
    TwilioPlacer::new(&p.twilio_api_url, account, credentials, public, agent, tls).map_err(Error::internal)
}

/// The jambonz placer the flags describe (checked by `ServeConfig::validate`).
fn jambonz_placer(config: &ServeConfig, tls: &OutboundTls) -> Result<JambonzPlacer, Error> {
    let p = &config.providers;
    let missing = || Error::internal("jambonz settings were checked at start");
    let app = match (&p.jambonz_application_sid, &p.jambonz_call_hook_url) {
        (Some(sid), _) => AgentApp::Application(sid.clone()),
        (None, Some(hook)) => AgentApp::CallHook(hook.clone()),
        (None, None) => return Err(missing()),
    };
    JambonzPlacer::new(
        &p.jambonz_api_url,
        p.jambonz_account_sid.as_deref().ok_or_else(missing)?,
        p.jambonz_api_key.as_deref().ok_or_else(missing)?,
        config.public_url.as_deref().ok_or_else(missing)?,
        p.jambonz_webhook_auth.as_deref(),
        app,
        tls,
    )
    .map_err(Error::internal)
}

/// The LiveKit placer the flags describe (checked by `ServeConfig::validate`); what its dials learn
/// goes to `learned`.
fn livekit_placer(
    config: &ServeConfig,
    learned: tokio::sync::mpsc::UnboundedSender<Learned>,
    tls: &OutboundTls,
) -> Result<LiveKitPlacer, Error> {
    let p = &config.providers;
    let missing = || Error::internal("livekit settings were checked at start");
    LiveKitPlacer::new(
        p.livekit_url.as_deref().ok_or_else(missing)?,
        p.livekit_api_key.as_deref().ok_or_else(missing)?,
        p.livekit_api_secret.as_deref().ok_or_else(missing)?,
        p.livekit_sip_trunk_id.as_deref().ok_or_else(missing)?,
        learned,
        tls,
    )
    .map_err(Error::internal)
}

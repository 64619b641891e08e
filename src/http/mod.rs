//! The HTTP edge: router, shared state and the layers every request passes through.

mod auth;
mod batch_body;
#[cfg(test)]
mod batch_body_props;
mod batch_contacts;
mod batches;
mod calendar_body;
mod calendars;
mod campaign_body;
mod campaigns;
mod contacts;
mod error;
mod events;
mod extract;
mod idempotency;
mod json;
mod ops;
pub mod rate;
pub mod server;
mod stats;
mod suppressions;
mod test_clock;
mod validate;
mod webhook_endpoints;
mod webhooks;

use crate::clock::Clock;
use crate::dispatch::Dispatcher;
use crate::metrics::Metrics;
use crate::service::tokens::TokenCache;
use crate::store::Store;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tracing::Instrument;

pub use auth::FailureLimiter;
pub use events::ApiViews;
pub use ops::OPENAPI_YAML;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    pub tokens: TokenCache,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// Requests left per token (`--rate-limit`); `None` when unlimited.
    pub rate_limits: Option<std::sync::Mutex<crate::http::rate::RateLimits>>,
    /// Failed authentications per client address (`--auth-failure-limit`).
    pub auth_failures: auth::FailureLimiter,
    /// The dispatcher: told of telephony's reports, and driven by the test clock.
    pub dispatcher: Arc<Dispatcher>,
    /// The dispatcher's wake-up, handed to the use-cases that add work.
    pub wake: crate::service::Wake,
    /// Every organization's newest event, for long polls.
    pub events: crate::service::events::EventWatch,
    /// The streams this replica is sending, stopped when their endpoint changes.
    pub endpoint_changes: crate::service::webhooks::EndpointChanges,
    /// The longest a feed read waits (`--event-wait-max-seconds`).
    pub event_wait_max: std::time::Duration,
    /// Where webhook endpoints may point.
    pub webhook_rules: crate::outbound::guard::WebhookRules,
    /// Verifies telephony callbacks; without it every callback is refused.
    pub webhook_secret: Option<crate::signing::Secret>,
    /// Verifies Twilio's callbacks, when the server places calls through Twilio.
    pub twilio: Option<crate::telephony::twilio_callbacks::TwilioCallbacks>,
    /// Authenticates jambonz's callbacks, when the server places calls through jambonz.
    pub jambonz: Option<crate::telephony::jambonz_callbacks::JambonzCallbacks>,
    /// Authenticates LiveKit's webhooks, when the server places calls through LiveKit.
    pub livekit: Option<crate::telephony::livekit_callbacks::LiveKitCallbacks>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// Every route the server serves: method, path as documented in `openapi.yaml` (collections with a
/// trailing slash), and handler. The router is built from this table, and a test checks the table
/// against the OpenAPI document.
fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/healthz", get(ops::healthz)),
        (Method::GET, "/readyz", get(ops::readyz)),
        (Method::GET, "/metrics", get(ops::metrics)),
        (Method::GET, "/openapi.yaml", get(ops::openapi)),
        (Method::GET, "/api/v1/api-tokens/validate-token", get(auth::validate_token)),
        (Method::POST, "/api/v1/campaigns/", post(campaigns::create)),
        (Method::GET, "/api/v1/campaigns/", get(campaigns::list)),
        (Method::POST, "/api/v1/campaigns/create", post(campaigns::create)),
        (Method::GET, "/api/v1/campaigns/{campaign_id}", get(campaigns::get)),
        (Method::PATCH, "/api/v1/campaigns/{campaign_id}", patch(campaigns::update)),
        (Method::DELETE, "/api/v1/campaigns/{campaign_id}", delete(campaigns::delete)),
        (Method::POST, "/api/v1/campaigns/{campaign_id}/pause", post(campaigns::pause)),
        (Method::POST, "/api/v1/campaigns/{campaign_id}/resume", post(campaigns::resume)),
        (Method::POST, "/api/v1/campaigns/{campaign_id}/cancel", post(campaigns::cancel)),
        (Method::GET, "/api/v1/campaigns/{campaign_id}/stats", get(stats::get)),
        (Method::GET, "/api/v1/campaigns/{campaign_id}/batches", get(batches::list_of_campaign)),
        (Method::POST, "/api/v1/webhooks/call-status", post(webhooks::call_status)),
        (Method::POST, "/api/v1/webhooks/twilio", post(webhooks::twilio::status)),
        (Method::POST, "/api/v1/webhooks/jambonz", post(webhooks::jambonz::status)),
        (Method::POST, "/api/v1/webhooks/livekit", post(webhooks::livekit::event)),
        (Method::GET, "/api/v1/test/clock", get(test_clock::get)),
        (Method::POST, "/api/v1/test/clock", post(test_clock::set)),
        (Method::POST, "/api/v1/calendars", post(calendars::create)),
        (Method::GET, "/api/v1/calendars", get(calendars::list)),
        (Method::GET, "/api/v1/calendars/{calendar_id}", get(calendars::get)),
        (Method::PATCH, "/api/v1/calendars/{calendar_id}", patch(calendars::update)),
        (Method::DELETE, "/api/v1/calendars/{calendar_id}", delete(calendars::delete)),
        (Method::POST, "/api/v1/suppressions", post(suppressions::add)),
        (Method::GET, "/api/v1/suppressions", get(suppressions::list)),
        (Method::POST, "/api/v1/suppressions/check", post(suppressions::check_numbers)),
        (Method::DELETE, "/api/v1/suppressions/{phone_number}", delete(suppressions::remove)),
        (Method::POST, "/api/v1/batches/", post(batches::create)),
        (Method::GET, "/api/v1/batches/", get(batches::list)),
        (Method::POST, "/api/v1/batches/upload", post(batches::create)),
        (Method::GET, "/api/v1/batches/{batch_id}", get(batches::get)),
        (Method::POST, "/api/v1/batches/{batch_id}/pause", post(batches::pause)),
        (Method::POST, "/api/v1/batches/{batch_id}/resume", post(batches::resume)),
        (Method::POST, "/api/v1/batches/{batch_id}/cancel", post(batches::cancel)),
        (Method::POST, "/api/v1/batches/{batch_id}/dispatch", post(batches::dispatch)),
        (Method::GET, "/api/v1/batches/{batch_id}/debug", get(batches::debug)),
        (Method::GET, "/api/v1/batches/{batch_id}/contacts", get(contacts::list)),
        (Method::GET, "/api/v1/events", get(events::list)),
        (Method::POST, "/api/v1/webhook-endpoints", post(webhook_endpoints::create)),
        (Method::GET, "/api/v1/webhook-endpoints", get(webhook_endpoints::list)),
        (Method::GET, "/api/v1/webhook-endpoints/{webhook_endpoint_id}", get(webhook_endpoints::get)),
        (Method::PATCH, "/api/v1/webhook-endpoints/{webhook_endpoint_id}", patch(webhook_endpoints::update)),
        (Method::DELETE, "/api/v1/webhook-endpoints/{webhook_endpoint_id}", delete(webhook_endpoints::delete)),
        (
            Method::POST,
            "/api/v1/webhook-endpoints/{webhook_endpoint_id}/rotate-secret",
            post(webhook_endpoints::rotate),
        ),
        (Method::GET, "/api/v1/webhook-endpoints/{webhook_endpoint_id}/deliveries", get(webhook_endpoints::deliveries)),
        (Method::POST, "/api/v1/webhook-endpoints/{webhook_endpoint_id}/replay", post(webhook_endpoints::replay)),
    ]
}

/// The `(method, path)` pairs served, paths as written in `openapi.yaml`.
pub fn route_table() -> Vec<(Method, &'static str)> {
    routes().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The whole application: routes, fallbacks and layers, with trailing slashes made optional.
pub fn app(state: AppState) -> NormalizePath<Router> {
    let mut by_path: BTreeMap<&str, MethodRouter<AppState>> = BTreeMap::new();
    for (_, path, handler) in routes() {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            p => p,
        };
        let merged = match by_path.remove(path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(path, merged);
    }
    let max_body = state.max_body_bytes;
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler.fallback(ops::method_not_allowed));
    }
    let router = router
        .fallback(ops::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        // The idempotency layer commits the request's work with its stored response; the test
        // clock's settling runs after that commit, outside it.
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(middleware::from_fn_with_state(state.clone(), test_clock::settle_after_changes))
        .layer(CatchPanicLayer::custom(|_| crate::error::Error::internal("handler panicked").into_response()))
        .layer(middleware::from_fn_with_state(state.clone(), request_context))
        .with_state(state);
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

/// Request id, one log line, and metrics for every request.
async fn request_context(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.to_str().is_ok())
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().simple().to_string()).unwrap_or(HeaderValue::from_static("-"))
        });
    req.headers_mut().insert("x-request-id", request_id.clone());
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = request_id.to_str().unwrap_or("-"),
        method = %method,
        path = req.uri().path(),
    );
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    response.headers_mut().insert("x-request-id", request_id);
    let route = route.as_deref().unwrap_or("unmatched");
    st.metrics.observe_request(method_label(&method), route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(status, route, latency_ms = elapsed.as_secs_f64() * 1000.0, "served");
    });
    response
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

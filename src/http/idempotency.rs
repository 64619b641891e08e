//! The `Idempotency-Key` layer on POST: the first response is stored, in the transaction of the
//! request's work, and replayed for the same request.

use super::AppState;
use super::auth::authenticate;
use super::extract::{read_body, refuse_declared_over};
use crate::error::{Error, Loc};
use crate::service::idempotency::{self as service, Pending};
use crate::store::{IdempotencyBegin, IdempotencyClaim, Store};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::time::Instant;

const HEADER: &str = "idempotency-key";

/// Frees the key if the request ends (client gone, or a failure) before its response was stored.
struct Guard {
    armed: Option<(Arc<dyn Store>, IdempotencyClaim)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((store, claim)) = self.armed.take() {
            tokio::spawn(async move {
                if let Err(e) = service::abandon(&*store, &claim).await {
                    tracing::warn!(error = %e, "could not release an idempotency key");
                }
            });
        }
    }
}

/// Renews the claim every `RENEW_EVERY` until dropped, so that only a request that died loses it. A
/// task of its own: on SQLite a renewal may wait for the writer, which the request's work holds.
struct Renewal(tokio::task::JoinHandle<()>);

impl Renewal {
    fn start(st: &AppState, claim: &IdempotencyClaim) -> Self {
        let (store, clock, claim) = (st.store.clone(), st.clock.clone(), claim.clone());
        Self(tokio::spawn(async move {
            let mut every = tokio::time::interval_at(Instant::now() + service::RENEW_EVERY, service::RENEW_EVERY);
            loop {
                every.tick().await;
                if let Err(e) = service::renew(&*store, &claim, clock.now()).await {
                    tracing::warn!(error = %e, "could not renew an idempotency key");
                }
            }
        }))
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Middleware: passes through unless the request is a POST with an `Idempotency-Key`.
pub async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    // Telephony callbacks are idempotent by themselves and carry no bearer token; the test clock's
    // route does not exist without the test clock.
    let path = req.uri().path();
    if req.method() != Method::POST
        || !req.headers().contains_key(HEADER)
        || path.starts_with("/api/v1/webhooks/")
        || (path == "/api/v1/test/clock" && !st.clock.is_manual())
    {
        return next.run(req).await;
    }
    match handle(st, req, next).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn still_running() -> Error {
    Error::Conflict("A request with this Idempotency-Key is still being processed; retry later".into())
}

async fn handle(st: AppState, req: Request, next: Next) -> Result<Response, Error> {
    let key = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= service::MAX_KEY_LEN)
        .ok_or_else(|| {
            Error::invalid(
                vec![Loc::from("header"), Loc::from(HEADER)],
                "value_error",
                format!("Value error, Idempotency-Key must be 1 to {} visible ASCII characters", service::MAX_KEY_LEN),
            )
        })?
        .to_owned();
    let auth = authenticate(&st, req.headers(), super::auth::client_of(req.extensions())).await?;
    let (mut parts, body) = req.into_parts();
    refuse_declared_over(&parts.headers, st.max_body_bytes)?;
    let bytes = read_body(body, st.max_body_bytes).await?;
    let print = service::fingerprint(parts.method.as_str(), parts.uri.path(), &bytes);
    let claim = service::claim(auth.0, &key);
    match service::begin(&*st.store, &claim, &print, st.clock.now()).await? {
        IdempotencyBegin::Started => {}
        IdempotencyBegin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).map_err(Error::internal)?;
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyBegin::Mismatch => {
            return Err(Error::Unprocessable(
                "Idempotency-Key was already used with a different request; use a new key".into(),
            ));
        }
        IdempotencyBegin::InProgress => return Err(still_running()),
    }
    let mut guard = Guard { armed: Some((st.store.clone(), claim.clone())) };
    parts.extensions.insert(auth);
    // The work's transaction is held, not committed, until the response is stored in it.
    let pending = Arc::new(Pending::default());
    let renewal = Renewal::start(&st, &claim);
    let response =
        service::holding_commits(pending.clone(), next.run(Request::from_parts(parts, Body::from(bytes)))).await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.map_err(Error::internal)?;
    let work = pending.take();
    drop(renewal);
    if parts.status.is_server_error() {
        // Undone and the key freed (by the guard): a retry runs again.
        drop(work);
        return Ok(Response::from_parts(parts, Body::from(body)));
    }
    if !service::finish(&*st.store, &st.wake, work, &claim, parts.status.as_u16(), &body).await? {
        // Another request took the key over after this one's lease lapsed; this one's work is undone.
        guard.armed = None;
        return Err(still_running());
    }
    guard.armed = None;
    Ok(Response::from_parts(parts, Body::from(body)))
}

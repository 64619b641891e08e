//! The `Idempotency-Key` layer on POST: the first response is stored and replayed for the same request.

use super::AppState;
use super::auth::authenticate;
use super::extract::{read_body, refuse_declared_over};
use crate::domain::ids::OrgId;
use crate::error::{Error, Loc};
use crate::service::idempotency as service;
use crate::store::{IdempotencyBegin, Store};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const HEADER: &str = "idempotency-key";

/// Frees the key if the request is dropped (client gone) before its response was stored.
struct Claim {
    armed: Option<(Store, OrgId, String)>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some((store, org, key)) = self.armed.take() {
            tokio::spawn(async move {
                if let Err(e) = service::abandon(&store, org, &key).await {
                    tracing::warn!(error = %e, "could not release an idempotency key");
                }
            });
        }
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
    let now = st.clock.now();
    match service::begin(&st.store, auth.0, &key, &print, now).await? {
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
        IdempotencyBegin::InProgress => {
            return Err(Error::Conflict(
                "A request with this Idempotency-Key is still being processed; retry later".into(),
            ));
        }
    }
    let mut claim = Claim { armed: Some((st.store.clone(), auth.0, key.clone())) };
    parts.extensions.insert(auth);
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.map_err(Error::internal)?;
    if !parts.status.is_server_error() {
        service::finish(&st.store, auth.0, &key, parts.status.as_u16(), &body).await?;
        claim.armed = None;
    }
    drop(claim);
    Ok(Response::from_parts(parts, Body::from(body)))
}

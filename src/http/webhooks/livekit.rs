//! `POST /api/v1/webhooks/livekit`: LiveKit's webhooks (API.md §7.1), their token checked before
//! the body is read and the body checked against the hash it vouches for. Events about rooms that
//! are not calls of this server are accepted and change nothing; an event naming a call this
//! server does not have is `404`.

use super::{MAX_CALLBACK_BYTES, apply_provider_callback};
use crate::clock::Clock;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::client_of;
use crate::http::extract::{parse_json_object, read_request_body};
use crate::telephony::livekit_callbacks::read;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `POST /api/v1/webhooks/livekit`.
pub async fn event(State(st): State<AppState>, req: Request) -> Result<Response, Error> {
    let client = client_of(req.extensions());
    let guard = &st.auth_failures;
    guard.check(client)?;
    // A server that does not place calls through LiveKit refuses its webhooks as unverifiable.
    let callbacks = guard.guard(client, st.livekit.clone().ok_or(Error::BadSignature))?;
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let checked = callbacks.check_header(authorization, Clock::System.now().timestamp());
    let hash = guard.guard(client, checked.map_err(|_| Error::BadSignature))?;
    let body = read_request_body(req, MAX_CALLBACK_BYTES).await?;
    guard.guard(client, if callbacks.verify_body(&hash, &body) { Ok(()) } else { Err(Error::BadSignature) })?;
    if let Some(callback) = read(&Value::Object(parse_json_object(&body)?)) {
        apply_provider_callback(&st, callback).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

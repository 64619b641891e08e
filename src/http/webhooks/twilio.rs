//! `POST /api/v1/webhooks/twilio`: Twilio's status and answering-machine callbacks (API.md §7.1),
//! verified by `X-Twilio-Signature`; a callback naming no call of ours is `404` and changes nothing.

use super::{MAX_CALLBACK_BYTES, apply_provider_callback};
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::client_of;
use crate::http::extract::read_request_body;
use crate::http::json::ok;
use crate::telephony::twilio_callbacks::read;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::json;

/// `POST /api/v1/webhooks/twilio`.
pub async fn status(State(st): State<AppState>, req: Request) -> Result<Response, Error> {
    let client = client_of(req.extensions());
    let guard = &st.auth_failures;
    guard.check(client)?;
    let signature = req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Only a server that places calls through Twilio can verify Twilio's callbacks: on any other,
    // every one is refused as unverifiable, like a callback to a server without its secret.
    let checked = signature.zip(st.twilio.clone()).ok_or(Error::BadSignature);
    let (signature, callbacks) = guard.guard(client, checked)?;
    let query = req.uri().query().map(str::to_owned);
    let body = read_request_body(req, MAX_CALLBACK_BYTES).await?;
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| Error::BadSignature)?;
    let verified = callbacks.verify(query.as_deref(), &params, &signature);
    guard.guard(client, if verified { Ok(()) } else { Err(Error::BadSignature) })?;
    let applied = apply_provider_callback(&st, read(query.as_deref(), &params)).await?;
    ok(&json!({ "applied": applied }))
}

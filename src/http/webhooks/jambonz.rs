//! `POST /api/v1/webhooks/jambonz`: jambonz's call-status and answering-machine callbacks (API.md
//! §7.1), authenticated before the body is read where jambonz allows; a callback naming no call of
//! ours is `404` and changes nothing. Success answers `204` (an action hook given no verbs goes on).

use super::{MAX_CALLBACK_BYTES, apply_provider_callback};
use crate::clock::Clock;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::client_of;
use crate::http::extract::{parse_json_object, read_request_body};
use crate::telephony::jambonz_callbacks::read;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// `POST /api/v1/webhooks/jambonz`.
pub async fn status(State(st): State<AppState>, req: Request) -> Result<Response, Error> {
    let client = client_of(req.extensions());
    let guard = &st.auth_failures;
    guard.check(client)?;
    // A server that does not place calls through jambonz refuses its callbacks as unverifiable.
    let callbacks = guard.guard(client, st.jambonz.clone().ok_or(Error::BadSignature))?;
    let checked = {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        callbacks.check_headers(header("jambonz-signature"), header("authorization"), Clock::System.now().timestamp())
    };
    let signature = guard.guard(client, checked.map_err(|_| Error::BadSignature))?;
    let body = read_request_body(req, MAX_CALLBACK_BYTES).await?;
    let verified = callbacks.verify_body(signature.as_ref(), &body);
    guard.guard(client, if verified { Ok(()) } else { Err(Error::BadSignature) })?;
    apply_provider_callback(&st, read(&serde_json::Value::Object(parse_json_object(&body)?))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! The test clock (API.md §11): `GET`/`POST /api/v1/test/clock`, and settling the dispatcher after
//! every change a client makes while the clock is manual.

use super::AppState;
use super::auth::Auth;
use super::extract::JsonObject;
use super::json::{Timestamp, ok};
use super::validate::{Problems, at};
use crate::error::{Error, Loc};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The longest single advance: ten years.
const MAX_ADVANCE_SECONDS: i64 = 10 * 366 * 24 * 3600;

/// Present only under `--test-clock`: without it the routes do not exist (`404`), whatever the
/// credentials, so it comes before `Auth` in the handlers.
pub struct TestClockOn;

impl FromRequestParts<AppState> for TestClockOn {
    type Rejection = Error;

    async fn from_request_parts(_: &mut Parts, st: &AppState) -> Result<Self, Error> {
        if st.clock.is_manual() { Ok(TestClockOn) } else { Err(Error::NoRoute) }
    }
}

/// `GET /api/v1/test/clock`.
pub async fn get(State(st): State<AppState>, _on: TestClockOn, _auth: Auth) -> Result<Response, Error> {
    ok(&json!({ "now": Timestamp(st.clock.now()) }))
}

/// `POST /api/v1/test/clock` with `{"advance_seconds": N}` or `{"set": "<RFC3339>"}`: moves the clock
/// and answers once everything due up to the new time has happened.
pub async fn set(
    State(st): State<AppState>,
    _on: TestClockOn,
    _auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<Response, Error> {
    let b = vec![Loc::from("body")];
    let mut p = Problems::default();
    p.unknown_keys(&body, &["advance_seconds", "set"], &b);
    let now = st.clock.now();
    let advance = p
        .field(&body, "advance_seconds", &b, false)
        .and_then(|v| p.int(v, at(&b, "advance_seconds"), 0, MAX_ADVANCE_SECONDS));
    let set_to = p.field(&body, "set", &b, false).and_then(|v| p.instant(v, at(&b, "set")));
    let given = |key: &str| body.get(key).is_some_and(|v| !v.is_null());
    match (given("advance_seconds"), given("set")) {
        (true, true) => p.push(b.clone(), "value_error", "Value error, give either advance_seconds or set, not both"),
        (false, false) => p.push(b.clone(), "missing", "Field required: advance_seconds or set"),
        _ => {}
    }
    if set_to.is_some_and(|to| to < now) {
        p.push(at(&b, "set"), "value_error", "Value error, the test clock never goes backwards");
    }
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    let target = match (advance, set_to) {
        (Some(seconds), _) => now + chrono::Duration::seconds(seconds),
        (None, Some(to)) => to,
        (None, None) => now,
    };
    let reached = st.dispatcher.advance_to(target).await?;
    ok(&json!({ "now": Timestamp(reached) }))
}

/// With a manual clock, runs the dispatcher to quiescence after every successful change, so that a
/// client reads a settled state (calls start at the instant of the change, as they would in real time).
pub async fn settle_after_changes(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let settles = st.clock.is_manual() && req.method() != Method::GET && req.uri().path() != "/api/v1/test/clock";
    let response = next.run(req).await;
    if settles
        && response.status().is_success()
        && let Err(e) = st.dispatcher.settle(st.clock.now()).await
    {
        return e.into_response();
    }
    response
}

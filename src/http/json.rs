//! JSON responses: RFC 3339 timestamps and the `200`/`201` helpers.

use crate::error::Error;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// An instant written as RFC 3339 UTC with `Z` (fractional seconds only when present).
#[derive(Clone, Copy, Debug)]
pub struct Timestamp(pub DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// Serializes `value` as a JSON response with `status`.
pub fn respond<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, Error> {
    let bytes = serde_json::to_vec(value).map_err(Error::internal)?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `200 OK` with a JSON body.
pub fn ok<T: Serialize + ?Sized>(value: &T) -> Result<Response, Error> {
    respond(StatusCode::OK, value)
}

/// `201 Created` with a JSON body.
pub fn created<T: Serialize + ?Sized>(value: &T) -> Result<Response, Error> {
    respond(StatusCode::CREATED, value)
}

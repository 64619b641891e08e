//! Request extractors: the JSON body (size-limited, FastAPI errors), query parameters and pagination.

use super::AppState;
use crate::domain::ids::{BatchId, CalendarId, CampaignId};
use crate::error::{Error, FieldError, Loc};
use crate::store::Page;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::{Map, Value};

/// Reads a request's whole body, answering `413` past `limit` bytes: at once, unread, when its
/// `Content-Length` says so.
pub async fn read_request_body(req: Request, limit: usize) -> Result<Bytes, Error> {
    refuse_declared_over(req.headers(), limit)?;
    read_body(req.into_body(), limit).await
}

/// `413` when the request's `Content-Length` is over `limit`.
pub fn refuse_declared_over(headers: &axum::http::HeaderMap, limit: usize) -> Result<(), Error> {
    let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if declared.and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge(limit));
    }
    Ok(())
}

/// Reads a whole body, answering `413` past `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Error> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return Error::PayloadTooLarge(limit);
            }
            if s.is::<tower_http::timeout::TimeoutError>() {
                return Error::RequestTimeout;
            }
            source = s.source();
        }
        Error::invalid(vec!["body".into()], "body_read", "Request body could not be read")
    })
}

/// Parses JSON bytes into an object, or the FastAPI error for what is wrong with them.
pub fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Value>, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid(vec!["body".into()], "missing", "Field required"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid(
            vec!["body".into()],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )),
        Err(e) => Err(Error::invalid(vec!["body".into()], "json_invalid", format!("JSON decode error: {e}"))),
    }
}

/// A JSON object body.
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let bytes = read_request_body(req, state.max_body_bytes).await?;
        parse_json_object(&bytes).map(JsonObject)
    }
}

/// The decoded query string, in order.
pub struct Query(pub Vec<(String, String)>);

impl FromRequestParts<AppState> for Query {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Error> {
        let raw = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map(Query)
            .map_err(|_| Error::invalid(vec!["query".into()], "query_invalid", "Query string could not be decoded"))
    }
}

impl Query {
    /// The last value given for `name` (empty values count as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// An integer parameter within `min..=max`, or `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64, errors: &mut Vec<FieldError>) -> i64 {
        let loc = || vec![Loc::from("query"), Loc::from(name)];
        let Some(text) = self.get(name) else { return default };
        match text.parse::<i64>() {
            Ok(v) if v < min => {
                errors.push(FieldError::new(
                    loc(),
                    "greater_than_equal",
                    format!("Input should be greater than or equal to {min}"),
                ));
                default
            }
            Ok(v) if v > max => {
                errors.push(FieldError::new(
                    loc(),
                    "less_than_equal",
                    format!("Input should be less than or equal to {max}"),
                ));
                default
            }
            Ok(v) => v,
            Err(_) => {
                errors.push(FieldError::new(
                    loc(),
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                ));
                default
            }
        }
    }

    /// `skip` and `limit`, with the listing's default limit and the maximum of 1000.
    pub fn page(&self, default_limit: i64, errors: &mut Vec<FieldError>) -> Page {
        Page {
            skip: self.int("skip", 0, 0, i64::from(i32::MAX), errors),
            limit: self.int("limit", default_limit, 1, 1000, errors),
        }
    }

    /// An enumerated parameter parsed by `parse`, described by `expected` in the error.
    pub fn one_of<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        let text = self.get(name)?;
        let parsed = parse(text);
        if parsed.is_none() {
            errors.push(FieldError::new(
                vec![Loc::from("query"), Loc::from(name)],
                "enum",
                format!("Input should be {expected}"),
            ));
        }
        parsed
    }
}

/// Turns collected problems into one `422`.
pub fn check(errors: Vec<FieldError>) -> Result<(), Error> {
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}

/// An id a path may carry, and the resource a path naming no such id is `404` for.
pub trait PathResource: Sized {
    const NAME: &'static str;
    fn parse_path(text: &str) -> Option<Self>;
}

impl PathResource for CampaignId {
    const NAME: &'static str = "Campaign";
    fn parse_path(text: &str) -> Option<Self> {
        CampaignId::parse(text)
    }
}

impl PathResource for BatchId {
    const NAME: &'static str = "Batch";
    fn parse_path(text: &str) -> Option<Self> {
        BatchId::parse(text)
    }
}

impl PathResource for CalendarId {
    const NAME: &'static str = "Calendar";
    fn parse_path(text: &str) -> Option<Self> {
        CalendarId::parse(text)
    }
}

impl PathResource for crate::domain::ids::EndpointId {
    const NAME: &'static str = "Webhook endpoint";
    fn parse_path(text: &str) -> Option<Self> {
        crate::domain::ids::EndpointId::parse(text)
    }
}

/// The typed id of a path's one parameter. One that does not parse, or does not even decode
/// (invalid UTF-8), names nothing: the resource's `404`.
pub struct PathId<T>(pub T);

impl<T: PathResource> FromRequestParts<AppState> for PathId<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let text =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map(|p| p.0).unwrap_or_default();
        T::parse_path(&text).map(PathId).ok_or(Error::NotFound(T::NAME))
    }
}

//! The one error type of the server; `http::error` maps it to FastAPI-shaped responses.

use serde::Serialize;

/// A boxed cause, kept for the log, never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One step of a validation error's location: a field name or an array index.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(untagged)]
pub enum Loc {
    Key(String),
    Index(usize),
}

impl From<&str> for Loc {
    fn from(value: &str) -> Self {
        Loc::Key(value.to_owned())
    }
}

impl From<String> for Loc {
    fn from(value: String) -> Self {
        Loc::Key(value)
    }
}

impl From<usize> for Loc {
    fn from(value: usize) -> Self {
        Loc::Index(value)
    }
}

/// One problem found while validating input, as FastAPI reports it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct FieldError {
    pub loc: Vec<Loc>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    pub fn new(loc: Vec<Loc>, kind: &str, msg: impl Into<String>) -> Self {
        Self { loc, msg: msg.into(), kind: kind.to_owned() }
    }
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not authenticated")]
    NotAuthenticated,
    #[error("Invalid API token")]
    InvalidToken,
    /// A telephony callback whose signature does not verify.
    #[error("Invalid webhook signature")]
    BadSignature,
    #[error("{0}")]
    Forbidden(String),
    /// A resource that does not exist or belongs to another organization; the name is `Campaign`, `Batch`, …
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route matches the path.
    #[error("Not Found")]
    NoRoute,
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// A state change the lifecycle forbids, or a concurrent request in the way.
    #[error("{0}")]
    Conflict(String),
    /// Input that failed validation, every problem listed.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    /// A semantic rejection with a single sentence (e.g. an idempotency key reused with another body).
    #[error("{0}")]
    Unprocessable(String),
    #[error("Request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The client stopped sending its request body for longer than the server waits.
    #[error("Request body was not received in time")]
    RequestTimeout,
    /// The token used up its requests; the client may retry after `retry_after` seconds.
    #[error("Too many requests: the limit is {per_minute} per minute per token; retry after {retry_after} s")]
    RateLimited { per_minute: u32, retry_after: u64 },
    /// The client address failed authentication too often; it may retry after `retry_after` seconds.
    #[error("Too many failed authentication attempts from this address; retry after {retry_after} s")]
    TooManyFailures { retry_after: u64 },
    /// The database is unreachable or overloaded; the client may retry.
    #[error("Service temporarily unavailable")]
    Unavailable(#[source] BoxError),
    #[error("Internal server error")]
    Internal(#[source] BoxError),
}

impl Error {
    /// A single validation problem.
    pub fn invalid(loc: Vec<Loc>, kind: &str, msg: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(loc, kind, msg)])
    }

    /// An internal failure from any error value.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Error::Internal(cause.into())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

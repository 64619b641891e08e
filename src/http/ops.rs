//! Operational routes: `/healthz`, `/readyz`, `/metrics`, `/openapi.yaml`, and the fallbacks.

use super::AppState;
use crate::error::Error;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The OpenAPI document, compiled into the binary.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: the database answers and migrations are applied.
pub async fn readyz(State(st): State<AppState>) -> Response {
    match st.store.ready().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            let body = json!({ "status": "unavailable", "detail": "database unavailable or migrations not applied" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let in_flight = match st.store.calls_in_flight().await {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let mut text = st.metrics.render();
    text.push_str(&st.metrics.render_dispatch(in_flight));
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// `GET /openapi.yaml`.
pub async fn openapi() -> Response {
    let mut response = OPENAPI_YAML.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"));
    response
}

/// No route matches: `404 {"detail":"Not Found"}`.
pub async fn not_found() -> Error {
    Error::NoRoute
}

/// The route exists, the method does not: `405 {"detail":"Method Not Allowed"}`.
pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

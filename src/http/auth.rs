//! Bearer-token authentication, organization scoping, and `GET /api-tokens/validate-token`.

use super::AppState;
use crate::domain::ids::OrgId;
use crate::error::Error;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde_json::{Value, json};

/// The organization of the request's token.
#[derive(Clone, Copy, Debug)]
pub struct Auth(pub OrgId);

impl Auth {
    /// Checks an `organization_id` given by the client against the token's org (`403` when it differs).
    pub fn scope(&self, given: Option<&str>) -> Result<OrgId, Error> {
        match given {
            Some(text) if OrgId::parse(text) != Some(self.0) => {
                Err(Error::Forbidden(format!("Token is not authorized for organization {text}")))
            }
            _ => Ok(self.0),
        }
    }
}

/// Reads `Authorization: Bearer <token>` and resolves the token to its organization.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Auth, Error> {
    let value = headers.get(AUTHORIZATION).ok_or(Error::NotAuthenticated)?;
    let text = value.to_str().map_err(|_| Error::NotAuthenticated)?;
    let (scheme, token) = text.trim().split_once(' ').ok_or(Error::NotAuthenticated)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::NotAuthenticated);
    }
    let org = state.tokens.authenticate(&state.store, token).await?;
    if let Some(limits) = &state.rate_limits {
        let mut limits = limits.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        // Keys of tokens idle long enough to be full again are dropped, so the map stays small.
        if limits.len() > 10_000 {
            limits.prune(now);
        }
        if let Err(wait) = limits.take(token, now) {
            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
            return Err(Error::RateLimited { per_minute: limits.per_minute(), retry_after });
        }
    }
    Ok(Auth(org))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        // The idempotency layer authenticates before reading the body; reuse its answer.
        if let Some(auth) = parts.extensions.get::<Auth>() {
            return Ok(*auth);
        }
        authenticate(state, &parts.headers).await
    }
}

/// `GET /api/v1/api-tokens/validate-token`.
pub async fn validate_token(auth: Auth) -> Json<Value> {
    Json(json!({ "valid": true, "organization_id": auth.0 }))
}

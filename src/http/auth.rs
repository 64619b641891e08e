//! Bearer-token authentication, organization scoping, the per-address limit on failed
//! authentication, and `GET /api-tokens/validate-token`.

use super::AppState;
use super::server::ClientAddr;
use crate::domain::ids::OrgId;
use crate::error::Error;
use crate::http::rate::RateLimits;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Addresses kept at most; past it, buckets that refilled are forgotten, and if that is not enough
/// every address starts afresh (memory stays bounded whatever the number of attackers).
const MAX_ADDRESSES: usize = 100_000;

/// Failed authentications per client address (`--auth-failure-limit` a minute, bursts of as many):
/// an address that used them up is answered `429` before its credentials cost anything.
pub struct FailureLimiter(Option<Mutex<RateLimits>>);

impl FailureLimiter {
    /// `per_minute` failures per address; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self((per_minute > 0).then(|| Mutex::new(RateLimits::new(per_minute))))
    }

    /// IPv4 addresses count one by one; IPv6 ones by their /64, the block one host is given.
    fn key(addr: IpAddr) -> String {
        match addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        }
    }

    /// `429` when the address has no failure left.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), Error> {
        let (Some(limits), Some(addr)) = (&self.0, client) else { return Ok(()) };
        let limits = limits.lock().unwrap_or_else(|e| e.into_inner());
        limits.check(&Self::key(addr), Instant::now()).map_err(too_many)
    }

    /// Counts one failure of the address.
    pub fn record(&self, client: Option<IpAddr>) {
        let (Some(limits), Some(addr)) = (&self.0, client) else { return };
        let mut limits = limits.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if limits.len() >= MAX_ADDRESSES {
            limits.prune(now);
            if limits.len() >= MAX_ADDRESSES {
                *limits = RateLimits::new(limits.per_minute());
            }
        }
        let _ = limits.take(&Self::key(addr), now);
    }

    /// Runs a credential check for `client`: `429` instead when the address has no failure left,
    /// and counts the failure when the check fails.
    pub fn guard<T>(&self, client: Option<IpAddr>, result: Result<T, Error>) -> Result<T, Error> {
        match result {
            Err(e @ (Error::NotAuthenticated | Error::InvalidToken | Error::BadSignature)) => {
                self.check(client)?;
                self.record(client);
                Err(e)
            }
            other => other,
        }
    }
}

fn too_many(wait: Duration) -> Error {
    Error::TooManyFailures { retry_after: wait.as_secs_f64().ceil().max(1.0) as u64 }
}

/// The address the request came from, as the connection saw it.
pub fn client_of(extensions: &Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map(|c| c.0)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    let value = headers.get(AUTHORIZATION).ok_or(Error::NotAuthenticated)?;
    let text = value.to_str().map_err(|_| Error::NotAuthenticated)?;
    let (scheme, token) = text.trim().split_once(' ').ok_or(Error::NotAuthenticated)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::NotAuthenticated);
    }
    Ok(token)
}

/// Reads `Authorization: Bearer <token>` and resolves the token to its organization. A token
/// verified recently is answered from memory; any other needs a database lookup, which an address
/// that failed too often does not get (`429`).
pub async fn authenticate(state: &AppState, headers: &HeaderMap, client: Option<IpAddr>) -> Result<Auth, Error> {
    let guard = &state.auth_failures;
    let token = guard.guard(client, bearer(headers))?;
    let org = match state.tokens.cached(token) {
        Some(org) => org,
        None => {
            guard.check(client)?;
            guard.guard(client, state.tokens.lookup(&*state.store, token).await)?
        }
    };
    if let Some(limits) = &state.rate_limits {
        let mut limits = limits.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
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
        authenticate(state, &parts.headers, client_of(&parts.extensions)).await
    }
}

/// `GET /api/v1/api-tokens/validate-token`.
pub async fn validate_token(auth: Auth) -> Json<Value> {
    Json(json!({ "valid": true, "organization_id": auth.0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_address_and_ipv6_per_64() {
        let limiter = FailureLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..2 {
            assert!(matches!(limiter.guard::<()>(Some(a), Err(Error::InvalidToken)), Err(Error::InvalidToken)));
        }
        assert!(matches!(limiter.guard::<()>(Some(a), Err(Error::InvalidToken)), Err(Error::TooManyFailures { .. })));
        assert!(matches!(limiter.check(Some(a)), Err(Error::TooManyFailures { retry_after: 30 })));
        assert!(limiter.check(Some(b)).is_ok(), "another address is not held back");
        assert!(limiter.guard(Some(a), Ok(1)).is_ok(), "a success is never refused by the guard itself");
        let v6a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        limiter.record(Some(v6a));
        limiter.record(Some(v6b));
        assert!(limiter.check(Some(v6a)).is_err(), "one /64 is one client");
        assert!(FailureLimiter::new(0).check(Some(a)).is_ok(), "0 turns the limit off");
    }
}

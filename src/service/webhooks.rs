//! Customer webhook endpoints (API.md §13): adding one with its secret, changing it, rotating its
//! secret, its tries, and sending events again.

use crate::domain::events::{EventId, TypeFilter};
use crate::domain::ids::{EndpointId, OrgId};
use crate::domain::webhook::{Attempt, Endpoint, MAX_ENDPOINTS};
use crate::error::{Error, Loc};
use crate::outbound::guard::WebhookRules;
use crate::store::{Page, Store};
use base64::Engine;
use chrono::{DateTime, Utc};

/// The most events one replay may send.
pub const MAX_REPLAY: i64 = 10_000;

/// What a change of an endpoint sets.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<TypeFilter>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

/// A new secret: `whsec_` and the base64 of 32 random bytes.
fn new_secret() -> Result<String, Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::internal(e.to_string()))?;
    Ok(format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key)))
}

/// A URL the rules refuse, as the `422` of the body's `url`.
async fn checked_url(rules: &WebhookRules, url: &str) -> Result<(), Error> {
    rules.check(url).await.map_err(|why| {
        Error::invalid(vec![Loc::from("body"), Loc::from("url")], "value_error", format!("Value error, {why}"))
    })
}

/// Adds an endpoint; its secret is in the endpoint returned (and shown this once).
pub async fn create(
    store: &dyn Store,
    rules: &WebhookRules,
    org: OrgId,
    url: String,
    events: TypeFilter,
    description: Option<String>,
    now: DateTime<Utc>,
) -> Result<Endpoint, Error> {
    checked_url(rules, &url).await?;
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        organization_id: org,
        url,
        events,
        description,
        secret: new_secret()?,
        previous_secret: None,
        previous_until: None,
        disabled: false,
        created_at: now,
    };
    if !store.insert_endpoint(&endpoint).await? {
        return Err(Error::Conflict(format!(
            "An organization may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
        )));
    }
    Ok(endpoint)
}

/// The organization's endpoint, or `404`.
pub async fn get(store: &dyn Store, org: OrgId, id: EndpointId) -> Result<Endpoint, Error> {
    store.get_endpoint(org, id).await?.ok_or(Error::NotFound("Webhook endpoint"))
}

/// Changes an endpoint's URL, types, description or state.
pub async fn update(
    store: &dyn Store,
    rules: &WebhookRules,
    org: OrgId,
    id: EndpointId,
    patch: EndpointPatch,
) -> Result<Endpoint, Error> {
    let mut e = get(store, org, id).await?;
    if let Some(url) = patch.url {
        checked_url(rules, &url).await?;
        e.url = url;
    }
    if let Some(events) = patch.events {
        e.events = events;
    }
    if let Some(description) = patch.description {
        e.description = Some(description);
    }
    if let Some(disabled) = patch.disabled {
        e.disabled = disabled;
    }
    if !store.update_endpoint(&e).await? {
        return Err(Error::NotFound("Webhook endpoint"));
    }
    Ok(e)
}

/// Gives an endpoint a new secret; the one it replaces signs too for a day.
pub async fn rotate(store: &dyn Store, org: OrgId, id: EndpointId, now: DateTime<Utc>) -> Result<Endpoint, Error> {
    let mut e = get(store, org, id).await?;
    e.previous_secret = Some(std::mem::replace(&mut e.secret, new_secret()?));
    e.previous_until = Some(Endpoint::previous_secret_until(now));
    if !store.update_endpoint(&e).await? {
        return Err(Error::NotFound("Webhook endpoint"));
    }
    Ok(e)
}

/// Deletes an endpoint, or `404`.
pub async fn delete(store: &dyn Store, org: OrgId, id: EndpointId) -> Result<(), Error> {
    if store.delete_endpoint(org, id).await? { Ok(()) } else { Err(Error::NotFound("Webhook endpoint")) }
}

/// A page of an endpoint's tries, newest first, with their total.
pub async fn attempts(
    store: &dyn Store,
    org: OrgId,
    id: EndpointId,
    event: Option<EventId>,
    page: &Page,
) -> Result<(Vec<Attempt>, i64), Error> {
    get(store, org, id).await?;
    store.list_attempts(id, event, page).await
}

/// Which events a replay sends.
pub enum ReplayOf {
    /// These events (those of the endpoint's types that exist).
    Ids(Vec<EventId>),
    /// The endpoint's events after `.0` (the oldest retained when none) up to `.1` included.
    Range(Option<EventId>, Option<EventId>),
}

/// Sends events to an endpoint again, at once; returns how many.
pub async fn replay(
    store: &dyn Store,
    org: OrgId,
    id: EndpointId,
    of: ReplayOf,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let e = get(store, org, id).await?;
    let events = match of {
        ReplayOf::Ids(ids) => store.events_by_id(org, &ids).await?,
        ReplayOf::Range(after, until) => {
            let mut found = store.events_after(org, after.unwrap_or(EventId(0)), &e.events, MAX_REPLAY).await?;
            if let Some(until) = until {
                found.retain(|ev| ev.id <= until);
            }
            found
        }
    };
    let ids: Vec<EventId> = events.iter().filter(|ev| e.events.matches(ev.kind)).map(|ev| ev.id).collect();
    store.replay_events(id, &ids, now).await
}

//! Customer webhook endpoints (API.md §13): adding one with its secret, changing it, rotating its
//! secret, its tries, and sending events again.

use crate::domain::events::{EventId, TypeFilter};
use crate::domain::ids::{EndpointId, OrgId};
use crate::domain::webhook::{Attempt, Endpoint, EndpointChange, MAX_ENDPOINTS, ReplayOf};
use crate::error::{Error, Loc};
use crate::outbound::guard::WebhookRules;
use crate::store::{Page, Store};
use base64::Engine;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The streams this replica is sending, by endpoint, each with its stop flag. A change of an
/// endpoint (its URL, types, state or secret, or its deletion) made through this replica stops the
/// endpoint's stream before it launches another try, and the next stream reads the endpoint as
/// changed: no event still to be sent goes out with the old settings.
#[derive(Clone, Default)]
pub struct EndpointChanges(Arc<Mutex<HashMap<EndpointId, Vec<Weak<AtomicBool>>>>>);

impl EndpointChanges {
    /// A stop flag for a stream of `endpoint`, raised when the endpoint changes.
    pub fn watch(&self, endpoint: EndpointId) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        if let Ok(mut streams) = self.0.lock() {
            let flags = streams.entry(endpoint).or_default();
            flags.retain(|f| f.strong_count() > 0);
            flags.push(Arc::downgrade(&flag));
        }
        flag
    }

    /// Stops every stream of `endpoint` (once the change is written).
    pub fn changed(&self, endpoint: EndpointId) {
        let flags = self.0.lock().ok().and_then(|mut streams| streams.remove(&endpoint)).unwrap_or_default();
        for flag in flags.iter().filter_map(Weak::upgrade) {
            flag.store(true, Ordering::SeqCst);
        }
    }
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

/// Changes an endpoint's URL, types, description or state, in one write of those fields alone (a
/// rotation at the same moment keeps its secret).
pub async fn update(
    store: &dyn Store,
    rules: &WebhookRules,
    changes: &EndpointChanges,
    org: OrgId,
    id: EndpointId,
    change: EndpointChange,
) -> Result<Endpoint, Error> {
    if let Some(url) = &change.url {
        checked_url(rules, url).await?;
    }
    let endpoint = store.change_endpoint(org, id, &change).await?.ok_or(Error::NotFound("Webhook endpoint"))?;
    changes.changed(id);
    Ok(endpoint)
}

/// Gives an endpoint a new secret; the one it replaces signs too for a day.
pub async fn rotate(
    store: &dyn Store,
    changes: &EndpointChanges,
    org: OrgId,
    id: EndpointId,
    now: DateTime<Utc>,
) -> Result<Endpoint, Error> {
    let until = Endpoint::previous_secret_until(now);
    let endpoint =
        store.rotate_secret(org, id, &new_secret()?, until).await?.ok_or(Error::NotFound("Webhook endpoint"))?;
    changes.changed(id);
    Ok(endpoint)
}

/// Deletes an endpoint, or `404`.
pub async fn delete(store: &dyn Store, changes: &EndpointChanges, org: OrgId, id: EndpointId) -> Result<(), Error> {
    if !store.delete_endpoint(org, id).await? {
        return Err(Error::NotFound("Webhook endpoint"));
    }
    changes.changed(id);
    Ok(())
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

/// The most events one replay sends: a longer range goes on from the last one sent (kept low, as
/// every due retry is looked at by each claim of retries).
pub const MAX_REPLAY: i64 = 10_000;

/// Sends events to an endpoint again, at once (at most `MAX_REPLAY`, the first of the selection, of
/// the types it takes), in one write; returns how many, and the last of them. An endpoint deleted
/// meanwhile is not found.
pub async fn replay(
    store: &dyn Store,
    org: OrgId,
    id: EndpointId,
    of: ReplayOf,
    now: DateTime<Utc>,
) -> Result<(u64, Option<EventId>), Error> {
    let replayed = store.replay_events(org, id, &of, now, MAX_REPLAY).await?;
    if replayed.0 == 0 {
        // Nothing queued: none chosen, or no such endpoint (another organization's, or deleted).
        get(store, org, id).await?;
    }
    Ok(replayed)
}

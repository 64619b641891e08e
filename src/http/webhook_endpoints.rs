//! `/api/v1/webhook-endpoints`: customer webhook endpoints (API.md §13): adding one (its secret shown
//! once), listing, changing, deleting, rotating its secret, its tries, and sending events again.

use super::AppState;
use super::auth::Auth;
use super::extract::{JsonObject, PathId, Query, check};
use super::json::{Timestamp, created, ok};
use super::validate::{Problems, at};
use crate::domain::events::{EventId, TypeFilter};
use crate::domain::ids::EndpointId;
use crate::domain::webhook::{Attempt, Endpoint, MAX_DESCRIPTION_CHARS, MAX_URL_CHARS};
use crate::domain::webhook::{EndpointChange, ReplayOf};
use crate::error::{Error, Loc};
use crate::service::webhooks as service;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::{Map, Value, json};

fn body() -> Vec<Loc> {
    vec![Loc::from("body")]
}

/// The endpoint as the API shows it (never its secret), in answers and in `endpoint.disabled` events.
pub fn endpoint_view(e: &Endpoint) -> Value {
    json!({
        "webhook_endpoint_id": e.id,
        "url": e.url,
        "events": e.events.names(),
        "description": e.description,
        "disabled": e.disabled,
        "created_at": Timestamp(e.created_at),
    })
}

/// The endpoint with its secret, shown when it is made and when it changes.
fn with_secret(e: &Endpoint) -> Value {
    let mut view = endpoint_view(e);
    if let Some(obj) = view.as_object_mut() {
        obj.insert("secret".into(), Value::String(e.secret.clone()));
    }
    view
}

/// The `events` list of a body: types or `"*"`, 1 to 20 of them.
fn event_types(p: &mut Problems, value: &Value) -> Option<TypeFilter> {
    let loc = at(&body(), "events");
    let list = p.array(value, loc.clone(), 1, 20)?;
    let mut names = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        names.push(p.string(item, at(&loc, i), 1, 64)?);
    }
    match TypeFilter::parse(names.iter().map(String::as_str)) {
        Ok(filter) => Some(filter),
        Err((i, name)) => {
            let expected = crate::domain::events::EventType::expected();
            p.push(at(&loc, i), "enum", format!("Input should be {expected} or '*' (got '{name}')"));
            None
        }
    }
}

/// The fields a create or change body may carry, checked.
fn fields(obj: &Map<String, Value>, creating: bool) -> Result<EndpointChange, Error> {
    let mut p = Problems::default();
    let allowed: &[&str] =
        if creating { &["url", "events", "description"] } else { &["url", "events", "description", "disabled"] };
    p.unknown_keys(obj, allowed, &body());
    let url = p.field(obj, "url", &body(), creating).and_then(|v| p.string(v, at(&body(), "url"), 1, MAX_URL_CHARS));
    let events = p.field(obj, "events", &body(), creating).and_then(|v| event_types(&mut p, v));
    let description = p
        .field(obj, "description", &body(), false)
        .and_then(|v| p.string(v, at(&body(), "description"), 0, MAX_DESCRIPTION_CHARS));
    let disabled = p.field(obj, "disabled", &body(), false).and_then(|v| p.boolean(v, at(&body(), "disabled")));
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    Ok(EndpointChange { url, events, description, disabled })
}

/// `POST /webhook-endpoints`.
pub async fn create(State(st): State<AppState>, auth: Auth, JsonObject(obj): JsonObject) -> Result<Response, Error> {
    let f = fields(&obj, true)?;
    let (Some(url), Some(events)) = (f.url, f.events) else { return Err(Error::internal("checked above")) };
    let e = service::create(&*st.store, &st.webhook_rules, auth.0, url, events, f.description, st.clock.now()).await?;
    created(&with_secret(&e))
}

/// `GET /webhook-endpoints`.
pub async fn list(State(st): State<AppState>, auth: Auth) -> Result<Response, Error> {
    let items: Vec<Value> = st.store.list_endpoints(auth.0).await?.iter().map(endpoint_view).collect();
    let mut response = ok(&items)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(items.len()));
    Ok(response)
}

/// `GET /webhook-endpoints/{id}`.
pub async fn get(State(st): State<AppState>, auth: Auth, PathId(id): PathId<EndpointId>) -> Result<Response, Error> {
    ok(&endpoint_view(&service::get(&*st.store, auth.0, id).await?))
}

/// `PATCH /webhook-endpoints/{id}`.
pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    JsonObject(obj): JsonObject,
) -> Result<Response, Error> {
    let patch = fields(&obj, false)?;
    let changed = service::update(&*st.store, &st.webhook_rules, &st.endpoint_changes, auth.0, id, patch).await?;
    ok(&endpoint_view(&changed))
}

/// `DELETE /webhook-endpoints/{id}`.
pub async fn delete(State(st): State<AppState>, auth: Auth, PathId(id): PathId<EndpointId>) -> Result<Response, Error> {
    service::delete(&*st.store, &st.endpoint_changes, auth.0, id).await?;
    ok(&json!({"webhook_endpoint_id": id, "deleted": true, "message": "Webhook endpoint deleted successfully"}))
}

/// `POST /webhook-endpoints/{id}/rotate-secret`.
pub async fn rotate(State(st): State<AppState>, auth: Auth, PathId(id): PathId<EndpointId>) -> Result<Response, Error> {
    ok(&with_secret(&service::rotate(&*st.store, &st.endpoint_changes, auth.0, id, st.clock.now()).await?))
}

fn attempt_view(a: &Attempt) -> Value {
    json!({
        "event_id": a.event,
        "attempt": a.attempt,
        "attempted_at": Timestamp(a.attempted_at),
        "status_code": a.status_code,
        "duration_ms": a.duration_ms,
        "error": a.error,
    })
}

/// `GET /webhook-endpoints/{id}/deliveries`.
pub async fn deliveries(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    query: Query,
) -> Result<Response, Error> {
    let mut errors = Vec::new();
    let page = query.page(50, &mut errors);
    let event = query.get("event_id").and_then(|text| {
        let id = EventId::parse(text);
        if id.is_none() {
            let loc = vec![Loc::from("query"), Loc::from("event_id")];
            errors.push(crate::error::FieldError::new(loc, "value_error", "Value error, not an event id"));
        }
        id
    });
    check(errors)?;
    let (items, total) = service::attempts(&*st.store, auth.0, id, event, &page).await?;
    let views: Vec<Value> = items.iter().map(attempt_view).collect();
    let mut response = ok(&views)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

/// An event id field of a replay body.
fn event_id(p: &mut Problems, value: &Value, loc: Vec<Loc>) -> Option<EventId> {
    let text = p.string(value, loc.clone(), 1, 64)?;
    let id = EventId::parse(&text);
    if id.is_none() {
        p.push(loc, "value_error", "Value error, not an event id (evt_ and 16 hex digits)");
    }
    id
}

/// `POST /webhook-endpoints/{id}/replay`.
pub async fn replay(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    JsonObject(obj): JsonObject,
) -> Result<Response, Error> {
    let mut p = Problems::default();
    p.unknown_keys(&obj, &["after", "until", "event_ids"], &body());
    let after = p.field(&obj, "after", &body(), false).and_then(|v| event_id(&mut p, v, at(&body(), "after")));
    let until = p.field(&obj, "until", &body(), false).and_then(|v| event_id(&mut p, v, at(&body(), "until")));
    let ids = p.field(&obj, "event_ids", &body(), false).and_then(|v| {
        let loc = at(&body(), "event_ids");
        let list = p.array(v, loc.clone(), 1, 1000)?;
        list.iter().enumerate().map(|(i, item)| event_id(&mut p, item, at(&loc, i))).collect::<Option<Vec<_>>>()
    });
    if ids.is_some() && (after.is_some() || until.is_some()) {
        p.push(body(), "value_error", "Value error, give event_ids, or after and until, not both");
    }
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    let of = match ids {
        Some(ids) => ReplayOf::Ids(ids),
        None => ReplayOf::Range(after, until),
    };
    let (replayed, last) = service::replay(&*st.store, auth.0, id, of, st.clock.now()).await?;
    // At most `MAX_REPLAY` at once: the last one sent is where a longer range goes on from.
    let body = json!({ "replayed": replayed, "last_event_id": last });
    super::json::respond(axum::http::StatusCode::ACCEPTED, &body)
}

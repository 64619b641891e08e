//! `GET /api/v1/events`: the organization's events in order, with a long poll (API.md §13), and
//! the events' JSON, which deliveries send too.

use super::AppState;
use super::auth::Auth;
use super::batches::BatchView;
use super::campaigns::CampaignView;
use super::contacts::{CallView, ContactView};
use super::extract::{Query, check};
use super::json::{Timestamp, ok};
use crate::domain::events::{EventId, EventType, Snapshot, StoredEvent, TypeFilter};
use crate::domain::ids::{CampaignId, ContactId, OrgId};
use crate::error::{Error, FieldError, Loc};
use crate::service::events::{self as service, FeedQuery, Subjects};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The longest a read of the feed waits for an event.
pub const MAX_WAIT_SECONDS: i64 = 30;

/// An event as the feed shows it and deliveries send it, written straight out (no `Value` tree:
/// deliveries write thousands a second).
#[derive(Serialize)]
pub struct EventView<'a> {
    event_id: EventId,
    #[serde(rename = "type")]
    kind: &'static str,
    created_at: Timestamp,
    organization_id: OrgId,
    data: Option<Data<'a>>,
}

/// An event's `data`: its subject as the API shows it.
#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Call(CallEnded<'a>),
    Contact(ContactView<'a>),
    Batch(BatchView<'a>),
    Campaign(CampaignView<'a>),
    Stored(&'a Value),
    Made(Value),
}

/// The call record, and what it belongs to: its contact and campaign.
#[derive(Serialize)]
struct CallEnded<'a> {
    #[serde(flatten)]
    call: CallView<'a>,
    contact_id: ContactId,
    campaign_id: Option<CampaignId>,
}

impl<'a> EventView<'a> {
    pub fn new(subjects: &'a Subjects, e: &'a StoredEvent) -> Self {
        let data = match e.kind {
            EventType::CallEnded => subjects.calls.get(&e.subject).map(|c| {
                Data::Call(CallEnded { call: CallView::from(c), contact_id: c.contact_id, campaign_id: e.campaign_id })
            }),
            EventType::ContactFinished => {
                subjects.contacts.get(&e.subject).map(|c| Data::Contact(ContactView::from(c)))
            }
            EventType::BatchUpdated | EventType::CampaignUpdated | EventType::EndpointDisabled => match &e.data {
                Snapshot::Batch(b) => Some(Data::Batch(BatchView::new(b, true))),
                Snapshot::Campaign(c) => Some(Data::Campaign(CampaignView::from(&**c))),
                Snapshot::Json(data) => Some(Data::Stored(data)),
                Snapshot::None => None,
            },
            EventType::SuppressionAdded => match &e.data {
                Snapshot::Json(data) => Some(Data::Made(suppression_added(data, e))),
                _ => None,
            },
        };
        Self {
            event_id: e.id,
            kind: e.kind.as_str(),
            created_at: Timestamp(e.created_at),
            organization_id: e.organization_id,
            data,
        }
    }
}

/// An entry as added: the stored fields (expiry in microseconds) written as the API writes them.
fn suppression_added(stored: &Value, e: &StoredEvent) -> Value {
    let campaign_id = stored
        .get("campaign_id")
        .and_then(Value::as_str)
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
        .map(crate::domain::ids::CampaignId::from_uuid);
    let expires_at = stored
        .get("expires_at")
        .and_then(Value::as_i64)
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map(Timestamp);
    json!({
        "phone_number": stored.get("phone_number"),
        "scope": if campaign_id.is_some() { "campaign" } else { "organization" },
        "campaign_id": campaign_id,
        "reason": stored.get("reason"),
        "expires_at": expires_at,
        "created_at": Timestamp(e.created_at),
    })
}

/// What deliveries send, as the API writes it: events' bodies and endpoints' views.
pub struct ApiViews;

impl crate::webhooks::Views for ApiViews {
    fn event(&self, subjects: &Subjects, e: &StoredEvent) -> Vec<u8> {
        serde_json::to_vec(&EventView::new(subjects, e)).unwrap_or_default()
    }

    fn endpoint(&self, e: &crate::domain::webhook::Endpoint) -> Value {
        super::webhook_endpoints::endpoint_view(e)
    }
}

fn query_error(name: &str, kind: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(vec![Loc::from("query"), Loc::from(name)], kind, msg)
}

/// The types of a `type` parameter: comma-separated, repeatable.
fn types(query: &Query, errors: &mut Vec<FieldError>) -> TypeFilter {
    let names: Vec<&str> = query
        .0
        .iter()
        .filter(|(k, _)| k == "type")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return TypeFilter::All;
    }
    match TypeFilter::parse(names) {
        Ok(filter) => filter,
        Err((_, name)) => {
            let expected = EventType::expected();
            errors.push(query_error("type", "enum", format!("Input should be {expected} or '*' (got '{name}')")));
            TypeFilter::All
        }
    }
}

/// `GET /events`.
pub async fn list(State(st): State<AppState>, auth: Auth, query: Query) -> Result<Response, Error> {
    let mut errors = Vec::new();
    let after = match query.get("after") {
        None => EventId(0),
        Some(text) => EventId::parse(text).unwrap_or_else(|| {
            errors.push(query_error("after", "value_error", "Value error, not an event id (evt_ and 16 hex digits)"));
            EventId(0)
        }),
    };
    let types = types(&query, &mut errors);
    let limit = query.int("limit", 100, 1, 1000, &mut errors);
    let wait = query.int("wait_seconds", 0, 0, MAX_WAIT_SECONDS, &mut errors);
    check(errors)?;
    let wait = Duration::from_secs(wait.unsigned_abs()).min(st.event_wait_max);
    let q = FeedQuery { after, types, limit, wait };
    let (events, last) = service::feed(&*st.store, &st.events, auth.0, &q).await?;
    let subjects = Subjects::read(&*st.store, &events).await?;
    let items: Vec<EventView> = events.iter().map(|e| EventView::new(&subjects, e)).collect();
    let mut response = ok(&items)?;
    // `evt_0000000000000000` while the organization has no event: following from it reads from the first.
    if let Ok(value) = HeaderValue::from_str(&last.unwrap_or(EventId(0)).to_string()) {
        response.headers_mut().insert("x-last-event-id", value);
    }
    Ok(response)
}

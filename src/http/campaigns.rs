//! Campaign routes (API.md §3.4) and the campaign's wire shape.

use super::AppState;
use super::auth::Auth;
use super::campaign_body::{parse_create, parse_patch};
use super::extract::{JsonObject, PathId, Query, check};
use super::json::{Timestamp, created, ok};
use crate::domain::campaign::{
    CallCounters, Campaign, CampaignAction, CampaignStatus, PhoneNumberStrategy, RetryPolicy, WorkingHoursBasis,
};
use crate::domain::frequency::FrequencyCap;
use crate::domain::ids::{CalendarId, CampaignId, OrgId};
use crate::domain::phone::PhoneNumber;
use crate::domain::working_hours::WorkingHours;
use crate::error::Error;
use crate::service::campaigns as service;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The campaign object of API.md §3.1.
#[derive(Serialize)]
pub struct CampaignView<'a> {
    campaign_id: CampaignId,
    name: &'a str,
    organization_id: OrgId,
    agent_id: &'a str,
    status: CampaignStatus,
    phone_numbers: &'a [PhoneNumber],
    phone_number_strategy: PhoneNumberStrategy,
    working_hours_enforced: bool,
    timezone: &'static str,
    working_hours: &'a WorkingHours,
    /// Shown only when not the default `campaign`, so that a campaign that does not use it reads
    /// exactly as before.
    #[serde(skip_serializing_if = "is_campaign_basis")]
    working_hours_basis: WorkingHoursBasis,
    /// Shown only when some are set, likewise.
    #[serde(skip_serializing_if = "<[CalendarId]>::is_empty")]
    calendar_ids: &'a [CalendarId],
    /// Shown only when some are set, likewise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    frequency_caps: Vec<Value>,
    retry_policy: &'a RetryPolicy,
    default_call_variables: &'a Map<String, Value>,
    metadata: Metadata<'a>,
    #[serde(flatten)]
    counters: &'a CallCounters,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl<'a> From<&'a Campaign> for CampaignView<'a> {
    fn from(c: &'a Campaign) -> Self {
        let s = &c.settings;
        Self {
            campaign_id: c.id,
            name: &s.name,
            organization_id: c.organization_id,
            agent_id: &s.agent_id,
            status: c.status,
            phone_numbers: &s.phone_numbers,
            phone_number_strategy: s.phone_number_strategy,
            working_hours_enforced: s.working_hours_enforced,
            timezone: s.timezone.name(),
            working_hours: &s.working_hours,
            working_hours_basis: s.working_hours_basis,
            calendar_ids: &s.calendar_ids,
            frequency_caps: s.frequency_caps.iter().map(FrequencyCap::to_json).collect(),
            retry_policy: &s.retry_policy,
            default_call_variables: &s.default_call_variables,
            metadata: Metadata { concurrency_limit: s.concurrency_limit, rest: &s.metadata },
            counters: &c.counters,
            created_at: Timestamp(c.created_at),
            updated_at: Timestamp(c.updated_at),
        }
    }
}

fn is_campaign_basis(basis: &WorkingHoursBasis) -> bool {
    *basis == WorkingHoursBasis::Campaign
}

/// `metadata` as the client sees it: `concurrency_limit` first, then the keys as stored (written
/// without copying them).
struct Metadata<'a> {
    concurrency_limit: u32,
    rest: &'a Map<String, Value>,
}

impl Serialize for Metadata<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.rest.len() + 1))?;
        map.serialize_entry("concurrency_limit", &self.concurrency_limit)?;
        for (k, v) in self.rest.iter().filter(|(k, _)| *k != "concurrency_limit") {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// `POST /campaigns/` and its alias `POST /campaigns/create`.
pub async fn create(State(st): State<AppState>, auth: Auth, JsonObject(body): JsonObject) -> Result<Response, Error> {
    let (settings, org) = parse_create(&body)?;
    let org = auth.scope(org.as_deref())?;
    let campaign = service::create(&*st.store, org, settings, st.clock.now()).await?;
    created(&CampaignView::from(&campaign))
}

/// `GET /campaigns/`.
pub async fn list(State(st): State<AppState>, auth: Auth, query: Query) -> Result<Response, Error> {
    let mut errors = Vec::new();
    let page = query.page(50, &mut errors);
    let status = query.one_of("status", CampaignStatus::parse, &CampaignStatus::expected(), &mut errors);
    check(errors)?;
    let org = auth.scope(query.get("organization_id"))?;
    let (items, total) = service::list(&*st.store, org, status, &page).await?;
    let views: Vec<CampaignView> = items.iter().map(CampaignView::from).collect();
    let mut response = ok(&views)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

/// `GET /campaigns/{campaign_id}`.
pub async fn get(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> Result<Response, Error> {
    let campaign = service::get(&*st.store, auth.0, id).await?;
    ok(&CampaignView::from(&campaign))
}

/// `PATCH /campaigns/{campaign_id}`.
pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CampaignId>,
    JsonObject(body): JsonObject,
) -> Result<Response, Error> {
    let patch = parse_patch(&body)?;
    let campaign = service::update(&*st.store, &st.wake, auth.0, id, patch, st.clock.now()).await?;
    ok(&CampaignView::from(&campaign))
}

/// `DELETE /campaigns/{campaign_id}`.
pub async fn delete(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> Result<Response, Error> {
    service::delete(&*st.store, auth.0, id).await?;
    ok(&json!({ "campaign_id": id, "deleted": true, "message": "Campaign deleted successfully" }))
}

async fn act(
    st: AppState,
    auth: Auth,
    id: CampaignId,
    action: CampaignAction,
    message: &str,
) -> Result<Response, Error> {
    let campaign = service::act(&*st.store, &st.wake, auth.0, id, action, st.clock.now()).await?;
    ok(&json!({ "campaign_id": campaign.id, "status": campaign.status, "message": message }))
}

/// `POST /campaigns/{campaign_id}/pause`.
pub async fn pause(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> Result<Response, Error> {
    act(st, auth, id, CampaignAction::Pause, "Campaign paused successfully").await
}

/// `POST /campaigns/{campaign_id}/resume`.
pub async fn resume(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> Result<Response, Error> {
    act(st, auth, id, CampaignAction::Resume, "Campaign resumed successfully").await
}

/// `POST /campaigns/{campaign_id}/cancel`.
pub async fn cancel(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> Result<Response, Error> {
    act(st, auth, id, CampaignAction::Cancel, "Campaign cancelled successfully").await
}

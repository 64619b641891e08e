//! `/api/v1/calendars`: calendars of closed and special days (API.md §12.2).

use super::AppState;
use super::auth::Auth;
use super::calendar_body::{parse_create, parse_patch};
use super::extract::{JsonObject, PathId, Query, check};
use super::json::{Timestamp, created, ok};
use crate::domain::calendar::{Calendar, CalendarEntry};
use crate::domain::ids::{CalendarId, OrgId};
use crate::error::Error;
use crate::service::calendars as service;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

/// The calendar object.
#[derive(Serialize)]
struct CalendarView<'a> {
    calendar_id: CalendarId,
    organization_id: OrgId,
    name: &'a str,
    entries: &'a [CalendarEntry],
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl<'a> From<&'a Calendar> for CalendarView<'a> {
    fn from(c: &'a Calendar) -> Self {
        Self {
            calendar_id: c.id,
            organization_id: c.organization_id,
            name: &c.name,
            entries: &c.entries,
            created_at: Timestamp(c.created_at),
            updated_at: Timestamp(c.updated_at),
        }
    }
}

/// `POST /calendars`.
pub async fn create(State(st): State<AppState>, auth: Auth, JsonObject(body): JsonObject) -> Result<Response, Error> {
    let (name, entries) = parse_create(&body)?;
    let calendar = service::create(&*st.store, auth.0, name, entries, st.clock.now()).await?;
    created(&CalendarView::from(&calendar))
}

/// `GET /calendars`.
pub async fn list(State(st): State<AppState>, auth: Auth, query: Query) -> Result<Response, Error> {
    let mut errors = Vec::new();
    let page = query.page(50, &mut errors);
    check(errors)?;
    let (items, total) = service::list(&*st.store, auth.0, &page).await?;
    let views: Vec<CalendarView> = items.iter().map(CalendarView::from).collect();
    let mut response = ok(&views)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

/// `GET /calendars/{calendar_id}`.
pub async fn get(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CalendarId>) -> Result<Response, Error> {
    ok(&CalendarView::from(&service::get(&*st.store, auth.0, id).await?))
}

/// `PATCH /calendars/{calendar_id}`.
pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CalendarId>,
    JsonObject(body): JsonObject,
) -> Result<Response, Error> {
    let (name, entries) = parse_patch(&body)?;
    let calendar = service::update(&*st.store, &st.wake, auth.0, id, name, entries, st.clock.now()).await?;
    ok(&CalendarView::from(&calendar))
}

/// `DELETE /calendars/{calendar_id}`.
pub async fn delete(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CalendarId>) -> Result<Response, Error> {
    service::delete(&*st.store, auth.0, id).await?;
    ok(&json!({ "calendar_id": id, "deleted": true, "message": "Calendar deleted successfully" }))
}

//! Calendar use-cases (API.md §12.2): create, read, list, replace and delete, organization-scoped;
//! a calendar stays while a campaign that is not cancelled applies it.

use super::Wake;
use crate::domain::calendar::{Calendar, CalendarEntry};
use crate::domain::ids::{CalendarId, OrgId};
use crate::error::{Error, FieldError, Loc};
use crate::store::{Page, Store};
use chrono::{DateTime, Utc};

const NOT_FOUND: Error = Error::NotFound("Calendar");

/// Creates a calendar.
pub async fn create(
    store: &dyn Store,
    org: OrgId,
    name: String,
    entries: Vec<CalendarEntry>,
    now: DateTime<Utc>,
) -> Result<Calendar, Error> {
    let calendar =
        Calendar { id: CalendarId::generate(), organization_id: org, name, entries, created_at: now, updated_at: now };
    let mut tx = store.begin().await?;
    tx.insert_calendar(&calendar).await?;
    super::idempotency::commit(tx).await?;
    Ok(calendar)
}

/// The organization's calendar, or `404`.
pub async fn get(store: &dyn Store, org: OrgId, id: CalendarId) -> Result<Calendar, Error> {
    store.get_calendar(org, id).await?.ok_or(NOT_FOUND)
}

/// A page of calendars, newest first, with the total count.
pub async fn list(store: &dyn Store, org: OrgId, page: &Page) -> Result<(Vec<Calendar>, i64), Error> {
    store.list_calendars(org, page).await
}

/// Replaces the name and/or the entries (wholesale). The campaigns that apply it judge their next
/// dispatch decision by the new entries.
pub async fn update(
    store: &dyn Store,
    wake: &Wake,
    org: OrgId,
    id: CalendarId,
    name: Option<String>,
    entries: Option<Vec<CalendarEntry>>,
    now: DateTime<Utc>,
) -> Result<Calendar, Error> {
    let mut tx = store.begin().await?;
    let mut calendar = tx.lock_calendar(org, id).await?.ok_or(NOT_FOUND)?;
    if let Some(name) = name {
        calendar.name = name;
    }
    if let Some(entries) = entries {
        calendar.entries = entries;
    }
    calendar.updated_at = now;
    tx.update_calendar(&calendar).await?;
    tx.campaigns_changed_by_calendar(org, id, now).await?;
    super::idempotency::commit(tx).await?;
    wake.nudge();
    Ok(calendar)
}

/// Deletes a calendar; `409` while a campaign that is not cancelled applies it.
pub async fn delete(store: &dyn Store, org: OrgId, id: CalendarId) -> Result<(), Error> {
    let mut tx = store.begin().await?;
    tx.lock_calendar(org, id).await?.ok_or(NOT_FOUND)?;
    if tx.calendar_in_use(org, id).await? {
        return Err(Error::Conflict(
            "Calendar is used by a campaign that is not cancelled; remove it from the campaign first".into(),
        ));
    }
    tx.delete_calendar(id).await?;
    super::idempotency::commit(tx).await
}

/// Checks that every id of a campaign's `calendar_ids` names one of the organization's calendars:
/// `422` at each one that does not.
pub async fn check_known(store: &dyn Store, org: OrgId, ids: &[CalendarId]) -> Result<(), Error> {
    let known = store.calendars_of(org, ids).await?;
    let problems: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !known.iter().any(|c| c.id == **id))
        .map(|(i, id)| {
            let loc = vec![Loc::from("body"), Loc::from("calendar_ids"), Loc::from(i)];
            FieldError::new(loc, "value_error", format!("Value error, no calendar {id} in this organization"))
        })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(Error::Validation(problems)) }
}

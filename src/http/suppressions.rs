//! `/api/v1/suppressions`: the organization's do-not-call lists (API.md §12.3): bulk add with a
//! result per row, listing, removal that keeps the entry's history, and checking numbers.

use super::AppState;
use super::auth::Auth;
use super::extract::{JsonObject, Query, check};
use super::json::{Timestamp, ok};
use super::validate::{NUL_MESSAGE, Problems, at};
use crate::domain::ids::CampaignId;
use crate::domain::phone::PhoneNumber;
use crate::domain::suppression::{self, Episode, Suppression, SuppressionFilter};
use crate::error::{Error, FieldError, Loc};
use crate::service::suppressions::{self as service, Row};
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// An entry as the API shows it.
#[derive(Serialize)]
struct EntryView<'a> {
    phone_number: &'a str,
    scope: &'static str,
    campaign_id: Option<CampaignId>,
    reason: Option<&'a str>,
    expires_at: Option<Timestamp>,
    created_at: Timestamp,
    removed_at: Option<Timestamp>,
    /// In force now: neither removed nor expired.
    active: bool,
    history: Vec<Value>,
}

fn view(s: &Suppression, now: chrono::DateTime<chrono::Utc>) -> EntryView<'_> {
    let episode = |e: &Episode| {
        json!({
            "added_at": Timestamp(e.added_at),
            "reason": e.reason,
            "expires_at": e.expires_at.map(Timestamp),
            "removed_at": e.removed_at.map(Timestamp),
        })
    };
    EntryView {
        phone_number: &s.phone_number,
        scope: s.scope(),
        campaign_id: s.campaign_id,
        reason: s.reason.as_deref(),
        expires_at: s.expires_at.map(Timestamp),
        created_at: Timestamp(s.created_at),
        removed_at: s.removed_at.map(Timestamp),
        active: s.in_force(now),
        history: s.history.iter().map(episode).collect(),
    }
}

fn body() -> Vec<Loc> {
    vec![Loc::from("body")]
}

/// The list a body carries under `field` (1 to 100,000 items); other fields refused.
fn items<'b>(obj: &'b Map<String, Value>, field: &str, allowed: &[&str]) -> Result<&'b [Value], Error> {
    let mut p = Problems::default();
    p.unknown_keys(obj, allowed, &body());
    let list =
        p.field(obj, field, &body(), true).and_then(|v| p.array(v, at(&body(), field), 1, suppression::MAX_ENTRIES));
    match list {
        Some(list) if p.is_empty() => Ok(list),
        _ => Err(Error::Validation(p.0)),
    }
}

/// One entry of an add request, or why it is refused.
fn row(value: &Value) -> Row {
    let Some(obj) = value.as_object() else { return Row::Rejected("entry must be an object".into()) };
    if let Some(k) = obj.keys().find(|k| !["phone_number", "campaign_id", "reason", "expires_at"].contains(&k.as_str()))
    {
        return Row::Rejected(format!("unknown field '{k}'"));
    }
    let Some(text) = obj.get("phone_number").and_then(Value::as_str) else {
        return Row::Rejected("phone_number is required and must be a string".into());
    };
    let phone = match PhoneNumber::parse(text) {
        Ok(p) => p,
        Err(e) => return Row::Rejected(e.message().into()),
    };
    let campaign = match obj.get("campaign_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(CampaignId::parse) {
            Some(id) => Some(id),
            None => return Row::Rejected("campaign_id is not a campaign id (cmp_…)".into()),
        },
    };
    let reason = match obj.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r))
            if !r.is_empty() && !r.contains('\0') && r.chars().count() <= suppression::MAX_REASON_CHARS =>
        {
            Some(r.clone())
        }
        Some(_) => return Row::Rejected("reason must be a string of 1 to 200 characters, without NUL".into()),
    };
    let expires_at = match obj.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(crate::domain::time::parse_instant) {
            Some(t) => Some(t),
            None => return Row::Rejected("expires_at must be an RFC 3339 datetime with Z or an offset".into()),
        },
    };
    Row::Entry(suppression::NewSuppression {
        phone_number: phone.as_str().to_owned(),
        campaign_id: campaign,
        reason,
        expires_at,
    })
}

/// `POST /suppressions`.
pub async fn add(State(st): State<AppState>, auth: Auth, JsonObject(obj): JsonObject) -> Result<Response, Error> {
    let list = items(&obj, "entries", &["entries"])?;
    let rows: Vec<Row> = list.iter().map(row).collect();
    let report = service::add(&*st.store, auth.0, rows, st.clock.now()).await?;
    let rejected: Vec<Value> = report.rejected.iter().map(|(i, r)| json!({"index": i, "reason": r})).collect();
    ok(&json!({"added": report.added, "already_present": report.already_present, "rejected": rejected}))
}

/// `GET /suppressions`.
pub async fn list(State(st): State<AppState>, auth: Auth, query: Query) -> Result<Response, Error> {
    let mut errors = Vec::new();
    let page = query.page(50, &mut errors);
    let phone_number = query.get("phone_number").and_then(|t| match PhoneNumber::parse(t) {
        Ok(p) => Some(p.as_str().to_owned()),
        Err(e) => {
            errors.push(FieldError::new(vec!["query".into(), "phone_number".into()], "value_error", e.message()));
            None
        }
    });
    let include_inactive =
        query.one_of("include_removed", parse_bool, "'true' or 'false'", &mut errors).unwrap_or(false);
    check(errors)?;
    let campaign_id = match query.get("campaign_id") {
        Some(text) => match CampaignId::parse(text) {
            Some(id) => Some(id),
            // A malformed id names no campaign: nothing matches.
            None => return list_response(&[], 0, st.clock.now()),
        },
        None => None,
    };
    let reason = query.get("reason").map(str::to_owned);
    if reason.as_deref().is_some_and(|r| r.contains('\0')) {
        let loc = vec![Loc::from("query"), Loc::from("reason")];
        return Err(Error::Validation(vec![FieldError::new(loc, "string_pattern_mismatch", NUL_MESSAGE)]));
    }
    let filter = SuppressionFilter { phone_number, campaign_id, reason, include_inactive };
    let now = st.clock.now();
    let (items, total) = service::list(&*st.store, auth.0, &filter, &page, now).await?;
    list_response(&items, total, now)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn list_response(items: &[Suppression], total: i64, now: chrono::DateTime<chrono::Utc>) -> Result<Response, Error> {
    let views: Vec<EntryView> = items.iter().map(|s| view(s, now)).collect();
    let mut response = ok(&views)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

/// `DELETE /suppressions/{phone_number}` (`?campaign_id=` for a campaign's entry).
pub async fn remove(
    State(st): State<AppState>,
    auth: Auth,
    Path(phone): Path<String>,
    query: Query,
) -> Result<Response, Error> {
    let not_found = || Error::NotFound("Suppression");
    let phone = PhoneNumber::parse(&phone).map_err(|_| not_found())?;
    let campaign = match query.get("campaign_id") {
        Some(text) => Some(CampaignId::parse(text).ok_or_else(not_found)?),
        None => None,
    };
    let now = st.clock.now();
    let removed = service::remove(&*st.store, auth.0, phone.as_str(), campaign, now).await?;
    ok(&view(&removed, now))
}

/// `POST /suppressions/check`: for each number, whether an entry in force stops calls to it (for the
/// whole organization, or for `campaign_id` when given) and which entries there are.
pub async fn check_numbers(
    State(st): State<AppState>,
    auth: Auth,
    JsonObject(obj): JsonObject,
) -> Result<Response, Error> {
    let list = items(&obj, "phone_numbers", &["phone_numbers", "campaign_id"])?;
    let mut p = Problems::default();
    let mut numbers = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let loc = at(&at(&body(), "phone_numbers"), i);
        let Some(text) = p.string(item, loc.clone(), 1, 32) else { continue };
        match PhoneNumber::parse(&text) {
            Ok(n) => numbers.push(n.as_str().to_owned()),
            Err(e) => p.push(loc, "value_error", e.message()),
        }
    }
    let campaign = obj.get("campaign_id").filter(|v| !v.is_null()).and_then(|v| {
        let id = v.as_str().and_then(CampaignId::parse);
        if id.is_none() {
            p.push(at(&body(), "campaign_id"), "value_error", "Value error, not a campaign id (cmp_…)");
        }
        id
    });
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    let now = st.clock.now();
    let found = service::check(&*st.store, auth.0, &numbers, now).await?;
    // Grouped once: the answer costs in proportion to the numbers and entries, not their product.
    let mut by_number: std::collections::HashMap<&str, Vec<&Suppression>> = std::collections::HashMap::new();
    for s in &found {
        by_number.entry(s.phone_number.as_str()).or_default().push(s);
    }
    let results: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let entries: &[&Suppression] = by_number.get(n.as_str()).map_or(&[], Vec::as_slice);
            // Any entry, or with a campaign named, the organization's and that campaign's.
            let stops = entries.iter().any(|s| campaign.is_none_or(|c| s.campaign_id.is_none_or(|own| own == c)));
            let views: Vec<EntryView> = entries.iter().map(|s| view(s, now)).collect();
            json!({"phone_number": n, "suppressed": stops, "entries": views})
        })
        .collect();
    ok(&json!({ "results": results }))
}

//! Batch routes (API.md §4.4) and the batch's wire shape.

use super::AppState;
use super::auth::Auth;
use super::batch_body;
use super::batch_contacts::{Contacts, split_json};
use super::extract::{PathId, Query, check, read_request_body};
use super::json::{Timestamp, created, ok};
use crate::domain::batch::{Batch, BatchAction, BatchStatus};
use crate::domain::contact::StatusCounts;
use crate::domain::ids::{BatchId, CampaignId};
use crate::error::{Error, Loc};
use crate::service::batches as service;
use crate::store::{BatchFilter, Page};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// The eleven counters of API.md §4.1 (`in_flight` is the contacts `in_progress`).
struct Counters<'a>(&'a StatusCounts);

impl Serialize for Counters<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(11))?;
        for (status, n) in self.0.iter() {
            let key = match status.as_str() {
                "in_progress" => "in_flight",
                other => other,
            };
            map.serialize_entry(key, &n)?;
        }
        map.end()
    }
}

/// The batch object; list items leave out `call_context` and `metadata`.
#[derive(Serialize)]
pub struct BatchView<'a> {
    batch_id: BatchId,
    campaign_id: CampaignId,
    organization_id: crate::domain::ids::OrgId,
    status: BatchStatus,
    total_contacts: i64,
    concurrency_limit: Option<u32>,
    max_retries_override: Option<u8>,
    scheduled_start: Timestamp,
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_context: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Map<String, Value>>,
    counters: Counters<'a>,
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Option<Timestamp>,
}

impl<'a> BatchView<'a> {
    /// The full object (`full`) or the list item.
    pub fn new(b: &'a Batch, full: bool) -> Self {
        Self {
            batch_id: b.id,
            campaign_id: b.campaign_id,
            organization_id: b.organization_id,
            status: b.status,
            total_contacts: b.total_contacts,
            concurrency_limit: b.concurrency_limit,
            max_retries_override: b.max_retries_override,
            scheduled_start: Timestamp(b.scheduled_start),
            expires_at: b.expires_at.map(Timestamp),
            call_context: full.then_some(&b.call_context),
            metadata: full.then_some(&b.metadata),
            counters: Counters(&b.counters),
            created_at: Timestamp(b.created_at),
            updated_at: Timestamp(b.updated_at),
            completed_at: b.completed_at.map(Timestamp),
        }
    }
}

/// Reads a create body: JSON, or `multipart/form-data` with a CSV `file`; its fields, and its
/// contacts counted but not yet parsed.
async fn read_body(st: &AppState, req: Request) -> Result<(Map<String, Value>, Contacts), Error> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let bytes = read_request_body(req, st.max_body_bytes).await?;
        return tokio::task::spawn_blocking(move || split_json(bytes)).await.map_err(Error::internal)?;
    }
    let limit = st.max_body_bytes;
    let bad_form = |msg: String| Error::invalid(vec![Loc::from("body")], "multipart_invalid", msg);
    let mut form = Multipart::from_request(req, st).await.map_err(|e| bad_form(e.body_text()))?;
    let mut fields = Vec::new();
    let mut csv = None;
    let mut total = 0usize;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(e, limit))? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        total += bytes.len();
        if total > limit {
            return Err(Error::PayloadTooLarge(limit));
        }
        if name == "file" {
            csv = Some(bytes.to_vec());
        } else {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| bad_form(format!("form field '{name}' is not UTF-8 text")))?;
            fields.push((name, text));
        }
    }
    tokio::task::spawn_blocking(move || batch_body::from_form(fields, csv)).await.map_err(Error::internal)?
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> Error {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(limit)
    } else {
        Error::invalid(vec![Loc::from("body")], "multipart_invalid", e.body_text())
    }
}

/// `POST /batches/` and its alias `POST /batches/upload`. Contacts are checked on a blocking thread
/// and stored chunk by chunk meanwhile, in one transaction that commits only when every one passed.
pub async fn create(State(st): State<AppState>, auth: Auth, req: Request) -> Result<Response, Error> {
    let (fields, contacts) = read_body(&st, req).await?;
    let (envelope, items, problems) = batch_body::envelope(fields, contacts);
    let (sender, contacts) = mpsc::channel(4);
    let checker = tokio::task::spawn_blocking(move || batch_body::check_contacts(items, problems, sender));
    let checked = async { checker.await.map_err(Error::internal)? };
    // Every problem of the body comes before any other answer.
    let target = envelope.ok_or_else(|| Error::internal("batch body without fields")).and_then(|e| {
        let org = auth.scope(e.organization_id.as_deref())?;
        Ok((org, e.campaign_id.ok_or(Error::NotFound("Campaign"))?, e.settings))
    });
    let (org, campaign_id, settings) = match target {
        Ok(target) => target,
        Err(e) => {
            drop(contacts);
            checked.await?;
            return Err(e);
        }
    };
    let (batch, suppressed, checked) = service::create(
        &*st.store,
        &st.wake,
        org,
        campaign_id,
        settings,
        service::Upload { contacts, checked },
        st.clock.now(),
    )
    .await?;
    let mut body = serde_json::to_value(BatchView::new(&batch, true)).map_err(Error::internal)?;
    body["warnings"] = serde_json::to_value(&checked.warnings).map_err(Error::internal)?;
    body["duplicates_removed"] = checked.duplicates_removed.into();
    body["suppressed"] = suppressed.into();
    created(&body)
}

fn list_params(query: &Query) -> Result<(BatchFilter, Page), Error> {
    let mut errors = Vec::new();
    let page = query.page(50, &mut errors);
    let status = query.one_of("status", BatchStatus::parse, &BatchStatus::expected(), &mut errors);
    check(errors)?;
    Ok((BatchFilter { campaign_id: None, status }, page))
}

fn list_response(items: &[Batch], total: i64) -> Result<Response, Error> {
    let views: Vec<BatchView> = items.iter().map(|b| BatchView::new(b, false)).collect();
    let mut response = ok(&views)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

/// `GET /batches/`.
pub async fn list(State(st): State<AppState>, auth: Auth, query: Query) -> Result<Response, Error> {
    let (mut filter, page) = list_params(&query)?;
    let org = auth.scope(query.get("organization_id"))?;
    if let Some(text) = query.get("campaign_id") {
        match CampaignId::parse(text) {
            Some(id) => filter.campaign_id = Some(id),
            // A malformed id names no campaign: nothing matches.
            None => return list_response(&[], 0),
        }
    }
    let (items, total) = service::list(&*st.store, org, &filter, &page).await?;
    list_response(&items, total)
}

/// `GET /campaigns/{campaign_id}/batches`.
pub async fn list_of_campaign(
    State(st): State<AppState>,
    auth: Auth,
    PathId(campaign): PathId<CampaignId>,
    query: Query,
) -> Result<Response, Error> {
    let (filter, page) = list_params(&query)?;
    let org = auth.scope(query.get("organization_id"))?;
    let (items, total) = service::list_of_campaign(&*st.store, org, campaign, filter, &page).await?;
    list_response(&items, total)
}

/// `GET /batches/{batch_id}`.
pub async fn get(State(st): State<AppState>, auth: Auth, PathId(id): PathId<BatchId>) -> Result<Response, Error> {
    let batch = service::get(&*st.store, auth.0, id).await?;
    ok(&BatchView::new(&batch, true))
}

async fn act(st: AppState, auth: Auth, id: BatchId, action: BatchAction, message: &str) -> Result<Response, Error> {
    let batch = service::act(&*st.store, &st.wake, auth.0, id, action, st.clock.now()).await?;
    ok(&json!({ "batch_id": batch.id, "status": batch.status, "message": message }))
}

/// `POST /batches/{batch_id}/pause`.
pub async fn pause(State(st): State<AppState>, auth: Auth, PathId(id): PathId<BatchId>) -> Result<Response, Error> {
    act(st, auth, id, BatchAction::Pause, "Batch paused successfully").await
}

/// `POST /batches/{batch_id}/resume`.
pub async fn resume(State(st): State<AppState>, auth: Auth, PathId(id): PathId<BatchId>) -> Result<Response, Error> {
    act(st, auth, id, BatchAction::Resume, "Batch resumed successfully").await
}

/// `POST /batches/{batch_id}/cancel`.
pub async fn cancel(State(st): State<AppState>, auth: Auth, PathId(id): PathId<BatchId>) -> Result<Response, Error> {
    act(st, auth, id, BatchAction::Cancel, "Batch cancelled successfully").await
}

/// `POST /batches/{batch_id}/dispatch`.
pub async fn dispatch(State(st): State<AppState>, auth: Auth, PathId(id): PathId<BatchId>) -> Result<Response, Error> {
    let batch = service::dispatch(&*st.store, &st.wake, auth.0, id).await?;
    ok(&json!({
        "batch_id": batch.id,
        "status": batch.status,
        "dispatched_count": batch.counters.get(crate::domain::contact::ContactStatus::Pending),
        "message": "Batch dispatch re-triggered successfully",
    }))
}

/// `GET /batches/{batch_id}/debug`.
pub async fn debug(State(st): State<AppState>, auth: Auth, PathId(id): PathId<BatchId>) -> Result<Response, Error> {
    let d = service::debug(&*st.store, auth.0, id, st.dispatcher.calls_per_second(), st.clock.now()).await?;
    let breakdown: Map<String, Value> = d
        .breakdown
        .iter()
        .map(|b| {
            let entry = json!({ "count": b.count, "oldest_updated_at": b.oldest_updated_at.map(Timestamp) });
            (b.status.as_str().to_owned(), entry)
        })
        .collect();
    let tip = match d.blocked_by.first() {
        None if d.stuck_pending > 0 => {
            "Calls can start but some pending contacts have waited over 30 minutes; POST /dispatch to wake the dispatcher"
        }
        None => "Calls can start now; contacts are dispatched in order as capacity frees",
        Some(reason) => reason_tip(reason.as_str()),
    };
    ok(&json!({
        "batch_id": d.batch.id,
        "status": d.batch.status,
        "status_breakdown": breakdown,
        "pending_sample": d.pending_sample,
        "diagnostics": {
            "stuck_pending": d.stuck_pending,
            "tip": tip,
            "blocked_by": d.blocked_by,
        },
    }))
}

fn reason_tip(reason: &str) -> &'static str {
    match reason {
        "campaign_paused" => "The campaign is paused; resume it to continue dispatching",
        "batch_paused" => "The batch is paused; resume it to continue dispatching",
        "scheduled_start" => "The batch starts at its scheduled_start",
        "outside_working_hours" => "Outside the campaign's working hours; calls start at the next window",
        "holiday" => "A calendar closes this day; calls start on the next open day",
        "frequency_cap" => "A frequency cap is reached for these numbers; calls start as its window moves on",
        "suppressed" => "The numbers are on a suppression list; they are skipped",
        "concurrency_limit" => "The concurrency limit is reached; calls start as calls in flight end",
        "calls_per_second" => "This second's --calls-per-second are all started; calls go on in the next second",
        _ => "Nothing is due: no pending contacts and no retry or follow-up due yet",
    }
}

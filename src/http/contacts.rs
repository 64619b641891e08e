//! `GET /batches/{batch_id}/contacts` and the contact and call-record wire shapes (API.md §5).

use super::AppState;
use super::auth::Auth;
use super::extract::{PathId, Query, check};
use super::json::{Timestamp, ok};
use crate::domain::contact::{CallKind, CallRecord, CallStatus, ContactStatus, Evidence};
use crate::domain::eligibility::BlockedBy;
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::provider::Provider;
use crate::domain::recipient::ZoneSource;
use crate::domain::voicemail::AnsweredBy;
use crate::domain::zone_key::ZoneKey;
use crate::error::{Error, FieldError, Loc};
use crate::service::batches::{self as service, ContactQuery, ContactWithCalls};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value};

/// One call attempt.
#[derive(Serialize)]
pub struct CallView<'a> {
    execution_id: ExecutionId,
    call_status: CallStatus,
    duration_seconds: Option<f64>,
    recording_url: Option<&'a str>,
    transcript: Option<&'a str>,
    summary: Option<&'a str>,
    sentiment: Option<&'a str>,
    hangup_by: Option<&'a str>,
    hangup_reason: Option<&'a str>,
    total_cost: Option<f64>,
    provider: Option<Provider>,
    provider_call_id: Option<&'a str>,
    answered_by: Option<AnsweredBy>,
    opt_out: bool,
    from_number: &'a str,
    to_number: &'a str,
    attempt: i64,
    kind: CallKind,
    dispatched_at: Timestamp,
    answered_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    decision: Option<&'a Evidence>,
}

impl<'a> From<&'a CallRecord> for CallView<'a> {
    fn from(c: &'a CallRecord) -> Self {
        Self {
            execution_id: c.execution_id,
            call_status: c.call_status,
            duration_seconds: c.duration_seconds,
            recording_url: c.recording_url.as_deref(),
            transcript: c.transcript.as_deref(),
            summary: c.summary.as_deref(),
            sentiment: c.sentiment.as_deref(),
            hangup_by: c.hangup_by.as_deref(),
            hangup_reason: c.hangup_reason.as_deref(),
            total_cost: c.total_cost,
            provider: c.provider,
            provider_call_id: c.provider_call_id.as_deref(),
            answered_by: c.answered_by,
            opt_out: c.opt_out,
            from_number: &c.from_number,
            to_number: &c.to_number,
            attempt: c.attempt,
            kind: c.kind,
            dispatched_at: Timestamp(c.dispatched_at),
            answered_at: c.answered_at.map(Timestamp),
            ended_at: c.ended_at.map(Timestamp),
            decision: c.decision.as_ref(),
        }
    }
}

/// One contact, with its latest call and (on request) every call.
#[derive(Serialize)]
pub struct ContactView<'a> {
    contact_id: ContactId,
    batch_id: BatchId,
    campaign_id: CampaignId,
    phone_number: &'a str,
    call_variables: &'a Map<String, Value>,
    status: ContactStatus,
    skip_reason: Option<&'a str>,
    retry_count: i64,
    follow_up_count: i64,
    last_attempted_at: Option<Timestamp>,
    next_retry_at: Option<Timestamp>,
    latest_retry_count: i64,
    timezones: Option<Vec<&'static str>>,
    timezone_source: Option<ZoneSource>,
    region: Option<&'a str>,
    blocked_by: &'a [BlockedBy],
    next_eligible_at: Option<Timestamp>,
    current_call: Option<CallView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_records: Option<Vec<CallView<'a>>>,
}

impl<'a> From<&'a ContactWithCalls> for ContactView<'a> {
    fn from(item: &'a ContactWithCalls) -> Self {
        let c = &item.contact;
        Self {
            contact_id: c.id,
            batch_id: c.batch_id,
            campaign_id: c.campaign_id,
            phone_number: &c.phone_number,
            call_variables: &c.call_variables,
            status: c.status,
            skip_reason: c.skip_reason.as_deref(),
            retry_count: c.retry_count,
            follow_up_count: c.follow_up_count,
            last_attempted_at: c.last_attempted_at.map(Timestamp),
            next_retry_at: c.next_retry_at.map(Timestamp),
            latest_retry_count: c.latest_retry_count,
            timezones: c.zone_key.as_ref().map(ZoneKey::zone_names),
            timezone_source: c.timezone_source,
            region: c.zone_key.as_ref().and_then(|k| k.region.as_deref()),
            blocked_by: &item.blocked_by,
            next_eligible_at: item.next_eligible_at.map(Timestamp),
            current_call: item.current_call.as_ref().map(CallView::from),
            call_records: item.call_records.as_ref().map(|calls| calls.iter().map(CallView::from).collect()),
        }
    }
}

fn flag(query: &Query, name: &str, errors: &mut Vec<FieldError>) -> bool {
    match query.get(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => false,
        Some("true" | "1" | "yes" | "on") => true,
        Some(_) => {
            errors.push(FieldError::new(
                vec![Loc::from("query"), Loc::from(name)],
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            ));
            false
        }
    }
}

/// `GET /batches/{batch_id}/contacts`.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<BatchId>,
    query: Query,
) -> Result<Response, Error> {
    let mut errors = Vec::new();
    let page = query.page(100, &mut errors);
    let status = query.one_of("status", ContactStatus::parse, &ContactStatus::expected(), &mut errors);
    let include_calls = flag(&query, "include_calls", &mut errors);
    check(errors)?;
    let (calls_per_second, now) = (st.dispatcher.calls_per_second(), st.clock.now());
    let (items, total) = service::contacts(
        &*st.store,
        auth.0,
        id,
        ContactQuery { status, include_calls, page: &page },
        calls_per_second,
        now,
    )
    .await?;
    let views: Vec<ContactView> = items.iter().map(ContactView::from).collect();
    let mut response = ok(&views)?;
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

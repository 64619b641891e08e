//! `GET /campaigns/{campaign_id}/stats`.

use super::AppState;
use super::auth::Auth;
use super::extract::PathId;
use super::json::{Timestamp, ok};
use crate::domain::ids::CampaignId;
use crate::error::Error;
use crate::service::stats::campaign_stats;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

/// `GET /campaigns/{campaign_id}/stats`.
pub async fn get(State(st): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> Result<Response, Error> {
    let s = campaign_stats(&*st.store, auth.0, id, st.dispatcher.calls_per_second(), st.clock.now()).await?;
    let contact_counts: Map<String, Value> =
        s.contact_counts.iter().map(|(k, v)| (k.as_str().to_owned(), v.into())).collect();
    let batch_counts: Map<String, Value> =
        s.batch_counts.iter().map(|(k, v)| (k.as_str().to_owned(), (*v).into())).collect();
    let retry_breakdown: Map<String, Value> =
        s.retry_breakdown.iter().map(|(k, v)| (format!("retry_{k}"), (*v).into())).collect();
    ok(&json!({
        "campaign_id": s.campaign_id,
        "contact_counts": contact_counts,
        "batch_counts": batch_counts,
        "call_counters": s.call_counters,
        "retry_breakdown": retry_breakdown,
        "in_flight_contacts": s.in_flight_contacts(),
        "total_call_attempts": s.total_call_attempts,
        "follow_up_attempts": s.call_counters.follow_up_calls,
        "active_calls": s.active_calls,
        "answer_rate": s.answer_rate(),
        "avg_duration_seconds": s.avg_duration_seconds(),
        "next_dispatch_at": s.next_dispatch_at.map(Timestamp),
    }))
}

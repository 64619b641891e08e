//! `POST /api/v1/webhooks/call-status`: telephony's progress and outcome callbacks, verified by
//! signature (API.md §7, §8) instead of a bearer token.

use super::AppState;
use super::extract::{parse_json_object, read_body};
use super::json::ok;
use super::validate::{Problems, at};
use crate::clock::Clock;
use crate::dispatch::Report;
use crate::domain::contact::CallStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::Outcome;
use crate::error::{Error, Loc};
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

fn header<'a>(req: &'a Request, name: &str) -> &'a str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// `POST /api/v1/webhooks/call-status`.
pub async fn call_status(State(st): State<AppState>, req: Request) -> Result<Response, Error> {
    let unauthorized = || Error::BadSignature;
    let secret = st.webhook_secret.as_ref().ok_or_else(unauthorized)?;
    let (id, timestamp, signature) = (
        header(&req, "webhook-id").to_owned(),
        header(&req, "webhook-timestamp").to_owned(),
        header(&req, "webhook-signature").to_owned(),
    );
    let body = read_body(req.into_body(), st.max_body_bytes).await?;
    secret.verify(&id, &timestamp, &signature, &body, Clock::System.now().timestamp()).map_err(|_| unauthorized())?;
    let obj = parse_json_object(&body)?;
    let (execution, report) = parse(&obj)?;
    let applied = match execution {
        Some(execution_id) => st.dispatcher.report(execution_id, report).await?,
        None => false,
    };
    ok(&json!({ "execution_id": obj.get("execution_id"), "applied": applied }))
}

/// Reads a callback body. Fields the server does not know are ignored, so that telephony can add some.
fn parse(obj: &Map<String, Value>) -> Result<(Option<ExecutionId>, Report), Error> {
    let b = vec![Loc::from("body")];
    let mut p = Problems::default();
    let execution = p.field(obj, "execution_id", &b, true).and_then(|v| p.string(v, at(&b, "execution_id"), 1, 64));
    let status = p.field(obj, "call_status", &b, true).and_then(|v| {
        let text = v.as_str().map(|s| s.replace('-', "_"));
        let parsed = text.as_deref().and_then(CallStatus::parse).filter(|s| *s != CallStatus::Dispatched);
        if parsed.is_none() {
            p.push(
                at(&b, "call_status"),
                "enum",
                "Input should be 'ringing', 'in-progress', 'completed', 'busy', 'no-answer' or 'failed'",
            );
        }
        parsed
    });
    let number = |p: &mut Problems, key: &str| {
        p.field(obj, key, &b, false).and_then(|v| {
            let n = v.as_f64().filter(|n| n.is_finite() && *n >= 0.0);
            if n.is_none() {
                p.push(at(&b, key), "float_type", "Input should be a non-negative number");
            }
            n
        })
    };
    let duration_seconds = number(&mut p, "duration_seconds");
    let total_cost = number(&mut p, "total_cost");
    let mut text = |key: &str| p.field(obj, key, &b, false).and_then(|v| p.string(v, at(&b, key), 0, 1 << 20));
    let (recording_url, transcript, summary, sentiment, hangup_by, hangup_reason) = (
        text("recording_url"),
        text("transcript"),
        text("summary"),
        text("sentiment"),
        text("hangup_by"),
        text("hangup_reason"),
    );
    let follow_up_at = p.field(obj, "follow_up_at", &b, false).and_then(|v| p.instant(v, at(&b, "follow_up_at")));
    let permanent =
        p.field(obj, "permanent", &b, false).and_then(|v| p.boolean(v, at(&b, "permanent"))).unwrap_or(false);
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    let report = match status {
        Some(CallStatus::Ringing) => Report::Ringing,
        Some(CallStatus::InProgress) => Report::Answered,
        Some(status) => Report::Finished(Box::new(Outcome {
            status,
            duration_seconds,
            recording_url,
            transcript,
            summary,
            sentiment,
            hangup_by,
            hangup_reason,
            total_cost,
            // taken from the in-progress callback, or derived from the duration
            answered_at: None,
            follow_up_at,
            permanent,
        })),
        None => return Err(Error::internal("call_status checked above")),
    };
    Ok((execution.as_deref().and_then(ExecutionId::parse), report))
}

//! `POST /api/v1/webhooks/call-status`: telephony's progress and outcome callbacks, verified by
//! signature (API.md §7, §8) instead of a bearer token.

pub mod jambonz;
pub mod livekit;
pub mod twilio;

use super::AppState;
use super::auth::client_of;
use super::extract::{parse_json_object, read_request_body};
use super::json::ok;
use super::validate::{Problems, at};
use crate::clock::Clock;
use crate::dispatch::Reported;
use crate::domain::contact::CallStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::Outcome;
use crate::domain::voicemail::AnsweredBy;
use crate::error::{Error, Loc};
use crate::signing::{SignedHeaders, VerifyError};
use crate::telephony::placer::{Callback, MAX_DURATION_SECONDS, Report};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

/// The largest callback body (API.md §7); a larger one gets `413` before it is read.
pub const MAX_CALLBACK_BYTES: usize = 1 << 20;
/// How far after the call a follow-up may be asked for.
const MAX_FOLLOW_UP_DAYS: i64 = 30;

fn header<'a>(req: &'a Request, name: &str) -> &'a str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Reads a signed callback's body once its signature headers passed: an address that failed too
/// often gets `429`, headers that are missing, stale or carry too many signatures `401`, all before
/// the body is read; then at most `MAX_CALLBACK_BYTES` are read and the MAC checked once.
async fn verified_body(st: &AppState, req: Request) -> Result<Bytes, Error> {
    let client = client_of(req.extensions());
    let guard = &st.auth_failures;
    guard.check(client)?;
    let now = Clock::System.now().timestamp();
    let (id, timestamp, signature) = (
        header(&req, "webhook-id").to_owned(),
        header(&req, "webhook-timestamp").to_owned(),
        header(&req, "webhook-signature").to_owned(),
    );
    let checked = match &st.webhook_secret {
        Some(secret) => SignedHeaders::parse(&id, &timestamp, &signature, now).map(|h| (secret, h)),
        None => Err(VerifyError::MissingHeaders),
    };
    let (secret, headers) = guard.guard(client, checked.map_err(|_| Error::BadSignature))?;
    let body = read_request_body(req, MAX_CALLBACK_BYTES).await?;
    guard.guard(client, secret.verify_body(&headers, &body).map_err(|_| Error::BadSignature))?;
    Ok(body)
}

/// Applies a provider's authenticated callback; says whether it changed the call. A callback that
/// names no call of this server is `404`, and changes nothing.
async fn apply_provider_callback(st: &AppState, callback: Callback) -> Result<bool, Error> {
    let execution_id = callback.execution_id.ok_or(Error::NotFound("Call"))?;
    let reported = match callback.report {
        Some(report) => st.dispatcher.report(execution_id, callback.call_sid, report).await?,
        None => st.dispatcher.knows(execution_id, callback.call_sid).await?,
    };
    match reported {
        Reported::Unknown => Err(Error::NotFound("Call")),
        Reported::Ignored => Ok(false),
        Reported::Applied | Reported::HangUp => Ok(true),
    }
}

/// `POST /api/v1/webhooks/call-status`.
pub async fn call_status(State(st): State<AppState>, req: Request) -> Result<Response, Error> {
    let body = verified_body(&st, req).await?;
    let obj = parse_json_object(&body)?;
    let (execution, report, opted_out) = parse(&obj, st.clock.now())?;
    // A final outcome that closes the call records its opt-out itself.
    let finishes = matches!(report, Report::Finished(_));
    let reported = match execution {
        Some(execution_id) => st.dispatcher.report(execution_id, None, report).await?,
        None => Reported::Unknown,
    };
    let closed_it = finishes && reported == Reported::Applied;
    let marked = match execution {
        Some(execution_id) if opted_out && !closed_it => st.dispatcher.opt_out(execution_id).await?,
        _ => false,
    };
    let applied = marked || matches!(reported, Reported::Applied | Reported::HangUp);
    // `hang_up`: a machine answered and the campaign hangs up on machines; telephony ends the call.
    let hang_up = reported == Reported::HangUp;
    ok(&json!({ "execution_id": obj.get("execution_id"), "applied": applied, "hang_up": hang_up }))
}

/// Reads a callback body. Fields the server does not know are ignored, so that telephony can add some.
/// Says too whether the report carries an opt-out.
fn parse(obj: &Map<String, Value>, now: DateTime<Utc>) -> Result<(Option<ExecutionId>, Report, bool), Error> {
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
    let number = |p: &mut Problems, key: &str, max: f64| {
        p.field(obj, key, &b, false).and_then(|v| {
            let n = v.as_f64().filter(|n| n.is_finite() && *n >= 0.0);
            match n {
                None => p.push(at(&b, key), "float_type", "Input should be a finite, non-negative number"),
                Some(n) if n > max => {
                    p.push(at(&b, key), "less_than_equal", format!("Input should be less than or equal to {max}"))
                }
                Some(_) => {}
            }
            n.filter(|n| *n <= max)
        })
    };
    let duration_seconds = number(&mut p, "duration_seconds", MAX_DURATION_SECONDS);
    let total_cost = number(&mut p, "total_cost", f64::MAX);
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
    let latest_follow_up = now + Duration::days(MAX_FOLLOW_UP_DAYS);
    if follow_up_at.is_some_and(|f| f > latest_follow_up) {
        p.push(
            at(&b, "follow_up_at"),
            "value_error",
            format!("Value error, follow_up_at must be at most {MAX_FOLLOW_UP_DAYS} days after the call"),
        );
    }
    let mut flag = |key: &str| p.field(obj, key, &b, false).and_then(|v| p.boolean(v, at(&b, key))).unwrap_or(false);
    let (permanent, opt_out) = (flag("permanent"), flag("opt_out"));
    let answered_by = p
        .field(obj, "answered_by", &b, false)
        .and_then(|v| p.one_of(v, at(&b, "answered_by"), AnsweredBy::parse, &AnsweredBy::expected()));
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    let report = match status {
        Some(CallStatus::Ringing) => Report::Ringing,
        Some(CallStatus::InProgress) => Report::Answered(answered_by),
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
            answered_by,
            opt_out,
            provider_call_id: None,
        })),
        None => return Err(Error::internal("call_status checked above")),
    };
    Ok((execution.as_deref().and_then(ExecutionId::parse), report, opt_out))
}

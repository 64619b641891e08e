//! The jambonz REST API the fake serves: create-call and live-call update behind the account's bearer
//! token, validated as jambonz's api-server validates them, answering as it answers.

use super::{CreatedCall, FakeJambonz, uuid_v4};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn msg(status: u16, text: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({ "msg": text }))).into_response()
}

/// Express's `res.sendStatus`: the status with its reason phrase as a text body.
fn express_status(status: StatusCode) -> Response {
    (status, status.canonical_reason().unwrap_or_default()).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// JavaScript truthiness of an optional JSON value.
pub(super) fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// A hook as jambonz reads it: a URL string or `{url, method?, username?, password?}`.
fn hook_url(body: &Value, name: &str) -> Result<(), String> {
    let url = match body.get(name) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(url)) => url.as_str(),
        Some(Value::Object(hook)) => match hook.get("url") {
            Some(Value::String(url)) => url.as_str(),
            _ => return Err(format!("{name} must be string or an object containing a url property")),
        },
        Some(_) => "",
    };
    let absolute = ["http:", "https:", "ws:", "wss:"].iter().any(|scheme| url.starts_with(scheme));
    if absolute { Ok(()) } else { Err(format!("{name} url be an absolute url")) }
}

/// jambonz's create-call validation (api-server `validateCreateCall`, then the `tag` check).
fn validate_create(body: &Value) -> Result<(), String> {
    let field = |name: &str| body.get(name);
    if !truthy(field("from")) {
        return Err("missing from parameter".into());
    }
    let to = field("to");
    let target_ok = to.is_some_and(|to| match to.get("type").and_then(Value::as_str) {
        Some("phone" | "teams") => to.get("number").is_some_and(Value::is_string),
        Some("user") => to.get("name").is_some_and(Value::is_string),
        Some("sip") => to.get("sipUri").is_some_and(Value::is_string),
        _ => false,
    });
    if !target_ok {
        let shown = to.map_or("undefined".to_owned(), Value::to_string);
        return Err(format!("missing or invalid to property: {shown}"));
    }
    let speech = ["speech_synthesis_vendor", "speech_synthesis_language", "speech_synthesis_voice"];
    let speech = [&speech[..], &["speech_recognizer_vendor", "speech_recognizer_language"]].concat();
    let application = truthy(field("application_sid"));
    if !application && !speech.iter().all(|name| truthy(field(name))) {
        return Err(format!("either application_sid or set of {} required", speech.join(", ")));
    }
    if !truthy(field("call_hook")) && !application {
        return Err("either call_hook or application_sid required".into());
    }
    hook_url(body, "call_hook")?;
    hook_url(body, "call_status_hook")?;
    if field("tag").is_some_and(|tag| !tag.is_object()) {
        return Err("Invalid tag".into());
    }
    Ok(())
}

pub(super) async fn create_call(
    State(s): State<FakeJambonz>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = bearer(&headers);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let body_value = parsed.clone().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let mut call = CreatedCall { sid: String::new(), bearer: token.clone().unwrap_or_default(), body: body_value };
    let refusal = if token.as_deref() != Some(s.api_key.as_str()) {
        Some(express_status(StatusCode::UNAUTHORIZED))
    } else if account != s.account_sid {
        Some(msg(400, &format!("unauthorized createCall request for account {account}")))
    } else if !parsed.as_ref().is_some_and(Value::is_object) {
        Some(msg(400, "Bad request"))
    } else {
        validate_create(&call.body).err().map(|text| msg(400, &text))
    };
    let answer = {
        let mut inner = s.inner.lock().unwrap();
        let answer = refusal.map(Some).or_else(|| inner.queued.pop_front()).unwrap_or_else(|| {
            call.sid = uuid_v4();
            let call_id = format!("{}@127.0.0.1", uuid_v4());
            inner.live.insert(call.sid.clone());
            inner.call_ids.insert(call.sid.clone(), call_id.clone());
            Some((StatusCode::CREATED, axum::Json(json!({"sid": call.sid, "callId": call_id}))).into_response())
        });
        if inner.auto_complete && !call.sid.is_empty() {
            let (fake, call) = (s.clone(), call.clone());
            let done = json!({"call_status": "completed", "sip_status": 200, "duration": 1});
            tokio::spawn(async move {
                let _sending = fake.sending.acquire().await;
                fake.send_status(&call, done).await
            });
        }
        inner.calls.push(call);
        answer
    };
    match answer {
        Some(answer) => answer,
        None => std::future::pending().await,
    }
}

/// jambonz's `validateUpdateCall`, for the options this fake knows.
fn validate_update(body: &Value) -> Result<(), &'static str> {
    const OPTIONS: &str = "call_hook child_call_hook call_status listen_status transcribe_status conf_hold_status \
        conf_mute_status mute_status sip_request record tag dtmf conferenceParticipantAction dub";
    let set: Vec<&str> = OPTIONS.split_whitespace().filter(|name| truthy(body.get(*name))).collect();
    match set.as_slice() {
        [] if !truthy(body.get("whisper")) => return Err("no valid options supplied to updateCall"),
        [] | [_] | ["call_hook", "child_call_hook"] => {}
        _ => return Err("multiple options are not allowed in updateCall"),
    }
    match body.get("call_status").filter(|v| truthy(Some(v))) {
        Some(status) if !matches!(status.as_str(), Some("completed" | "no-answer")) => Err("invalid call_status"),
        _ => Ok(()),
    }
}

pub(super) async fn update_call(
    State(s): State<FakeJambonz>,
    Path((account, call_sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bearer(&headers).as_deref() != Some(s.api_key.as_str()) {
        return express_status(StatusCode::UNAUTHORIZED);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return msg(400, "Bad request") };
    let mut inner = s.inner.lock().unwrap();
    inner.updates.push((call_sid.clone(), body.clone()));
    if let Err(text) = validate_update(&body) {
        return msg(400, text);
    }
    if account != s.account_sid || !inner.live.contains(&call_sid) {
        return express_status(StatusCode::NOT_FOUND);
    }
    if body.get("call_status").is_some() {
        inner.live.remove(&call_sid);
    }
    express_status(StatusCode::ACCEPTED)
}

//! The Twilio Voice REST API the fake serves: create-call and call update (hang-up), behind basic
//! auth, answering with Twilio's Call resource and error shapes.

use super::{CreatedCall, FakeTwilio, Form, now_rfc2822, random_sid};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// Twilio's error shape: `{code, message, more_info, status}`.
pub(super) fn error(status: u16, code: u32, message: &str) -> Response {
    let more_info = format!("https://www.twilio.com/docs/errors/{code}");
    let body = json!({"code": code, "message": message, "more_info": more_info, "status": status});
    (StatusCode::from_u16(status).expect("a valid status"), axum::Json(body)).into_response()
}

fn not_found(path: &str) -> Response {
    error(404, 20404, &format!("The requested resource {path} was not found"))
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn first<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

impl FakeTwilio {
    fn authorized(&self, creds: &Option<(String, String)>) -> bool {
        let Some((user, password)) = creds else { return false };
        (*user == self.account_sid && *password == self.auth_token)
            || self.inner.lock().unwrap().api_keys.iter().any(|(k, s)| k == user && s == password)
    }

    fn new_resource(&self, sid: &str, to: &str, from: &str) -> Value {
        let (account, created) = (&self.account_sid, now_rfc2822());
        let base = format!("/2010-04-01/Accounts/{account}/Calls/{sid}");
        json!({
            "account_sid": account, "answered_by": null, "api_version": "2010-04-01", "caller_name": null,
            "date_created": created, "date_updated": created, "direction": "outbound-api", "duration": null,
            "end_time": null, "forwarded_from": null, "from": from, "from_formatted": from, "group_sid": null,
            "parent_call_sid": null, "phone_number_sid": null, "price": null, "price_unit": "USD",
            "queue_time": "0", "sid": sid, "start_time": null, "status": "queued", "to": to, "to_formatted": to,
            "trunk_sid": null, "uri": format!("{base}.json"),
            "subresource_uris": {
                "notifications": format!("{base}/Notifications.json"), "recordings": format!("{base}/Recordings.json"),
                "payments": format!("{base}/Payments.json"), "events": format!("{base}/Events.json"),
                "siprec": format!("{base}/Siprec.json"), "streams": format!("{base}/Streams.json"),
            },
        })
    }
}

pub(super) async fn create_call(
    State(s): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let creds = basic_auth(&headers);
    let form: Form = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut call = CreatedCall { sid: String::new(), basic_auth: creds.clone().unwrap_or_default(), form };
    let refusal = if !s.authorized(&creds) {
        Some(error(401, 20003, "Authenticate"))
    } else if account != s.account_sid {
        Some(not_found(&format!("/2010-04-01/Accounts/{account}/Calls.json")))
    } else if first(&call.form, "To").is_none() {
        Some(error(400, 21201, "No 'To' number is specified"))
    } else if first(&call.form, "From").is_none() {
        Some(error(400, 21213, "'From' phone number is required"))
    } else if ["Url", "Twiml", "ApplicationSid"].iter().all(|p| first(&call.form, p).is_none()) {
        Some(error(400, 21200, "Either a 'Url', 'Twiml' or 'ApplicationSid' parameter is required"))
    } else {
        None
    };
    let answer = {
        let mut inner = s.inner.lock().unwrap();
        let answer = refusal.map(Some).or_else(|| inner.queued.pop_front()).unwrap_or_else(|| {
            call.sid = random_sid("CA");
            let (to, from) = (first(&call.form, "To").unwrap(), first(&call.form, "From").unwrap());
            let resource = s.new_resource(&call.sid, to, from);
            inner.resources.insert(call.sid.clone(), resource.clone());
            Some((StatusCode::CREATED, axum::Json(resource)).into_response())
        });
        if inner.auto_complete && !call.sid.is_empty() {
            let (fake, call) = (s.clone(), call.clone());
            tokio::spawn(async move {
                let _sending = fake.sending.acquire().await;
                fake.send_status(&call, &[("CallStatus", "completed"), ("CallDuration", "1")]).await
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

pub(super) async fn update_call(
    State(s): State<FakeTwilio>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/2010-04-01/Accounts/{account}/Calls/{file}");
    if !s.authorized(&basic_auth(&headers)) {
        return error(401, 20003, "Authenticate");
    }
    let Some(sid) = file.strip_suffix(".json").filter(|_| account == s.account_sid) else { return not_found(&path) };
    let form: Form = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut inner = s.inner.lock().unwrap();
    inner.updates.push((sid.to_owned(), form.clone()));
    let Some(resource) = inner.resources.get_mut(sid) else { return not_found(&path) };
    let current = resource["status"].as_str().unwrap_or_default().to_owned();
    let ringing = matches!(current.as_str(), "queued" | "ringing");
    match first(&form, "Status") {
        // `canceled` only ends a call that has not been answered; `completed` ends any live call.
        Some("canceled") if ringing => resource["status"] = json!("canceled"),
        Some("completed") if ringing || current == "in-progress" => resource["status"] = json!("completed"),
        Some("canceled" | "completed") | None => {}
        Some(other) => return error(400, 21200, &format!("Invalid Status: {other}")),
    }
    resource["date_updated"] = json!(now_rfc2822());
    (StatusCode::OK, axum::Json(resource.clone())).into_response()
}

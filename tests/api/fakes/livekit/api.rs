//! The Twirp methods the LiveKit fake serves (AgentDispatchService/CreateDispatch,
//! SIP/CreateSIPParticipant, RoomService/DeleteRoom), each behind LiveKit's access-token check.

use super::{FakeLiveKit, Leaving, Request};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::oneshot;

/// The claims of a bearer token that LiveKit's API key middleware accepts (HS256, issued by the
/// key, `exp` required, one minute's leeway).
fn accepted_claims(headers: &HeaderMap, api_key: &str, secret: &str) -> Option<Value> {
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?;
    let parts: Vec<&str> = token.split('.').collect();
    let [head, payload, signature] = parts[..] else { return None };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{head}.{payload}").as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    let head: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).ok()?).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let now = chrono::Utc::now().timestamp();
    let fresh = claims["exp"].as_i64().is_some_and(|exp| now <= exp + 60)
        && claims["nbf"].as_i64().is_none_or(|nbf| nbf <= now + 60);
    (head["alg"] == "HS256" && claims["iss"] == api_key && fresh).then_some(claims)
}

pub(super) fn twirp(status: u16, code: &str, msg: &str, meta: Option<Value>) -> Response {
    let mut body = json!({"code": code, "msg": msg});
    if let Some(meta) = meta {
        body["meta"] = meta;
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

pub(super) fn id(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    format!("{prefix}{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A request field by its proto name or its camelCase JSON name, as protojson reads both.
fn field<'a>(body: &'a Value, proto: &str, camel: &str) -> &'a Value {
    body.get(proto).or_else(|| body.get(camel)).unwrap_or(&Value::Null)
}

pub(super) async fn twirp_method(
    State(s): State<FakeLiveKit>,
    Path((service, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = format!("{service}/{method}");
    let claims = accepted_claims(&headers, &s.api_key, &s.secret);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.inner.lock().unwrap().requests.push(Request {
        method: method.clone(),
        claims: claims.clone().unwrap_or(Value::Null),
        body: body.clone(),
    });
    let Some(claims) = claims else {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    };
    if !body.is_object() {
        return twirp(400, "malformed", "the json request could not be decoded", None);
    }
    let text = |proto, camel| field(&body, proto, camel).as_str().unwrap_or_default().to_owned();
    match method.as_str() {
        "livekit.AgentDispatchService/CreateDispatch" => {
            let room = text("room", "room");
            if claims["video"]["roomAdmin"] != true || claims["video"]["room"] != room.as_str() {
                return twirp(401, "unauthenticated", "permissions denied", None);
            }
            if let Some(answer) = s.inner.lock().unwrap().dispatch_errors.pop_front() {
                return answer;
            }
            s.inner.lock().unwrap().rooms.insert(room.clone());
            let dispatch = json!({"id": id("AD_"), "agent_name": text("agent_name", "agentName"), "room": room,
                "metadata": text("metadata", "metadata"), "state": {"jobs": [], "created_at": "0", "deleted_at": "0"}});
            axum::Json(dispatch).into_response()
        }
        "livekit.SIP/CreateSIPParticipant" => {
            if claims["sip"]["call"] != true {
                return twirp(401, "unauthenticated", "permissions denied", None);
            }
            let room = text("room_name", "roomName");
            for (name, proto, camel) in
                [("trunk id", "sip_trunk_id", "sipTrunkId"), ("callee", "sip_call_to", "sipCallTo")]
            {
                if text(proto, camel).is_empty() {
                    return twirp(400, "invalid_argument", &format!("missing sip {name}"), None);
                }
            }
            let call_id = id("SCL_");
            let info = json!({"participant_id": id("PA_"), "participant_identity":
                text("participant_identity", "participantIdentity"), "room_name": room, "sip_call_id": call_id});
            let (done, answer) = oneshot::channel::<(Response, Option<Leaving>)>();
            let auto = {
                let mut inner = s.inner.lock().unwrap();
                inner.rooms.insert(room.clone());
                inner.call_ids.insert(room.clone(), call_id);
                if !inner.auto_complete {
                    inner.held.insert(room.clone(), done);
                }
                inner.auto_complete
            };
            if auto {
                let fake = s.clone();
                tokio::spawn(async move {
                    let _sending = fake.sending.acquire().await;
                    let phone = fake.phone(&room, "hangup", Some("CLIENT_INITIATED"));
                    fake.send_event("participant_left", &room, Some(phone)).await;
                });
                return axum::Json(info).into_response();
            }
            // The phone joins the room at once, still dialling.
            s.notify("participant_joined", &room, Some(s.phone(&room, "dialing", None))).await;
            match answer.await {
                Ok((response, _)) if response.status().is_success() => axum::Json(info).into_response(),
                Ok((response, leaving)) => {
                    // A refused phone leaves the room before the dial's error goes back.
                    if let Some((status, reason)) = leaving {
                        s.notify("participant_left", &room, Some(s.phone(&room, status, Some(reason)))).await;
                    }
                    response
                }
                Err(_) => twirp(503, "unavailable", "dial abandoned", None),
            }
        }
        "livekit.RoomService/DeleteRoom" => {
            if claims["video"]["roomCreate"] != true {
                return twirp(401, "unauthenticated", "permissions denied", None);
            }
            let room = text("room", "room");
            {
                let mut inner = s.inner.lock().unwrap();
                if !inner.rooms.remove(&room) {
                    return twirp(404, "not_found", "requested room does not exist", None);
                }
                inner.deleted.push(room.clone());
            }
            s.notify("room_finished", &room, None).await;
            axum::Json(json!({})).into_response()
        }
        _ => twirp(404, "bad_route", &format!("no handler for path {method}"), None),
    }
}

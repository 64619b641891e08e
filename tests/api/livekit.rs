//! `--telephony livekit` against a fake LiveKit that speaks its Twirp API and signs its webhooks as
//! LiveKit does (API.md §7.1): the agent's dispatch then the dial, answers and SIP refusals of the
//! dial, webhooks of the phone and its room, forged / duplicate / reordered webhooks, refusals.

use crate::common::{TestApp, eventually};
use crate::fakes::livekit::{DialEnd, FakeLiveKit, jwt, webhook_token};
use crate::telephony::{contact, setup, with_public_url};
use graine::config::Telephony;
use serde_json::{Value, json};

const KEY: &str = "APIgraineTest";
const SECRET: &str = "Kx7mZ2pQvN4rT8wY1cB5dF9gH3jL6nP0";
const TRUNK: &str = "ST_outbound0001";

async fn started() -> (FakeLiveKit, TestApp) {
    let fake = FakeLiveKit::start(KEY, SECRET).await;
    let url = fake.base.replacen("http://", "ws://", 1);
    let app = with_public_url(move |c| {
        c.telephony = Telephony::Livekit;
        c.providers.livekit_url = Some(url);
        c.providers.livekit_api_key = Some(KEY.into());
        c.providers.livekit_api_secret = Some(SECRET.into());
        c.providers.livekit_sip_trunk_id = Some(TRUNK.into());
    })
    .await;
    fake.set_webhook_url(&format!("{}/api/v1/webhooks/livekit", app.base));
    (fake, app)
}

fn latest(contact: &Value) -> Value {
    contact["call_records"].as_array().unwrap().last().cloned().unwrap_or(Value::Null)
}

/// Places one call per phone; returns the batch and each phone's room once its dial is held.
async fn placed(fake: &FakeLiveKit, app: &TestApp, phones: &[&str]) -> (String, Vec<String>) {
    let (_, b) = setup(app, phones, json!({})).await;
    app.advance(1).await;
    eventually("every call is dialled", || async { fake.held_dials().len() == phones.len() }).await;
    let dials = fake.requests_of("SIP/CreateSIPParticipant");
    let rooms = phones
        .iter()
        .map(|p| dials.iter().find(|d| d.body["sip_call_to"] == *p).unwrap().body["room_name"].as_str().unwrap().into())
        .collect();
    (b, rooms)
}

async fn status_becomes(app: &TestApp, batch: &str, status: &str) -> Value {
    let check = || async { latest(&contact(app, batch).await)["call_status"] == status };
    eventually(&format!("the call becomes {status}"), check).await;
    contact(app, batch).await
}

async fn event(fake: &FakeLiveKit, name: &str, room: &str, phone: Option<(&str, Option<&str>)>) -> u16 {
    let participant = phone.map(|(status, reason)| fake.phone(room, status, reason));
    let (code, body) = fake.send_event(name, room, participant).await;
    assert!(code < 300 || code == 404, "{code} {body}");
    code
}

#[tokio::test]
async fn the_agent_is_dispatched_then_the_contact_dialled_and_the_answer_drives_the_call() {
    let (fake, app) = started().await;
    let (b, rooms) = placed(&fake, &app, &["+14155550100"]).await;
    let record = latest(&contact(&app, &b).await);
    let exec = record["execution_id"].as_str().unwrap();
    let room = &rooms[0];
    assert_eq!(room, &format!("graine-{exec}"));
    let methods: Vec<String> = fake.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["livekit.AgentDispatchService/CreateDispatch", "livekit.SIP/CreateSIPParticipant"]);
    let dispatch = &fake.requests()[0];
    assert_eq!((&dispatch.body["agent_name"], &dispatch.body["room"]), (&json!("agent_7"), &json!(room)));
    let metadata: Value = serde_json::from_str(dispatch.body["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["execution_id"], exec);
    assert_eq!(metadata["call_variables"]["callee_name"], "Ann");
    assert_eq!(metadata["call_context"], json!({"source": "crm"}));
    assert_eq!(dispatch.claims["video"], json!({"roomAdmin": true, "room": room}));
    assert_eq!(dispatch.claims["iss"], KEY);
    let dial = &fake.requests()[1];
    assert_eq!(dial.claims["sip"], json!({"call": true}));
    let body = &dial.body;
    assert_eq!((&body["sip_trunk_id"], &body["sip_number"]), (&json!(TRUNK), &json!("+919876543210")));
    assert_eq!((&body["wait_until_answered"], &body["participant_identity"]), (&json!(true), &json!("callee")));
    assert_eq!((&body["ringing_timeout"], &body["max_call_duration"]), (&json!("30s"), &json!("1800s")));
    assert_eq!(record["provider"], "livekit");
    assert_eq!(record["call_status"], "ringing");

    // The phone joins its room while it is still dialling: no answer yet.
    assert_eq!(event(&fake, "participant_joined", room, Some(("dialing", None))).await, 204);
    assert_eq!(event(&fake, "track_published", room, Some(("ringing", None))).await, 204);
    assert_eq!(latest(&contact(&app, &b).await)["call_status"], "ringing");
    fake.end_dial(room, DialEnd::Answer);
    let c = status_becomes(&app, &b, "in_progress").await;
    let record = latest(&c);
    assert!(record["provider_call_id"].as_str().unwrap().starts_with("SCL_"), "{record}");
    assert_eq!(record["answered_at"], "2026-11-30T10:00:01Z");
    app.advance(42).await;
    assert_eq!(event(&fake, "participant_left", room, Some(("hangup", Some("CLIENT_INITIATED")))).await, 204);
    let c = contact(&app, &b).await;
    let record = latest(&c);
    assert_eq!((c["status"].as_str(), record["call_status"].as_str()), (Some("completed"), Some("completed")));
    assert_eq!(record["duration_seconds"], 42.0, "from answer to leaving");
    assert_eq!(record["answered_by"], Value::Null, "LiveKit detects no machines");
    // The room finishing afterwards, and a duplicate, change nothing.
    assert_eq!(event(&fake, "room_finished", room, None).await, 204);
    assert_eq!(event(&fake, "participant_left", room, Some(("hangup", None))).await, 204);
    assert_eq!(latest(&contact(&app, &b).await)["duration_seconds"], 42.0);
    assert!(fake.deleted_rooms().is_empty(), "an answered call keeps its room");
}

#[tokio::test]
async fn a_dial_refused_with_a_sip_status_is_the_calls_outcome_and_its_room_goes() {
    let (fake, app) = started().await;
    let phones = ["+14155550100", "+14155550101", "+14155550102", "+14155550103", "+14155550104", "+14155550105"];
    let (b, rooms) = placed(&fake, &app, &phones).await;
    // The phone leaves its room (LiveKit's guess: unavailable or rejected) before each error goes
    // back: the dial's SIP status decides.
    fake.end_dial(&rooms[0], DialEnd::Sip { status: 486, twirp: "resource_exhausted", reason: "Busy Here" });
    fake.end_dial(&rooms[1], DialEnd::Sip { status: 404, twirp: "not_found", reason: "Not Found" });
    fake.end_dial(&rooms[2], DialEnd::Twirp { status: 408, code: "canceled", msg: "ringing timeout" });
    fake.end_dial(&rooms[3], DialEnd::Sip { status: 603, twirp: "permission_denied", reason: "Decline" });
    fake.end_dial(&rooms[4], DialEnd::Sip { status: 487, twirp: "aborted", reason: "Request Terminated" });
    fake.end_dial(&rooms[5], DialEnd::Sip { status: 600, twirp: "internal", reason: "Busy Everywhere" });
    eventually("every refused dial deletes its room", || async { fake.deleted_rooms().len() == 6 }).await;
    let by_phone = || async {
        let all = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body;
        phones.map(|p| all.as_array().unwrap().iter().find(|c| c["phone_number"] == p).unwrap().clone())
    };
    eventually("every outcome is recorded", || async {
        by_phone().await.iter().all(|c| latest(c)["ended_at"].is_string())
    })
    .await;
    let [busy, gone, unanswered, declined, terminated, busy_everywhere] = by_phone().await;
    let seen = |c: &Value| {
        let r = latest(c);
        (
            c["status"].as_str().map(str::to_owned),
            r["call_status"].as_str().map(str::to_owned),
            r["hangup_reason"].clone(),
        )
    };
    let row = |status: &str, call: &str, reason: &str| (Some(status.into()), Some(call.into()), json!(reason));
    assert_eq!(seen(&busy), row("retrying", "busy", "Busy Here (SIP 486)"), "a rate-limit code carrying 486 is busy");
    let named = latest(&busy)["provider_call_id"].as_str().unwrap_or_default().to_owned();
    assert!(named.starts_with("SCL_"), "a call never answered is named by its phone's webhook: {named:?}");
    assert_eq!(seen(&gone), row("failed", "failed", "Not Found (SIP 404)"), "unallocated: permanent");
    assert_eq!(seen(&unanswered), row("retrying", "no_answer", "unanswered timeout"));
    assert_eq!(seen(&declined), row("retrying", "failed", "Decline (SIP 603)"));
    assert_eq!(seen(&terminated), row("retrying", "no_answer", "Request Terminated (SIP 487)"));
    assert_eq!(seen(&busy_everywhere), row("retrying", "busy", "Busy Everywhere (SIP 600)"));
    // The guesses the phones' leaving deferred are gone with the calls they were about.
    app.advance(60).await;
    assert_eq!(seen(&by_phone().await[1]), row("failed", "failed", "Not Found (SIP 404)"));
    // The busy answers did not slow dispatch down: the retries are placed when due.
    app.advance(540).await;
    eventually("retries are dialled", || async { fake.held_dials().len() == 5 }).await;
}

#[tokio::test]
async fn webhooks_alone_decide_calls_whose_dial_answer_never_came() {
    let (fake, app) = started().await;
    let (b, rooms) = placed(&fake, &app, &["+14155550100", "+14155550101", "+14155550102"]).await;
    // LiveKit never answers these dials (a lost connection, a restart): its webhooks say what happened.
    let (rejected, answered, vanished) = (&rooms[0], &rooms[1], &rooms[2]);
    assert_eq!(event(&fake, "participant_left", rejected, Some(("ringing", Some("USER_REJECTED")))).await, 204);
    assert_eq!(event(&fake, "participant_left", answered, Some(("hangup", Some("CLIENT_INITIATED")))).await, 204);
    assert_eq!(event(&fake, "room_finished", vanished, None).await, 204);
    let all = || async { app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body };
    let of =
        |all: &Value, phone: &str| latest(all.as_array().unwrap().iter().find(|c| c["phone_number"] == phone).unwrap());
    let now = all().await;
    let done = of(&now, "+14155550101");
    assert_eq!(
        (&done["call_status"], &done["duration_seconds"], &done["hangup_reason"]),
        (&json!("completed"), &Value::Null, &json!("participant_left: CLIENT_INITIATED")),
        "LiveKit marks an answered call hangup as it ends; when it was answered is not known"
    );
    assert_eq!(of(&now, "+14155550100")["call_status"], "ringing", "a guess waits for the dial's own answer");
    assert_eq!(of(&now, "+14155550102")["call_status"], "ringing", "a room gone before an answer decides nothing");
    app.advance(15).await;
    let now = all().await;
    let busy = of(&now, "+14155550100");
    assert_eq!(
        (&busy["call_status"], &busy["hangup_reason"], &busy["ended_at"]),
        (&json!("busy"), &json!("participant_left: USER_REJECTED"), &json!("2026-11-30T10:00:16Z"))
    );
    assert_eq!(of(&now, "+14155550102")["call_status"], "ringing");
    // The dials' answers arriving after the webhooks change nothing.
    fake.end_dial(answered, DialEnd::Answer);
    fake.end_dial(rejected, DialEnd::Sip { status: 486, twirp: "resource_exhausted", reason: "Busy Here" });
    eventually("the late refusal deletes its room", || async { fake.deleted_rooms().len() == 1 }).await;
    let now = all().await;
    assert_eq!(of(&now, "+14155550100")["hangup_reason"], "participant_left: USER_REJECTED");
    assert_eq!(of(&now, "+14155550101")["call_status"], "completed");
}

#[tokio::test]
async fn forged_stale_tampered_and_foreign_webhooks() {
    let (fake, app) = started().await;
    let (b, rooms) = placed(&fake, &app, &["+14155550100"]).await;
    let room = &rooms[0];
    let body = json!({"event": "participant_left", "id": "EV_1", "room": {"name": room},
        "participant": fake.phone(room, "active", None)})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let forged = webhook_token(KEY, "another secret", body.as_bytes(), now);
    assert_eq!(fake.send_raw(&body, &[("authorization", &forged)]).await.0, 401);
    assert_eq!(fake.send_raw(&body, &[]).await.0, 401);
    let stale = webhook_token(KEY, SECRET, body.as_bytes(), now - 900);
    assert_eq!(fake.send_raw(&body, &[("authorization", &stale)]).await.0, 401);
    let other_key = webhook_token("APIother", SECRET, body.as_bytes(), now);
    assert_eq!(fake.send_raw(&body, &[("authorization", &other_key)]).await.0, 401);
    let for_another_body = webhook_token(KEY, SECRET, b"{}", now);
    assert_eq!(fake.send_raw(&body, &[("authorization", &for_another_body)]).await.0, 401);
    let unhashed = jwt(SECRET, &json!({"iss": KEY, "exp": now + 300}));
    assert_eq!(fake.send_raw(&body, &[("authorization", &unhashed)]).await.0, 401);
    assert_eq!(latest(&contact(&app, &b).await)["call_status"], "ringing", "nothing was recorded");

    // Rooms that are not calls of this server are LiveKit's business: accepted, nothing recorded.
    assert_eq!(event(&fake, "room_finished", "support-desk", None).await, 204);
    let unknown = "graine-exec_01m90sebakezvvkhss95dqx85g";
    let (code, text) = fake.send_event("room_finished", unknown, None).await;
    assert_eq!((code, text.as_str()), (404, r#"{"detail":"Call not found"}"#));
    // The bearer form is accepted too, as LiveKit's own receivers accept it.
    let signed = webhook_token(KEY, SECRET, body.as_bytes(), now);
    assert_eq!(fake.send_raw(&body, &[("authorization", &format!("Bearer {signed}"))]).await.0, 204);
    assert_eq!(latest(&contact(&app, &b).await)["call_status"], "completed");
}

#[tokio::test]
async fn refused_and_doubtful_dispatches_and_a_dial_refused_after_its_dispatch() {
    let (fake, app) = started().await;
    let dispatches = || fake.requests_of("AgentDispatchService/CreateDispatch").len();
    fake.queue_dispatch_error(429, "resource_exhausted", "too many dispatches");
    let (_, b) = setup(&app, &["+14155550100"], json!({})).await;
    eventually("the dispatch is refused", || async { dispatches() == 1 }).await;
    let c = contact(&app, &b).await;
    assert_eq!((c["status"].as_str(), &c["current_call"]), (Some("pending"), &Value::Null), "429 used no attempt");
    assert!(fake.requests_of("SIP/CreateSIPParticipant").is_empty(), "no dial without a dispatch");
    app.advance(1).await;
    eventually("the call is dialled after the pause", || async { fake.held_dials().len() == 1 }).await;

    fake.queue_dispatch_error(400, "invalid_argument", "agent name is too long");
    let (_, b2) = setup(&app, &["+14155550101"], json!({})).await;
    app.advance(1).await;
    let c2 = status_becomes(&app, &b2, "failed").await;
    assert_eq!(latest(&c2)["hangup_reason"], "placement_rejected: livekit invalid_argument: agent name is too long");
    assert_eq!(fake.held_dials().len(), 1, "a refused dispatch is not dialled");

    // The dial itself refused, after the agent was dispatched: the room goes with its agent.
    let room = fake.held_dials()[0].clone();
    fake.end_dial(&room, DialEnd::Twirp { status: 400, code: "invalid_argument", msg: "trunk not found" });
    eventually("the room is deleted", || async { fake.deleted_rooms() == [room.clone()] }).await;
    let c = status_becomes(&app, &b, "failed").await;
    assert_eq!(latest(&c)["hangup_reason"], "livekit dial refused: invalid_argument: trunk not found");

    // LiveKit in trouble: the dispatch may exist, so its room is deleted and the attempt is in
    // doubt: never dialled, never placed again.
    fake.queue_dispatch_error(503, "unavailable", "no node");
    let (_, b3) = setup(&app, &["+14155550102"], json!({})).await;
    app.advance(1).await;
    let deletes = || fake.requests_of("RoomService/DeleteRoom").len();
    eventually("the doubtful dispatch's room is deleted", || async { deletes() == 2 }).await;
    app.advance(300).await;
    let record = latest(&contact(&app, &b3).await);
    let room = format!("graine-{}", record["execution_id"].as_str().unwrap());
    let requests = fake.requests();
    assert_eq!(requests.iter().filter(|r| r.body["room"] == room.as_str()).count(), 2, "one dispatch, one delete");
    assert!(!requests.iter().any(|r| r.body["room_name"] == room.as_str()), "never dialled");
    assert_eq!(record["call_status"], "dispatched");

    // A dial refused as too many (no SIP status): that call fails, and new placements pause
    // without using an attempt.
    let (_, b4) = setup(&app, &["+14155550103"], json!({})).await;
    app.advance(1).await;
    eventually("the call is dialled", || async { fake.held_dials().len() == 1 }).await;
    let room = fake.held_dials()[0].clone();
    fake.end_dial(&room, DialEnd::Twirp { status: 429, code: "resource_exhausted", msg: "too many calls" });
    let c4 = status_becomes(&app, &b4, "failed").await;
    assert_eq!(latest(&c4)["hangup_reason"], "livekit dial refused: resource_exhausted: too many calls");
    let before = fake.requests().len();
    let (_, b5) = setup(&app, &["+14155550104"], json!({})).await;
    app.advance(1).await;
    let c5 = contact(&app, &b5).await;
    assert_eq!((c5["status"].as_str(), &c5["current_call"]), (Some("pending"), &Value::Null), "no attempt used");
    assert_eq!(fake.requests().len(), before, "nothing was sent to LiveKit");
}

#[tokio::test]
async fn a_dial_in_doubt_is_decided_by_the_phone_or_the_room() {
    let (fake, app) = started().await;
    let phones = ["+14155550100", "+14155550101", "+14155550102"];
    let (b, rooms) = placed(&fake, &app, &phones).await;
    // LiveKit in trouble while dialling: no outcome from the dial, and the room stays.
    for room in &rooms {
        fake.end_dial(room, DialEnd::Twirp { status: 503, code: "unavailable", msg: "sip service unavailable" });
    }
    let all = || async { app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true")).await.body };
    let of =
        |all: &Value, phone: &str| latest(all.as_array().unwrap().iter().find(|c| c["phone_number"] == phone).unwrap());
    assert!(fake.deleted_rooms().is_empty(), "a dial in doubt keeps its room");
    assert_eq!(of(&all().await, phones[0])["call_status"], "ringing");
    assert_eq!(event(&fake, "participant_left", &rooms[0], Some(("ringing", Some("USER_UNAVAILABLE")))).await, 204);
    assert_eq!(event(&fake, "participant_connection_aborted", &rooms[1], Some(("dialing", None))).await, 204);
    assert_eq!(event(&fake, "participant_left", &rooms[2], Some(("ringing", Some("USER_REJECTED")))).await, 204);
    // A second guess does not replace the first.
    assert_eq!(event(&fake, "participant_left", &rooms[2], Some(("dialing", Some("CLIENT_INITIATED")))).await, 204);
    app.advance(14).await;
    assert_eq!(of(&all().await, phones[0])["call_status"], "ringing", "the guesses wait for the dial's answer");
    app.advance(1).await;
    let now = all().await;
    let unavailable = of(&now, phones[0]);
    assert_eq!(
        (&unavailable["call_status"], &unavailable["hangup_reason"]),
        (&json!("no_answer"), &json!("participant_left: USER_UNAVAILABLE"))
    );
    let aborted = of(&now, phones[1]);
    assert_eq!(
        (&aborted["call_status"], &aborted["hangup_reason"]),
        (&json!("failed"), &json!("participant_connection_aborted"))
    );
    assert_eq!(of(&now, phones[2])["call_status"], "busy");
}

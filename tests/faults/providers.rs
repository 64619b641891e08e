//! A replica killed (`SIGKILL`) between placing a call through a provider and the provider's
//! callback: a replica started on the same database takes the callback, records the outcome once,
//! and the provider never sees the attempt placed twice (Twilio, jambonz and LiveKit fakes).

use super::{TOKEN, api, free_port, server_url};
use serde_json::json;
use sqlx::Connection;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "../api/fakes/jambonz.rs"]
#[allow(dead_code)] // fakes offer more than this test uses
mod jambonz_fake;
#[path = "../api/fakes/livekit.rs"]
#[allow(dead_code)]
mod livekit_fake;
#[path = "../api/fakes/twilio.rs"]
#[allow(dead_code)]
mod twilio_fake;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const JAMBONZ_SECRET: &str = "wh_secret_faults";

/// A `graine serve` process with the provider flags `extra`, on `port`.
async fn start(database: &str, port: u16, extra: &[String]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graine"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", database])
        .args(["--bootstrap-token", TOKEN, "--public-url", &format!("http://127.0.0.1:{port}")])
        .args(extra)
        .env("GRAINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let ready = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(&mut child);
    panic!("graine did not become ready");
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}");
}

/// Creates a campaign and a one-contact batch; returns the batch id.
async fn one_call(base: &str) -> String {
    let client = reqwest::Client::new();
    let c = api(
        &client,
        base,
        "/api/v1/campaigns/",
        Some(json!({
            "name": "kill", "agent_id": "agent", "phone_numbers": ["+919876543210"], "retry_policy": {"max_retries": 2},
        })),
    )
    .await;
    let b = api(
        &client,
        base,
        "/api/v1/batches/",
        Some(json!({
            "campaign_id": c["campaign_id"], "contacts": [{"phone_number": "+14155550100"}],
        })),
    )
    .await;
    b["batch_id"].as_str().unwrap().to_owned()
}

async fn contact(base: &str, batch: &str) -> serde_json::Value {
    let client = reqwest::Client::new();
    api(&client, base, &format!("/api/v1/batches/{batch}/contacts?include_calls=true"), None).await[0].clone()
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_between_placement_and_callback_loses_nothing_and_places_nothing_twice() {
    let twilio = twilio_fake::FakeTwilio::start(ACCOUNT, AUTH_TOKEN).await;
    let jambonz = jambonz_fake::FakeJambonz::start("acct-faults", "key-faults").await;
    jambonz.set_webhook_secret(JAMBONZ_SECRET);
    let livekit = livekit_fake::FakeLiveKit::start("APIfaults", "livekit-faults-secret").await;
    let flags: [Vec<String>; 3] = [
        ["--telephony", "twilio", "--twilio-api-url", &twilio.base, "--twilio-account-sid", ACCOUNT]
            .into_iter()
            .chain(["--twilio-auth-token", AUTH_TOKEN, "--twilio-stream-url", "wss://agents.test/{agent_id}"])
            .map(str::to_owned)
            .collect(),
        ["--telephony", "jambonz", "--jambonz-api-url", &jambonz.base, "--jambonz-account-sid", "acct-faults"]
            .into_iter()
            .chain(["--jambonz-api-key", "key-faults", "--jambonz-application-sid", "app-faults"])
            .chain(["--jambonz-webhook-secret", JAMBONZ_SECRET])
            .map(str::to_owned)
            .collect(),
        ["--telephony", "livekit", "--livekit-url", &livekit.base, "--livekit-api-key", "APIfaults"]
            .into_iter()
            .chain(["--livekit-api-secret", "livekit-faults-secret", "--livekit-sip-trunk-id", "ST_faults"])
            .map(str::to_owned)
            .collect(),
    ];
    for (provider, extra) in flags.iter().enumerate() {
        let database = format!("{}/graine_provfaults_{}", server_url(), uuid::Uuid::now_v7().simple());
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut first = start(&database, port, extra).await;
        let batch = one_call(&base).await;
        livekit.set_webhook_url(&format!("{base}/api/v1/webhooks/livekit"));
        let placed = || match provider {
            0 => twilio.calls().len(),
            1 => jambonz.calls().len(),
            _ => livekit.requests_of("AgentDispatchService/CreateDispatch").len(),
        };
        wait_for("the call is placed", || placed() == 1).await;
        // LiveKit's call is dialled, and the dial waits for its answer when the process dies.
        wait_for("the call is dialled", || provider != 2 || livekit.held_dials().len() == 1).await;
        // Placed and recorded as ringing: then the process dies at once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        kill(&mut first);
        let mut second = start(&database, port, extra).await;
        let (code, body) = match provider {
            0 => {
                let call = twilio.calls()[0].clone();
                twilio.send_status(&call, &[("CallStatus", "in-progress")]).await;
                twilio.send_status(&call, &[("CallStatus", "completed"), ("CallDuration", "12")]).await
            }
            1 => {
                let call = jambonz.calls()[0].clone();
                jambonz.send_status(&call, json!({"call_status": "in-progress", "sip_status": 200})).await;
                jambonz.send_status(&call, json!({"call_status": "completed", "sip_status": 200, "duration": 12})).await
            }
            _ => {
                // The dial's answer died with the process: the webhooks alone tell the new one.
                let room = livekit.held_dials()[0].clone();
                let phone = livekit.phone(&room, "hangup", Some("CLIENT_INITIATED"));
                livekit.send_event("participant_left", &room, Some(phone)).await
            }
        };
        assert!(code < 300, "provider {provider}: the restarted replica takes the callback: {code} {body}");
        let c = contact(&base, &batch).await;
        assert_eq!(c["status"], "completed", "provider {provider}: {c}");
        assert_eq!(c["call_records"].as_array().unwrap().len(), 1);
        if provider < 2 {
            assert_eq!(c["call_records"][0]["duration_seconds"], 12.0);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(placed(), 1, "provider {provider}: the attempt was placed once");
        kill(&mut second);
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server_url())).await.unwrap();
        let name = database.rsplit('/').next().unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin).await.unwrap();
    }
}

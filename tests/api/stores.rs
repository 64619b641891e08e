//! What depends on the store itself: the embedded default, one server per SQLite file, throwaway
//! databases, and moving an embedded database to Postgres without losing anything.

use crate::common::{TOKEN, TestApp, at, fresh_postgres_url, fresh_sqlite_url};
use graine::config::ServeConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const MONDAY_10: &str = "2026-11-30T10:00:00Z";

fn config_for(url: &str) -> ServeConfig {
    let mut config = ServeConfig::for_database(url, "127.0.0.1:0".parse().unwrap());
    config.bootstrap_token = Some(TOKEN.into());
    config
}

async fn campaign(app: &TestApp, limit: u32) -> String {
    let body = json!({
        "name": "Stores", "agent_id": "agent_1", "phone_numbers": ["+919876543210", "+919876543211"],
        "metadata": {"team_of_agents": "x", "concurrency_limit": limit, "a": "y"}, "retry_policy": {"max_retries": 2, "cooldown_minutes": 10},
    });
    app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned()
}

async fn batch(app: &TestApp, campaign: &str, phones: &[String]) -> String {
    let contacts: Vec<Value> =
        phones.iter().map(|p| json!({"phone_number": p, "call_variables": {"callee_name": "Ann"}})).collect();
    let r = app.post("/api/v1/batches/", json!({"campaign_id": campaign, "contacts": contacts})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["batch_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_is_refused_and_the_file_is_kept() {
    let first = TestApp::start_sqlite_with(|_| {}).await;
    let c = campaign(&first, 1).await;
    let refused = graine::startup::start(config_for(&first.database_url), CancellationToken::new()).await;
    let message = match refused {
        Ok(_) => panic!("a second server started on the same SQLite file"),
        Err(e) => std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default(),
    };
    assert!(message.contains("already used by another graine server"), "{message}");
    assert!(message.contains("Postgres"), "the refusal says what to do instead: {message}");
    // The first server is untouched, and once it stops the file is free and keeps everything.
    assert_eq!(first.get(&format!("/api/v1/campaigns/{c}")).await.status, 200);
    let url = first.database_url.clone();
    first.stop().await;
    let again = TestApp::start_on(&url, |_| {}).await;
    assert_eq!(again.get(&format!("/api/v1/campaigns/{c}")).await.body["name"], "Stores");
}

#[tokio::test]
async fn with_no_database_url_the_cli_uses_graine_db_in_the_working_directory() {
    let dir = std::env::temp_dir().join(format!("graine-default-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_graine"))
            .args(args)
            .current_dir(&dir)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "graine {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let org = run(&["org", "create", "Embedded"]);
    assert!(dir.join("graine.db").is_file(), "graine.db was created in the working directory");
    assert!(run(&["org", "list"]).contains(org.trim()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_memory_database_works_and_leaves_nothing_behind() {
    let memory_files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("graine-memory-")))
            .collect()
    };
    let before = memory_files();
    let app = TestApp::start_on("sqlite::memory:", |_| {}).await;
    let c = campaign(&app, 1).await;
    assert_eq!(app.get(&format!("/api/v1/campaigns/{c}")).await.status, 200);
    let created: Vec<_> = memory_files().into_iter().filter(|p| !before.contains(p)).collect();
    assert!(!created.is_empty(), "the throwaway database lives in the temporary directory");
    app.stop().await;
    for file in created {
        assert!(!file.exists(), "{} was deleted on stop", file.display());
    }
}

/// Everything the API shows about a campaign: itself, its batch, its contacts with every call, its stats.
async fn everything(app: &TestApp, c: &str, b: &str) -> Vec<Value> {
    vec![
        app.get(&format!("/api/v1/campaigns/{c}")).await.body,
        app.get(&format!("/api/v1/batches/{b}")).await.body,
        Value::Array(app.contacts_with_calls(b).await),
        app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body,
        app.get("/api/v1/campaigns/").await.body,
        app.get("/api/v1/events?limit=1000").await.body,
    ]
}

#[tokio::test]
async fn migrate_store_moves_an_embedded_database_to_postgres_mid_campaign() {
    let sqlite = fresh_sqlite_url();
    let embedded = TestApp::start_on(&sqlite, |c| {
        c.test_clock = true;
        c.clock_start = Some(at(MONDAY_10));
    })
    .await;
    let c = campaign(&embedded, 2).await;
    // Busy numbers retry; the rest complete. Stop while calls are in flight and retries wait.
    let phones: Vec<String> =
        ["+14155510001", "+14155521234", "+14155531234", "+14155540001", "+14155551234", "+14155561234"]
            .map(String::from)
            .to_vec();
    let b = batch(&embedded, &c, &phones).await;
    let stopped_at = embedded.advance(150).await;
    let before = everything(&embedded, &c, &b).await;
    let contacts = before[2].as_array().unwrap();
    assert!(contacts.iter().any(|c| c["status"] == "retrying"), "a retry waits: {contacts:?}");
    assert!(contacts.iter().any(|c| c["status"] == "in_progress"), "a call is in flight: {contacts:?}");
    embedded.stop().await;

    let postgres = fresh_postgres_url().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graine"))
        .args(["migrate-store", "--from", &sqlite, "--to", &postgres])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("contacts\t6"), "{report}");

    // The Postgres server shows exactly what the embedded one showed, at the same instant.
    let scaled = TestApp::start_on(&postgres, |c| {
        c.test_clock = true;
        c.clock_start = Some(at(&stopped_at));
    })
    .await;
    // As text: objects keep their keys' order too.
    let text = |v: &Vec<Value>| serde_json::to_string(v).unwrap();
    assert_eq!(text(&everything(&scaled, &c, &b).await), text(&before));

    // And carries on: the call in flight ends, the retries are made, nothing is dialed twice.
    scaled.advance(3600).await;
    let contacts = scaled.contacts_with_calls(&b).await;
    assert!(contacts.iter().all(|c| ["completed", "max_retries_reached"].contains(&c["status"].as_str().unwrap())));
    for contact in &contacts {
        let calls = contact["call_records"].as_array().unwrap();
        let expected = if contact["status"] == "completed" { 1 } else { 3 };
        assert_eq!(calls.len(), expected, "{contact}");
    }
    let batch_now = scaled.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!(batch_now["status"], "completed");
    // Its events carry on after the copied ones, in order.
    let copied_events = before[5].as_array().unwrap();
    let events = scaled.get("/api/v1/events?limit=1000").await.body;
    let events = events.as_array().unwrap();
    assert!(!copied_events.is_empty() && events.len() > copied_events.len(), "{events:?}");
    assert_eq!(&events[..copied_events.len()], &copied_events[..]);
    let ids: Vec<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A target that already holds data is refused, and left as it was.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_graine"))
        .args(["migrate-store", "--from", &sqlite, "--to", &postgres])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
    assert_eq!(scaled.get(&format!("/api/v1/batches/{b}")).await.body, batch_now);
}

#[tokio::test]
async fn settings_objects_keep_the_key_order_they_were_given_in_on_every_store() {
    let app = TestApp::start().await;
    // Keys in an order no sorting rule gives (PostgreSQL's jsonb would sort them by length).
    let body: Value = serde_json::from_str(
        r#"{"name":"Order","agent_id":"agent_1","phone_numbers":["+919876543210"],
            "default_call_variables":{"zeta_long_name":"1","b":"2","mid":"3"},
            "metadata":{"team_of_agents":"x","a":"y","concurrency_limit":3,"region":"z"}}"#,
    )
    .unwrap();
    let id = app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned();
    let body: Value = serde_json::from_str(&format!(
        r#"{{"campaign_id":"{id}","contacts":[{{"phone_number":"+14155550100","call_variables":{{"callee_name":"A"}}}}],
            "call_context":{{"zz_top":1,"a":2}},"metadata":{{"source_system":"crm","id":7}}}}"#
    ))
    .unwrap();
    let r = app.post("/api/v1/batches/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let batch = r.body["batch_id"].as_str().unwrap().to_owned();
    let in_order = |what: &str, text: &str, keys: &[&str]| {
        let at: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap_or_else(|| panic!("{what}: no {k} in {text}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{what}: {keys:?} out of order in {text}");
    };
    for (what, path) in [("read", format!("/api/v1/campaigns/{id}")), ("listed", "/api/v1/campaigns/".to_owned())] {
        let text = app.get(&path).await.text;
        in_order(what, &text, &["zeta_long_name", "b", "mid"]);
        in_order(what, &text, &["concurrency_limit", "team_of_agents", "a", "region"]);
    }
    let text = app.get(&format!("/api/v1/batches/{batch}")).await.text;
    in_order("batch", &text, &["zz_top", "a"]);
    in_order("batch", &text, &["source_system", "id"]);
}

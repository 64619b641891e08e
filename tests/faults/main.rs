//! Fault harness: three real `graine serve` processes on one Postgres database place calls through
//! the http placer into a recording telephony stub, while replicas are killed (`SIGKILL`),
//! restarted and paused (`SIGSTOP` past the call timeout, then `SIGCONT`). The stub reports each
//! outcome to a random live replica. From the stub's own log (not our database) the harness counts
//! placements of the same attempt and the most calls live at once per campaign; then it checks that
//! every contact ended and that the stored counters equal a recount of the rows, and that every
//! event committed was delivered at least once to a webhook endpoint subscribed to all of them.
//!
//! `cargo test --test faults` runs the short form (part of `scripts/test`);
//! `GRAINE_FAULTS_LONG=1 cargo test --release --test faults -- --nocapture` the long one, which also
//! prints its figures. Needs PostgreSQL (`GRAINE_TEST_DATABASE_URL` names the server, as for the API tests).

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../support/db.rs"]
mod db;
mod hooks;
mod providers;
mod replicas;
mod stub;
use db::Db;
use replicas::{free_port, signal, start_replica};
use stub::Stub;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "gat_faults_token_0123456789abcdef";
/// Seconds after which the server closes a call with no outcome.
const CALL_TIMEOUT: u64 = 3;
/// How long PostgreSQL lets a replica's transaction sit idle (a frozen replica's) before ending it.
const IDLE_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(2);

async fn api(client: &reqwest::Client, base: &str, path: &str, body: Option<Value>) -> Value {
    let req = match body {
        Some(b) => client.post(format!("{base}{path}")).json(&b),
        None => client.get(format!("{base}{path}")),
    };
    let r = req.bearer_auth(TOKEN).send().await.unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    serde_json::from_str(&body).unwrap()
}

fn server_url() -> String {
    let url = std::env::var("GRAINE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://localhost:5432/postgres".into());
    url.rsplit_once('/').map_or(url.clone(), |(server, _)| server.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_killed_restarted_and_paused_never_double_dial_or_exceed_limits() {
    let long = std::env::var_os("GRAINE_FAULTS_LONG").is_some();
    let contacts_per_campaign = if long { 300 } else { 60 };
    let database = format!("{}/graine_faults_{}", server_url(), uuid::Uuid::now_v7().simple());
    // Databases of earlier runs that stopped on a failure (this binary runs alone).
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server_url())).await.unwrap();
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'graine\\_faults\\_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    for name in stale {
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin).await.unwrap();
    }

    let stub = Stub::default();
    let app = Router::new().route("/place/{replica}", post(Stub::place)).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(start_replica(&database, &stub_url, i).await);
        stub.replicas.lock().unwrap().push(Some(replicas[i].base.clone()));
    }
    let client = reqwest::Client::new();
    let hooks = hooks::Hooks::default();
    let hooks_url = hooks.start().await;
    api(&client, &replicas[0].base, "/api/v1/webhook-endpoints", Some(json!({"url": hooks_url, "events": ["*"]})))
        .await;
    let mut limits = HashMap::new();
    let mut batches = Vec::new();
    for limit in 1..=5i64 {
        let c = api(&client, &replicas[0].base, "/api/v1/campaigns/", Some(json!({
            "name": format!("faults {limit}"), "agent_id": "agent", "phone_numbers": ["+919876543210", "+919876543211"],
            "working_hours_enforced": false, "metadata": {"concurrency_limit": limit}, "retry_policy": {"max_retries": 0},
        }))).await;
        let id = c["campaign_id"].as_str().unwrap().to_owned();
        let contacts: Vec<Value> = (0..contacts_per_campaign)
            .map(|j| json!({"phone_number": format!("+1415{:03}{:04}", 200 + limit, 1000 + j), "call_variables": {"callee_name": "F"}}))
            .collect();
        let b = api(
            &client,
            &replicas[(limit as usize) % 3].base,
            "/api/v1/batches/",
            Some(json!({"campaign_id": id, "contacts": contacts})),
        )
        .await;
        limits.insert(id.clone(), limit);
        batches.push(b["batch_id"].as_str().unwrap().to_owned());
    }

    // The faults, while calls flow: kill -9 and restart replica 1, repeatedly in the long form; pause
    // replica 2 past the call timeout, then let it go on.
    let rounds = if long { 5 } else { 1 };
    for _ in 0..rounds {
        tokio::time::sleep(Duration::from_millis(700)).await;
        stub.replicas.lock().unwrap()[1] = None;
        let _ = replicas[1].child.kill();
        let _ = replicas[1].child.wait();
        tokio::time::sleep(Duration::from_millis(500)).await;
        replicas[1] = start_replica(&database, &stub_url, 1).await;
        stub.replicas.lock().unwrap()[1] = Some(replicas[1].base.clone());
    }
    signal(&replicas[2], "-STOP");
    let paused_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(CALL_TIMEOUT + 2)).await;
    signal(&replicas[2], "-CONT");
    // Whatever replica 2 held when it froze (campaign locks, a dispatch slot) was let go once
    // PostgreSQL ended its idle transaction: the others went on placing calls meanwhile.
    let frozen_for = paused_at.elapsed();
    let meanwhile = stub
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.replica != 2 && p.start >= paused_at + IDLE_TRANSACTION_TIMEOUT + Duration::from_millis(500))
        .filter(|p| p.start < paused_at + frozen_for)
        .count();
    assert!(meanwhile > 0, "no call was placed while replica 2 was frozen");

    // SIGTERM under load: replica 1 stops gracefully, and comes back.
    stub.replicas.lock().unwrap()[1] = None;
    signal(&replicas[1], "-TERM");
    let stopped = tokio::task::block_in_place(|| replicas[1].child.wait()).unwrap();
    assert!(stopped.success(), "a graceful stop exits 0: {stopped}");
    replicas[1] = start_replica(&database, &stub_url, 1).await;
    stub.replicas.lock().unwrap()[1] = Some(replicas[1].base.clone());

    // Every database connection of every replica is cut at once: they reconnect by themselves.
    let database_name = database.rsplit('/').next().unwrap().to_owned();
    let cut: Vec<bool> =
        sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&database_name)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert!(!cut.is_empty(), "connections were cut");
    for r in &replicas {
        let back = Instant::now() + Duration::from_secs(10);
        while !client.get(format!("{}/readyz", r.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < back, "a replica did not recover from lost connections");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Long form: PostgreSQL itself restarts. While it is down the API answers 503 at once, and
    // everything resumes when it is back.
    if long {
        let cluster = std::fs::read_dir("/etc/postgresql").unwrap().next().unwrap().unwrap().file_name();
        let cluster = cluster.to_string_lossy().into_owned();
        let ctl = |action: &str| {
            Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &cluster, "main", action])
                .status()
                .unwrap()
        };
        assert!(ctl("stop").success());
        let asked = Instant::now();
        let r = client.get(format!("{}/api/v1/campaigns/", replicas[0].base)).bearer_auth(TOKEN).send().await;
        let took = asked.elapsed();
        // Started again before any assertion, so that a failure leaves the machine's database up.
        assert!(ctl("start").success());
        let status = r.unwrap().status();
        println!("with PostgreSQL down: {status} in {took:?}");
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(3), "answered in {took:?}");
    }

    // Every batch completes (bounded), read through a replica that was never touched.
    let deadline = Instant::now() + Duration::from_secs(if long { 600 } else { 120 });
    for b in &batches {
        loop {
            let now = api(&client, &replicas[0].base, &format!("/api/v1/batches/{b}"), None).await;
            if now["status"] == "completed" {
                break;
            }
            assert!(Instant::now() < deadline, "batch not completed in time: {now}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Late reports of calls placed just before the end have landed (or never will).
    tokio::time::sleep(Duration::from_millis(600)).await;

    // From the stub's log alone: one placement per attempt, never more live calls than the limit.
    let log = stub.log.lock().unwrap().clone();
    let mut per_attempt: HashMap<(String, i64), usize> = HashMap::new();
    for p in &log {
        *per_attempt.entry((p.contact.clone(), p.attempt)).or_default() += 1;
    }
    let duplicates = per_attempt.values().filter(|n| **n > 1).count();
    let mut peaks = Vec::new();
    for (campaign, limit) in &limits {
        let mut events: Vec<(Instant, i64)> = Vec::new();
        for p in log.iter().filter(|p| &p.campaign == campaign) {
            events.push((p.start, 1));
            events.push((p.end.unwrap_or_else(Instant::now), -1));
        }
        events.sort();
        let (mut live, mut peak) = (0i64, 0i64);
        for (at, change) in &events {
            live += change;
            if live > peak && live > *limit {
                let t0 = log[0].start;
                let overlapping: Vec<String> = log
                    .iter()
                    .filter(|p| &p.campaign == campaign && p.start <= *at && p.end.is_none_or(|e| e > *at))
                    .map(|p| {
                        format!("r{} {:?}..{:?} {}", p.replica, p.start - t0, p.end.map(|e| e - t0), p.execution_id)
                    })
                    .collect();
                println!("limit {limit} exceeded at {:?}: {overlapping:#?}", *at - log[0].start);
            }
            peak = peak.max(live);
        }
        peaks.push((*limit, peak));
    }
    let by_replica: Vec<usize> = (0..3).map(|r| log.iter().filter(|p| p.replica == r).count()).collect();
    if long {
        let late = stub.refused_late.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "placements {} (by replica {by_replica:?}), refused as late {late}, duplicate attempts {duplicates}, \
             peaks (limit, peak) {peaks:?}",
            log.len()
        );
    }
    assert_eq!(duplicates, 0, "attempts placed twice");
    for (limit, peak) in &peaks {
        assert!(peak <= limit, "a campaign with limit {limit} had {peak} calls live at once");
    }

    // Every event committed reaches the endpoint at least once (failed tries come back after 5 s).
    let mut committed = Vec::new();
    let mut after = String::new();
    loop {
        let page = api(&client, &replicas[0].base, &format!("/api/v1/events?limit=1000{after}"), None).await;
        let page = page.as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = format!("&after={}", last["event_id"].as_str().unwrap());
        committed.extend(page.iter().map(|e| e["event_id"].as_str().unwrap().to_owned()));
    }
    assert!(committed.len() > 5 * contacts_per_campaign, "{} events", committed.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing = {
            let delivered = hooks.delivered.lock().unwrap();
            committed.iter().filter(|id| !delivered.contains(*id)).count()
        };
        if missing == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} of {} events never delivered", committed.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every contact ended; the stored counters equal a recount of the rows.
    let mut db = Db::connect(&database).await;
    let open = db
        .number(
        "SELECT count(*) FROM contacts WHERE status IN ('pending', 'dispatched', 'in_progress', 'retrying', 'followup_scheduled')",
        )
        .await;
    assert_eq!(open, 0, "every contact ended");
    let mismatched = db
        .number(
        "SELECT count(*) FROM campaigns c WHERE c.in_flight <> 0
            OR c.completed_calls <> (SELECT count(*) FROM call_records r WHERE r.campaign_id = c.id AND r.call_status = 'completed')
            OR c.failed_calls <> (SELECT count(*) FROM call_records r WHERE r.campaign_id = c.id AND r.call_status = 'failed')
            OR c.call_attempts <> (SELECT count(*) FROM call_records r WHERE r.campaign_id = c.id)",
        )
        .await;
    assert_eq!(mismatched, 0, "campaign counters equal a recount of the call records");
    let batches_off = db
        .number(
            "SELECT count(*) FROM batches b WHERE b.in_flight <> 0
            OR b.n_completed <> (SELECT count(*) FROM contacts x WHERE x.batch_id = b.id AND x.status = 'completed')
            OR b.n_failed <> (SELECT count(*) FROM contacts x WHERE x.batch_id = b.id AND x.status = 'failed')",
        )
        .await;
    assert_eq!(batches_off, 0, "batch counters equal a recount of the contacts");
    drop(replicas);
    drop(db);
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server_url())).await.unwrap();
    sqlx::query(&format!("DROP DATABASE \"{database_name}\" WITH (FORCE)")).execute(&mut admin).await.unwrap();
}

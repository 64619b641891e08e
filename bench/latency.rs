//! Latency scenarios of the dispatch benchmark: from a batch accepted by an idle server to its call
//! placed, and from process start to the first `/readyz` 200 on a new database.

use super::{SERVER, Server, binary, contact, fresh_db, post, spawn, sqlite, url};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub async fn first_call_latency() -> String {
    let db = "graine_bench_latency";
    let mut conn = fresh_db(db).await;
    let server = spawn(db, 18930, &[]).await;
    let client = reqwest::Client::new();
    let c = post(
        &client,
        format!("{}/api/v1/campaigns/", server.base),
        json!({"name": "latency", "agent_id": "agent", "phone_numbers": ["+919876543210"], "metadata": {"concurrency_limit": 1000}}),
    )
    .await;
    let mut latencies = Vec::new();
    for i in 0..30 {
        // idle: give the loop time to go to sleep between samples
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = conn.number("SELECT count(*) FROM call_records").await;
        post(
            &client,
            format!("{}/api/v1/batches/", server.base),
            json!({"campaign_id": c["campaign_id"], "contacts": [contact(format!("+1415{:03}1234", 200 + i))]}),
        )
        .await;
        let accepted = Instant::now();
        loop {
            let n = conn.number("SELECT count(*) FROM call_records").await;
            if n > before || accepted.elapsed() > Duration::from_secs(5) {
                break;
            }
        }
        latencies.push(accepted.elapsed());
    }
    latencies.sort();
    let ms = |i: usize| latencies[i].as_secs_f64() * 1000.0;
    format!(
        "| batch accepted → call placed, 30 samples | {:.1} ms | {:.1} ms | {:.1} ms |",
        ms(latencies.len() / 2),
        ms(latencies.len() * 9 / 10),
        ms(latencies.len() - 1)
    )
}

/// Process start to the first `/readyz` 200 on a database that does not exist yet (the server creates
/// it and applies every migration), polled every 2 ms.
pub async fn start_to_ready() -> String {
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    for i in 0..10 {
        let db = format!("graine_bench_start_{i}");
        if sqlite() {
            std::fs::create_dir_all(format!("{}/target/bench-dispatch", env!("CARGO_MANIFEST_DIR"))).unwrap();
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let _ = std::fs::remove_file(format!(
                    "{}/target/bench-dispatch/{db}.db{suffix}",
                    env!("CARGO_MANIFEST_DIR")
                ));
            }
        } else {
            let mut admin = PgConnection::connect(&format!("{SERVER}/postgres")).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        }
        let started = Instant::now();
        let child = Command::new(binary())
            .args(["serve", "--bind", &format!("127.0.0.1:{}", 18940 + i), "--database-url", &url(&db)])
            .env("GRAINE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, base: format!("http://127.0.0.1:{}", 18940 + i) };
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "not ready");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "| process start → /readyz 200, new database, 10 starts | {:.0} ms | {:.0} ms |",
        ms(times[5]),
        ms(times[9])
    )
}

//! The receiver the docs show (`docs/examples/webhook_receiver.py`) takes the server's signed
//! deliveries, stores each event once, and refuses a delivery signed with another secret.

use super::{DELIVERY, endpoint, local_app, secret, suppress};
use crate::common::eventually;
use crate::fakes::receiver::sign;

/// The docs' receiver on a free port, with this secret, appending to `events`; killed on drop.
struct Example(std::process::Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_docs_receiver_verifies_and_stores_deliveries() {
    let app = local_app().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = endpoint(&app, &url, serde_json::json!(["*"])).await;
    let dir = std::env::temp_dir().join(format!("graine-receiver-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.jsonl");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/webhook_receiver.py");
    let _receiver = Example(
        std::process::Command::new("python3")
            .arg(script)
            .env("WEBHOOK_SECRET", secret(&created))
            .env("PORT", port.to_string())
            .env("EVENTS_FILE", &file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs"),
    );
    let client = reqwest::Client::new();
    eventually("the receiver listens", || async { std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() }).await;

    let event = suppress(&app, "+14155550100").await;
    let id = event["event_id"].as_str().unwrap().to_owned();
    let stored = || std::fs::read_to_string(&file).unwrap_or_default();
    let deadline = std::time::Instant::now() + DELIVERY;
    while !stored().contains(&id) {
        assert!(std::time::Instant::now() < deadline, "the receiver never stored {id}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let line: serde_json::Value = serde_json::from_str(stored().lines().next().unwrap()).unwrap();
    assert_eq!(line, event, "it stored the event as the feed has it");

    // A delivery signed with another secret is refused; the same event again is dropped, not stored twice.
    let body = serde_json::to_string(&event).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let forged = format!("v1,{}", sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &id, &ts, &body).unwrap());
    let post = |signature: String| {
        client
            .post(&url)
            .header("webhook-id", &id)
            .header("webhook-timestamp", &ts)
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(post(forged).await.unwrap().status(), 401);
    let genuine = format!("v1,{}", sign(&secret(&created), &id, &ts, &body).unwrap());
    assert_eq!(post(genuine).await.unwrap().status(), 204);
    assert_eq!(stored().lines().count(), 1, "a duplicate is dropped");
    let _ = std::fs::remove_dir_all(&dir);
}

//! Memory comes back: a 100,000-contact upload is read without building it as one tree of values,
//! and what it used is handed back to the system once it is done (the real binary, its allocator).

use crate::common::{TOKEN, fresh_postgres_url, fresh_sqlite_url, spawn_graine, sqlite};
use serde_json::{Value, json};
use std::process::Child;
use std::time::{Duration, Instant};

/// The server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `RssAnon` and `VmHWM` of a process, in MiB (its heap and stacks; its peak).
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    (field("RssAnon:").unwrap() / 1024.0, field("VmHWM:").unwrap() / 1024.0)
}

#[tokio::test]
async fn an_upload_of_100000_contacts_peaks_low_and_its_memory_comes_back() {
    let url = if sqlite() { fresh_sqlite_url() } else { fresh_postgres_url().await };
    let (child, base) = spawn_graine(&url, &[]);
    let server = Server(child);
    let pid = server.0.id();
    let client = reqwest::Client::new();
    let campaign: Value = client
        .post(format!("{base}/api/v1/campaigns/"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "Memory", "agent_id": "a", "phone_numbers": ["+919876543210"],
                      "working_hours_enforced": true, "working_hours": {"monday": {"start": "09:00", "end": "09:01", "enabled": false},
                      "tuesday": {"start": "09:00", "end": "09:01", "enabled": false}, "wednesday": {"start": "09:00", "end": "09:01", "enabled": false},
                      "thursday": {"start": "09:00", "end": "09:01", "enabled": false}, "friday": {"start": "09:00", "end": "09:01", "enabled": false},
                      "saturday": {"start": "09:00", "end": "09:01", "enabled": false}, "sunday": {"start": "09:00", "end": "09:01", "enabled": false}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut body = format!(r#"{{"campaign_id":"{}","contacts":["#, campaign["campaign_id"].as_str().unwrap());
    for i in 0..100_000 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"phone_number":"+1415{:03}{:04}","call_variables":{{"callee_name":"Callee {i}","policy":"P-{i}"}}}}"#,
            200 + i / 10_000,
            i % 10_000
        ));
    }
    body.push_str("]}");
    let (before, _) = memory(pid);
    // The peak is measured from here on.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let (_, start_peak) = memory(pid);
    let r = client
        .post(format!("{base}/api/v1/batches/"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, peak) = memory(pid);
    assert!(peak - start_peak < 100.0, "the upload raised the peak by {:.1} MiB", peak - start_peak);
    // Freed memory goes back to the system within a second or two. What stays: the database's page
    // caches (SQLite), compiled numbering plans, connection buffers (about 15–25 MiB here; before the
    // allocator returned memory, over 100 MiB stayed).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (now, _) = memory(pid);
        if now - before < 32.0 {
            break;
        }
        assert!(Instant::now() < deadline, "{:.1} MiB more than before the upload, 20 s after it", now - before);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

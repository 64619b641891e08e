//! The recording telephony stub of the fault harness: it checks each placement's signature, refuses
//! one past its deadline, logs the rest as telephony saw them, and reports each outcome a moment later
//! to a random live replica.

use super::SECRET;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use graine::signing::Secret;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One placement as telephony saw it.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    pub(crate) execution_id: String,
    pub(crate) contact: String,
    pub(crate) campaign: String,
    pub(crate) attempt: i64,
    pub(crate) replica: usize,
    pub(crate) start: Instant,
    pub(crate) end: Option<Instant>,
}

/// The recording telephony stub and where the replicas listen (None while one is down).
#[derive(Clone, Default)]
pub(crate) struct Stub {
    pub(crate) log: Arc<Mutex<Vec<Placed>>>,
    pub(crate) replicas: Arc<Mutex<Vec<Option<String>>>>,
    client: reqwest::Client,
    /// Placements refused because their deadline had passed.
    pub(crate) refused_late: Arc<std::sync::atomic::AtomicUsize>,
}

impl Stub {
    /// Accepts a placement, logs it, and reports its outcome a moment later to a random live replica.
    pub(crate) async fn place(
        State(stub): State<Stub>,
        Path(replica): Path<usize>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::http::StatusCode {
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let now = chrono::Utc::now().timestamp();
        let signed = Secret::parse(SECRET).unwrap().verify(
            &h("webhook-id"),
            &h("webhook-timestamp"),
            &h("webhook-signature"),
            &body,
            now,
        );
        assert_eq!(signed, Ok(()), "placements are signed");
        let call: Value = serde_json::from_slice(&body).unwrap();
        let text = |k: &str| call[k].as_str().unwrap_or_default().to_owned();
        // Fencing: a call past its deadline was already closed by the server; it must not start.
        let deadline = chrono::DateTime::parse_from_rfc3339(&text("deadline_at")).expect("deadline_at");
        if deadline <= chrono::Utc::now() {
            stub.refused_late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return axum::http::StatusCode::CONFLICT;
        }
        let placed = Placed {
            execution_id: text("execution_id"),
            contact: text("contact_id"),
            campaign: text("campaign_id"),
            attempt: call["attempt"].as_i64().unwrap_or(-1),
            replica,
            start: Instant::now(),
            end: None,
        };
        let id = placed.execution_id.clone();
        stub.log.lock().unwrap().push(placed);
        tokio::spawn(stub.clone().report(id));
        axum::http::StatusCode::OK
    }

    /// Ends the call after 50–400 ms and delivers its outcome, trying live replicas in turn.
    async fn report(self, execution_id: String) {
        let wait = 50 + u64::from(uuid::Uuid::now_v7().as_bytes()[15]) * 350 / 255;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if let Some(p) = self.log.lock().unwrap().iter_mut().find(|p| p.execution_id == execution_id) {
            p.end = Some(Instant::now());
        }
        let body = serde_json::to_vec(
            &json!({"execution_id": execution_id, "call_status": "completed", "duration_seconds": 1.0}),
        )
        .unwrap();
        for round in 0..200u64 {
            let live: Vec<String> = self.replicas.lock().unwrap().iter().flatten().cloned().collect();
            let Some(base) = live.get((round as usize + wait as usize) % live.len().max(1)).cloned() else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let ts = chrono::Utc::now().timestamp();
            let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
            let sig = Secret::parse(SECRET).unwrap().sign(&id, ts, &body);
            let sent = self
                .client
                .post(format!("{base}/api/v1/webhooks/call-status"))
                .timeout(Duration::from_millis(500))
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body.clone())
                .send()
                .await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20 * round.min(10))).await;
        }
    }
}

//! The fault harness's webhook receiver: records the `webhook-id` of every event delivered to it,
//! and fails one try in five with `500`, so that retries run under the faults too.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub(crate) struct Hooks {
    /// Events answered with a `2xx`.
    pub(crate) delivered: Arc<Mutex<HashSet<String>>>,
    tries: Arc<Mutex<u64>>,
}

impl Hooks {
    /// Serves on 127.0.0.1; returns the URL to subscribe.
    pub(crate) async fn start(&self) -> String {
        let app = Router::new().route("/hooks", post(receive)).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }
}

async fn receive(State(hooks): State<Hooks>, headers: HeaderMap) -> StatusCode {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let n = {
        let mut tries = hooks.tries.lock().unwrap();
        *tries += 1;
        *tries
    };
    if n % 5 == 0 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    hooks.delivered.lock().unwrap().insert(id);
    StatusCode::NO_CONTENT
}

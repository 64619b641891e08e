//! The fault harness's webhook receiver: records the `webhook-id` of every event delivered to it,
//! and fails the first try of one event in five with `500`, so that retries (5 s later) run under
//! the faults too; a retry is never failed, since the next one would come only 5 minutes later.

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
    /// Tries so far, and the events whose first try was failed.
    tries: Arc<Mutex<(u64, HashSet<String>)>>,
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
    let fail = {
        let mut tries = hooks.tries.lock().unwrap();
        tries.0 += 1;
        tries.0 % 5 == 0 && tries.1.insert(id.clone())
    };
    if fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    hooks.delivered.lock().unwrap().insert(id);
    StatusCode::NO_CONTENT
}

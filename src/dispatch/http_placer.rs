//! The http placer: a signed POST per call to the configured telephony URL (API.md §7, §8).

use super::placer::{CallRequest, PlaceFuture, Placement, Placer};
use crate::clock::Clock;
use crate::domain::signing::Secret;
use std::time::Duration;

/// How long telephony may take to accept a call.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Places calls by POSTing them to telephony.
pub struct HttpPlacer {
    client: reqwest::Client,
    url: String,
    secret: Secret,
}

impl HttpPlacer {
    pub fn new(url: String, secret: Secret) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(ACCEPT_TIMEOUT).build()?;
        Ok(Self { client, url, secret })
    }
}

impl Placer for HttpPlacer {
    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a> {
        Box::pin(async move {
            let body = match serde_json::to_vec(call) {
                Ok(b) => b,
                Err(e) => return Placement::Rejected(format!("request could not be encoded: {e}")),
            };
            let id = call.execution_id.to_string();
            // Signature timestamps are transport time: the real clock, even under the test clock.
            let timestamp = Clock::System.now().timestamp();
            let signature = self.secret.sign(&id, timestamp, &body);
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => Placement::Accepted(None),
                Ok(r) => Placement::Rejected(format!("telephony answered {}", r.status())),
                // Never connected: certainly not placed.
                Err(e) if e.is_connect() => Placement::Rejected(format!("telephony unreachable: {e}")),
                // Sent, but no clear answer: the call may exist. Never redial on doubt; the call
                // timeout closes it if no outcome arrives.
                Err(e) => Placement::Unknown(format!("no answer from telephony: {e}")),
            }
        })
    }
}

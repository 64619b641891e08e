//! The http placer: a signed POST per call to the configured telephony URL (API.md §7, §8), and
//! what telephony's answer means: placed, refused, busy (no attempt used), or in doubt.

use super::answer;
use super::placer::{CallRequest, PlaceFuture, Placement, Placer};
use crate::clock::Clock;
use crate::outbound::OutboundTls;
use crate::signing::Secret;
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
    /// A redirect is not a placement: it is answered as a refusal rather than followed.
    pub fn new(url: String, secret: Secret, tls: &OutboundTls) -> Result<Self, reqwest::Error> {
        Ok(Self { client: tls.client(ACCEPT_TIMEOUT)?, url, secret })
    }
}

impl Placer for HttpPlacer {
    fn provider(&self) -> crate::domain::provider::Provider {
        crate::domain::provider::Provider::Http
    }

    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a> {
        Box::pin(async move {
            let body = match serde_json::to_vec(call) {
                Ok(b) => b,
                Err(e) => {
                    return Placement::Rejected {
                        reason: format!("request could not be encoded: {e}"),
                        permanent: false,
                    };
                }
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
                Ok(r) => classify(r).await,
                // Never connected: not placed; sent without a clear answer: never redialled (the
                // call timeout closes it if no outcome arrives).
                Err(e) => answer::failed_request(&e, "telephony"),
            }
        })
    }
}

/// What an answer means (API.md §7): `2xx` placed; `429` busy, no attempt used; `408` and `5xx`
/// doubt (a gateway may answer so after the call was placed); any other status a refusal,
/// permanent when the body says `"permanent": true` (an invalid number).
async fn classify(r: reqwest::Response) -> Placement {
    if r.status().is_success() {
        return Placement::Accepted { script: None, provider_call_id: None };
    }
    if let Some(placement) = answer::common(&r, "telephony") {
        return placement;
    }
    let reason = format!("telephony answered {}", r.status());
    let body = answer::bounded_body(r).await;
    let permanent = serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|v| v.get("permanent").and_then(serde_json::Value::as_bool) == Some(true));
    Placement::Rejected { reason, permanent }
}

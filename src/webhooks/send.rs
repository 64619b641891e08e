//! One signed try of one event at one endpoint (API.md §8, §13): `webhook-id` is the event's id,
//! 2xx within the client's timeout is delivered, at most 64 KiB of an answer is read.

use crate::domain::events::EventId;
use crate::domain::webhook::{Attempt, Endpoint};
use crate::outbound::guard::WebhookRules;
use crate::outbound::hooks::{HookClient, HookUrl};
use crate::signing::Secret;
use chrono::{DateTime, Utc};
use std::time::Instant;

/// The most of an answer read: the rest is left unread and the connection dropped.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where and how an endpoint's tries go, worked out once for many tries: its URL, judged again (the
/// flags may have changed since it was saved), and the secrets in force at `now` (the server's
/// clock).
pub struct Target {
    url: Result<HookUrl, String>,
    keys: Vec<Secret>,
}

impl Target {
    pub fn new(rules: &WebhookRules, endpoint: &Endpoint, now: DateTime<Utc>) -> Self {
        let url = rules.check_shape(&endpoint.url).and_then(|url| HookClient::url(&url));
        let keys = endpoint.signing_secrets(now).into_iter().filter_map(Secret::parse).collect();
        Self { url, keys }
    }
}

/// Posts `body` (the event's JSON) to the target, signed with each of its secrets; the signed
/// timestamp is the real time, as for every signed request. The try is dated `now`.
pub async fn send(client: &HookClient, target: &Target, event: EventId, body: Vec<u8>, now: DateTime<Utc>) -> Attempt {
    let started = Instant::now();
    let (status_code, error) = match try_once(client, target, event, body).await {
        Ok(status) if (200..300).contains(&status) => (Some(i64::from(status)), None),
        Ok(status) => (Some(i64::from(status)), Some(format!("answered {status}"))),
        Err(e) => (None, Some(e)),
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    Attempt { event, attempt: 0, attempted_at: now, status_code, duration_ms, error }
}

async fn try_once(client: &HookClient, target: &Target, event: EventId, body: Vec<u8>) -> Result<u16, String> {
    let url = target.url.as_ref().map_err(Clone::clone)?;
    let id = event.to_string();
    let timestamp = Utc::now().timestamp();
    let signatures: Vec<String> = target.keys.iter().map(|key| key.sign(&id, timestamp, &body)).collect();
    let (timestamp, signatures) = (timestamp.to_string(), signatures.join(" "));
    let fields = [
        ("content-type", "application/json"),
        ("user-agent", concat!("graine-webhooks/", env!("CARGO_PKG_VERSION"))),
        ("webhook-id", id.as_str()),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signatures.as_str()),
    ];
    client.post(url, &fields, &body, MAX_ANSWER_BYTES).await
}

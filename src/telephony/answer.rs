//! What a provider's answer to a placement means, where every provider agrees (API.md §7): `429`
//! uses no attempt, `408`/`5xx`/silence are doubt, a connection never made is busy telephony.

use super::placer::{Placement, retry_after};
use crate::clock::Clock;

/// The most of a refusal's body read, to learn why the call was refused.
pub const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// The answer for statuses whose meaning does not depend on the provider: `429` (no attempt used,
/// dispatch waits its `Retry-After`), `408` and `5xx` (doubt: the call may exist). `None` for the
/// others, which the provider's adapter reads.
pub fn common(r: &reqwest::Response, provider: &str) -> Option<Placement> {
    let status = r.status();
    let reason = format!("{provider} answered {status}");
    match status.as_u16() {
        429 => {
            let wait = r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
            Some(Placement::Throttled { retry_after: retry_after(wait, Clock::System.now()), reason })
        }
        408 | 500..=599 => Some(Placement::Unknown(reason)),
        _ => None,
    }
}

/// The answer when a request could not be completed: never connected is certainly not placed (and
/// not the contact's fault: no attempt used); sent without a clear answer is doubt.
pub fn failed_request(e: &reqwest::Error, provider: &str) -> Placement {
    if e.is_connect() {
        Placement::Throttled { reason: format!("{provider} unreachable: {e}"), retry_after: None }
    } else {
        Placement::Unknown(format!("no answer from {provider}: {e}"))
    }
}

/// Up to `MAX_REFUSAL_BYTES` of a response's body.
pub async fn bounded_body(mut r: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_REFUSAL_BYTES
        && let Ok(Some(chunk)) = r.chunk().await
    {
        body.extend_from_slice(&chunk);
    }
    body.truncate(MAX_REFUSAL_BYTES);
    body
}

/// A provider's message, shortened for a call record's `hangup_reason`.
pub fn short(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

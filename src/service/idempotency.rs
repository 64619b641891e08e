//! Idempotent POSTs: the same key and request within 24 h get the first response again.

use crate::domain::ids::OrgId;
use crate::error::Error;
use crate::store::{IdempotencyBegin, Store};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How long a key's first response is kept.
pub const RETENTION_HOURS: i64 = 24;
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// The fingerprint of a request: method, path and body.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().into()
}

/// Claims the key, or says what to answer instead.
pub async fn begin(
    store: &Store,
    org: OrgId,
    key: &str,
    fingerprint: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<IdempotencyBegin, Error> {
    let expired_before = now - Duration::hours(RETENTION_HOURS);
    store.begin_idempotent(org, key, fingerprint, now, expired_before).await
}

/// Records the response to replay.
pub async fn finish(store: &Store, org: OrgId, key: &str, status: u16, body: &[u8]) -> Result<(), Error> {
    store.finish_idempotent(org, key, status, body).await
}

/// Frees the key after a server-side failure, so a retry runs again.
pub async fn abandon(store: &Store, org: OrgId, key: &str) -> Result<(), Error> {
    store.abandon_idempotent(org, key).await
}

/// Deletes expired records.
pub async fn purge(store: &Store, now: DateTime<Utc>) -> Result<u64, Error> {
    store.purge_idempotency(now - Duration::hours(RETENTION_HOURS)).await
}

//! Idempotent POSTs: the same key and request within 24 h get the first response again. The work of
//! the first request and its stored response commit in one transaction, and a key whose request died
//! with its server is free again once its lease lapses.

use super::Wake;
use crate::domain::ids::OrgId;
use crate::error::Error;
use crate::store::{IdempotencyBegin, IdempotencyClaim, Store, Tx};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// How long a key's first response is kept.
pub const RETENTION_HOURS: i64 = 24;
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;
/// How long a claim lasts without renewal: a key whose request died is free again after this.
pub const LEASE: Duration = Duration::seconds(30);
/// How often a request still running renews its claim.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

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

/// A new claim of `key` for one request.
pub fn claim(org: OrgId, key: &str) -> IdempotencyClaim {
    IdempotencyClaim { org, key: key.to_owned(), owner: uuid::Uuid::now_v7() }
}

/// Claims the key until `now + LEASE`, or says what to answer instead.
pub async fn begin(
    store: &dyn Store,
    claim: &IdempotencyClaim,
    fingerprint: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<IdempotencyBegin, Error> {
    let expired_before = now - Duration::hours(RETENTION_HOURS);
    store.begin_idempotent(claim, fingerprint, now, expired_before, now + LEASE).await
}

/// Keeps a running request's claim for another `LEASE` from `now`; says whether it still holds it.
pub async fn renew(store: &dyn Store, claim: &IdempotencyClaim, now: DateTime<Utc>) -> Result<bool, Error> {
    store.renew_idempotent(claim, now + LEASE).await
}

/// Stores the response to replay: in the transaction of the request's work when it did some (then
/// commits it and nudges the dispatcher: the request's own nudge came before its work was visible),
/// else on its own. `false`, and the work undone, when the request lost its claim.
pub async fn finish(
    store: &dyn Store,
    wake: &Wake,
    work: Option<Box<dyn Tx>>,
    claim: &IdempotencyClaim,
    status: u16,
    body: &[u8],
) -> Result<bool, Error> {
    let Some(mut tx) = work else { return store.finish_idempotent(claim, status, body).await };
    if !tx.finish_idempotent(claim, status, body).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    wake.nudge();
    Ok(true)
}

/// Frees the key after a server-side failure, so a retry runs again.
pub async fn abandon(store: &dyn Store, claim: &IdempotencyClaim) -> Result<(), Error> {
    store.abandon_idempotent(claim).await
}

/// Deletes expired records.
pub async fn purge(store: &dyn Store, now: DateTime<Utc>) -> Result<u64, Error> {
    store.purge_idempotency(now - Duration::hours(RETENTION_HOURS)).await
}

/// The transaction of an idempotent request's work, held open by `commit` until the request's
/// response is stored in it.
#[derive(Default)]
pub struct Pending(Mutex<Option<Box<dyn Tx>>>);

impl Pending {
    /// The held transaction, if the request's work committed one.
    pub fn take(&self) -> Option<Box<dyn Tx>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

tokio::task_local! {
    static PENDING: Arc<Pending>;
}

/// Runs `request` (the handling of an idempotent request) so that the transaction its work commits
/// is held in `pending` instead of committed.
pub async fn holding_commits<F: Future>(pending: Arc<Pending>, request: F) -> F::Output {
    PENDING.scope(pending, request).await
}

/// Whether commits are held (inside `holding_commits`): a use case that would write in one statement
/// then writes in a transaction, so that the stored response joins it.
pub fn holding() -> bool {
    PENDING.try_with(|_| ()).is_ok()
}

/// Commits a use case's transaction; inside `holding_commits`, holds it instead, so that the request's
/// stored response commits with the work (a use case commits at most one transaction).
pub async fn commit(tx: Box<dyn Tx>) -> Result<(), Error> {
    let Ok(pending) = PENDING.try_with(Arc::clone) else { return tx.commit().await };
    let mut slot = pending.0.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_some() {
        return Err(Error::internal("an idempotent request committed a second transaction"));
    }
    *slot = Some(tx);
    Ok(())
}

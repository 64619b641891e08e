//! Delivering events to customer webhook endpoints (API.md §13). Any replica delivers: it leases an
//! endpoint's stream of new events, or due retries, on the real clock, sends them, and records each
//! try; a lease of a replica that died lapses, and what it was sending is sent again (at least
//! once). An endpoint is sent to by its own task: a slow or dead one holds up nothing else.

mod send;
mod stream;

pub use send::MAX_ANSWER_BYTES;

use crate::clock::Clock;
use crate::domain::events::{EventId, StoredEvent, retry_at};
use crate::domain::ids::EndpointId;
use crate::domain::webhook::{Attempt, DueRetry, Endpoint, Lease, RetryDone, RetryNext};
use crate::error::Error;
use crate::outbound::guard::WebhookRules;
use crate::outbound::hooks::HookClient;
use crate::service::events::{EventWatch, RecentCalls, Subjects};
use crate::service::webhooks::EndpointChanges;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How the API writes what deliveries send: an event's body from what it is about, and an endpoint
/// as an `endpoint.disabled` event shows it. The HTTP layer, which owns the wire format, gives it.
pub trait Views: Send + Sync {
    fn event(&self, subjects: &Subjects, e: &StoredEvent) -> Vec<u8>;
    fn endpoint(&self, e: &Endpoint) -> serde_json::Value;
}

/// How long one try may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a lease lasts. A stream launches no new try once `STREAM_BUDGET` has passed, and every
/// try ends within `TIMEOUT`, so a stream ends well within its lease.
const LEASE: Duration = Duration::from_secs(45);
const STREAM_BUDGET: Duration = Duration::from_secs(15);
/// How often the worker looks for work besides when an event commits; and, while no organization
/// has an endpoint, for one.
const POLL: Duration = Duration::from_millis(100);
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Events a stream reads at once, tries it keeps in flight (across chunks), and the failures in a
/// row after which it stops and leaves the endpoint to its retries.
const STREAM_EVENTS: i64 = 500;
const IN_FLIGHT: usize = 32;
const FAILURES_TO_STOP: usize = 16;
/// Groups of events whose calls a stream keeps while it reads a backlog: a settle writes its calls'
/// `call.ended` events before their `contact.finished`, at most `SETTLE_CHUNK` events apart, so a
/// finished contact's latest call was read in its own group or one of these before it.
const RECENT_GROUPS: usize =
    crate::dispatch::SETTLE_CHUNK.unsigned_abs().div_ceil(STREAM_EVENTS.unsigned_abs()) as usize + 1;
/// Retries claimed per pass, and per endpoint.
const RETRIES: i64 = 64;
const RETRIES_PER_ENDPOINT: i64 = 8;

/// The delivery worker of one replica.
pub struct Deliveries {
    store: Arc<dyn Store>,
    clock: Clock,
    client: HookClient,
    rules: WebhookRules,
    views: Arc<dyn Views>,
    /// This process's key on leases.
    owner: i64,
    /// Endpoints whose retries this replica is sending.
    busy: Mutex<HashSet<EndpointId>>,
    /// Whether `owner` is announced: only once any endpoint exists, so that a server with none
    /// keeps no connection for it and runs no claims.
    announced: std::sync::atomic::AtomicBool,
    /// Every organization's newest event: wakes the worker, and a stream waiting for more.
    watch: EventWatch,
    /// Stops a stream when its endpoint is changed through this replica.
    changes: EndpointChanges,
}

impl Deliveries {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        client: HookClient,
        rules: WebhookRules,
        views: Arc<dyn Views>,
        watch: EventWatch,
        changes: EndpointChanges,
    ) -> Self {
        let mut key = [0u8; 8];
        let _ = getrandom::fill(&mut key);
        let owner = i64::from_le_bytes(key) & i64::MAX;
        let announced = std::sync::atomic::AtomicBool::new(false);
        let busy = Mutex::new(HashSet::new());
        Self { store, clock, client, rules, views, owner, busy, announced, watch, changes }
    }

    /// Delivers until `shutdown`, waking when any organization's newest event moves and every `POLL`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        // Until some organization has an endpoint, only that is looked for, once a second.
        let mut idle = tokio::time::interval(IDLE_POLL);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = idle.tick() => {}
            }
            match self.store.any_endpoint().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "looking for webhook endpoints failed"),
            }
        }
        let mut heads = self.watch.subscribe();
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => {}
                changed = heads.changed() => if changed.is_err() { return },
            }
            while tasks.try_join_next().is_some() {}
            if let Err(e) = self.pass(&mut tasks).await {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
            }
        }
    }

    /// Claims what is due and starts a task for each endpoint.
    async fn pass(self: &Arc<Self>, tasks: &mut JoinSet<()>) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        if !self.announced.load(Ordering::Relaxed) {
            // Before the first lease is taken, so that no replica takes this one's for a dead one's.
            self.store.announce_owner(self.owner).await?;
            self.announced.store(true, Ordering::Relaxed);
        }
        let now = chrono::Utc::now();
        let lease =
            Lease { owner: self.owner, now, until: now + chrono::Duration::from_std(LEASE).unwrap_or_default() };
        for stream in self.store.claim_streams(&lease, 16).await? {
            let me = self.clone();
            tasks.spawn(async move {
                if let Err(e) = me.stream(&stream).await {
                    tracing::warn!(error = %e, endpoint = %stream.endpoint.id, "webhook stream failed");
                    // Let it go now, rather than when the lease runs out: its events are sent again.
                    me.release(&[stream.endpoint.id], &[]).await;
                }
            });
        }
        let busy: Vec<EndpointId> = self.busy.lock().map(|b| b.iter().copied().collect()).unwrap_or_default();
        let due = self.store.claim_retries(&lease, self.clock.now(), &busy, RETRIES_PER_ENDPOINT, RETRIES).await?;
        let mut by_endpoint: HashMap<EndpointId, Vec<DueRetry>> = HashMap::new();
        for d in due {
            by_endpoint.entry(d.endpoint.id).or_default().push(d);
        }
        for (endpoint, retries) in by_endpoint {
            if let Ok(mut b) = self.busy.lock() {
                b.insert(endpoint);
            }
            let me = self.clone();
            tasks.spawn(async move {
                if let Err(e) = me.retry(&retries).await {
                    tracing::warn!(error = %e, %endpoint, "webhook retries failed");
                    let held: Vec<(EndpointId, EventId)> = retries.iter().map(|r| (endpoint, r.event)).collect();
                    me.release(&[], &held).await;
                }
                if let Ok(mut b) = me.busy.lock() {
                    b.remove(&endpoint);
                }
            });
        }
        Ok(())
    }

    /// Gives up this replica's leases on these streams and retries (a few tries over a few seconds,
    /// for a database that is coming back); a lease that cannot be given up runs out.
    async fn release(&self, streams: &[EndpointId], retries: &[(EndpointId, EventId)]) {
        for wait in [0, 500, 1000, 2000] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            match self.store.release_leases(self.owner, streams, retries).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(error = %e, "giving up delivery leases failed"),
            }
        }
    }

    /// The events' bodies, in order (an event whose subject is gone is sent with `data: null`); the
    /// calls read are kept in `recent`.
    async fn bodies(&self, events: &[StoredEvent], recent: &mut RecentCalls) -> Result<Vec<Vec<u8>>, Error> {
        let subjects = Subjects::read_after(&*self.store, events, recent).await?;
        let bodies = events.iter().map(|e| self.views.event(&subjects, e)).collect();
        recent.keep(subjects);
        Ok(bodies)
    }

    /// Tries an endpoint's due retries side by side and records what came of them.
    async fn retry(&self, due: &[DueRetry]) -> Result<(), Error> {
        let Some(first) = due.first() else { return Ok(()) };
        let endpoint: &Endpoint = &first.endpoint;
        let ids: Vec<EventId> = due.iter().map(|d| d.event).collect();
        let events = self.store.events_by_id(endpoint.organization_id, &ids).await?;
        let bodies = self.bodies(&events, &mut RecentCalls::default()).await?;
        let now = self.clock.now();
        let mut in_flight = JoinSet::new();
        let target = Arc::new(send::Target::new(&self.rules, endpoint, now));
        for (event, body) in events.iter().zip(bodies) {
            let (client, target, id) = (self.client.clone(), target.clone(), event.id);
            in_flight.spawn(async move { send::send(&client, &target, id, body, now).await });
        }
        let mut tried: HashMap<EventId, Attempt> = HashMap::new();
        while let Some(done) = in_flight.join_next().await {
            let attempt = done.map_err(Error::internal)?;
            tried.insert(attempt.event, attempt);
        }
        let mut disabled = endpoint.clone();
        disabled.disabled = true;
        let results: Vec<RetryDone> = due
            .iter()
            .map(|d| {
                let attempt = tried.remove(&d.event);
                let next = match &attempt {
                    None => RetryNext::Done,
                    Some(a) if a.delivered() => RetryNext::Done,
                    Some(_) => match retry_at(usize::try_from(d.step + 1).unwrap_or(usize::MAX), now) {
                        Some(at) => RetryNext::Again(d.step + 1, at),
                        None => RetryNext::Disable(self.views.endpoint(&disabled)),
                    },
                };
                RetryDone { endpoint: d.endpoint.id, event: d.event, generation: d.generation, attempt, next }
            })
            .collect();
        self.store.finish_retries(self.owner, &results, now).await
    }
}

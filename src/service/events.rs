//! The event feed (API.md §13): reading events in order, waiting for the next one (long poll), and
//! reading what events are about, to write their `data`.

use crate::domain::contact::CallRecord;
use crate::domain::events::{EventId, EventType, StoredEvent, TypeFilter};
use crate::domain::ids::{ContactId, ExecutionId, OrgId};
use crate::error::Error;
use crate::service::batches::ContactWithCalls;
use crate::store::Store;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// How often the newest event of every organization is read, so that a long poll or a delivery
/// hears of events any replica committed.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Every organization's newest event, as last read; waiters wake when it changes.
#[derive(Clone)]
pub struct EventWatch {
    heads: watch::Sender<HashMap<OrgId, EventId>>,
}

impl Default for EventWatch {
    fn default() -> Self {
        Self { heads: watch::channel(HashMap::new()).0 }
    }
}

impl EventWatch {
    /// A receiver that sees each change of the heads.
    pub fn subscribe(&self) -> watch::Receiver<HashMap<OrgId, EventId>> {
        self.heads.subscribe()
    }

    /// Reads the heads every `WATCH_EVERY` while anyone waits for them (a long poll, the delivery
    /// worker), until `shutdown`.
    pub async fn run(self, store: std::sync::Arc<dyn Store>, shutdown: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(WATCH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            if self.heads.receiver_count() == 0 {
                continue;
            }
            match store.event_heads().await {
                Ok(heads) => {
                    let heads: HashMap<OrgId, EventId> = heads.into_iter().collect();
                    self.heads.send_if_modified(|known| {
                        let changed = *known != heads;
                        if changed {
                            *known = heads;
                        }
                        changed
                    });
                }
                Err(e) => tracing::debug!(error = %e, "reading the newest events failed"),
            }
        }
    }
}

/// What one read of the feed asks for.
pub struct FeedQuery {
    pub after: EventId,
    pub types: TypeFilter,
    pub limit: i64,
    /// How long to wait for a first event when there is none yet.
    pub wait: Duration,
}

/// The organization's next events after `q.after` and its newest event id, waiting up to `q.wait`
/// for one to commit when there is none yet.
pub async fn feed(
    store: &dyn Store,
    watch: &EventWatch,
    org: OrgId,
    q: &FeedQuery,
) -> Result<(Vec<StoredEvent>, Option<EventId>), Error> {
    let deadline = tokio::time::Instant::now() + q.wait;
    let mut heads = watch.subscribe();
    // Every event up to `floor` has been read (or skipped by the filter).
    let mut floor = q.after;
    loop {
        let seen = heads.borrow_and_update().get(&org).copied();
        let events = store.events_after(org, q.after, &q.types, q.limit).await?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok((events, store.last_event(org).await?));
        }
        // The head seen before the read had committed: with a filter, the events up to it that do not
        // match are not read again on each move of another organization's head.
        floor = floor.max(seen.unwrap_or(floor));
        // Wait for this organization's head to pass `floor` (or the wait to end), then read again.
        loop {
            match tokio::time::timeout_at(deadline, heads.changed()).await {
                Err(_) => return Ok((Vec::new(), store.last_event(org).await?)),
                Ok(Err(_)) => return Ok((Vec::new(), store.last_event(org).await?)),
                Ok(Ok(())) => {
                    if heads.borrow().get(&org).is_some_and(|head| *head > floor) {
                        break;
                    }
                }
            }
        }
    }
}

/// What a set of events is about, read at once: closed calls, and finished contacts with their
/// latest call (a subject deleted since is missing). Batches and campaigns come with their events.
#[derive(Default)]
pub struct Subjects {
    pub calls: HashMap<Uuid, CallRecord>,
    pub contacts: HashMap<Uuid, ContactWithCalls>,
}

/// The calls read for a stream's latest groups of events, while it reads a backlog (it forgets them
/// once caught up). A finished contact's latest call is mostly the call that ended with it, and a
/// transaction that ends n calls writes their n `call.ended` events before their `contact.finished`:
/// a call read a few groups before, moments ago, is not read again. The default keeps nothing.
#[derive(Default)]
pub struct RecentCalls {
    kept: VecDeque<HashMap<Uuid, CallRecord>>,
    groups: usize,
}

impl RecentCalls {
    /// Keeps the calls of the latest `groups` groups.
    pub fn spanning(groups: usize) -> Self {
        Self { kept: VecDeque::with_capacity(groups), groups }
    }

    /// Keeps the calls of `subjects`, forgetting the oldest group's.
    pub fn keep(&mut self, subjects: Subjects) {
        if self.groups == 0 {
            return;
        }
        if self.kept.len() == self.groups {
            self.kept.pop_front();
        }
        self.kept.push_back(subjects.calls);
    }
}

impl Subjects {
    /// Reads the subjects of `events`.
    pub async fn read(store: &dyn Store, events: &[StoredEvent]) -> Result<Self, Error> {
        Self::read_after(store, events, &RecentCalls::default()).await
    }

    /// Reads the subjects of `events`, taking the calls in `recent` as they were read.
    pub async fn read_after(store: &dyn Store, events: &[StoredEvent], recent: &RecentCalls) -> Result<Self, Error> {
        let of = |kind: EventType| -> Vec<Uuid> {
            let mut ids: Vec<Uuid> = events.iter().filter(|e| e.kind == kind).map(|e| e.subject).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let calls: Vec<ExecutionId> = of(EventType::CallEnded).into_iter().map(ExecutionId::from_uuid).collect();
        let mut subjects = Subjects { calls: HashMap::with_capacity(calls.len()), contacts: HashMap::new() };
        for call in store.calls_by_id(&calls).await? {
            subjects.calls.insert(call.execution_id.uuid(), call);
        }
        // A finished contact's latest call is mostly the call that ended with it, read above.
        let contacts: Vec<ContactId> = of(EventType::ContactFinished).into_iter().map(ContactId::from_uuid).collect();
        subjects.contacts.reserve(contacts.len());
        let known: Vec<&HashMap<Uuid, CallRecord>> =
            std::iter::once(&subjects.calls).chain(recent.kept.iter().rev()).collect();
        let mut latest = crate::service::batches::latest_calls(store, &contacts, &known).await?;
        for contact in store.contacts_by_id(&contacts).await? {
            let current_call = latest.remove(&contact.id);
            let id = contact.id.uuid();
            // A finished contact waits for nothing, as its record says.
            let (blocked_by, next_eligible_at) = crate::domain::eligibility::nothing_due();
            let item = ContactWithCalls { contact, blocked_by, next_eligible_at, current_call, call_records: None };
            subjects.contacts.insert(id, item);
        }
        Ok(subjects)
    }
}

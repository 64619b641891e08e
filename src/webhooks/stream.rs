//! One endpoint's stream of new events (API.md §13), as a pipeline of three stages: the next chunk
//! of events is read and written out while the current one is sent; tries stay in flight across
//! the chunks' edges; and each chunk's results (its tries, its retries, the cursor past it) are
//! recorded in order while later chunks are sent. A chunk is recorded only once every try of it has
//! come back, so the cursor never passes an event whose try is not written. Caught up, the stream
//! waits for the next event with its lease, up to its budget: a new event goes out without a new
//! claim (on SQLite a claim waits for the one writer). Each chunk is read with the endpoint as it
//! then stands. A change of the endpoint through this replica stops the stream before its next try
//! (what is not sent stays after the cursor, for the next stream to read as changed); one through
//! another replica counts from the next chunk read.

use super::{Deliveries, FAILURES_TO_STOP, IN_FLIGHT, LEASE, RECENT_GROUPS, STREAM_BUDGET, STREAM_EVENTS, send};
use crate::domain::events::{EventId, retry_at};
use crate::domain::webhook::{Attempt, Endpoint, Stream, StreamDone};
use crate::error::Error;
use crate::service::events::RecentCalls;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// Chunks read ahead of the one being sent, and chunks sent ahead of the one being recorded (on
/// SQLite a record waits for the one writer, up to a second at full burn-down: the sends go on).
const READ_AHEAD: usize = 2;
const RECORDS_AHEAD: usize = 64;

/// Events read, with their bodies, where they go, and where the cursor goes once all of them are sent.
struct Chunk {
    events: Vec<EventId>,
    bodies: Vec<Vec<u8>>,
    target: Arc<send::Target>,
    end: EventId,
    /// The budget was spent when it was read: the stream's last chunk.
    last: bool,
}

/// A chunk being sent: how many of its events are launched and the tries that came back.
struct Sending {
    number: u64,
    chunk: Chunk,
    launched: usize,
    attempts: Vec<Attempt>,
}

/// A chunk's results for the recorder; `last` gives the lease up with them.
struct Recorded {
    done: StreamDone,
    last: bool,
}

impl Deliveries {
    /// Sends an endpoint's events after its cursor, in order, as they commit, until `STREAM_BUDGET`
    /// has passed, the endpoint is disabled or deleted, fails `FAILURES_TO_STOP` tries in a row or a
    /// whole chunk, or the lease is found lost. The lease is renewed with each chunk recorded and
    /// given up at the end.
    pub(super) async fn stream(&self, s: &Stream) -> Result<(), Error> {
        let started = Instant::now();
        // Raised by a change of the endpoint through this replica, as well as by the recorder.
        let stop = self.changes.watch(s.endpoint.id);
        let (chunks_in, chunks_out) = mpsc::channel(1);
        let (results_in, results_out) = mpsc::channel(RECORDS_AHEAD);
        let (read, sent, recorded) = tokio::join!(
            self.read_ahead(&s.endpoint, s.cursor, started, chunks_in),
            self.send_chunks(&s.endpoint, started, chunks_out, results_in, &stop),
            self.record(&s.endpoint, results_out, &stop),
        );
        read.and(sent).and(recorded)
    }

    /// Reads chunk after chunk, each with its bodies, and once caught up waits for the next event,
    /// until the budget is spent, the endpoint is disabled or deleted, or the sender wants no more.
    async fn read_ahead(
        &self,
        claimed: &Endpoint,
        mut cursor: EventId,
        started: Instant,
        out: mpsc::Sender<Chunk>,
    ) -> Result<(), Error> {
        let (org, mut heads) = (claimed.organization_id, self.watch.subscribe());
        let mut recent = RecentCalls::spanning(RECENT_GROUPS);
        loop {
            // The endpoint as it stands, for each chunk; the first read comes after the stream
            // began to watch for changes, so one committed after the claim read it is seen too.
            let e = match self.store.get_endpoint(org, claimed.id).await? {
                Some(now) if !now.disabled => now,
                _ => return Ok(()),
            };
            heads.borrow_and_update();
            // The head first: every event up to it has committed, so once all after the cursor are
            // read (and those of other types skipped), the cursor may pass it.
            let head = self.store.last_event(org).await?.unwrap_or(cursor);
            let events = self.store.events_after(org, cursor, &e.events, STREAM_EVENTS).await?;
            let bodies = self.bodies(&events, &mut recent).await?;
            let caught_up = (events.len() as i64) < STREAM_EVENTS;
            let read_to = events.last().map_or(cursor, |ev| ev.id);
            let end = if caught_up { head.max(read_to) } else { read_to };
            let last = started.elapsed() >= STREAM_BUDGET;
            if end > cursor || last {
                let target = Arc::new(send::Target::new(&self.rules, &e, self.clock.now()));
                let events = events.iter().map(|ev| ev.id).collect();
                if out.send(Chunk { events, bodies, target, end, last }).await.is_err() || last {
                    return Ok(());
                }
                cursor = end;
            }
            if caught_up {
                // The calls read are kept only through a backlog: the next events may be long after.
                recent = RecentCalls::spanning(RECENT_GROUPS);
                // Wait for this organization's head to pass the cursor, with the budget left.
                let deadline = tokio::time::Instant::from_std(started + STREAM_BUDGET);
                loop {
                    tokio::select! {
                        () = out.closed() => return Ok(()),
                        changed = tokio::time::timeout_at(deadline, heads.changed()) => match changed {
                            Ok(Ok(())) if heads.borrow().get(&org).is_some_and(|h| *h > cursor) => break,
                            Ok(Ok(())) => {}
                            _ => return Ok(()),
                        },
                    }
                }
            }
        }
    }

    /// Keeps `IN_FLIGHT` tries going over the chunks read, and hands each chunk on, in order, once
    /// all its tries are back.
    async fn send_chunks(
        &self,
        e: &Endpoint,
        started: Instant,
        mut chunks: mpsc::Receiver<Chunk>,
        results: mpsc::Sender<Recorded>,
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        let mut sending: VecDeque<Sending> = VecDeque::new();
        // Polled here rather than spawned: a try mostly waits for its connection's task.
        let mut in_flight: FuturesUnordered<BoxFuture<'_, (u64, Attempt)>> = FuturesUnordered::new();
        let client = &self.client;
        let (mut numbered, mut reading, mut failures_in_row, mut failed) = (0u64, true, 0usize, false);
        loop {
            let stopping = failed || stop.load(Ordering::Relaxed) || started.elapsed() > STREAM_BUDGET;
            if stopping && reading {
                chunks.close();
                reading = false;
            }
            if !stopping {
                for s in sending.iter_mut() {
                    while in_flight.len() < IN_FLIGHT && s.launched < s.chunk.events.len() {
                        let target = s.chunk.target.clone();
                        let (number, id, now) = (s.number, s.chunk.events[s.launched], self.clock.now());
                        let body = std::mem::take(&mut s.chunk.bodies[s.launched]);
                        in_flight
                            .push(Box::pin(async move { (number, send::send(client, &target, id, body, now).await) }));
                        s.launched += 1;
                    }
                }
            }
            // Hand on the chunks at the front whose tries are all back.
            while let Some(front) = sending.front() {
                let back = front.attempts.len() == front.launched;
                if !back || !(stopping || front.launched == front.chunk.events.len()) {
                    break;
                }
                let Some(s) = sending.pop_front() else { break };
                if s.launched == 0 && !s.chunk.events.is_empty() {
                    continue; // stopping before any of it was sent: it stays after the cursor
                }
                let last = s.chunk.last || (stopping && sending.iter().all(|later| later.launched == 0));
                let done = finished(e, s, failed && last);
                failed |= done.failing;
                if results.send(Recorded { done, last }).await.is_err() {
                    // The recorder stopped (lease lost or the database failed): nothing more is recorded.
                    return Ok(());
                }
            }
            let want_chunk = reading && sending.len() < READ_AHEAD;
            if in_flight.is_empty() && !want_chunk && sending.iter().all(|s| s.launched == s.chunk.events.len()) {
                return Ok(());
            }
            tokio::select! {
                Some((number, attempt)) = in_flight.next(), if !in_flight.is_empty() => {
                    failures_in_row = if attempt.delivered() { 0 } else { failures_in_row + 1 };
                    failed |= failures_in_row >= FAILURES_TO_STOP;
                    if let Some(s) = sending.iter_mut().find(|s| s.number == number) {
                        s.attempts.push(attempt);
                    }
                }
                chunk = chunks.recv(), if want_chunk => match chunk {
                    Some(chunk) => {
                        sending.push_back(Sending { number: numbered, chunk, launched: 0, attempts: Vec::new() });
                        numbered += 1;
                    }
                    None => reading = false,
                },
                else => return Ok(()),
            }
        }
    }

    /// Records each chunk's results in order, renewing the lease, and gives the lease up with the
    /// last (or at the end, if no chunk was the last). Chunks that came back while the previous
    /// record was being written (waiting for the database's writer, say) are recorded together.
    async fn record(
        &self,
        e: &Endpoint,
        mut results: mpsc::Receiver<Recorded>,
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        while let Some(mut next) = results.recv().await {
            while !next.last
                && let Ok(later) = results.try_recv()
            {
                next = next.then(later);
            }
            let Recorded { done, last } = next;
            let renew = (!last).then(|| chrono::Utc::now() + chrono::Duration::from_std(LEASE).unwrap_or_default());
            let held = self
                .store
                .finish_stream(self.owner, &done, renew)
                .await
                .inspect_err(|_| stop.store(true, Ordering::Relaxed))?;
            if last {
                return Ok(());
            }
            if !held {
                // Another replica holds the endpoint now: it sends the rest.
                stop.store(true, Ordering::Relaxed);
                return Ok(());
            }
        }
        self.store.release_leases(self.owner, &[e.id], &[]).await
    }
}

impl Recorded {
    /// These results followed by `later`'s, to be recorded as one.
    fn then(mut self, later: Recorded) -> Recorded {
        self.done.attempts.extend(later.done.attempts);
        self.done.retries.extend(later.done.retries);
        self.done.cursor = later.done.cursor;
        self.done.failing = later.done.failing;
        Recorded { done: self.done, last: later.last }
    }
}

/// A sent chunk's results: its tries, a first retry for each that failed, and the cursor past the
/// last event launched (past its end, when every event was).
fn finished(e: &Endpoint, s: Sending, stopped_failing: bool) -> StreamDone {
    let cursor = match s.launched {
        n if n == s.chunk.events.len() => s.chunk.end,
        n => s.chunk.events[n - 1],
    };
    let retries = s
        .attempts
        .iter()
        .filter(|a| !a.delivered())
        .filter_map(|a| retry_at(1, a.attempted_at).map(|due| (a.event, due)))
        .collect();
    let failing = stopped_failing || (!s.attempts.is_empty() && !s.attempts.iter().any(Attempt::delivered));
    StreamDone { endpoint: e.id, cursor, attempts: s.attempts, retries, failing }
}

//! The in-process dispatcher: claims due contacts in short transactions, hands them to a placer,
//! records outcomes, starts and expires batches, and knows when it next has something to do.

mod claim;
mod place;
mod report;
mod screen;
mod settle;
mod zones;

use crate::clock::Clock;
use crate::domain::ids::CampaignId;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::service::Wake;
use crate::store::{DueNow, Store};
use crate::telephony::placer::Placer;
use chrono::{DateTime, Duration, Utc};
use place::Throttle;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Rows settled per query while catching up. Each settle commits two events per call at once, and
/// an endpoint is sent them one after another: 2,500 calls keep the last of a settle's 5,000 events
/// within about half a second of its commit at full burn-down, at no cost to the burn-down itself.
pub const SETTLE_CHUNK: i64 = 2500;
/// The longest the real-time loop sleeps without looking (a fallback for changes made by other replicas).
const POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// How soon the real-time loop looks again when work was due but another transaction held its
/// campaign; doubled (up to `POLL`) while it stays held, as under a long batch upload.
const HELD_RETRY: std::time::Duration = std::time::Duration::from_millis(5);

/// What one pass did: whether anything changed, and whether due work was left because another
/// transaction (usually another replica) held its campaign.
#[derive(Clone, Copy, Debug, Default)]
struct Pass {
    changed: bool,
    held: bool,
}

impl Pass {
    /// Both parts of a pass taken together.
    fn and(self, other: Pass) -> Pass {
        Pass { changed: self.changed || other.changed, held: self.held || other.held }
    }
}

/// What a report did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reported {
    /// No call has that id.
    Unknown,
    /// A duplicate, late or out-of-order report: nothing changed.
    Ignored,
    Applied,
    /// Applied, and the call is over as far as the campaign goes (a machine answered and the
    /// campaign hangs up on machines): telephony should hang it up.
    HangUp,
}

/// The dispatcher of one server process. Several processes may run against one database.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Clock,
    placer: Arc<dyn Placer>,
    call_timeout: Duration,
    metrics: Arc<Metrics>,
    /// Whether this process dispatches at all (an API-only replica does not).
    enabled: bool,
    /// Claims and settles run side by side in real time, each in a dispatch slot; the slots are
    /// shared by every replica on the database (`Tx::take_dispatch_slot`).
    streams: u32,
    /// One drive at a time in this process (loop, settle, advance).
    drive: Mutex<()>,
    /// Rung when work is added or resumed.
    pub wakeup: Wake,
    /// The process's shutdown, once the real-time loop runs: claims stop when it is cancelled.
    shutdown: OnceLock<CancellationToken>,
    /// Until when telephony asked this process to place nothing more (`429`, out of reach).
    throttle: std::sync::Mutex<Throttle>,
    /// Callbacks' final outcomes, recorded a batch at a time.
    outcomes: report::OutcomeQueue,
    /// `--calls-per-second`: the calls every replica together may start in one second.
    calls_per_second: Option<u32>,
    /// Until when this second's calls are all started (claims wait for the next second).
    paced_until: std::sync::Mutex<Option<DateTime<Utc>>>,
    /// The zone keys of batches claimed from by key.
    zone_keys: zones::ZoneKeys,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        placer: Arc<dyn Placer>,
        call_timeout: Duration,
        enabled: bool,
        streams: u32,
        metrics: Arc<Metrics>,
    ) -> Self {
        let wakeup = Wake::new();
        let streams = streams.max(1);
        let outcomes = report::OutcomeQueue::start(store.clone(), clock.clone(), metrics.clone(), wakeup.clone());
        Self {
            outcomes,
            store,
            clock,
            placer,
            call_timeout,
            enabled,
            streams,
            metrics,
            drive: Mutex::new(()),
            wakeup,
            shutdown: OnceLock::new(),
            throttle: std::sync::Mutex::default(),
            calls_per_second: None,
            paced_until: std::sync::Mutex::default(),
            zone_keys: zones::ZoneKeys::default(),
        }
    }

    /// Paces call starts: at most `n` a second across every replica (0: unlimited).
    pub fn with_calls_per_second(mut self, n: u32) -> Self {
        self.calls_per_second = (n > 0).then_some(n);
        self
    }

    /// `--calls-per-second`, when set.
    pub fn calls_per_second(&self) -> Option<u32> {
        self.calls_per_second
    }

    /// Until when claims wait for the next second's pacing, if they do at `now`.
    fn paced_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.paced_until.lock().unwrap_or_else(|e| e.into_inner()).filter(|u| *u > now)
    }

    /// Holds claims back until `until` (this second's calls are all started).
    fn pace_until(&self, until: DateTime<Utc>) {
        let mut paced = self.paced_until.lock().unwrap_or_else(|e| e.into_inner());
        *paced = Some(paced.map_or(until, |p| p.max(until)));
    }

    /// Does everything due at `now` until nothing more is.
    pub async fn settle(&self, now: DateTime<Utc>) -> Result<(), Error> {
        let _drive = self.drive.lock().await;
        while self.step(now).await?.changed {}
        Ok(())
    }

    /// Moves the manual clock to `to`, stopping at every instant where something happens, so that
    /// each call starts, ends and is retried at the time it would have in real time.
    pub async fn advance_to(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
        let _drive = self.drive.lock().await;
        let mut t = self.clock.now();
        if !self.enabled {
            return self
                .clock
                .set(to.max(t))
                .map_err(|e| Error::internal(format!("test clock refused to move: {e:?}")));
        }
        loop {
            while self.step(t).await?.changed {}
            if t >= to {
                return Ok(t);
            }
            let next = self.next_wakeup(t).await?.filter(|n| *n <= to).unwrap_or(to);
            t = self.clock.set(next).map_err(|e| Error::internal(format!("test clock refused to move: {e:?}")))?;
        }
    }

    /// The real-time loop: runs until `shutdown`, waking on notifications, at the next timed event,
    /// and at least every half second. With a manual clock it does nothing: the clock's routes drive.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        if self.clock.is_manual() || !self.enabled {
            return;
        }
        let _ = self.shutdown.set(shutdown.clone());
        let mut held_streak = 0u32;
        loop {
            let now = self.clock.now();
            let held = self.settle_live().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "dispatch pass failed");
                false
            });
            let next = self.next_wakeup(now).await.unwrap_or(None);
            let mut wait = next.and_then(|t| (t - self.clock.now()).to_std().ok()).map_or(POLL, |w| w.min(POLL));
            // Work another transaction held is looked at again shortly (it may be done with the
            // campaign long before the next timed event), less often while it stays held.
            if held {
                wait = wait.min(HELD_RETRY.saturating_mul(1 << held_streak.min(7)));
                held_streak += 1;
            } else {
                held_streak = 0;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakeup.nudged() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Steps with a fresh `now` each time until a pass changes nothing, or shutdown begins (then
    /// no new claim starts; calls already placed end by their own rules, here or on another replica).
    /// Says whether the last pass left due work because another transaction held its campaign.
    async fn settle_live(&self) -> Result<bool, Error> {
        let _drive = self.drive.lock().await;
        while !self.stopping() {
            let pass = self.step(self.clock.now()).await?;
            if !pass.changed {
                return Ok(pass.held);
            }
        }
        Ok(false)
    }

    /// One pass at `now`.
    async fn step(&self, now: DateTime<Utc>) -> Result<Pass, Error> {
        if !self.enabled {
            return Ok(Pass::default());
        }
        let started = std::time::Instant::now();
        let changed = self.pass(now).await;
        self.metrics.observe_dispatch_pass(started.elapsed());
        changed
    }

    async fn pass(&self, now: DateTime<Utc>) -> Result<Pass, Error> {
        // One probe says which timed work is due; a pass with nothing due costs it and the claim query.
        let due = self.store.due_now(now).await?;
        // Outcomes first: the room they free is claimed in the same pass.
        let settled = self.settle_simulated(now, due.simulated_ends).await?;
        let rest = self.due_work(now, &due).await?;
        Ok(settled.and(rest))
    }

    /// The rest of a pass: calls past their deadline, batches to start and to expire, then claims.
    async fn due_work(&self, now: DateTime<Utc>, due: &DueNow) -> Result<Pass, Error> {
        let mut changed = false;
        if due.overdue_calls {
            changed |= self.close_overdue(now).await?;
        }
        if due.batch_starts {
            changed |= self.store.start_due_batches(now).await? > 0;
        }
        let mut held = false;
        let expired = if due.batch_expiries { self.store.expired_batches(now).await? } else { Vec::new() };
        for (org, campaign, batch) in expired {
            let mut tx = self.store.begin().await?;
            // In real time, a campaign another transaction holds is expired on a later pass.
            if !self.clock.is_manual() && !tx.try_lock_campaign(campaign).await? {
                tx.rollback().await?;
                held = true;
                continue;
            }
            if crate::service::batches::expire(&mut *tx, org, campaign, batch, now).await? {
                tx.commit().await?;
                changed = true;
            } else {
                tx.rollback().await?;
            }
        }
        // Campaigns are claimed a few at a time: each claim locks only its own campaign, and while one
        // waits on the database another can run.
        // While telephony asked for a pause, nothing is claimed (outcomes and timeouts go on).
        if self.throttled_until(now).is_some() || self.paced_until(now).is_some() {
            return Ok(Pass { changed, held });
        }
        let mut candidates = self.store.dispatch_candidates(now).await?;
        if !self.clock.is_manual() && candidates.len() > 1 {
            // Replicas start their round at different campaigns, rather than all contending for
            // the first ones (the test clock keeps the database's order).
            let mut seed = [0u8; 8];
            getrandom::fill(&mut seed).map_err(|e| Error::internal(e.to_string()))?;
            let start = (u64::from_le_bytes(seed) % candidates.len() as u64) as usize;
            candidates.rotate_left(start);
        }
        // Each stream claims the next campaign not yet taken, in a dispatch slot, until shutdown.
        let next = AtomicUsize::new(0);
        let streams = (0..self.streams).map(|slot| {
            let (candidates, next) = (&candidates, &next);
            async move {
                let mut outcomes = Vec::new();
                while !self.stopping()
                    && self.paced_until(now).is_none()
                    && let Some(&campaign) = candidates.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    outcomes.push(self.claim_and_place(campaign, slot, now).await);
                }
                outcomes
            }
        });
        let outcomes = futures_util::future::join_all(streams).await.into_iter().flatten();
        for claimed in outcomes {
            match claimed? {
                Some(n) => changed |= n > 0,
                None => held = true,
            }
        }
        Ok(Pass { changed, held })
    }

    /// Whether the process is shutting down (no new claim starts).
    fn stopping(&self) -> bool {
        self.shutdown.get().is_some_and(CancellationToken::is_cancelled)
    }

    /// Claims what the campaign may call now and hands it to the placer. Returns how many contacts it
    /// claimed or turned away (suppressed, capped), or `None` when another transaction held the campaign or no dispatch slot came free.
    async fn claim_and_place(
        &self,
        campaign: CampaignId,
        slot: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, Error> {
        let started = std::time::Instant::now();
        let claim = self.claim(campaign, slot, now).await;
        self.metrics.observe_claim(started.elapsed());
        let Some(claim) = claim? else { return Ok(None) };
        if !claim.to_place.is_empty() {
            self.place(claim.to_place).await?;
        }
        Ok(Some(claim.claimed + claim.turned_away))
    }

    /// The next future instant at which something will be due: a timed event, a campaign's due work
    /// in its working hours, or the end of a pause telephony asked for. One indexed query.
    pub async fn next_wakeup(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Error> {
        let mut next = self.store.next_wakeup(now).await?;
        for end in [self.throttled_until(now), self.paced_until(now)].into_iter().flatten() {
            next = Some(next.map_or(end, |n| n.min(end)));
        }
        Ok(next)
    }
}

//! Telephony's reports (callbacks of every provider) applied as one set of rules; final outcomes
//! are recorded in shared transactions, so that a burst of callbacks costs a few transactions
//! rather than one each, with each callback answered once its outcome is committed.

use super::{Dispatcher, Reported};
use crate::clock::Clock;
use crate::domain::contact::CallStatus;
use crate::domain::ids::ExecutionId;
use crate::domain::outcome::{self, Outcome};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::store::{AcceptedCall, FinishedCall, Store};
use crate::telephony::placer::{Callback, GUESS_GRACE_SECONDS, Report, ended};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

/// The most outcomes recorded in one transaction.
const BATCH: usize = 500;
/// Transactions recording callbacks' outcomes at once in this process.
const RECORDERS: usize = 2;

/// An outcome waiting to be recorded, and who waits for it.
type Waiting = (FinishedCall, oneshot::Sender<Result<bool, String>>);

/// Final outcomes from callbacks, recorded by a few tasks that each take whatever has arrived.
pub(super) struct OutcomeQueue {
    sender: mpsc::UnboundedSender<Waiting>,
}

impl OutcomeQueue {
    /// Starts the recording tasks (they end when the queue is dropped).
    pub(super) fn start(store: Store, clock: Clock, metrics: Arc<Metrics>, wakeup: Arc<Notify>) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel::<Waiting>();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..RECORDERS {
            let (store, clock, metrics, wakeup, receiver) =
                (store.clone(), clock.clone(), metrics.clone(), wakeup.clone(), receiver.clone());
            tokio::spawn(async move {
                loop {
                    let mut batch = Vec::new();
                    {
                        let mut receiver = receiver.lock().await;
                        let Some(first) = receiver.recv().await else { return };
                        batch.push(first);
                        while batch.len() < BATCH {
                            match receiver.try_recv() {
                                Ok(next) => batch.push(next),
                                Err(_) => break,
                            }
                        }
                    }
                    let (finished, waiting): (Vec<FinishedCall>, Vec<_>) = batch.into_iter().unzip();
                    match store.record_outcomes(&finished, clock.now()).await {
                        Ok(closed) => {
                            for (_, status) in &closed {
                                metrics.add_outcome(status.as_str(), 1);
                            }
                            if !closed.is_empty() {
                                wakeup.notify_one();
                            }
                            // A call closed once: only the first of its outcomes in the batch applied.
                            let mut unclaimed: HashSet<ExecutionId> = closed.iter().map(|(id, _)| *id).collect();
                            for (call, done) in finished.iter().zip(waiting) {
                                let _ = done.send(Ok(unclaimed.remove(&call.execution_id)));
                            }
                        }
                        Err(e) => {
                            for done in waiting {
                                let _ = done.send(Err(e.to_string()));
                            }
                        }
                    }
                }
            });
        }
        Self { sender }
    }

    /// Records one outcome with whatever else is waiting; says whether it closed the call.
    pub(super) async fn record(&self, finished: FinishedCall) -> Result<bool, Error> {
        let (done, closed) = oneshot::channel();
        self.sender.send((finished, done)).map_err(|_| Error::internal("the outcome recorder stopped"))?;
        closed.await.map_err(|_| Error::internal("the outcome recorder stopped"))?.map_err(Error::internal)
    }
}

impl Dispatcher {
    /// Applies a telephony callback: progress (`ringing`, `in_progress`) or a final outcome, with
    /// the provider's id for the call when it names one. Duplicates and late or out-of-order
    /// callbacks change nothing. A machine's answer ends the call at once when the campaign hangs
    /// up on machines (API.md §7), as one rule for every provider.
    pub async fn report(
        &self,
        execution_id: ExecutionId,
        provider_call_id: Option<String>,
        report: Report,
    ) -> Result<Reported, Error> {
        let now = self.clock.now();
        let call = AcceptedCall { provider_call_id: provider_call_id.clone(), ..AcceptedCall::bare(execution_id) };
        let report = match report {
            Report::HungUp { reason, answered, unanswered } => {
                match self.hung_up(execution_id, &reason, answered, unanswered, now).await? {
                    Ok(completed) => completed,
                    Err(reported) => return Ok(reported),
                }
            }
            report => report,
        };
        if let Report::Finished(mut outcome) = report {
            // The common case costs no read: only an outcome that closed nothing asks whether the
            // call exists at all.
            outcome.provider_call_id = outcome.provider_call_id.or(call.provider_call_id);
            let finished = FinishedCall { execution_id, outcome: *outcome, ended_at: now };
            if !self.outcomes.record(finished).await? {
                return self.knows(execution_id).await;
            }
            return Ok(Reported::Applied);
        }
        let Some(action) = self.store.voicemail_action_of(execution_id).await? else {
            return Ok(Reported::Unknown);
        };
        let (applied, ended) = match report {
            Report::Ringing => (self.store.mark_accepted(&[call], now).await? > 0, false),
            Report::Answered(by) => match by.and_then(|by| outcome::ends_call(action, by)) {
                Some(mut outcome) => {
                    outcome.provider_call_id = call.provider_call_id;
                    let finished = FinishedCall { execution_id, outcome, ended_at: now };
                    (self.outcomes.record(finished).await?, true)
                }
                None => (self.store.mark_answered(&[AcceptedCall { answered_by: by, ..call }], now).await? > 0, false),
            },
            Report::Finished(_) | Report::HungUp { .. } => {
                return Err(Error::internal("final outcomes are recorded above"));
            }
        };
        if !applied {
            return Ok(Reported::Ignored);
        }
        self.wakeup.notify_one();
        if !ended {
            return Ok(Reported::Applied);
        }
        if let Some(sid) = provider_call_id {
            // The outcome is recorded: the provider is asked to end the call without holding the callback.
            let placer = self.placer.clone();
            tokio::spawn(async move { placer.hang_up(&sid).await });
        }
        Ok(Reported::HangUp)
    }

    /// Applies reports that a placer learns after its placement (a dial answered or refused), until
    /// the placer stops sending them: the answers that have arrived together in one transaction
    /// (one each would queue on their campaigns' locks, and be recorded late), anything else as a
    /// callback is.
    pub async fn follow(self: Arc<Self>, mut reports: mpsc::UnboundedReceiver<Callback>) {
        let mut arrived = Vec::new();
        while reports.recv_many(&mut arrived, BATCH).await > 0 {
            let mut answers = Vec::new();
            for Callback { execution_id, call_sid, report } in arrived.drain(..) {
                let (Some(execution_id), Some(report)) = (execution_id, report) else { continue };
                if matches!(report, Report::Answered(None)) {
                    answers.push(AcceptedCall { provider_call_id: call_sid, ..AcceptedCall::bare(execution_id) });
                    continue;
                }
                let dispatcher = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = dispatcher.report(execution_id, call_sid, report).await {
                        tracing::warn!(%execution_id, error = %e, "a placement's late report was not applied");
                    }
                });
            }
            match self.store.mark_answered(&answers, self.clock.now()).await {
                Ok(0) => {}
                Ok(_) => self.wakeup.notify_one(),
                Err(e) => tracing::warn!(error = %e, calls = answers.len(), "answers to dials were not recorded"),
            }
        }
    }

    /// A hang-up the provider did not qualify: the completed outcome of an answered call, or what
    /// was done instead (an unanswered call's outcome deferred, or nothing).
    async fn hung_up(
        &self,
        execution_id: ExecutionId,
        reason: &str,
        answered: bool,
        unanswered: Option<Box<Outcome>>,
        now: DateTime<Utc>,
    ) -> Result<Result<Report, Reported>, Error> {
        let Some(answered_at) = self.store.answered_at_of(execution_id).await? else {
            return Ok(Err(Reported::Unknown));
        };
        if answered || answered_at.is_some() {
            let duration = answered_at.map(|at| (now - at).num_milliseconds() as f64 / 1000.0);
            return Ok(Ok(ended(CallStatus::Completed, reason, None, duration, None)));
        }
        let Some(guess) = unanswered else { return Ok(Err(Reported::Ignored)) };
        let until = now + chrono::Duration::seconds(GUESS_GRACE_SECONDS);
        if !self.store.defer_outcome(execution_id, until, &guess).await? {
            return Ok(Err(Reported::Ignored));
        }
        self.wakeup.notify_one();
        Ok(Err(Reported::Applied))
    }

    /// Whether a call has that id (`Ignored` when it has: a report that changes nothing).
    pub async fn knows(&self, execution_id: ExecutionId) -> Result<Reported, Error> {
        let known = self.store.voicemail_action_of(execution_id).await?.is_some();
        Ok(if known { Reported::Ignored } else { Reported::Unknown })
    }
}

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
use crate::service::Wake;
use crate::store::{AcceptedCall, FinishedCall, Store};
use crate::telephony::placer::{Callback, GUESS_GRACE_SECONDS, Learned, Report, final_outcome};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

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
    pub(super) fn start(store: Arc<dyn Store>, clock: Clock, metrics: Arc<Metrics>, wakeup: Wake) -> Self {
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
                                wakeup.nudge();
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
        let (applied, ended) = match report {
            Report::Finished(outcome) => return self.finish(execution_id, *outcome, provider_call_id, now).await,
            Report::HungUp { reason, answered, unanswered } => {
                return self.hung_up(execution_id, provider_call_id, &reason, answered, unanswered, now).await;
            }
            // A call that does not move (or does not exist) says which below.
            Report::Ringing => (self.store.mark_accepted(&[call], now).await? > 0, false),
            Report::Answered(by) => {
                let Some(action) = self.store.voicemail_action_of(execution_id).await? else {
                    return Ok(Reported::Unknown);
                };
                match by.and_then(|by| outcome::ends_call(action, by)) {
                    Some(mut outcome) => {
                        outcome.provider_call_id = call.provider_call_id;
                        let finished = FinishedCall { execution_id, outcome, ended_at: now };
                        (self.outcomes.record(finished).await?, true)
                    }
                    None => {
                        (self.store.mark_answered(&[AcceptedCall { answered_by: by, ..call }], now).await? > 0, false)
                    }
                }
            }
        };
        if !applied {
            return self.knows(execution_id, None).await;
        }
        self.wakeup.nudge();
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

    /// Records that the person opted out on a call (API.md §12.3), whatever reports it (the agent,
    /// with any telephony): a live call keeps it for its outcome; for a call already closed (a late
    /// or repeated report) the number joins the organization's list at once. Says whether it changed
    /// anything.
    pub async fn opt_out(&self, execution_id: ExecutionId) -> Result<bool, Error> {
        self.store.mark_opt_out(execution_id, self.clock.now()).await
    }

    /// Records a final outcome with whatever else is waiting. The common case costs no read: only
    /// an outcome that closed nothing asks whether the call exists at all.
    async fn finish(
        &self,
        execution_id: ExecutionId,
        mut outcome: Outcome,
        provider_call_id: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Reported, Error> {
        outcome.provider_call_id = outcome.provider_call_id.or(provider_call_id);
        if self.outcomes.record(FinishedCall { execution_id, outcome, ended_at: now }).await? {
            Ok(Reported::Applied)
        } else {
            self.knows(execution_id, None).await
        }
    }

    /// A hang-up the provider did not qualify: an answered call (as recorded, or as `answered`
    /// says) completes, lasting from its recorded answer; an unanswered one gets the provider's
    /// guess, deferred for a surer answer, or nothing.
    async fn hung_up(
        &self,
        execution_id: ExecutionId,
        provider_call_id: Option<String>,
        reason: &str,
        answered: bool,
        unanswered: Option<Box<Outcome>>,
        now: DateTime<Utc>,
    ) -> Result<Reported, Error> {
        let Some(answered_at) = self.store.answered_at_of(execution_id).await? else {
            return Ok(Reported::Unknown);
        };
        if answered || answered_at.is_some() {
            let duration = answered_at.map(|at| (now - at).num_milliseconds() as f64 / 1000.0);
            let completed = final_outcome(CallStatus::Completed, reason, None, duration, None);
            return self.finish(execution_id, completed, provider_call_id, now).await;
        }
        let Some(mut guess) = unanswered else { return self.knows(execution_id, provider_call_id).await };
        guess.provider_call_id = guess.provider_call_id.or(provider_call_id);
        let until = now + chrono::Duration::seconds(GUESS_GRACE_SECONDS);
        if !self.store.defer_outcome(execution_id, until, &guess).await? {
            return Ok(Reported::Ignored);
        }
        self.wakeup.nudge();
        Ok(Reported::Applied)
    }

    /// Applies what a placer learns after its placements returned (a dial answered or refused),
    /// until the placer stops sending: the answers that have arrived together in one transaction
    /// (one each would queue on their campaigns' locks, and be recorded late), a refusal as one call
    /// too many as a pause of this process's claims, anything else as a callback is.
    pub async fn follow(self: Arc<Self>, mut learned: mpsc::UnboundedReceiver<Learned>) {
        let mut arrived = Vec::new();
        while learned.recv_many(&mut arrived, BATCH).await > 0 {
            let mut answers = Vec::new();
            for item in arrived.drain(..) {
                let (execution_id, call_sid, report) = match item {
                    Learned::TooMany(wait) => {
                        self.hold_back(self.clock.now(), Some(wait));
                        continue;
                    }
                    Learned::Report(Callback { execution_id: Some(id), call_sid, report: Some(report) }) => {
                        (id, call_sid, report)
                    }
                    Learned::Report(_) => continue,
                };
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
                Ok(_) => self.wakeup.nudge(),
                Err(e) => tracing::warn!(error = %e, calls = answers.len(), "answers to dials were not recorded"),
            }
        }
    }

    /// What a report that changes nothing about a call's progress did: `Unknown` when no call has
    /// that id, else `Ignored`, or `Applied` when it named the call for the first time
    /// (`provider_call_id`, which some providers give only in a later callback).
    pub async fn knows(&self, execution_id: ExecutionId, provider_call_id: Option<String>) -> Result<Reported, Error> {
        if let Some(sid) = provider_call_id
            && self.store.name_call(execution_id, &sid).await?
        {
            return Ok(Reported::Applied);
        }
        let known = self.store.voicemail_action_of(execution_id).await?.is_some();
        Ok(if known { Reported::Ignored } else { Reported::Unknown })
    }
}

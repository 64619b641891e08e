//! Handing claimed calls to the placer, and what its answer leads to: placed, refused (the attempt
//! fails), busy or out of reach (no attempt used; this process pauses its claims), or in doubt.

use super::Dispatcher;
use crate::domain::contact::CallStatus;
use crate::domain::outcome::Outcome;
use crate::error::Error;
use crate::store::{AcceptedCall, FinishedCall, UnplacedCall};
use crate::telephony::placer::{CallRequest, PlaceFuture, Placement};
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

/// A claimed call still to hand to telephony, with what puts it back if telephony does not take it.
pub(super) struct Claimed {
    pub request: CallRequest,
    pub unplaced: UnplacedCall,
}

/// How long this process holds its claims back after telephony said it is busy or out of reach.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    until: Option<DateTime<Utc>>,
    /// Pauses in a row without `Retry-After`: each doubles the last (1 s up to `MAX_BACKOFF`).
    streak: u32,
}

/// Placement requests one claim has in flight at once.
const PLACING_AT_ONCE: usize = 64;

/// The longest pause telephony gets without saying how long it needs.
const MAX_BACKOFF_SECONDS: i64 = 30;

impl Dispatcher {
    /// When claims may start again, if they are held back at `now`.
    pub(super) fn throttled_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner()).until.filter(|u| *u > now)
    }

    /// Holds claims back after telephony did not take calls: for its longest `Retry-After`, else for
    /// a backoff that doubles with each pause in a row.
    pub(super) fn hold_back(&self, now: DateTime<Utc>, asked: Option<std::time::Duration>) {
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let wait = match asked {
            Some(wait) => Duration::from_std(wait).unwrap_or(Duration::seconds(MAX_BACKOFF_SECONDS)),
            None => Duration::seconds((1i64 << throttle.streak.min(5)).min(MAX_BACKOFF_SECONDS)),
        };
        throttle.streak += 1;
        let until = now + wait;
        throttle.until = Some(throttle.until.map_or(until, |u| u.max(until)));
    }

    /// Hands claimed calls to the placer and records what it said.
    pub(super) async fn place(&self, claimed: Vec<Claimed>) -> Result<(), Error> {
        // A call whose deadline passed before it could be sent (this process was paused, or telephony
        // slow to take the earlier ones) is not sent: the timeout closes it, and the slot may already
        // hold another call. Telephony is asked to refuse late ones too (`deadline_at`), for the
        // moment between this check and the request.
        let sending = self.clock.now();
        let (late, claimed): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|c| c.request.deadline_at <= sending);
        for c in &late {
            let execution_id = c.request.execution_id;
            tracing::warn!(%execution_id, "call not placed: its deadline passed before it was sent");
        }
        self.metrics.add_calls_placed(claimed.len() as u64);
        // At most `PLACING_AT_ONCE` requests to telephony at a time: a claim of thousands of calls must
        // not open thousands of connections at once.
        let requests: Vec<PlaceFuture<'_>> = claimed.iter().map(|c| self.placer.place(&c.request)).collect();
        let placements: Vec<Placement> = futures_util::stream::iter(requests).buffered(PLACING_AT_ONCE).collect().await;
        let now = self.clock.now();
        let (mut accepted, mut rejected, mut unplaced) = (Vec::new(), Vec::new(), Vec::new());
        let mut asked_wait: Option<Option<std::time::Duration>> = None;
        for (call, placement) in claimed.into_iter().zip(placements) {
            let execution_id = call.request.execution_id;
            match placement {
                Placement::Accepted { script, provider_call_id } => accepted.push(AcceptedCall {
                    script: script.map(|s| *s),
                    provider_call_id,
                    ..AcceptedCall::bare(execution_id)
                }),
                Placement::Rejected { reason, permanent } => {
                    tracing::warn!(%execution_id, %reason, "telephony refused a call");
                    let mut outcome =
                        Outcome::bare(CallStatus::Failed, "system", &format!("placement_rejected: {reason}"));
                    outcome.permanent = permanent;
                    rejected.push(FinishedCall { execution_id, outcome, ended_at: now });
                }
                Placement::Throttled { reason, retry_after } => {
                    tracing::warn!(%execution_id, %reason, "telephony did not take a call; it keeps its place");
                    asked_wait = Some(asked_wait.flatten().max(retry_after));
                    unplaced.push(call.unplaced);
                }
                Placement::Unknown(reason) => {
                    tracing::warn!(%execution_id, %reason, "call placement unconfirmed");
                }
            }
        }
        match asked_wait {
            Some(wait) => self.hold_back(now, wait),
            None if !accepted.is_empty() => self.throttle.lock().unwrap_or_else(|e| e.into_inner()).streak = 0,
            None => {}
        }
        self.store.mark_accepted(&accepted, now).await?;
        self.record(&rejected, now).await?;
        if self.store.release_unplaced(&unplaced, now).await? > 0 {
            self.wakeup.nudge();
        }
        Ok(())
    }
}

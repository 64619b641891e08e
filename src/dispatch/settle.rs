//! Settling: the outcomes of simulated calls that ended, and of calls whose deadline passed, recorded
//! in short transactions, before the pass claims (so that the room they free is used at once).

use super::{Dispatcher, Pass, SETTLE_CHUNK};
use crate::domain::contact::CallStatus;
use crate::domain::outcome::Outcome;
use crate::error::Error;
use crate::store::{Closed, FinishedCall};
use chrono::{DateTime, Utc};

impl Dispatcher {
    /// Closes the calls whose deadline passed with no outcome (`failed`, `status_timeout`, ended at
    /// the deadline); says whether any was closed. On the manual clock every overdue call is closed
    /// before the clock moves on; in real time, calls of a campaign another transaction holds are
    /// left for a later pass.
    pub(super) async fn close_overdue(&self, now: DateTime<Utc>) -> Result<bool, Error> {
        let timed_out = Outcome::bare(CallStatus::Failed, "system", "status_timeout");
        let skip_held = !self.clock.is_manual();
        let mut changed = false;
        loop {
            let closed = self.store.close_overdue(now, SETTLE_CHUNK, &timed_out, skip_held).await?;
            if closed.is_empty() {
                return Ok(changed);
            }
            self.count_outcomes(&closed);
            changed = true;
        }
    }

    /// Records the simulated calls that ended by `now` (`due` says whether some had when the pass
    /// began): says whether any was recorded, and whether a settle was left undone for want of a
    /// dispatch slot.
    pub(super) async fn settle_simulated(&self, now: DateTime<Utc>, due: bool) -> Result<Pass, Error> {
        let (mut changed, mut held) = (false, false);
        if self.clock.is_manual() {
            // On the manual clock every call that ended is recorded before the clock moves on.
            if !due {
                return Ok(Pass { changed, held });
            }
            loop {
                let ends = self.store.simulated_ends(now, SETTLE_CHUNK).await?;
                if ends.is_empty() {
                    break;
                }
                self.record(&ends, now).await?;
                changed = true;
            }
            return Ok(Pass { changed, held });
        }
        // In real time a few transactions settle side by side, each in a dispatch slot and taking
        // calls only of campaigns no other transaction holds, so they (and other replicas) split
        // the work.
        if !due {
            return Ok(Pass { changed, held });
        }
        loop {
            let settled = futures_util::future::join_all(
                (0..self.streams).map(|slot| self.store.settle_simulated_ends(now, SETTLE_CHUNK, slot, self.streams)),
            )
            .await;
            let mut closed = 0;
            for statuses in settled {
                let Some(statuses) = statuses? else {
                    held = true;
                    continue;
                };
                self.count_outcomes(&statuses);
                closed += statuses.len();
            }
            if closed == 0 {
                return Ok(Pass { changed, held });
            }
            changed = true;
        }
    }

    /// Records outcomes and counts them.
    pub(super) async fn record(&self, finished: &[FinishedCall], now: DateTime<Utc>) -> Result<usize, Error> {
        let closed = self.store.record_outcomes(finished, now).await?;
        self.count_outcomes(&closed);
        Ok(closed.len())
    }

    pub(super) fn count_outcomes(&self, closed: &[Closed]) {
        for (_, status) in closed {
            self.metrics.add_outcome(status.as_str(), 1);
        }
    }
}

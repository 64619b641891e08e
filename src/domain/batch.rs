//! Batches: statuses, the lifecycle table of API.md §4.3, counters and the settings a client gives.

use super::contact::{ContactStatus, StatusCounts};
use super::ids::{BatchId, CampaignId, OrgId};
use super::phone::PhoneNumber;
use super::time::StartAt;
use super::wire::{Forbidden, wire_enum};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

wire_enum!(
    /// Where a batch is in its lifecycle.
    BatchStatus {
        Pending = "pending",
        InProgress = "in_progress",
        Paused = "paused",
        Completed = "completed",
        Cancelled = "cancelled",
        Expired = "expired",
    }
);

impl BatchStatus {
    /// Whether the batch is finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, BatchStatus::Completed | BatchStatus::Cancelled | BatchStatus::Expired)
    }

    /// The lifecycle table of API.md §4.3. `campaign_paused` blocks a resume; `start_ahead` makes a
    /// resumed batch `pending` again.
    pub fn apply(
        self,
        action: BatchAction,
        campaign_paused: bool,
        start_ahead: bool,
    ) -> Result<BatchTransition, Forbidden> {
        use BatchAction as A;
        use BatchStatus as S;
        Ok(match (self, action) {
            (S::Pending | S::InProgress, A::Pause) => BatchTransition::To(S::Paused),
            (S::Paused, A::Pause) | (S::Pending | S::InProgress, A::Resume) | (S::Cancelled, A::Cancel) => {
                BatchTransition::Stay
            }
            (S::Paused, A::Resume) if campaign_paused => {
                return Err(Forbidden("Cannot resume a batch while its campaign is paused".into()));
            }
            (S::Paused, A::Resume) if start_ahead => BatchTransition::To(S::Pending),
            (S::Paused, A::Resume) => BatchTransition::To(S::InProgress),
            (S::Pending | S::InProgress | S::Paused, A::Cancel) => BatchTransition::To(S::Cancelled),
            (S::Pending | S::InProgress | S::Paused, A::Dispatch) => BatchTransition::Stay,
            (status, action) => {
                return Err(Forbidden(format!("Cannot {} a batch that is {}", action.verb(), status.as_str())));
            }
        })
    }
}

/// A client-driven change to a batch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BatchAction {
    Pause,
    Resume,
    Cancel,
    Dispatch,
}

impl BatchAction {
    fn verb(self) -> &'static str {
        match self {
            BatchAction::Pause => "pause",
            BatchAction::Resume => "resume",
            BatchAction::Cancel => "cancel",
            BatchAction::Dispatch => "dispatch",
        }
    }
}

/// What an allowed batch action does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BatchTransition {
    To(BatchStatus),
    Stay,
}

/// The contact statuses a cancel or an expiry turns into `skipped`.
pub const SKIPPABLE: [ContactStatus; 4] =
    [ContactStatus::Pending, ContactStatus::Dispatched, ContactStatus::Retrying, ContactStatus::FollowupScheduled];

/// One contact to call, validated.
#[derive(Clone, PartialEq, Debug)]
pub struct NewContact {
    pub phone_number: PhoneNumber,
    pub call_variables: Map<String, Value>,
    /// Its candidate zones (API.md §12.1), the campaign's when none answered.
    pub zones: super::recipient::Zones,
    /// The region the client gave, if any.
    pub region: Option<String>,
}

/// Everything a client sets on a new batch besides its contacts.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct BatchSettings {
    pub concurrency_limit: Option<u32>,
    pub max_retries_override: Option<u8>,
    pub scheduled_start: Option<StartAt>,
    pub expires_at: Option<DateTime<Utc>>,
    pub call_context: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

/// A stored batch.
#[derive(Clone, PartialEq, Debug)]
pub struct Batch {
    pub id: BatchId,
    pub campaign_id: CampaignId,
    pub organization_id: OrgId,
    pub status: BatchStatus,
    pub total_contacts: i64,
    pub concurrency_limit: Option<u32>,
    pub max_retries_override: Option<u8>,
    pub scheduled_start: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub call_context: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub counters: StatusCounts,
    pub in_flight: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Batch {
    /// Whether the batch is to be expired at `now`: still open, and its `expires_at` reached (the
    /// dispatcher's SQL finds such batches by the same rule, on its index).
    pub fn expires_by(&self, now: DateTime<Utc>) -> bool {
        !self.status.is_terminal() && self.expires_at.is_some_and(|e| e <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BatchAction as A;
    use BatchStatus as S;

    fn outcome(status: BatchStatus, action: BatchAction, campaign_paused: bool, ahead: bool) -> String {
        match status.apply(action, campaign_paused, ahead) {
            Ok(BatchTransition::To(s)) => s.as_str().to_owned(),
            Ok(BatchTransition::Stay) => "stay".into(),
            Err(_) => "409".into(),
        }
    }

    #[test]
    fn every_pair_follows_the_contract_table() {
        let actions = [A::Pause, A::Resume, A::Cancel, A::Dispatch];
        let table: [(BatchStatus, [&str; 4]); 6] = [
            (S::Pending, ["paused", "stay", "cancelled", "stay"]),
            (S::InProgress, ["paused", "stay", "cancelled", "stay"]),
            (S::Paused, ["stay", "in_progress", "cancelled", "stay"]),
            (S::Completed, ["409", "409", "409", "409"]),
            (S::Expired, ["409", "409", "409", "409"]),
            (S::Cancelled, ["409", "409", "stay", "409"]),
        ];
        for (status, row) in table {
            for (action, expected) in actions.iter().zip(row) {
                assert_eq!(outcome(status, *action, false, false), expected, "{status:?} × {action:?}");
            }
        }
        assert_eq!(table.len(), S::ALL.len());
    }

    #[test]
    fn resume_respects_the_campaign_and_the_start_time() {
        assert_eq!(outcome(S::Paused, A::Resume, false, true), "pending");
        assert_eq!(
            S::Paused.apply(A::Resume, true, false),
            Err(Forbidden("Cannot resume a batch while its campaign is paused".into()))
        );
        // Only a real resume is blocked: resuming a running batch stays a no-op.
        assert_eq!(outcome(S::InProgress, A::Resume, true, false), "stay");
        assert_eq!(
            S::Completed.apply(A::Pause, false, false),
            Err(Forbidden("Cannot pause a batch that is completed".into()))
        );
    }

    #[test]
    fn a_batch_expires_once_open_and_past_its_expiry() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let now = at("2026-11-30T10:00:00Z");
        let batch = |status, expires_at| Batch {
            id: BatchId::generate(),
            campaign_id: CampaignId::generate(),
            organization_id: OrgId::generate(),
            status,
            total_contacts: 1,
            concurrency_limit: None,
            max_retries_override: None,
            scheduled_start: now,
            expires_at,
            call_context: Map::new(),
            metadata: Map::new(),
            counters: StatusCounts::default(),
            in_flight: 0,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        for &status in BatchStatus::ALL {
            let open = !status.is_terminal();
            assert_eq!(batch(status, Some(now)).expires_by(now), open, "{status:?} at its expiry");
            assert_eq!(batch(status, Some(at("2026-11-30T09:00:00Z"))).expires_by(now), open, "{status:?} past it");
            assert!(!batch(status, Some(at("2026-11-30T10:00:01Z"))).expires_by(now), "{status:?} before it");
            assert!(!batch(status, None).expires_by(now), "{status:?} without one");
        }
    }
}

//! The campaign: its settings, its status and the lifecycle state machine of API.md §3.3.

use super::batch::BatchStatus;
use super::ids::{CampaignId, OrgId};
use super::phone::PhoneNumber;
use super::timezone::Timezone;
use super::wire::{Forbidden, wire_enum};
use super::working_hours::WorkingHours;
use chrono::{DateTime, Utc};
use serde::Serialize;

wire_enum!(
    /// Where a campaign is in its lifecycle.
    CampaignStatus {
        Draft = "draft",
        Active = "active",
        Paused = "paused",
        Completed = "completed",
        Cancelled = "cancelled",
    }
);

wire_enum!(
    /// How caller-ID numbers are chosen for each call.
    PhoneNumberStrategy {
        RoundRobin = "round_robin",
        Random = "random",
        LeastLoaded = "least_loaded",
    }
);

wire_enum!(
    /// Whose local time the working hours are read in (API.md §12.1).
    WorkingHoursBasis {
        Campaign = "campaign",
        Recipient = "recipient",
    }
);

wire_enum!(
    /// How the cooldown between attempts grows.
    RetryStrategy {
        Fixed = "fixed",
        Exponential = "exponential",
    }
);

/// A client-driven change to a campaign, checked against its status.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CampaignAction {
    Pause,
    Resume,
    Cancel,
    Delete,
    Update,
    AddBatch,
}

impl CampaignAction {
    fn verb(self) -> &'static str {
        match self {
            CampaignAction::Pause => "pause",
            CampaignAction::Resume => "resume",
            CampaignAction::Cancel => "cancel",
            CampaignAction::Delete => "delete",
            CampaignAction::Update => "update",
            CampaignAction::AddBatch => "add a batch to",
        }
    }
}

/// What an allowed action does to the status.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transition {
    /// The status becomes this one.
    To(CampaignStatus),
    /// Allowed, and the status stays as it is (repeating the action that led here, or an edit).
    Stay,
    /// The campaign is removed.
    Remove,
}

impl CampaignStatus {
    /// Whether a campaign in this status is complete once its batches are as `batches` says: it is
    /// running (active or paused), every batch is terminal and at least one completed (API.md §3.3).
    pub fn completes(self, batches: &[BatchStatus]) -> bool {
        matches!(self, CampaignStatus::Active | CampaignStatus::Paused)
            && batches.iter().all(|b| b.is_terminal())
            && batches.contains(&BatchStatus::Completed)
    }

    /// The lifecycle table of API.md §3.3, every pair.
    pub fn apply(self, action: CampaignAction) -> Result<Transition, Forbidden> {
        use CampaignAction as A;
        use CampaignStatus as S;
        let t = match (self, action) {
            (S::Active, A::Pause) => Transition::To(S::Paused),
            (S::Paused, A::Pause) => Transition::Stay,
            (S::Paused, A::Resume) => Transition::To(S::Active),
            (S::Active, A::Resume) => Transition::Stay,
            (S::Draft | S::Active | S::Paused, A::Cancel) => Transition::To(S::Cancelled),
            (S::Cancelled, A::Cancel) => Transition::Stay,
            (S::Draft | S::Completed | S::Cancelled, A::Delete) => Transition::Remove,
            (S::Active | S::Paused, A::Delete) => {
                return Err(Forbidden("Cancel the campaign before deleting it".into()));
            }
            (S::Cancelled, A::Update) => {
                return Err(Forbidden("Cannot update a campaign that is cancelled".into()));
            }
            (_, A::Update) => Transition::Stay,
            (S::Draft | S::Completed, A::AddBatch) => Transition::To(S::Active),
            (S::Active | S::Paused, A::AddBatch) => Transition::Stay,
            (status, action) => {
                return Err(Forbidden(format!("Cannot {} a campaign that is {}", action.verb(), status.as_str())));
            }
        };
        Ok(t)
    }
}

/// How failed calls are retried.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct RetryPolicy {
    pub max_retries: u8,
    pub strategy: RetryStrategy,
    pub cooldown_minutes: u32,
}

impl RetryPolicy {
    pub const MAX_RETRIES: i64 = 20;
    pub const MAX_COOLDOWN_MINUTES: i64 = 10_080;
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, strategy: RetryStrategy::Fixed, cooldown_minutes: 30 }
    }
}

/// Bounds of the concurrency limit, shared by campaigns and batches.
pub const CONCURRENCY_LIMIT_RANGE: std::ops::RangeInclusive<i64> = 1..=10_000;
/// The campaign concurrency limit when none is given.
pub const DEFAULT_CONCURRENCY_LIMIT: u32 = 10;

/// Everything a client sets on a campaign.
#[derive(Clone, PartialEq, Debug)]
pub struct CampaignSettings {
    pub name: String,
    pub agent_id: String,
    pub phone_numbers: Vec<PhoneNumber>,
    pub phone_number_strategy: PhoneNumberStrategy,
    pub working_hours_enforced: bool,
    pub timezone: Timezone,
    pub working_hours: WorkingHours,
    pub working_hours_basis: WorkingHoursBasis,
    /// Calendars of closed and special days (API.md §12.2).
    pub calendar_ids: Vec<super::ids::CalendarId>,
    /// Limits on calls to one number in rolling windows (API.md §12.4).
    pub frequency_caps: Vec<super::frequency::FrequencyCap>,
    pub retry_policy: RetryPolicy,
    pub default_call_variables: serde_json::Map<String, serde_json::Value>,
    /// The metadata object as given, less `concurrency_limit` (kept in its own field).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub concurrency_limit: u32,
}

/// A partial update: each field given replaces the stored value wholesale (API.md §3.4).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub agent_id: Option<String>,
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    pub phone_number_strategy: Option<PhoneNumberStrategy>,
    pub working_hours_enforced: Option<bool>,
    pub timezone: Option<Timezone>,
    pub working_hours: Option<WorkingHours>,
    pub working_hours_basis: Option<WorkingHoursBasis>,
    pub calendar_ids: Option<Vec<super::ids::CalendarId>>,
    pub frequency_caps: Option<Vec<super::frequency::FrequencyCap>>,
    pub retry_policy: Option<RetryPolicy>,
    pub default_call_variables: Option<serde_json::Map<String, serde_json::Value>>,
    /// The new metadata (less `concurrency_limit`) and the limit it sets, default when absent.
    pub metadata: Option<(serde_json::Map<String, serde_json::Value>, u32)>,
}

impl CampaignSettings {
    /// Applies a patch, field by field.
    pub fn apply(&mut self, patch: CampaignPatch) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        set(&mut self.name, patch.name);
        set(&mut self.agent_id, patch.agent_id);
        set(&mut self.phone_numbers, patch.phone_numbers);
        set(&mut self.phone_number_strategy, patch.phone_number_strategy);
        set(&mut self.working_hours_enforced, patch.working_hours_enforced);
        set(&mut self.timezone, patch.timezone);
        set(&mut self.working_hours_basis, patch.working_hours_basis);
        set(&mut self.calendar_ids, patch.calendar_ids);
        set(&mut self.frequency_caps, patch.frequency_caps);
        set(&mut self.working_hours, patch.working_hours);
        set(&mut self.retry_policy, patch.retry_policy);
        set(&mut self.default_call_variables, patch.default_call_variables);
        if let Some((metadata, limit)) = patch.metadata {
            self.metadata = metadata;
            self.concurrency_limit = limit;
        }
    }
}

/// Per-outcome attempt counters (API.md §3.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct CallCounters {
    pub completed_calls: i64,
    pub failed_calls: i64,
    pub busy_calls: i64,
    pub no_answer_calls: i64,
    pub follow_up_calls: i64,
}

/// A stored campaign.
#[derive(Clone, PartialEq, Debug)]
pub struct Campaign {
    pub id: CampaignId,
    pub organization_id: OrgId,
    pub status: CampaignStatus,
    pub settings: CampaignSettings,
    pub counters: CallCounters,
    /// Calls in flight now, across every batch and replica.
    pub in_flight: i64,
    /// Every call placed, whatever its outcome.
    pub call_attempts: i64,
    /// Answered calls and their summed length, for `/stats`.
    pub answered_calls: i64,
    pub answered_seconds: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignAction as A;
    use CampaignStatus as S;

    #[test]
    fn a_running_campaign_completes_when_every_batch_ended_and_one_completed() {
        use BatchStatus as B;
        assert!(CampaignStatus::Active.completes(&[B::Completed, B::Cancelled, B::Expired]));
        assert!(CampaignStatus::Paused.completes(&[B::Completed]));
        assert!(!CampaignStatus::Active.completes(&[B::Cancelled, B::Expired]), "none completed");
        assert!(!CampaignStatus::Active.completes(&[B::Completed, B::Paused]), "one still open");
        assert!(!CampaignStatus::Active.completes(&[]), "no batch");
        assert!(!CampaignStatus::Draft.completes(&[B::Completed]));
        assert!(!CampaignStatus::Cancelled.completes(&[B::Completed]));
    }

    const ACTIONS: [CampaignAction; 6] = [A::Pause, A::Resume, A::Cancel, A::Delete, A::Update, A::AddBatch];

    fn outcome(status: CampaignStatus, action: CampaignAction) -> &'static str {
        match status.apply(action) {
            Ok(Transition::To(S::Draft)) => "draft",
            Ok(Transition::To(S::Active)) => "active",
            Ok(Transition::To(S::Paused)) => "paused",
            Ok(Transition::To(S::Completed)) => "completed",
            Ok(Transition::To(S::Cancelled)) => "cancelled",
            Ok(Transition::Stay) => "stay",
            Ok(Transition::Remove) => "removed",
            Err(_) => "409",
        }
    }

    #[test]
    fn every_pair_follows_the_contract_table() {
        // rows: draft, active, paused, completed, cancelled; columns as ACTIONS
        let table: [(CampaignStatus, [&str; 6]); 5] = [
            (S::Draft, ["409", "409", "cancelled", "removed", "stay", "active"]),
            (S::Active, ["paused", "stay", "cancelled", "409", "stay", "stay"]),
            (S::Paused, ["stay", "active", "cancelled", "409", "stay", "stay"]),
            (S::Completed, ["409", "409", "409", "removed", "stay", "active"]),
            (S::Cancelled, ["409", "409", "stay", "removed", "409", "409"]),
        ];
        for (status, row) in table {
            for (action, expected) in ACTIONS.iter().zip(row) {
                assert_eq!(outcome(status, *action), expected, "{status:?} × {action:?}");
            }
        }
        assert_eq!(table.len(), S::ALL.len());
    }

    #[test]
    fn forbidden_messages_name_the_action_and_status() {
        assert_eq!(S::Cancelled.apply(A::Resume), Err(Forbidden("Cannot resume a campaign that is cancelled".into())));
        assert_eq!(S::Active.apply(A::Delete), Err(Forbidden("Cancel the campaign before deleting it".into())));
        assert_eq!(S::Draft.apply(A::Pause), Err(Forbidden("Cannot pause a campaign that is draft".into())));
    }

    #[test]
    fn wire_names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(*s));
        }
        assert_eq!(S::parse("Active"), None);
        assert_eq!(PhoneNumberStrategy::expected(), "'round_robin', 'random', 'least_loaded'");
    }
}

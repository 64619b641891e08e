//! Contacts and call records (API.md §5): statuses, counters by status, and the records' shapes.

use super::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use super::wire::wire_enum;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

wire_enum!(
    /// Where a contact is in its dialing life.
    ContactStatus {
        Pending = "pending",
        Dispatched = "dispatched",
        InProgress = "in_progress",
        Retrying = "retrying",
        FollowupScheduled = "followup_scheduled",
        Completed = "completed",
        Failed = "failed",
        Busy = "busy",
        NoAnswer = "no_answer",
        Skipped = "skipped",
        MaxRetriesReached = "max_retries_reached",
    }
);

impl ContactStatus {
    /// Whether the contact waits for a call (not in one, not done).
    pub fn is_waiting(self) -> bool {
        matches!(self, ContactStatus::Pending | ContactStatus::Retrying | ContactStatus::FollowupScheduled)
    }

    /// Whether nothing more will happen to the contact.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            ContactStatus::Pending
                | ContactStatus::Dispatched
                | ContactStatus::InProgress
                | ContactStatus::Retrying
                | ContactStatus::FollowupScheduled
        )
    }

    /// Position in [`ContactStatus::ALL`], for counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Contacts by status, in the order of [`ContactStatus::ALL`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StatusCounts(pub [i64; 11]);

impl StatusCounts {
    /// The count for one status.
    pub fn get(&self, status: ContactStatus) -> i64 {
        self.0[status.index()]
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &StatusCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    /// The sum over every status.
    pub fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    /// Each status with its count.
    pub fn iter(&self) -> impl Iterator<Item = (ContactStatus, i64)> + '_ {
        ContactStatus::ALL.iter().map(|s| (*s, self.get(*s)))
    }
}

wire_enum!(
    /// The state of one call attempt.
    CallStatus {
        Dispatched = "dispatched",
        Ringing = "ringing",
        InProgress = "in_progress",
        Completed = "completed",
        Busy = "busy",
        NoAnswer = "no_answer",
        Failed = "failed",
    }
);

wire_enum!(
    /// Why an attempt was made.
    CallKind {
        Initial = "initial",
        Retry = "retry",
        FollowUp = "follow_up",
    }
);

/// A stored contact.
#[derive(Clone, PartialEq, Debug)]
pub struct Contact {
    pub id: ContactId,
    pub batch_id: BatchId,
    pub campaign_id: CampaignId,
    pub phone_number: String,
    pub call_variables: Map<String, Value>,
    pub status: ContactStatus,
    pub retry_count: i64,
    pub follow_up_count: i64,
    pub latest_retry_count: i64,
    pub last_attempted_at: Option<DateTime<Utc>>,
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Its calling group; `None` for a contact stored before contacts had one.
    pub zone_key: Option<super::zone_key::ZoneKey>,
    pub timezone_source: Option<super::recipient::ZoneSource>,
    /// Why a skipped contact was skipped, where a rule says (`suppressed`).
    pub skip_reason: Option<String>,
}

/// One call attempt.
#[derive(Clone, PartialEq, Debug)]
pub struct CallRecord {
    pub execution_id: ExecutionId,
    pub contact_id: ContactId,
    pub call_status: CallStatus,
    pub attempt: i64,
    pub kind: CallKind,
    pub from_number: String,
    pub to_number: String,
    pub duration_seconds: Option<f64>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub sentiment: Option<String>,
    pub hangup_by: Option<String>,
    pub hangup_reason: Option<String>,
    pub total_cost: Option<f64>,
    /// Null for calls placed before the server recorded it.
    pub provider: Option<super::provider::Provider>,
    pub provider_call_id: Option<String>,
    /// Who answered, where telephony detected it.
    pub answered_by: Option<super::voicemail::AnsweredBy>,
    /// The person asked not to be called again.
    pub opt_out: bool,
    pub dispatched_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The evidence of the decision that let the call start (API.md §12.5); `None` for calls placed
    /// before calls kept it.
    pub decision: Option<Evidence>,
}

/// A decision's evidence, as the JSON text it was stored as: checked to be JSON when read, and
/// written out as it is (never parsed into a tree: every `call.ended` event carries one).
#[derive(Clone, Debug)]
pub struct Evidence(Box<serde_json::value::RawValue>);

impl Evidence {
    /// The evidence, if `text` is JSON.
    pub fn from_json(text: String) -> Option<Self> {
        serde_json::value::RawValue::from_string(text).ok().map(Self)
    }
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl serde::Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_follow_declaration_order() {
        for (i, s) in ContactStatus::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
        assert_eq!(ContactStatus::ALL.len(), 11);
    }

    #[test]
    fn terminal_statuses_are_the_documented_six() {
        let terminal: Vec<_> = ContactStatus::ALL.iter().filter(|s| s.is_terminal()).map(|s| s.as_str()).collect();
        assert_eq!(terminal, ["completed", "failed", "busy", "no_answer", "skipped", "max_retries_reached"]);
    }
}

//! Contact statuses (API.md §5).

use super::campaign::wire_enum;

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
}

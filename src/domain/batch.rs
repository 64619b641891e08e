//! Batch statuses (API.md §4.3).

use super::campaign::wire_enum;

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
}

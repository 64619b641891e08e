//! The dispatcher's wake-up: a use-case that adds work nudges it once the work is visible, so that
//! calls start at once instead of at the dispatcher's next planned pass.

use std::sync::Arc;
use tokio::sync::Notify;

/// A handle on the dispatcher's wake-up; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// A wake-up nobody has nudged yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Work may be due now: the dispatcher runs a pass at once (nudges while it works are kept as one).
    pub fn nudge(&self) {
        self.0.notify_one();
    }

    /// Waits for the next nudge (or returns at once for one made since the last wait).
    pub async fn nudged(&self) {
        self.0.notified().await;
    }
}

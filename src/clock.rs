//! The server's sense of time: the system clock, or a manual clock that only moves when told (API.md §11).

use chrono::{DateTime, SubsecRound, Utc};
use std::sync::{Arc, RwLock};

/// Where every time-dependent decision gets `now` from. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Clock {
    System,
    Manual(Arc<RwLock<DateTime<Utc>>>),
}

/// Why a manual clock refused to move.
#[derive(Debug, PartialEq, Eq)]
pub enum ClockError {
    /// The clock is the system clock.
    NotManual,
    /// Time never goes backwards.
    Backwards,
}

impl Clock {
    /// A manual clock frozen at `start` (truncated to microseconds, the storage precision).
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(RwLock::new(start.trunc_subsecs(6))))
    }

    /// The current instant, at microsecond precision.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now().trunc_subsecs(6),
            Clock::Manual(t) => *t.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Whether this is the test clock.
    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    /// Moves a manual clock to `to`, which must not be earlier than now.
    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let Clock::Manual(t) = self else { return Err(ClockError::NotManual) };
        let mut now = t.write().unwrap_or_else(|e| e.into_inner());
        let to = to.trunc_subsecs(6);
        if to < *now {
            return Err(ClockError::Backwards);
        }
        *now = to;
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let start = DateTime::parse_from_rfc3339("2026-03-08T06:00:00Z").unwrap().to_utc();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        let later = start + chrono::Duration::hours(1);
        assert_eq!(clock.set(later), Ok(later));
        assert_eq!(clock.now(), later);
        assert_eq!(clock.set(start), Err(ClockError::Backwards));
        assert_eq!(Clock::System.set(start), Err(ClockError::NotManual));
    }
}

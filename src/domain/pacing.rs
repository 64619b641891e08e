//! Pacing (API.md §7): every replica together starts at most `--calls-per-second` calls in any
//! second, counted by the second calls are dispatched in.

use chrono::{DateTime, Utc};

/// The second (Unix seconds) an instant falls in.
pub fn second_of(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// The start of the second after the one `t` falls in.
pub fn next_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp() + 1, 0).unwrap_or(t)
}

/// Calls that may still start in a second where `started` already have, under `per_second`.
pub fn room(per_second: u32, started: i64) -> i64 {
    (i64::from(per_second) - started).max(0)
}

/// When calls may next start, given the calls started in `now`'s second: `None` when they may now.
pub fn held_until(per_second: Option<u32>, started: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    per_second.filter(|n| room(*n, started) == 0).map(|_| next_second(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_second_holds_calls_until_the_next() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T10:00:00.250Z").unwrap().to_utc();
        assert_eq!(next_second(t).to_rfc3339(), "2026-11-30T10:00:01+00:00");
        assert_eq!((room(3, 1), room(3, 3), room(3, 5)), (2, 0, 0));
        assert_eq!(held_until(Some(3), 3, t), Some(next_second(t)));
        assert_eq!(held_until(Some(3), 2, t), None);
        assert_eq!(held_until(None, 1_000, t), None, "unlimited");
    }
}

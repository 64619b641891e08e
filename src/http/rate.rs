//! Per-key token buckets: how many requests a key may still make, refilled continuously.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A limit of `per_minute` requests per key, with bursts of up to `per_minute` at once.
#[derive(Debug)]
pub struct RateLimits {
    per_minute: u32,
    buckets: HashMap<String, (f64, Instant)>,
}

impl RateLimits {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: HashMap::new() }
    }

    /// The limit per minute.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request for `key` at `now`; when none is left, how long until one is.
    pub fn take(&mut self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let (left, at) = self.buckets.entry(key.to_owned()).or_insert((capacity, now));
        let refilled = (*left + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now.max(*at);
        if refilled >= 1.0 {
            *left = refilled - 1.0;
            return Ok(());
        }
        *left = refilled;
        Err(Duration::from_secs_f64((1.0 - refilled) / per_second))
    }

    /// Whether `key` has a request left at `now`, without taking it; when not, how long until it has.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Some((left, at)) = self.buckets.get(key) else { return Ok(()) };
        let per_second = f64::from(self.per_minute) / 60.0;
        let refilled =
            (left + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(f64::from(self.per_minute));
        if refilled >= 1.0 { Ok(()) } else { Err(Duration::from_secs_f64((1.0 - refilled) / per_second)) }
    }

    /// Forgets keys whose bucket is full again at `now` (they behave as new ones).
    pub fn prune(&mut self, now: Instant) {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        self.buckets
            .retain(|_, (left, at)| *left + now.saturating_duration_since(*at).as_secs_f64() * per_second < capacity);
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_passes_then_one_waits_for_the_refill() {
        let start = Instant::now();
        let mut limits = RateLimits::new(60);
        for _ in 0..60 {
            assert!(limits.take("a", start).is_ok());
        }
        let wait = limits.take("a", start).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert!(limits.take("b", start).is_ok(), "keys are independent");
        assert!(limits.take("a", start + Duration::from_millis(999)).is_err());
        assert!(limits.take("a", start + Duration::from_secs(1)).is_ok());
        assert!(limits.take("a", start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_limit_and_full_ones_are_forgotten() {
        let start = Instant::now();
        let mut limits = RateLimits::new(3);
        assert!(limits.take("a", start).is_ok());
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(limits.take("a", later).is_ok());
        }
        let wait = limits.take("a", later).unwrap_err();
        assert!((wait.as_secs_f64() - 20.0).abs() < 1e-6, "one request in 20 s: {wait:?}");
        limits.prune(later);
        assert_eq!(limits.len(), 1, "an empty bucket is kept");
        assert!(limits.check("a", later).is_err(), "checking takes nothing");
        assert!(limits.check("a", later + Duration::from_secs(20)).is_ok());
        assert!(limits.check("new", later).is_ok());
        limits.prune(later + Duration::from_secs(60));
        assert!(limits.is_empty(), "a full bucket is forgotten");
    }
}

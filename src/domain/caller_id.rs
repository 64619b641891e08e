//! Choosing the caller-ID number of each call: round robin, random or least loaded (API.md §6).

use super::campaign::PhoneNumberStrategy;

/// Picks numbers for `count` calls, in order. `cursor` is the campaign's round-robin position,
/// `live` the calls in flight per number (same order as `numbers`), `random` a source of u64s.
pub fn pick(
    strategy: PhoneNumberStrategy,
    numbers: usize,
    cursor: i64,
    live: &[i64],
    count: usize,
    mut random: impl FnMut() -> u64,
) -> Vec<usize> {
    if numbers == 0 {
        return Vec::new();
    }
    match strategy {
        PhoneNumberStrategy::RoundRobin => {
            let start = cursor.rem_euclid(numbers as i64) as usize;
            (0..count).map(|i| (start + i) % numbers).collect()
        }
        PhoneNumberStrategy::Random => (0..count).map(|_| (random() % numbers as u64) as usize).collect(),
        PhoneNumberStrategy::LeastLoaded => {
            let mut load: Vec<i64> = (0..numbers).map(|i| live.get(i).copied().unwrap_or(0)).collect();
            (0..count)
                .map(|_| {
                    // ties go to the first in list order
                    let best = (0..numbers).min_by_key(|&i| (load[i], i)).unwrap_or(0);
                    load[best] += 1;
                    best
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_continues_from_the_cursor() {
        assert_eq!(pick(PhoneNumberStrategy::RoundRobin, 3, 4, &[], 5, || 0), [1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_loaded_fills_the_emptiest_first_ties_in_list_order() {
        assert_eq!(pick(PhoneNumberStrategy::LeastLoaded, 3, 0, &[2, 0, 1], 4, || 0), [1, 1, 2, 0]);
    }

    #[test]
    fn random_stays_in_range() {
        let mut x = 7u64;
        let picks = pick(PhoneNumberStrategy::Random, 4, 0, &[], 100, || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            x >> 33
        });
        assert!(picks.iter().all(|&i| i < 4));
        assert!((0..4).all(|n| picks.contains(&n)));
    }
}

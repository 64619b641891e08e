//! The generated scenarios (zones, instants near their transitions, windows around them) and the
//! properties of `is_open` and `next_open` checked over them against the reference model.

use super::{
    DAY, FROM, HOUR, MINUTE, UNTIL, ceil_minute, day_of, instants_of, opening_candidates, reference_is_open,
    scanned_next_open, seconds, transitions, utc_at, wall, window_of, zones,
};
use crate::domain::working_hours::{DayHours, DayMinute, WEEKDAYS, WorkingHours};
use chrono::{DateTime, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::sample::Index;
use std::fmt;

// ---------------------------------------------------------------------------------------------------------
// Generators.

fn minute(m: u16) -> DayMinute {
    DayMinute::parse(&format!("{:02}:{:02}", m / 60, m % 60), true).expect("minute on the grid")
}

fn hhmm(m: DayMinute) -> String {
    format!("{:02}:{:02}", m.minutes() / 60, m.minutes() % 60)
}

/// A window boundary: anywhere in the day, on a quarter hour, or a few quarters around the wall times the
/// scenario's anchor transition leaves (`after == false`) or jumps to (`after == true`).
#[derive(Clone, Copy, Debug)]
enum Boundary {
    Anywhere(u16),
    NearTransition { after: bool, quarters: i16 },
}

fn boundary() -> impl Strategy<Value = Boundary> {
    prop_oneof![
        (0u16..=1440).prop_map(Boundary::Anywhere),
        (0u16..=96).prop_map(|q| Boundary::Anywhere(q * 15)),
        (any::<bool>(), -8i16..=8).prop_map(|(after, quarters)| Boundary::NearTransition { after, quarters }),
        (any::<bool>(), -8i16..=8).prop_map(|(after, quarters)| Boundary::NearTransition { after, quarters }),
    ]
}

struct Scenario {
    tz: Tz,
    hours: WorkingHours,
    at: DateTime<Utc>,
    /// A transition of `tz` the windows and (sometimes) `at` were placed around.
    anchor: Option<DateTime<Utc>>,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at={} (unix {}, wall {})",
            self.tz.name(),
            self.at.to_rfc3339(),
            self.at.timestamp(),
            wall(self.tz, self.at)
        )?;
        if let Some(anchor) = self.anchor {
            write!(
                f,
                " anchor={} (wall {} -> {})",
                anchor.to_rfc3339(),
                wall(self.tz, anchor - seconds(1)),
                wall(self.tz, anchor)
            )?;
        }
        for (name, day) in WEEKDAYS.iter().zip(&self.hours.days) {
            let state = if day.enabled { "" } else { " off" };
            write!(f, " {}={}-{}{}", &name[..3], hhmm(day.start), hhmm(day.end), state)?;
        }
        Ok(())
    }
}

/// Minutes since midnight of a wall time, `24:00` for the midnight that ends a day.
fn minute_of_day(w: NaiveDateTime, ends_a_day: bool) -> i32 {
    let m = (w - w.date().and_time(NaiveTime::MIN)).num_minutes() as i32;
    if ends_a_day && m == 0 { 1440 } else { m }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    // Around the anchor: within two days, within three hours, in the hour before it, within two minutes.
    let delta = prop_oneof![-2 * DAY..=2 * DAY, -3 * HOUR..=3 * HOUR, -HOUR..=0, -120i64..=120];
    (
        prop::sample::select(zones()),
        any::<bool>(),
        any::<Index>(),
        delta,
        FROM..UNTIL,
        prop::array::uniform7((boundary(), boundary(), any::<bool>())),
        any::<bool>(),
    )
        .prop_map(|(tz, near, index, delta, uniform, raw_days, same_every_day)| {
            let list = transitions(tz);
            let anchor = (!list.is_empty()).then(|| list[index.index(list.len())]);
            let at = match anchor {
                Some(t) if near => t + seconds(delta),
                _ => utc_at(uniform),
            };
            // The wall minute the zone leaves at the anchor (as an end of day) and the one it jumps to.
            let (left, entered) = anchor.map_or((120, 120), |t| {
                (minute_of_day(wall(tz, t - seconds(1)) + seconds(1), true), minute_of_day(wall(tz, t), false))
            });
            let resolve = |b: Boundary| -> u16 {
                match b {
                    Boundary::Anywhere(m) => m,
                    Boundary::NearTransition { after, quarters } => {
                        let base = if after { entered } else { left };
                        (base + i32::from(quarters) * 15).clamp(0, 1440) as u16
                    }
                }
            };
            let mut days = raw_days.map(|(a, b, enabled)| {
                let (a, b) = (resolve(a), resolve(b));
                let (mut start, mut end) = (a.min(b), a.max(b));
                if start == end {
                    if end == 1440 { start -= 1 } else { end += 1 }
                }
                DayHours { start: minute(start), end: minute(end), enabled }
            });
            if same_every_day {
                let first = days[0];
                for day in &mut days {
                    day.start = first.start;
                    day.end = first.end;
                }
            }
            Scenario { tz, hours: WorkingHours { days }, at, anchor }
        })
}

/// `cases` per property unless `PROPTEST_CASES` asks for more (or fewer), without regression files.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

// ---------------------------------------------------------------------------------------------------------
// Properties.

/// Property 3 in full: `next_open(at)` is open, not before `at`, `at` itself when `at` is open, and nothing in
/// `[at, next_open)` is open — by sampling and by every instant where an opening could happen.
fn check_first_open_instant(s: &Scenario) -> Result<(), TestCaseError> {
    let (tz, h, at) = (s.tz, &s.hours, s.at);
    let Some(t) = h.next_open(tz, at) else { return Ok(()) };
    prop_assert!(t >= at, "next_open {} is before at", t);
    prop_assert!(h.is_open(tz, t), "next_open {} (wall {}) is not open", t, wall(tz, t));
    if h.is_open(tz, at) {
        prop_assert_eq!(t, at, "at is open, so next_open must be at");
        return Ok(());
    }
    let span = (t - at).num_seconds();
    let mut points: Vec<DateTime<Utc>> = (0..50).map(|k| at + seconds(span * k / 50)).collect();
    let mut m = ceil_minute((t - seconds(3 * HOUR)).max(at));
    while m < t {
        points.push(m);
        m += seconds(MINUTE);
    }
    points.extend(opening_candidates(h, tz, at, t));
    for p in points.into_iter().filter(|p| at <= *p && *p < t) {
        prop_assert!(
            !h.is_open(tz, p),
            "open at {} (wall {}) although next_open = {} (wall {})",
            p,
            wall(tz, p),
            t,
            wall(tz, t)
        );
    }
    Ok(())
}

/// The DST rules checked directly at the scenario's anchor transition, for every enabled window there.
fn check_rules_at_anchor(s: &Scenario) -> Result<(), TestCaseError> {
    let (tz, h) = (s.tz, &s.hours);
    let Some(t) = s.anchor else { return Ok(()) };
    let one = seconds(1);
    let left = wall(tz, t - one) + one; // the wall time the zone leaves at t
    let entered = wall(tz, t); // the wall time it jumps to
    let mut date = left.min(entered).date() - chrono::Days::new(1);
    while date <= left.max(entered).date() {
        let day = day_of(h, date);
        let (start, end) = window_of(day, date);
        date = date.succ_opt().expect("date in range");
        if !day.enabled {
            continue;
        }
        if entered > left {
            // Gap: wall times [left, entered) do not exist.
            if left <= start && start < entered && end > entered {
                // A start in the gap moves to the first instant after the gap.
                prop_assert!(h.is_open(tz, t), "start {} in the gap, but closed at {} (wall {})", start, t, entered);
                let expected = if h.is_open(tz, t - one) { t - one } else { t };
                prop_assert_eq!(h.next_open(tz, t - one), Some(expected), "start {} in the gap", start);
            }
            if start < left && left < end && end <= entered {
                // An end in the gap: open up to the gap, closed from the first instant after it.
                prop_assert!(h.is_open(tz, t - one), "end {} in the gap, but closed just before it", end);
                if entered.date() == start.date() {
                    prop_assert!(!h.is_open(tz, t), "end {} in the gap, but open after it", end);
                }
            }
        } else if entered < left {
            // Fold: wall times [entered, left) happen twice.
            let (from, to) = (start.max(entered), end.min(left));
            if from >= to {
                continue;
            }
            let copies = |w: NaiveDateTime| match tz.from_local_datetime(&w) {
                LocalResult::Ambiguous(a, b) => Some((a.to_utc(), b.to_utc())),
                _ => None,
            };
            let (Some((first_from, second_from)), Some((first_last, second_last))) = (copies(from), copies(to - one))
            else {
                return Err(TestCaseError::fail(format!("wall times {from}..{to} should be repeated")));
            };
            for x in [first_from, second_from, first_last, second_last] {
                prop_assert!(
                    h.is_open(tz, x),
                    "window {}..{} closed at {} (wall {}) in the fold",
                    start,
                    end,
                    x,
                    wall(tz, x)
                );
            }
            // After its part of the first copy, the window is open again in the second copy at the latest.
            let after_first = first_last + one;
            let reopen = h.next_open(tz, after_first).expect("some day is enabled");
            prop_assert!(
                reopen <= second_from,
                "window {}..{}: next_open({}) = {}, but the second copy is open from {}",
                start,
                end,
                after_first,
                reopen,
                second_from
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// 1. `is_open` agrees with the definition by wall clock.
    #[test]
    fn is_open_agrees_with_the_wall_clock_definition(s in scenario()) {
        prop_assert_eq!(s.hours.is_open(s.tz, s.at), reference_is_open(&s.hours, s.tz, s.at));
    }

    /// 2. `next_open` is `None` exactly when no day is enabled.
    #[test]
    fn next_open_is_none_iff_no_day_is_enabled(s in scenario()) {
        let any_enabled = s.hours.days.iter().any(|d| d.enabled);
        prop_assert_eq!(s.hours.next_open(s.tz, s.at).is_some(), any_enabled);
    }

    /// 3. `next_open` is the first open instant at or after `at`.
    #[test]
    fn next_open_is_the_first_open_instant(s in scenario()) {
        check_first_open_instant(&s)?;
    }

    /// 4. `next_open` is never more than eight days and a few hours away.
    #[test]
    fn next_open_is_within_eight_days(s in scenario()) {
        if let Some(t) = s.hours.next_open(s.tz, s.at) {
            prop_assert!(t - s.at <= seconds(8 * DAY + 3 * HOUR), "next_open {} is too far", t);
        }
    }

    /// 5. `next_open` is idempotent.
    #[test]
    fn next_open_is_idempotent(s in scenario()) {
        let next = s.hours.next_open(s.tz, s.at);
        prop_assert_eq!(next.and_then(|t| s.hours.next_open(s.tz, t)), next);
    }

    /// 6. Asking again from any instant before the answer gives the same answer.
    #[test]
    fn next_open_is_stable_until_reached(s in scenario(), permille in 0i64..=1000) {
        if let Some(t) = s.hours.next_open(s.tz, s.at) {
            let later = s.at + seconds((t - s.at).num_seconds() * permille / 1000);
            prop_assert_eq!(s.hours.next_open(s.tz, later), Some(t), "asked again at {}", later);
        }
    }

    /// 7. Both copies of a repeated wall time are judged alike.
    #[test]
    fn both_copies_of_a_repeated_wall_time_agree(s in scenario()) {
        let copies = instants_of(s.tz, wall(s.tz, s.at));
        prop_assert!(copies.contains(&s.at), "chrono-tz round trip");
        for copy in copies {
            prop_assert_eq!(s.hours.is_open(s.tz, copy), s.hours.is_open(s.tz, s.at), "copy {}", copy);
        }
    }

    /// 8. Gap and fold rules, checked at a transition for the windows placed around it.
    #[test]
    fn dst_rules_hold_at_transitions(s in scenario()) {
        check_rules_at_anchor(&s)?;
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// 9. `next_open` equals an exhaustive minute-by-minute search using the definition (slower: fewer cases).
    #[test]
    fn next_open_matches_a_minute_by_minute_search(s in scenario()) {
        prop_assert_eq!(s.hours.next_open(s.tz, s.at), scanned_next_open(&s.hours, s.tz, s.at));
    }
}

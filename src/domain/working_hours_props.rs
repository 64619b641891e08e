//! Property tests for `WorkingHours::is_open` and `next_open` over many zones, instants in 2020–2035 and
//! random windows, plus fixed DST cases (Lord Howe's 30-minute shift, Chatham's 02:45 changes).
//!
//! The rule under test (DESIGN.md, API §6 condition 3): a window is `[start, end)` of local wall time on an
//! enabled weekday; a boundary that does not exist (DST gap) moves to the first instant after the gap; in a
//! repeated hour (DST fold) the window is open in both copies wherever the wall time is inside it.

use super::time::resolve_local;
use super::working_hours::{DayHours, DayMinute, WEEKDAYS, WorkingHours};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::sample::Index;
use std::fmt;
use std::sync::OnceLock;

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// 2020-01-01T00:00:00Z and 2036-01-01T00:00:00Z: instants are drawn from 2020–2035.
const FROM: i64 = 1_577_836_800;
const UNTIL: i64 = 2_082_758_400;

fn zones() -> Vec<Tz> {
    use chrono_tz::{Africa, America, Antarctica, Asia, Australia, Europe, Pacific};
    vec![
        chrono_tz::UTC,
        America::New_York,
        Europe::London,
        Australia::Lord_Howe,
        Asia::Kolkata,
        Pacific::Chatham,
        America::Sao_Paulo,
        Asia::Tehran,
        Africa::Casablanca,
        America::St_Johns,
        Pacific::Apia,
        Europe::Moscow,
        America::Santiago,   // changes at midnight
        America::Havana,     // changes at midnight
        Antarctica::Troll,   // two-hour shift
        Pacific::Kiritimati, // +14
    ]
}

// ---------------------------------------------------------------------------------------------------------
// Time helpers, computed straight from chrono-tz offsets (not through the code under test).

fn utc_at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("instant in range")
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339").to_utc()
}

fn seconds(n: i64) -> Duration {
    Duration::seconds(n)
}

fn offset_secs(tz: Tz, at: DateTime<Utc>) -> i64 {
    i64::from(tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc())
}

/// The local wall time of `at` in `tz`.
fn wall(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + seconds(offset_secs(tz, at))
}

/// Every instant whose wall time in `tz` is `w` (none in a gap, two in a fold).
fn instants_of(tz: Tz, w: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&w) {
        LocalResult::Single(t) => vec![t.to_utc()],
        LocalResult::Ambiguous(a, b) => vec![a.to_utc(), b.to_utc()],
        LocalResult::None => Vec::new(),
    }
}

fn day_of(hours: &WorkingHours, date: NaiveDate) -> DayHours {
    hours.days[date.weekday().num_days_from_monday() as usize]
}

/// The window of `day` on `date` as wall times (`24:00` is the next midnight).
fn window_of(day: DayHours, date: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let midnight = date.and_time(NaiveTime::MIN);
    let at = |m: DayMinute| midnight + seconds(i64::from(m.minutes()) * MINUTE);
    (at(day.start), at(day.end))
}

/// The definition: the wall time of `at` falls inside the enabled window of its own date.
fn reference_is_open(hours: &WorkingHours, tz: Tz, at: DateTime<Utc>) -> bool {
    let w = wall(tz, at);
    let day = day_of(hours, w.date());
    let (start, end) = window_of(day, w.date());
    day.enabled && start <= w && w < end
}

fn ceil_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    utc_at(t.timestamp().div_euclid(MINUTE) * MINUTE + if t.timestamp() % MINUTE == 0 { 0 } else { MINUTE })
}

/// The first instant at or after `at` that the definition calls open, found minute by minute. Offsets and
/// transitions are whole minutes in these zones and years (checked below), and windows sit on the minute
/// grid, so openness is constant within each UTC minute and this scan is exact.
fn scanned_next_open(hours: &WorkingHours, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if reference_is_open(hours, tz, at) {
        return Some(at);
    }
    let mut m = ceil_minute(at + seconds(1));
    let limit = at + seconds(9 * DAY);
    while m <= limit {
        if reference_is_open(hours, tz, m) {
            return Some(m);
        }
        m += seconds(MINUTE);
    }
    None
}

/// UTC offset changes of `tz` between `from` and `until`: each the first second with the new offset.
fn scan_transitions(tz: Tz, from: i64, until: i64) -> Vec<DateTime<Utc>> {
    // No zone here changes twice within three hours, so a coarse walk plus bisection finds every change.
    const STEP: i64 = 3 * HOUR;
    let off = |s: i64| offset_secs(tz, utc_at(s));
    let mut found = Vec::new();
    let mut t = from;
    let mut current = off(t);
    while t < until {
        let next = t + STEP;
        let next_off = off(next);
        if next_off != current {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if off(mid) == current { lo = mid } else { hi = mid }
            }
            found.push(utc_at(hi));
        }
        t = next;
        current = next_off;
    }
    found
}

/// The transitions of `tz` from ten days before 2020 to ten days after 2035, computed once.
fn transitions(tz: Tz) -> &'static [DateTime<Utc>] {
    static TABLE: OnceLock<Vec<(Tz, Vec<DateTime<Utc>>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        zones().into_iter().map(|z| (z, scan_transitions(z, FROM - 10 * DAY, UNTIL + 10 * DAY))).collect()
    });
    table.iter().find(|(z, _)| *z == tz).map_or(&[], |(_, list)| list.as_slice())
}

/// Every instant in `[from, to)` where the hours could go from closed to open: an offset change, or an
/// instant whose wall time is exactly some enabled day's start. (Openness is a union of `[a, b)` intervals
/// and at an opening `a` either the wall clock jumps or it passes a start continuously.)
fn opening_candidates(hours: &WorkingHours, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out: Vec<DateTime<Utc>> = transitions(tz).to_vec();
    let mut date = wall(tz, from).date() - chrono::Days::new(1);
    let last = wall(tz, to).date() + chrono::Days::new(1);
    while date <= last {
        let day = day_of(hours, date);
        if day.enabled {
            out.extend(instants_of(tz, window_of(day, date).0));
        }
        date = date.succ_opt().expect("date in range");
    }
    out.retain(|t| from <= *t && *t < to);
    out
}

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

// ---------------------------------------------------------------------------------------------------------
// Fixed cases.

fn every_day(start: &str, end: &str) -> WorkingHours {
    let day = DayHours::parse(start, end, true).expect("valid window");
    WorkingHours { days: [day; 7] }
}

#[test]
fn transition_table_is_whole_minutes_and_as_assumed() {
    for tz in zones() {
        for t in transitions(tz) {
            assert_eq!(t.timestamp() % MINUTE, 0, "{} changes at {}", tz.name(), t);
            assert_eq!(offset_secs(tz, *t) % MINUTE, 0, "{} offset at {}", tz.name(), t);
        }
    }
    let within = |tz: Tz, from: &str, to: &str| -> Vec<(DateTime<Utc>, i64, i64)> {
        transitions(tz)
            .iter()
            .filter(|t| utc(from) <= **t && **t < utc(to))
            .map(|t| (*t, offset_secs(tz, *t - seconds(1)), offset_secs(tz, *t)))
            .collect()
    };
    let lh = chrono_tz::Australia::Lord_Howe;
    let chatham = chrono_tz::Pacific::Chatham;
    let (h, m) = (HOUR, MINUTE);
    // Lord Howe: 02:00 +11 back to 01:30 +10:30 on 2026-04-05; 02:00 +10:30 on to 02:30 +11 on 2026-10-04.
    assert_eq!(
        within(lh, "2026-04-01T00:00:00Z", "2026-04-10T00:00:00Z"),
        [(utc("2026-04-04T15:00:00Z"), 11 * h, 10 * h + 30 * m)]
    );
    assert_eq!(
        within(lh, "2026-10-01T00:00:00Z", "2026-10-10T00:00:00Z"),
        [(utc("2026-10-03T15:30:00Z"), 10 * h + 30 * m, 11 * h)]
    );
    // Chatham: 03:45 +13:45 back to 02:45 +12:45 on 2026-04-05; 02:45 +12:45 on to 03:45 +13:45 on 2026-09-27.
    assert_eq!(
        within(chatham, "2026-04-01T00:00:00Z", "2026-04-10T00:00:00Z"),
        [(utc("2026-04-04T14:00:00Z"), 13 * h + 45 * m, 12 * h + 45 * m)]
    );
    assert_eq!(
        within(chatham, "2026-09-20T00:00:00Z", "2026-10-01T00:00:00Z"),
        [(utc("2026-09-26T14:00:00Z"), 12 * h + 45 * m, 13 * h + 45 * m)]
    );
    // Zones without changes in these years.
    for tz in [chrono_tz::UTC, chrono_tz::Asia::Kolkata, chrono_tz::Europe::Moscow, chrono_tz::America::Sao_Paulo] {
        assert!(within(tz, "2020-01-01T00:00:00Z", "2036-01-01T00:00:00Z").is_empty(), "{}", tz.name());
    }
}

#[test]
fn lord_howe_fold_a_start_inside_it_opens_in_both_copies() {
    // 2026-04-05: 01:30–02:00 happens at 14:30–15:00Z (+11) and again at 15:00–15:30Z (+10:30).
    let lh = chrono_tz::Australia::Lord_Howe;
    let h = every_day("01:45", "03:00");
    assert!(!h.is_open(lh, utc("2026-04-04T14:44:59Z")), "01:44:59 first copy");
    assert!(h.is_open(lh, utc("2026-04-04T14:45:00Z")), "01:45 first copy");
    assert!(h.is_open(lh, utc("2026-04-04T14:59:59Z")), "01:59:59 first copy");
    assert!(!h.is_open(lh, utc("2026-04-04T15:00:00Z")), "01:30 second copy, before the start");
    assert!(!h.is_open(lh, utc("2026-04-04T15:14:59Z")), "01:44:59 second copy");
    assert!(h.is_open(lh, utc("2026-04-04T15:15:00Z")), "01:45 second copy");
    assert!(h.is_open(lh, utc("2026-04-04T16:29:59Z")), "02:59:59 +10:30");
    assert!(!h.is_open(lh, utc("2026-04-04T16:30:00Z")), "03:00 +10:30, end exclusive");
    assert_eq!(h.next_open(lh, utc("2026-04-04T14:00:00Z")), Some(utc("2026-04-04T14:45:00Z")));
    assert_eq!(h.next_open(lh, utc("2026-04-04T15:00:00Z")), Some(utc("2026-04-04T15:15:00Z")));
    assert_eq!(h.next_open(lh, utc("2026-04-04T16:30:00Z")), Some(utc("2026-04-05T15:15:00Z")), "Monday 01:45 +10:30");
    assert_eq!(
        resolve_local(lh, NaiveDate::from_ymd_opt(2026, 4, 5).unwrap().and_hms_opt(1, 45, 0).unwrap()),
        utc("2026-04-04T14:45:00Z")
    );
}

#[test]
fn lord_howe_fold_an_end_inside_it_is_open_in_both_copies() {
    // Window 01:00–01:45: 14:00–14:45Z in the first copy, and again 15:00–15:15Z (wall 01:30–01:45, second copy).
    let lh = chrono_tz::Australia::Lord_Howe;
    let h = every_day("01:00", "01:45");
    assert!(h.is_open(lh, utc("2026-04-04T14:00:00Z")));
    assert!(h.is_open(lh, utc("2026-04-04T14:44:59Z")));
    assert!(!h.is_open(lh, utc("2026-04-04T14:45:00Z")), "01:45 first copy");
    assert!(!h.is_open(lh, utc("2026-04-04T14:59:59Z")), "01:59:59 first copy");
    assert!(h.is_open(lh, utc("2026-04-04T15:00:00Z")), "01:30 second copy is inside the window");
    assert!(h.is_open(lh, utc("2026-04-04T15:14:59Z")));
    assert!(!h.is_open(lh, utc("2026-04-04T15:15:00Z")), "01:45 second copy");
}

#[test]
fn lord_howe_fold_next_open_finds_the_second_copy_of_a_window_ending_inside_it() {
    let lh = chrono_tz::Australia::Lord_Howe;
    let h = every_day("01:00", "01:45");
    assert_eq!(h.next_open(lh, utc("2026-04-04T15:15:00Z")), Some(utc("2026-04-05T14:30:00Z")), "Monday 01:00 +10:30");
    // Closed at 01:45 of the first copy; the window is open again from 15:00Z (01:30, second copy).
    assert_eq!(h.next_open(lh, utc("2026-04-04T14:45:00Z")), Some(utc("2026-04-04T15:00:00Z")));
}

#[test]
fn lord_howe_gap_moves_a_boundary_inside_it_to_the_end_of_the_gap() {
    // 2026-10-04: 02:00 +10:30 is followed by 02:30 +11 at 15:30Z; 02:00–02:30 does not exist.
    let lh = chrono_tz::Australia::Lord_Howe;
    let starts_inside = every_day("02:10", "04:00");
    assert!(!starts_inside.is_open(lh, utc("2026-10-03T15:29:59Z")), "01:59:59 +10:30");
    assert!(starts_inside.is_open(lh, utc("2026-10-03T15:30:00Z")), "02:30 +11, first instant after the gap");
    assert_eq!(starts_inside.next_open(lh, utc("2026-10-03T12:00:00Z")), Some(utc("2026-10-03T15:30:00Z")));
    let ends_inside = every_day("01:00", "02:15");
    assert!(ends_inside.is_open(lh, utc("2026-10-03T15:29:59Z")), "01:59:59 +10:30");
    assert!(!ends_inside.is_open(lh, utc("2026-10-03T15:30:00Z")), "closed from the first instant after the gap");
    assert_eq!(
        ends_inside.next_open(lh, utc("2026-10-03T15:30:00Z")),
        Some(utc("2026-10-04T14:00:00Z")),
        "Monday 01:00 +11"
    );
}

#[test]
fn chatham_fold_a_start_inside_it_opens_in_both_copies() {
    // 2026-04-05: 02:45–03:45 happens at 13:00–14:00Z (+13:45) and again at 14:00–15:00Z (+12:45).
    let chatham = chrono_tz::Pacific::Chatham;
    let h = every_day("03:00", "05:00");
    assert!(!h.is_open(chatham, utc("2026-04-04T13:14:59Z")));
    assert!(h.is_open(chatham, utc("2026-04-04T13:15:00Z")), "03:00 first copy");
    assert!(h.is_open(chatham, utc("2026-04-04T13:59:59Z")), "03:44:59 first copy");
    assert!(!h.is_open(chatham, utc("2026-04-04T14:00:00Z")), "02:45 second copy");
    assert!(h.is_open(chatham, utc("2026-04-04T14:15:00Z")), "03:00 second copy");
    assert!(h.is_open(chatham, utc("2026-04-04T16:14:59Z")));
    assert!(!h.is_open(chatham, utc("2026-04-04T16:15:00Z")), "05:00 +12:45");
    assert_eq!(h.next_open(chatham, utc("2026-04-04T12:00:00Z")), Some(utc("2026-04-04T13:15:00Z")));
    assert_eq!(h.next_open(chatham, utc("2026-04-04T14:00:00Z")), Some(utc("2026-04-04T14:15:00Z")));
}

#[test]
fn chatham_fold_an_end_inside_it_is_open_in_both_copies() {
    // Window 02:00–03:15: 12:15–13:30Z in the first copy, and again 14:00–14:30Z (wall 02:45–03:15, second copy).
    let chatham = chrono_tz::Pacific::Chatham;
    let h = every_day("02:00", "03:15");
    assert!(h.is_open(chatham, utc("2026-04-04T12:15:00Z")));
    assert!(!h.is_open(chatham, utc("2026-04-04T13:30:00Z")), "03:15 first copy");
    assert!(h.is_open(chatham, utc("2026-04-04T14:00:00Z")), "02:45 second copy");
    assert!(h.is_open(chatham, utc("2026-04-04T14:29:59Z")));
    assert!(!h.is_open(chatham, utc("2026-04-04T14:30:00Z")), "03:15 second copy");
}

#[test]
fn chatham_fold_next_open_finds_the_second_copy_of_a_window_ending_inside_it() {
    let chatham = chrono_tz::Pacific::Chatham;
    let h = every_day("02:00", "03:15");
    assert_eq!(h.next_open(chatham, utc("2026-04-04T12:00:00Z")), Some(utc("2026-04-04T12:15:00Z")));
    // Closed at 03:15 of the first copy; the window is open again from 14:00Z (02:45, second copy).
    assert_eq!(h.next_open(chatham, utc("2026-04-04T13:30:00Z")), Some(utc("2026-04-04T14:00:00Z")));
}

#[test]
fn chatham_gap_moves_a_boundary_inside_it_to_the_end_of_the_gap() {
    // 2026-09-27: 02:45 +12:45 jumps to 03:45 +13:45 at 14:00Z on the 26th; 02:45–03:45 does not exist.
    let chatham = chrono_tz::Pacific::Chatham;
    let starts_inside = every_day("03:00", "05:00");
    assert!(!starts_inside.is_open(chatham, utc("2026-09-26T13:59:59Z")), "02:44:59 +12:45");
    assert!(starts_inside.is_open(chatham, utc("2026-09-26T14:00:00Z")), "03:45 +13:45, first instant after the gap");
    assert!(starts_inside.is_open(chatham, utc("2026-09-26T15:14:59Z")));
    assert!(!starts_inside.is_open(chatham, utc("2026-09-26T15:15:00Z")), "05:00 +13:45");
    assert_eq!(starts_inside.next_open(chatham, utc("2026-09-26T13:00:00Z")), Some(utc("2026-09-26T14:00:00Z")));

    let ends_inside = every_day("01:00", "03:00");
    assert!(ends_inside.is_open(chatham, utc("2026-09-26T12:15:00Z")), "01:00 +12:45");
    assert!(ends_inside.is_open(chatham, utc("2026-09-26T13:59:59Z")), "02:44:59 +12:45");
    assert!(!ends_inside.is_open(chatham, utc("2026-09-26T14:00:00Z")), "03:45 +13:45, after the end");
    assert_eq!(
        ends_inside.next_open(chatham, utc("2026-09-26T14:00:00Z")),
        Some(utc("2026-09-27T11:15:00Z")),
        "Monday 01:00 +13:45"
    );

    // A window the gap swallows whole never opens that day.
    let swallowed = every_day("03:00", "03:30");
    assert!(!swallowed.is_open(chatham, utc("2026-09-26T14:00:00Z")));
    assert_eq!(
        swallowed.next_open(chatham, utc("2026-09-26T13:00:00Z")),
        Some(utc("2026-09-27T13:15:00Z")),
        "Monday 03:00 +13:45"
    );
}

//! Property tests for `WorkingHours::is_open` and `next_open` over many zones, instants in 2020–2035 and
//! random windows, plus fixed DST cases (Lord Howe's 30-minute shift, Chatham's 02:45 changes).
//!
//! The rule under test (DESIGN.md, API §6 condition 3): a window is `[start, end)` of local wall time on an
//! enabled weekday; a boundary that does not exist (DST gap) moves to the first instant after the gap; in a
//! repeated hour (DST fold) the window is open in both copies wherever the wall time is inside it.
//!
//! Here the reference model: time helpers computed straight from chrono-tz. The generated scenarios and
//! the properties in `properties`, the fixed DST cases in `fixed_cases`.

use super::working_hours::{DayHours, DayMinute, WorkingHours};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::OnceLock;

mod fixed_cases;
mod properties;

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
/// transitions are whole minutes in these zones and years (checked in `fixed_cases`), and windows sit on the minute
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

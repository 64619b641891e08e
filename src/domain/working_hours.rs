//! Per-weekday calling windows (`[start, end)` in local wall time) and their parsing rules.

use super::time::resolve_local;
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The weekday keys, in the order the API writes them (Monday first).
pub const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// A wall-clock time of day in minutes since midnight; `24:00` (1440) is allowed as an end.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct DayMinute(u16);

impl DayMinute {
    /// Parses `HH:MM` (24 h, two digits each). `24:00` only when `allow_midnight_end`.
    pub fn parse(text: &str, allow_midnight_end: bool) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
            return None;
        }
        let h = u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0');
        let m = u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0');
        match (h, m) {
            (0..=23, 0..=59) => Some(Self(h * 60 + m)),
            (24, 0) if allow_midnight_end => Some(Self(1440)),
            _ => None,
        }
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// The time `minutes` after midnight (at most 1440, `24:00`).
    pub fn from_minutes(minutes: u16) -> Option<Self> {
        (minutes <= 1440).then_some(Self(minutes))
    }
}

impl Serialize for DayMinute {
    /// `HH:MM`, written digit by digit (a listing writes fourteen per campaign; the formatting
    /// machinery cost a tenth of a listing's time).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (hours, minutes) = (self.0 / 60, self.0 % 60);
        let digit = |n: u16| b'0' + (n % 10) as u8;
        let text = [digit(hours / 10), digit(hours), b':', digit(minutes / 10), digit(minutes)];
        s.serialize_str(std::str::from_utf8(&text).unwrap_or("00:00"))
    }
}

/// One weekday's window.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct DayHours {
    pub start: DayMinute,
    pub end: DayMinute,
    pub enabled: bool,
}

/// What is wrong with one day's window: the field it concerns and a sentence.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DayHoursError {
    pub field: &'static str,
    pub message: &'static str,
}

impl DayHours {
    /// Builds a window from its wire form, reporting every problem.
    pub fn parse(start: &str, end: &str, enabled: bool) -> Result<Self, Vec<DayHoursError>> {
        let mut errors = Vec::new();
        let s = DayMinute::parse(start, false);
        if s.is_none() {
            errors.push(DayHoursError {
                field: "start",
                message: "Value error, time must be HH:MM in 24-hour form (00:00 to 23:59)",
            });
        }
        let e = DayMinute::parse(end, true);
        if e.is_none() {
            errors.push(DayHoursError {
                field: "end",
                message: "Value error, time must be HH:MM in 24-hour form (00:00 to 24:00)",
            });
        }
        match (s, e) {
            (Some(start), Some(end)) if start < end => Ok(Self { start, end, enabled }),
            (Some(_), Some(_)) => Err(vec![DayHoursError {
                field: "end",
                message: "Value error, end must be later than start; overnight windows are not supported, split them over two days",
            }]),
            _ => Err(errors),
        }
    }

    fn at(start: u16, end: u16, enabled: bool) -> Self {
        Self { start: DayMinute(start * 60), end: DayMinute(end * 60), enabled }
    }
}

/// The seven windows, Monday first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WorkingHours {
    pub days: [DayHours; 7],
}

impl Default for WorkingHours {
    /// Monday–Friday 09:00–18:00 enabled; Saturday and Sunday 10:00–14:00 disabled.
    fn default() -> Self {
        let weekday = DayHours::at(9, 18, true);
        let weekend = DayHours::at(10, 14, false);
        Self { days: [weekday, weekday, weekday, weekday, weekday, weekend, weekend] }
    }
}

impl WorkingHours {
    /// Every day open `[start, end)` minutes since midnight.
    pub fn every_day(start: DayMinute, end: DayMinute) -> Self {
        Self { days: [DayHours { start, end, enabled: start < end }; 7] }
    }

    /// These hours narrowed to `[start, end)` each day; a day left with no time is disabled.
    pub fn within(&self, start: DayMinute, end: DayMinute) -> Self {
        let mut days = self.days;
        for day in &mut days {
            day.start = day.start.max(start);
            day.end = day.end.min(end);
            day.enabled = day.enabled && day.start < day.end;
        }
        Self { days }
    }

    /// Whether `at`, seen as wall time in `tz`, falls inside its weekday's enabled window. Judged by
    /// wall time: a boundary inside a DST gap takes effect at the first instant after the gap, and
    /// in a repeated hour both copies are inside wherever the wall time is.
    pub fn is_open(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        is_open_on(self, tz, at)
    }

    /// The first instant at or after `at` when the hours are open; `None` when no day is enabled.
    pub fn next_open(&self, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Eight days cover every weekday once more; a 30-hour day cannot skip one.
        next_open_on(self, tz, at, 8)
    }
}

/// Calling windows by local date: `[start, end)` minutes since local midnight, `None` when closed.
pub trait DayWindows {
    fn window(&self, date: NaiveDate) -> Option<(u16, u16)>;
}

impl DayWindows for WorkingHours {
    fn window(&self, date: NaiveDate) -> Option<(u16, u16)> {
        let day = &self.days[date.weekday().num_days_from_monday() as usize];
        day.enabled.then_some((day.start.0, day.end.0))
    }
}

/// Whether `at`, seen as wall time in `tz`, falls inside its local date's window (judged by wall
/// time, as `WorkingHours::is_open`).
pub fn is_open_on(w: &impl DayWindows, tz: Tz, at: DateTime<Utc>) -> bool {
    let local = at.with_timezone(&tz);
    let second = local.num_seconds_from_midnight();
    w.window(local.date_naive())
        .is_some_and(|(start, end)| u32::from(start) * 60 <= second && second < u32::from(end) * 60)
}

/// The first instant at or after `at` when `w` is open, looking `days` local dates ahead; `None` when
/// none of them opens.
pub fn next_open_on(w: &impl DayWindows, tz: Tz, at: DateTime<Utc>, days: u64) -> Option<DateTime<Utc>> {
    if is_open_on(w, tz, at) {
        return Some(at);
    }
    let today = at.with_timezone(&tz).date_naive();
    let by_start = (0..=days).filter_map(|offset| today.checked_add_days(chrono::Days::new(offset))).find_map(|date| {
        let (start, _) = w.window(date)?;
        let start = date.and_hms_opt(u32::from(start) / 60, u32::from(start) % 60, 0)?;
        // In a repeated hour the window opens in both copies; in a gap, right after it.
        let candidates = match tz.from_local_datetime(&start) {
            LocalResult::Ambiguous(first, second) => [Some(first.to_utc()), Some(second.to_utc())],
            _ => [Some(resolve_local(tz, start)), None],
        };
        // A start may resolve past the end when a gap swallows the whole window.
        candidates.into_iter().flatten().find(|opens| *opens > at && is_open_on(w, tz, *opens))
    });
    // A clock turned back can also re-enter a window mid-way (its wall time jumps back inside):
    // the window then opens at the transition itself.
    let horizon = by_start.unwrap_or(at + chrono::Duration::days(days as i64 + 1));
    let by_transition = offset_changes(tz, at, horizon).into_iter().find(|t| is_open_on(w, tz, *t));
    match (by_start, by_transition) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The instants in `(from, to]` at which the zone's UTC offset changes, in order (whole seconds, as
/// every transition in the tz database is).
fn offset_changes(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|t| t.with_timezone(&tz).offset().fix().local_minus_utc());
    let (from, to) = (from.timestamp(), to.timestamp());
    let mut changes = Vec::new();
    let mut t = from;
    while t < to {
        let next = (t + 3600).min(to);
        if offset(next) != offset(t) {
            // bisect to the first second with the new offset
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == offset(lo) { lo = mid } else { hi = mid }
            }
            changes.extend(DateTime::from_timestamp(hi, 0));
        }
        t = next;
    }
    changes
}

impl Serialize for WorkingHours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(7))?;
        for (name, day) in WEEKDAYS.iter().zip(&self.days) {
            map.serialize_entry(name, day)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times() {
        assert_eq!(DayMinute::parse("00:00", false).map(DayMinute::minutes), Some(0));
        assert_eq!(DayMinute::parse("09:30", false).map(DayMinute::minutes), Some(570));
        assert_eq!(DayMinute::parse("23:59", false).map(DayMinute::minutes), Some(1439));
        assert_eq!(DayMinute::parse("24:00", true).map(DayMinute::minutes), Some(1440));
        for bad in ["24:00", "9:00", "09:0", "0900", "09:60", "25:00", "ab:cd", "09:00:00", "", "٠٩:٠٠", "+9:00"] {
            assert_eq!(DayMinute::parse(bad, false), None, "{bad:?}");
        }
        assert_eq!(DayMinute::parse("24:01", true), None);
    }

    #[test]
    fn windows_must_not_cross_midnight() {
        assert!(DayHours::parse("09:00", "18:00", true).is_ok());
        assert!(DayHours::parse("00:00", "24:00", true).is_ok());
        let err = DayHours::parse("22:00", "06:00", true).unwrap_err();
        assert_eq!(err[0].field, "end");
        assert!(err[0].message.contains("overnight"));
        assert!(DayHours::parse("09:00", "09:00", false).is_err(), "empty window");
    }

    #[test]
    fn reports_both_bad_fields() {
        let err = DayHours::parse("9am", "6pm", true).unwrap_err();
        assert_eq!(err.iter().map(|e| e.field).collect::<Vec<_>>(), ["start", "end"]);
    }

    #[test]
    fn default_matches_the_contract_and_serializes_as_hh_mm() {
        for minute in 0..=1440u16 {
            let written = serde_json::to_value(DayMinute(minute)).unwrap();
            assert_eq!(written, format!("{:02}:{:02}", minute / 60, minute % 60), "minute {minute}");
        }
        let json = serde_json::to_value(WorkingHours::default()).unwrap();
        assert_eq!(json["monday"], serde_json::json!({"start":"09:00","end":"18:00","enabled":true}));
        assert_eq!(json["sunday"], serde_json::json!({"start":"10:00","end":"14:00","enabled":false}));
        assert_eq!(json.as_object().unwrap().len(), 7);
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn every_day(start: &str, end: &str) -> WorkingHours {
        let day = DayHours::parse(start, end, true).unwrap();
        WorkingHours { days: [day; 7] }
    }

    #[test]
    fn open_is_judged_in_the_zone_by_wall_time() {
        let h = WorkingHours::default(); // Mon–Fri 09–18
        let kolkata = chrono_tz::Asia::Kolkata;
        // Monday 2026-11-30 09:00 IST = 03:30Z
        assert!(!h.is_open(kolkata, utc("2026-11-30T03:29:59Z")));
        assert!(h.is_open(kolkata, utc("2026-11-30T03:30:00Z")));
        assert!(h.is_open(kolkata, utc("2026-11-30T12:29:59Z")));
        assert!(!h.is_open(kolkata, utc("2026-11-30T12:30:00Z")), "end is exclusive");
        // Saturday is disabled by default
        assert!(!h.is_open(kolkata, utc("2026-11-28T06:00:00Z")));
    }

    #[test]
    fn next_open_skips_disabled_days_and_handles_offsets() {
        let h = WorkingHours::default();
        // Saturday 2026-11-28 noon in Chatham (+13:45) → Monday 09:00 local = Sunday 19:15Z
        let chatham = chrono_tz::Pacific::Chatham;
        assert_eq!(h.next_open(chatham, utc("2026-11-27T23:00:00Z")), Some(utc("2026-11-29T19:15:00Z")));
        let open = utc("2026-11-30T05:00:00Z");
        assert_eq!(h.next_open(chrono_tz::Asia::Kolkata, open), Some(open), "already open");
        let mut closed = h;
        for d in &mut closed.days {
            d.enabled = false;
        }
        assert_eq!(closed.next_open(chrono_tz::UTC, open), None);
    }

    #[test]
    fn dst_gap_moves_a_start_inside_it_to_the_end_of_the_gap() {
        // New York, Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
        let ny = chrono_tz::America::New_York;
        let h = every_day("02:30", "05:00");
        assert!(!h.is_open(ny, utc("2026-03-08T06:59:59Z")), "01:59:59 EST");
        assert!(h.is_open(ny, utc("2026-03-08T07:00:00Z")), "03:00 EDT, first instant after the gap");
        assert_eq!(h.next_open(ny, utc("2026-03-08T05:00:00Z")), Some(utc("2026-03-08T07:00:00Z")));
    }

    #[test]
    fn dst_fold_is_open_in_both_copies() {
        // New York, Sunday 2026-11-01: 01:00–02:00 happens twice (05:00–06:00Z EDT, 06:00–07:00Z EST).
        let ny = chrono_tz::America::New_York;
        let h = every_day("01:15", "01:45");
        assert!(h.is_open(ny, utc("2026-11-01T05:20:00Z")));
        assert!(!h.is_open(ny, utc("2026-11-01T05:50:00Z")));
        assert!(h.is_open(ny, utc("2026-11-01T06:20:00Z")));
        // After the first copy's window, it opens again in the second copy.
        assert_eq!(h.next_open(ny, utc("2026-11-01T05:50:00Z")), Some(utc("2026-11-01T06:15:00Z")));
        assert_eq!(h.next_open(ny, utc("2026-11-01T06:50:00Z")), Some(utc("2026-11-02T06:15:00Z")));
    }

    #[test]
    fn london_lord_howe_and_kolkata_fixed_cases() {
        let h = every_day("09:00", "17:00");
        // London: BST ends 2026-10-25; 09:00 is 08:00Z before and 09:00Z after.
        let london = chrono_tz::Europe::London;
        assert!(h.is_open(london, utc("2026-10-24T08:00:00Z")));
        assert!(!h.is_open(london, utc("2026-10-25T08:00:00Z")));
        assert!(h.is_open(london, utc("2026-10-25T09:00:00Z")));
        // Lord Howe (+10:30 / +11): 09:00 on 2026-10-04 is 22:00Z the day before.
        let lh = chrono_tz::Australia::Lord_Howe;
        assert_eq!(h.next_open(lh, utc("2026-10-03T20:00:00Z")), Some(utc("2026-10-03T22:00:00Z")));
        // Kolkata never changes: 09:00 = 03:30Z.
        assert_eq!(
            h.next_open(chrono_tz::Asia::Kolkata, utc("2026-07-01T00:00:00Z")),
            Some(utc("2026-07-01T03:30:00Z"))
        );
    }
}

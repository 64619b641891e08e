//! Timestamps from clients (with or without an offset) and local wall times resolved in a zone.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// When a batch starts, as the client wrote it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StartAt {
    /// With `Z` or an offset: that instant.
    Instant(DateTime<Utc>),
    /// Without an offset: a wall time in the campaign's time zone.
    Local(NaiveDateTime),
}

const NAIVE_FORMATS: [&str; 4] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"];

/// An instant that never comes (9999-12-31), for "no work" where a column needs a value.
pub fn never() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Parses an RFC 3339 timestamp; without `Z` or an offset it is a wall time to be placed in a zone.
pub fn parse_start(text: &str) -> Option<StartAt> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(StartAt::Instant(t.to_utc()));
    }
    NAIVE_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok()).map(StartAt::Local)
}

/// Writes an instant as RFC 3339 in UTC with `Z` (a serde `serialize_with`).
pub fn serialize_rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// Parses a timestamp that must carry `Z` or an offset.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
}

/// The instant of a wall time in `tz`. In a repeated hour, the first of the two instants; in a
/// skipped hour (DST gap), the first instant after the gap.
pub fn resolve_local(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.to_utc(),
        LocalResult::Ambiguous(first, _) => first.to_utc(),
        LocalResult::None => {
            // Gaps are whole minutes and at most a few hours long (the largest in the tz database is 24 h
            // on a skipped day): walk forward to the first wall minute that exists.
            let mut probe = wall.with_second(0).and_then(|w| w.with_nanosecond(0)).unwrap_or(wall);
            for _ in 0..=(25 * 60) {
                probe += chrono::Duration::minutes(1);
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return t.to_utc(),
                    LocalResult::Ambiguous(first, _) => return first.to_utc(),
                    LocalResult::None => {}
                }
            }
            // Unreachable with the tz database; treat the wall time as UTC rather than fail.
            wall.and_utc()
        }
    }
}

impl StartAt {
    /// The instant this start denotes in the campaign's zone.
    pub fn resolve(self, tz: Tz) -> DateTime<Utc> {
        match self {
            StartAt::Instant(t) => t,
            StartAt::Local(wall) => resolve_local(tz, wall),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn wall(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, min, 0).unwrap()
    }

    #[test]
    fn offsets_are_taken_as_given() {
        assert_eq!(parse_start("2026-12-01T09:00:00Z"), Some(StartAt::Instant(utc("2026-12-01T09:00:00Z"))));
        assert_eq!(parse_start("2026-12-01T09:00:00+05:30"), Some(StartAt::Instant(utc("2026-12-01T03:30:00Z"))));
    }

    #[test]
    fn naive_times_are_wall_times() {
        let start = parse_start("2026-12-01T09:00:00").unwrap();
        assert_eq!(start, StartAt::Local(wall(2026, 12, 1, 9, 0)));
        assert_eq!(start.resolve(chrono_tz::Asia::Kolkata), utc("2026-12-01T03:30:00Z"));
        assert_eq!(parse_start("2026-12-01 09:00"), Some(StartAt::Local(wall(2026, 12, 1, 9, 0))));
        assert_eq!(
            parse_start("2026-12-01T09:00:00.250"),
            Some(StartAt::Local(wall(2026, 12, 1, 9, 0) + chrono::Duration::milliseconds(250)))
        );
        for bad in ["", "tomorrow", "2026-13-01T09:00:00", "2026-12-01", "2026-12-01T25:00:00Z", "1764579600"] {
            assert_eq!(parse_start(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn gaps_move_to_the_first_instant_after_them() {
        // New York springs forward at 02:00 on 2026-03-08: 02:30 does not exist, 03:00 EDT = 07:00Z.
        assert_eq!(resolve_local(chrono_tz::America::New_York, wall(2026, 3, 8, 2, 30)), utc("2026-03-08T07:00:00Z"));
        // Lord Howe moves 30 minutes at 02:00 on 2026-10-04: 02:10 does not exist, 02:30 = 15:30Z (+11).
        assert_eq!(
            resolve_local(chrono_tz::Australia::Lord_Howe, wall(2026, 10, 4, 2, 10)),
            utc("2026-10-03T15:30:00Z")
        );
    }

    #[test]
    fn folds_take_the_first_instant() {
        // New York falls back at 02:00 on 2026-11-01: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
        assert_eq!(resolve_local(chrono_tz::America::New_York, wall(2026, 11, 1, 1, 30)), utc("2026-11-01T05:30:00Z"));
    }
}

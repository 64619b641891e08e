//! Per-weekday calling windows (`[start, end)` in local wall time) and their parsing rules.

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
}

impl Serialize for DayMinute {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}:{:02}", self.0 / 60, self.0 % 60))
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
        let json = serde_json::to_value(WorkingHours::default()).unwrap();
        assert_eq!(json["monday"], serde_json::json!({"start":"09:00","end":"18:00","enabled":true}));
        assert_eq!(json["sunday"], serde_json::json!({"start":"10:00","end":"14:00","enabled":false}));
        assert_eq!(json.as_object().unwrap().len(), 7);
    }
}

//! Calendar request bodies (API.md §12.2): a name and dated entries, each closing its date or
//! replacing its window, for every recipient or for some regions' only; every problem reported.

use super::validate::{Problems, at};
use crate::domain::calendar::{CalendarEntry, DayRule};
use crate::domain::recipient::is_region_code;
use crate::domain::working_hours::DayMinute;
use crate::error::{Error, Loc};
use chrono::NaiveDate;
use serde_json::{Map, Value};

/// Most entries in one calendar.
const MAX_ENTRIES: usize = 1000;
/// Most regions one entry names.
const MAX_REGIONS: usize = 100;

/// Fields of the calendar object a PATCH may not change.
const READ_ONLY: [&str; 4] = ["calendar_id", "organization_id", "created_at", "updated_at"];

fn body() -> Vec<Loc> {
    vec![Loc::from("body")]
}

/// A create body: its name and entries.
pub fn parse_create(obj: &Map<String, Value>) -> Result<(String, Vec<CalendarEntry>), Error> {
    let mut p = Problems::default();
    p.unknown_keys(obj, &["name", "entries"], &body());
    let name = p.field(obj, "name", &body(), true).and_then(|v| p.string(v, at(&body(), "name"), 1, 200));
    let entries = p.field(obj, "entries", &body(), true).and_then(|v| entries(v, &mut p));
    match (name, entries) {
        (Some(name), Some(entries)) if p.is_empty() => Ok((name, entries)),
        _ => Err(Error::Validation(p.0)),
    }
}

/// A PATCH body: the new name and/or the new entries (replacing them all).
pub fn parse_patch(obj: &Map<String, Value>) -> Result<(Option<String>, Option<Vec<CalendarEntry>>), Error> {
    let mut p = Problems::default();
    for key in obj.keys().filter(|k| READ_ONLY.contains(&k.as_str())) {
        p.push(at(&body(), key.as_str()), "read_only", "Field cannot be updated");
    }
    let mut allowed = vec!["name", "entries"];
    allowed.extend(READ_ONLY);
    p.unknown_keys(obj, &allowed, &body());
    let name = p.field(obj, "name", &body(), false).and_then(|v| p.string(v, at(&body(), "name"), 1, 200));
    let entries = p.field(obj, "entries", &body(), false).and_then(|v| entries(v, &mut p));
    if p.is_empty() { Ok((name, entries)) } else { Err(Error::Validation(p.0)) }
}

fn entries(value: &Value, p: &mut Problems) -> Option<Vec<CalendarEntry>> {
    let loc = at(&body(), "entries");
    let items = p.array(value, loc.clone(), 0, MAX_ENTRIES)?;
    let before = p.0.len();
    let parsed: Vec<Option<CalendarEntry>> =
        items.iter().enumerate().map(|(i, item)| entry(item, at(&loc, i), p)).collect();
    if p.0.len() != before {
        return None;
    }
    parsed.into_iter().collect()
}

fn entry(item: &Value, loc: Vec<Loc>, p: &mut Problems) -> Option<CalendarEntry> {
    let obj = p.object(item, loc.clone())?;
    p.unknown_keys(obj, &["date", "closed", "hours", "name", "regions"], &loc);
    let date = p.field(obj, "date", &loc, true).and_then(|v| {
        let text = p.string(v, at(&loc, "date"), 1, 10)?;
        let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok().filter(|_| text.len() == 10);
        if date.is_none() {
            p.push(at(&loc, "date"), "value_error", format!("Value error, '{text}' is not a date (YYYY-MM-DD)"));
        }
        date
    });
    let closed = p.field(obj, "closed", &loc, false).and_then(|v| p.boolean(v, at(&loc, "closed")));
    let hours = p.field(obj, "hours", &loc, false).and_then(|v| hours(v, at(&loc, "hours"), p));
    let rule = match (closed, hours) {
        (Some(true), None) => Some(DayRule::Closed),
        (None, Some(rule)) => Some(rule),
        (Some(false), None) => {
            p.push(at(&loc, "closed"), "value_error", "Value error, closed must be true (or give hours instead)");
            None
        }
        (Some(_), Some(_)) => {
            p.push(loc.clone(), "value_error", "Value error, give either closed or hours, not both");
            None
        }
        (None, None) if obj.get("hours").is_none_or(Value::is_null) => {
            p.push(loc.clone(), "value_error", "Value error, an entry needs closed: true or hours");
            None
        }
        (None, None) => None,
    };
    let name = p.field(obj, "name", &loc, false).and_then(|v| p.string(v, at(&loc, "name"), 1, 200));
    let regions = match p.field(obj, "regions", &loc, false) {
        None => Some(Vec::new()),
        Some(v) => regions(v, at(&loc, "regions"), p),
    };
    Some(CalendarEntry { date: date?, rule: rule?, name, regions: regions? })
}

fn hours(value: &Value, loc: Vec<Loc>, p: &mut Problems) -> Option<DayRule> {
    let obj = p.object(value, loc.clone())?;
    p.unknown_keys(obj, &["start", "end"], &loc);
    let mut minute = |key: &str, midnight: bool| {
        let value = p.field(obj, key, &loc, true)?;
        let text = p.string(value, at(&loc, key), 1, 5)?;
        let m = DayMinute::parse(&text, midnight);
        if m.is_none() {
            p.push(at(&loc, key), "value_error", format!("Value error, '{text}' is not a time (HH:MM, 24 h)"));
        }
        m
    };
    let (start, end) = (minute("start", false), minute("end", true));
    let (start, end) = (start?, end?);
    if start >= end {
        p.push(loc, "value_error", "Value error, start must be before end (a window cannot cross midnight)");
        return None;
    }
    Some(DayRule::Hours { start, end })
}

fn regions(value: &Value, loc: Vec<Loc>, p: &mut Problems) -> Option<Vec<String>> {
    let items = p.array(value, loc.clone(), 0, MAX_REGIONS)?;
    let before = p.0.len();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(code) = p.string(item, at(&loc, i), 1, 6) else { continue };
        if is_region_code(&code) {
            out.push(code);
        } else {
            p.push(
                at(&loc, i),
                "value_error",
                format!("Value error, '{code}' is not an ISO 3166-2 region code (e.g. 'US-LA')"),
            );
        }
    }
    (p.0.len() == before).then_some(out)
}

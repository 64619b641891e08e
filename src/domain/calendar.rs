//! Calendars (API.md §12.2): dates that close a day's calling window, or replace it, for every
//! recipient or for those of some regions. A campaign's calendars all apply: the strictest wins.

use super::ids::{CalendarId, OrgId};
use super::working_hours::DayMinute;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What an entry does to its date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayRule {
    /// No call that day.
    Closed,
    /// That day's window is `[start, end)`, whatever the working hours say.
    Hours { start: DayMinute, end: DayMinute },
}

/// One dated entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarEntry {
    pub date: NaiveDate,
    pub rule: DayRule,
    pub name: Option<String>,
    /// The regions (ISO 3166-2) whose recipients it concerns; empty for every recipient.
    pub regions: Vec<String>,
}

/// A stored calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub id: CalendarId,
    pub organization_id: OrgId,
    pub name: String,
    pub entries: Vec<CalendarEntry>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An entry as the API writes it, and as it is stored.
#[derive(Serialize, Deserialize)]
struct WireEntry {
    date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hours: Option<WireHours>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    regions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct WireHours {
    start: String,
    end: String,
}

impl Serialize for CalendarEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let minute = |m: DayMinute| format!("{:02}:{:02}", m.minutes() / 60, m.minutes() % 60);
        let (closed, hours) = match self.rule {
            DayRule::Closed => (Some(true), None),
            DayRule::Hours { start, end } => (None, Some(WireHours { start: minute(start), end: minute(end) })),
        };
        let wire = WireEntry {
            date: self.date.format("%Y-%m-%d").to_string(),
            closed,
            hours,
            name: self.name.clone(),
            regions: self.regions.clone(),
        };
        wire.serialize(s)
    }
}

impl CalendarEntry {
    /// The entries of stored JSON text (as `Serialize` wrote it); `None` when it is not.
    pub fn list_from_stored(text: &str) -> Option<Vec<Self>> {
        let wire: Vec<WireEntry> = serde_json::from_str(text).ok()?;
        wire.into_iter()
            .map(|w| {
                let rule = match (w.closed, w.hours) {
                    (Some(true), None) => DayRule::Closed,
                    (None, Some(h)) => DayRule::Hours {
                        start: DayMinute::parse(&h.start, false)?,
                        end: DayMinute::parse(&h.end, true)?,
                    },
                    _ => return None,
                };
                Some(Self { date: w.date.parse().ok()?, rule, name: w.name, regions: w.regions })
            })
            .collect()
    }
}

/// The entries of a campaign's calendars, by date, with the calendars' ids.
#[derive(Clone, Debug, Default)]
pub struct Calendars {
    ids: Vec<CalendarId>,
    by_date: HashMap<NaiveDate, Vec<(DayRule, Vec<String>)>>,
}

impl Calendars {
    pub fn new(calendars: &[Calendar]) -> Self {
        let mut by_date: HashMap<NaiveDate, Vec<(DayRule, Vec<String>)>> = HashMap::new();
        for entry in calendars.iter().flat_map(|c| &c.entries) {
            by_date.entry(entry.date).or_default().push((entry.rule, entry.regions.clone()));
        }
        Self { ids: calendars.iter().map(|c| c.id).collect(), by_date }
    }

    pub fn is_empty(&self) -> bool {
        self.by_date.is_empty()
    }

    /// Whether some entry concerns only some regions' recipients.
    pub fn has_regional(&self) -> bool {
        self.by_date.values().flatten().any(|(_, regions)| !regions.is_empty())
    }

    /// The calendars' ids.
    pub fn ids(&self) -> &[CalendarId] {
        &self.ids
    }

    /// The window of local `date`, in minutes, for a recipient in `region`, whose working hours give
    /// `base` (`None`: closed): closed when an entry closes it, else the intersection of the entries'
    /// hours when some replace it (even on a day the working hours leave closed), else `base`.
    pub fn window(&self, date: NaiveDate, region: Option<&str>, base: Option<(u16, u16)>) -> Option<(u16, u16)> {
        let Some(entries) = self.by_date.get(&date) else { return base };
        let applies =
            |regions: &Vec<String>| regions.is_empty() || region.is_some_and(|r| regions.iter().any(|x| x == r));
        let mut replaced: Option<(u16, u16)> = None;
        let mut any = false;
        for (rule, _) in entries.iter().filter(|(_, regions)| applies(regions)) {
            match rule {
                DayRule::Closed => return None,
                DayRule::Hours { start, end } => {
                    let (s, e) = (start.minutes(), end.minutes());
                    replaced = Some(replaced.map_or((s, e), |(a, b)| (a.max(s), b.min(e))));
                    any = true;
                }
            }
        }
        if any { replaced.filter(|(a, b)| a < b) } else { base }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(date: &str, rule: DayRule, regions: &[&str]) -> CalendarEntry {
        let regions = regions.iter().map(|r| (*r).to_owned()).collect();
        CalendarEntry { date: date.parse().unwrap(), rule, name: None, regions }
    }

    fn hours(start: &str, end: &str) -> DayRule {
        DayRule::Hours { start: DayMinute::parse(start, false).unwrap(), end: DayMinute::parse(end, true).unwrap() }
    }

    fn calendar(entries: Vec<CalendarEntry>) -> Calendar {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        Calendar {
            id: CalendarId::generate(),
            organization_id: OrgId::generate(),
            name: "c".into(),
            entries,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn the_strictest_entry_wins_for_the_recipients_it_concerns() {
        let holidays = calendar(vec![
            entry("2026-12-25", DayRule::Closed, &[]),
            entry("2026-12-24", hours("09:00", "13:00"), &[]),
            entry("2026-03-03", DayRule::Closed, &["US-LA"]),
        ]);
        let short = calendar(vec![entry("2026-12-24", hours("10:00", "15:00"), &[])]);
        let both = Calendars::new(&[holidays, short]);
        let day = |d: &str, region| both.window(d.parse().unwrap(), region, Some((540, 1080)));
        assert_eq!(day("2026-12-25", None), None);
        assert_eq!(day("2026-12-24", None), Some((600, 780)), "both replace the day: their intersection");
        assert_eq!(day("2026-03-03", Some("US-LA")), None, "Mardi Gras in Louisiana only");
        assert_eq!(day("2026-03-03", Some("US-TX")), Some((540, 1080)));
        assert_eq!(day("2026-03-03", None), Some((540, 1080)));
        // Hours open a day the working hours leave closed.
        assert_eq!(both.window("2026-12-24".parse().unwrap(), None, None), Some((600, 780)));
    }

    #[test]
    fn entries_read_back_from_what_they_write() {
        let entries = vec![
            entry("2026-12-25", DayRule::Closed, &[]),
            entry("2026-12-24", hours("09:00", "24:00"), &["US-LA", "US-TX"]),
        ];
        let text = serde_json::to_string(&entries).unwrap();
        assert_eq!(
            text,
            r#"[{"date":"2026-12-25","closed":true,"name":null,"regions":[]},{"date":"2026-12-24","hours":{"start":"09:00","end":"24:00"},"name":null,"regions":["US-LA","US-TX"]}]"#
        );
        assert_eq!(CalendarEntry::list_from_stored(&text), Some(entries));
    }
}

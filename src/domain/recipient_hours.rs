//! When a contact may be called in the recipient basis (API.md §12.1): the campaign's working hours
//! (when enforced), narrowed to the legal floor, read in each of the contact's candidate zones; a call
//! may start only where every zone is open. Offsets are looked up at every decision, and gaps and
//! folds follow `WorkingHours` in each zone.

use super::calendar::Calendars;
use super::working_hours::{DayWindows, WorkingHours, is_open_on, next_open_on};
use super::zone_key::ZoneKey;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::sync::Arc;

/// How far ahead an opening is looked for before a key is taken as never open.
const HORIZON_DAYS: i64 = 366;

/// The recipient-basis rule of one campaign.
#[derive(Clone, Debug)]
pub struct RecipientHours {
    /// The campaign's working hours, when enforced.
    hours: Option<WorkingHours>,
    calendars: Arc<Calendars>,
}

/// One zone's windows by local date for a recipient: the working hours (every hour when `None`),
/// the calendars' entries for the recipient's region, then the legal floor.
pub struct ZoneDays<'a> {
    pub hours: Option<&'a WorkingHours>,
    pub calendars: &'a Calendars,
    pub region: Option<&'a str>,
    pub floor: Option<(u16, u16)>,
}

impl DayWindows for ZoneDays<'_> {
    fn window(&self, date: NaiveDate) -> Option<(u16, u16)> {
        let base = match self.hours {
            None => Some((0, 1440)),
            Some(h) => h.window(date),
        };
        let (start, end) = self.calendars.window(date, self.region, base)?;
        match self.floor {
            None => Some((start, end)),
            Some((a, b)) => Some((start.max(a), end.min(b))).filter(|(s, e)| s < e),
        }
    }
}

impl ZoneDays<'_> {
    /// Whether nothing limits these windows (every instant is open).
    fn unlimited(&self) -> bool {
        self.hours.is_none() && self.floor.is_none() && self.calendars.is_empty()
    }

    /// Local dates looked ahead for an opening: a week and a day, or a year with calendars.
    fn days(&self) -> u64 {
        if self.calendars.is_empty() { 8 } else { 370 }
    }

    pub fn is_open(&self, tz: chrono_tz::Tz, at: DateTime<Utc>) -> bool {
        self.unlimited() || is_open_on(self, tz, at)
    }

    pub fn next_open(&self, tz: chrono_tz::Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.unlimited() { Some(at) } else { next_open_on(self, tz, at, self.days()) }
    }
}

impl RecipientHours {
    pub fn new(hours: &WorkingHours, enforced: bool, calendars: Arc<Calendars>) -> Self {
        Self { hours: enforced.then_some(*hours), calendars }
    }

    /// The windows of each zone of a recipient of `key`.
    fn days<'a>(&'a self, key: &'a ZoneKey) -> ZoneDays<'a> {
        ZoneDays {
            hours: self.hours.as_ref(),
            calendars: &self.calendars,
            region: key.region.as_deref(),
            floor: key.floor.minutes(),
        }
    }

    /// Whether a call to a contact of `key` may start at `at`: every zone inside its window.
    pub fn is_open(&self, key: &ZoneKey, at: DateTime<Utc>) -> bool {
        let days = self.days(key);
        key.zones.iter().all(|z| days.is_open(z.tz(), at))
    }

    /// The first instant at or after `at` when every zone of `key` is inside its window; `None` when
    /// they share no open instant within a year.
    pub fn next_open(&self, key: &ZoneKey, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let days = self.days(key);
        let horizon = at + Duration::days(HORIZON_DAYS);
        let mut t = at;
        // Each round moves to the latest of the zones' next openings; when none moves, all are open.
        while t <= horizon {
            let mut latest = t;
            for zone in &key.zones {
                latest = latest.max(days.next_open(zone.tz(), t)?);
            }
            if latest == t {
                return Some(t);
            }
            t = latest;
        }
        None
    }

    /// The calendars the rule applies.
    pub fn calendars(&self) -> &Calendars {
        &self.calendars
    }

    /// The same rule without calendars (to tell a holiday from hours that are closed anyway).
    pub fn without_calendars(&self) -> Self {
        Self { hours: self.hours, calendars: Arc::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::super::recipient::resolve;
    use super::super::timezone::Timezone;
    use super::super::working_hours::DayMinute;
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn key(region: Option<&str>, phone: &str) -> ZoneKey {
        ZoneKey::of(&resolve(None, region, phone), region, phone, Timezone::utc())
    }

    fn nine_to_nine() -> WorkingHours {
        let at = |t| DayMinute::parse(t, true).unwrap();
        WorkingHours::every_day(at("07:00"), at("22:00"))
    }

    #[test]
    fn the_legal_floor_narrows_the_working_hours_in_the_recipients_zone() {
        let rule = RecipientHours::new(&nine_to_nine(), true, Arc::default());
        let la = key(None, "+13105550100");
        assert_eq!(la.text(), "na|US-CA|America/Los_Angeles");
        // 07:30 in Los Angeles (PDT, -7): inside the hours, before the floor's 08:00.
        assert!(!rule.is_open(&la, utc("2026-05-11T14:30:00Z")));
        assert_eq!(rule.next_open(&la, utc("2026-05-11T14:30:00Z")), Some(utc("2026-05-11T15:00:00Z")));
        // Florida stops at 20:00 (a Miami number, EDT -4); New York at 21:00.
        let miami = key(None, "+13055550100");
        let ny = key(None, "+12125550100");
        assert!(!rule.is_open(&miami, utc("2026-05-12T00:30:00Z")));
        assert!(rule.is_open(&ny, utc("2026-05-12T00:30:00Z")));
        // No rule outside the US, Canada and India: the working hours alone.
        let paris = key(None, "+33612345678");
        assert!(rule.is_open(&paris, utc("2026-05-11T05:30:00Z")));
        let off = RecipientHours::new(&nine_to_nine(), false, Arc::default());
        assert!(off.is_open(&paris, utc("2026-05-11T02:00:00Z")));
        assert!(!off.is_open(&la, utc("2026-05-11T14:30:00Z")));
    }

    #[test]
    fn several_zones_open_only_together() {
        let rule = RecipientHours::new(&nine_to_nine(), true, Arc::default());
        // Florida's region spans Chicago's and New York's time: 08:00 is 08:00 in Chicago.
        let florida = key(Some("US-FL"), "+13055550100");
        assert_eq!(florida.zone_names(), ["America/Chicago", "America/New_York"]);
        assert_eq!(rule.next_open(&florida, utc("2026-05-11T11:00:00Z")), Some(utc("2026-05-11T13:00:00Z")));
        // and closes at 20:00 in New York.
        assert!(!rule.is_open(&florida, utc("2026-05-12T00:00:00Z")));
        // Zones that never share an open instant never open.
        let apart = ZoneKey::parse("-||Asia/Tokyo America/New_York").unwrap();
        let short = WorkingHours::every_day(
            DayMinute::parse("09:00", false).unwrap(),
            DayMinute::parse("10:00", false).unwrap(),
        );
        assert_eq!(
            RecipientHours::new(&short, true, Arc::default()).next_open(&apart, utc("2026-05-11T00:00:00Z")),
            None
        );
    }
}

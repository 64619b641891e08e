//! Properties of the recipient-basis rule over random zone sets, legal floors, working hours and
//! calendars, at instants around DST changes: `next_open` answers an open instant, no instant before it
//! is open, and a key is open only when each of its zones is.

use super::calendar::{Calendar, CalendarEntry, Calendars, DayRule};
use super::ids::{CalendarId, OrgId};
use super::recipient::Floor;
use super::recipient_hours::{RecipientHours, ZoneDays};
use super::timezone::Timezone;
use super::working_hours::{DayHours, DayMinute, WorkingHours};
use super::zone_key::ZoneKey;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::sync::Arc;

/// Zones with DST in either hemisphere, half-hour and 45-minute offsets, and none at all.
const ZONES: [&str; 9] = [
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Phoenix",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
    "Pacific/Chatham",
];

/// DST changes of 2026 the instants are placed around.
const CHANGES: [&str; 6] = [
    "2026-03-08T07:00:00Z",
    "2026-03-29T01:00:00Z",
    "2026-04-04T15:00:00Z",
    "2026-09-05T04:00:00Z",
    "2026-10-25T01:00:00Z",
    "2026-11-01T06:00:00Z",
];

fn minute(m: u16) -> DayMinute {
    DayMinute::from_minutes(m).expect("a minute of the day")
}

fn window() -> impl Strategy<Value = (u16, u16)> {
    (0u16..96, 1u16..=48).prop_map(|(start, len)| (start * 15, (start * 15 + len * 15).min(1440)))
}

fn hours() -> impl Strategy<Value = WorkingHours> {
    prop::collection::vec((window(), prop::bool::weighted(0.8)), 7).prop_map(|days| {
        let mut hours = WorkingHours::default();
        for (slot, ((start, end), enabled)) in hours.days.iter_mut().zip(days) {
            *slot = DayHours { start: minute(start), end: minute(end), enabled };
        }
        hours
    })
}

fn key() -> impl Strategy<Value = ZoneKey> {
    let floors = prop::sample::select(vec![Floor::None, Floor::NorthAmerica, Floor::UntilEight, Floor::India]);
    (prop::sample::subsequence(ZONES.to_vec(), 1..=3), floors, any::<bool>()).prop_map(|(zones, floor, louisiana)| {
        let zones = zones.iter().filter_map(|z| Timezone::parse(z)).collect();
        ZoneKey { zones, region: louisiana.then(|| "US-LA".to_owned()), floor }
    })
}

/// Up to four entries on the days around `at`.
fn calendars(at: DateTime<Utc>) -> impl Strategy<Value = Calendars> {
    let entry = (-2i64..=3, prop::option::of(window()), any::<bool>()).prop_map(move |(day, hours, regional)| {
        let rule = match hours {
            Some((start, end)) if start < end => DayRule::Hours { start: minute(start), end: minute(end) },
            _ => DayRule::Closed,
        };
        let regions = if regional { vec!["US-LA".to_owned()] } else { Vec::new() };
        CalendarEntry { date: (at + Duration::days(day)).date_naive(), rule, name: None, regions }
    });
    prop::collection::vec(entry, 0..=4).prop_map(move |entries| {
        let calendar = Calendar {
            id: CalendarId::generate(),
            organization_id: OrgId::generate(),
            name: "random".into(),
            entries,
            created_at: at,
            updated_at: at,
        };
        Calendars::new(&[calendar])
    })
}

fn scenario() -> impl Strategy<Value = (RecipientHours, ZoneKey, DateTime<Utc>, Arc<Calendars>, WorkingHours, bool)> {
    (prop::sample::select(CHANGES.to_vec()), -2 * 86_400i64..2 * 86_400)
        .prop_map(|(change, offset)| DateTime::parse_from_rfc3339(change).unwrap().to_utc() + Duration::seconds(offset))
        .prop_flat_map(|at| (hours(), any::<bool>(), key(), calendars(at), Just(at)))
        .prop_map(|(hours, enforced, key, calendars, at)| {
            let calendars = Arc::new(calendars);
            (RecipientHours::new(&hours, enforced, calendars.clone()), key, at, calendars, hours, enforced)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_next_opening_is_open_and_nothing_before_it_is((rule, key, at, _, _, _) in scenario()) {
        let Some(opens) = rule.next_open(&key, at) else { return Ok(()) };
        prop_assert!(opens >= at);
        prop_assert!(rule.is_open(&key, opens), "{opens} is not open");
        if opens == at || opens - at > Duration::days(9) {
            return Ok(());
        }
        // Boundaries fall on whole minutes (wall times and tz transitions alike).
        let mut t = at + Duration::seconds((60 - at.timestamp().rem_euclid(60)) % 60);
        prop_assert!(!rule.is_open(&key, at));
        while t < opens {
            prop_assert!(!rule.is_open(&key, t), "{t} is open, before {opens}");
            t += Duration::minutes(1);
        }
    }

    #[test]
    fn a_key_is_open_only_where_each_of_its_zones_is((rule, key, at, calendars, hours, enforced) in scenario()) {
        let days = ZoneDays {
            hours: enforced.then_some(&hours),
            calendars: &calendars,
            region: key.region.as_deref(),
            floor: key.floor.minutes(),
        };
        let each = key.zones.iter().all(|z| days.is_open(z.tz(), at));
        prop_assert_eq!(rule.is_open(&key, at), each);
    }
}

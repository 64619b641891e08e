//! Property tests of the parsers that take client text: phone numbers, working hours and timestamps.
//! Whatever the text, they answer (never panic), and what they accept means what it says.

use super::phone::PhoneNumber;
use super::time::{parse_instant, parse_start};
use super::working_hours::DayHours;
use crate::domain::time::StartAt;
use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

/// Text near the shapes the parsers expect, and anything else.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[+0-9 :T.Z-]{0,40}",
        "\\+[0-9]{0,20}",
        "[0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,12})?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
    ]
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn phone_numbers_accepted_are_strict_e164(text in hostile_text()) {
        if let Ok(number) = PhoneNumber::parse(&text) {
            let digits = text.strip_prefix('+').expect("a leading +");
            prop_assert!((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(number.as_str(), text.as_str());
            prop_assert_eq!(number.last_four().len(), 4);
        }
    }

    #[test]
    fn working_hours_accept_only_real_times_in_order(start in hostile_text(), end in hostile_text(), enabled: bool) {
        if DayHours::parse(&start, &end, enabled).is_ok() && enabled {
            let minutes = |t: &str| -> Option<u32> {
                let (h, m) = t.split_once(':')?;
                Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
            };
            let (s, e) = (minutes(&start), minutes(&end));
            prop_assert!(s.is_some() && e.is_some(), "{start:?} {end:?}");
            prop_assert!(s < e && e <= Some(24 * 60), "{start:?} {end:?}");
        }
    }

    #[test]
    fn timestamps_parse_or_are_refused_and_offsets_are_kept(text in hostile_text()) {
        let _ = parse_start(&text);
        if let Some(at) = parse_instant(&text) {
            prop_assert_eq!(Some(StartAt::Instant(at)), parse_start(&text), "an instant parses the same both ways");
        }
    }

    #[test]
    fn any_instant_round_trips_through_its_rfc3339_text(
        seconds in -2_000_000_000i64..8_000_000_000,
        micros in 0u32..1_000_000,
        offset_minutes in -(14 * 60)..=(14 * 60),
        naive: bool,
    ) {
        let at = Utc.timestamp_opt(seconds, micros * 1000).unwrap();
        let zone = FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let text = at.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Micros, false);
        if naive {
            let wall: NaiveDateTime = at.with_timezone(&zone).naive_local();
            let local = &text[..text.len() - 6];
            prop_assert_eq!(parse_start(local), Some(StartAt::Local(wall)));
            prop_assert_eq!(parse_instant(local), None, "no offset, no instant");
        } else {
            prop_assert_eq!(parse_instant(&text), Some(at));
            prop_assert_eq!(*DateTime::parse_from_rfc3339(&text).unwrap().offset(), zone);
        }
    }
}

//! Fixed DST cases: the transition table the properties rely on, and Lord Howe's 30-minute and
//! Chatham's 02:45 gaps and folds, checked instant by instant.

use super::{HOUR, MINUTE, offset_secs, seconds, transitions, utc, zones};
use crate::domain::time::resolve_local;
use crate::domain::working_hours::{DayHours, WorkingHours};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

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

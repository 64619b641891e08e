//! The time zones a phone number is likely in, from its prefix: libphonenumber's prefix-to-zone data
//! (`data/libphonenumber/timezones.txt`, Apache-2.0), longest prefix first. A prefix that spans
//! several zones keeps them all (an Idaho `208` number may be in Boise's or Los Angeles' time).

use super::timezone::Timezone;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The data file, as libphonenumber publishes it: `prefix|Zone&Zone…` per line, `#` comments.
const DATA: &str = include_str!("../../data/libphonenumber/timezones.txt");

/// Prefix (country code and leading digits) → its zones, and the longest prefix's length.
struct PrefixZones {
    zones: HashMap<&'static str, Vec<Timezone>>,
    longest: usize,
}

static MAP: LazyLock<PrefixZones> = LazyLock::new(|| parse(DATA));

fn parse(data: &'static str) -> PrefixZones {
    let mut zones = HashMap::new();
    let mut longest = 0;
    for line in data.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some((prefix, names)) = line.split_once('|') else { continue };
        // A zone the compiled tz database lacks is left out rather than guessed.
        let mut list: Vec<Timezone> = Vec::new();
        for zone in names.split('&').filter_map(Timezone::parse).map(Timezone::canonical) {
            if !list.contains(&zone) {
                list.push(zone);
            }
        }
        if !list.is_empty() {
            longest = longest.max(prefix.len());
            zones.insert(prefix, list);
        }
    }
    PrefixZones { zones, longest }
}

/// The zones of an E.164 number (`+` and digits), by its longest known prefix; `None` when no
/// prefix of it is known (the caller falls back to the next source).
pub fn zones_of(e164: &str) -> Option<&'static [Timezone]> {
    let digits = e164.strip_prefix('+').unwrap_or(e164);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let map = &*MAP;
    let n = (1..=digits.len().min(map.longest)).rev().find(|n| map.zones.contains_key(&digits[..*n]))?;
    let zones = map.zones.get(&digits[..n])?;
    // Only the country's own line: in a country of several zones the number shows none of them (a
    // toll-free or other non-geographic number), so it does not answer.
    let country_only = (1..n).all(|m| !map.zones.contains_key(&digits[..m]));
    (!(country_only && zones.len() > 1)).then_some(zones.as_slice())
}

/// Every known prefix with its zones.
pub fn prefixes() -> impl Iterator<Item = (&'static str, &'static [Timezone])> {
    MAP.zones.iter().map(|(prefix, zones)| (*prefix, zones.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(e164: &str) -> Vec<&'static str> {
        zones_of(e164).unwrap_or_default().iter().map(Timezone::name).collect()
    }

    #[test]
    fn every_zone_of_the_data_is_in_the_compiled_tz_database() {
        let unknown: Vec<&str> = DATA
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains('|'))
            .flat_map(|l| l.split_once('|').map_or("", |(_, z)| z).split('&'))
            .filter(|z| Timezone::parse(z).is_none())
            .collect();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert!(MAP.zones.len() > 3000, "{} prefixes", MAP.zones.len());
    }

    #[test]
    fn the_longest_known_prefix_decides() {
        // Phoenix keeps standard time all year; St. John's is 3 h 30 min behind UTC.
        assert_eq!(names("+16025550100"), ["America/Phoenix"]);
        assert!(names("+17095550100").contains(&"America/St_Johns"));
        assert_eq!(names("+12125550100"), ["America/New_York"]);
        assert_eq!(names("+919876543210"), ["Asia/Kolkata"]);
        assert_eq!(names("+33612345678"), ["Europe/Paris"]);
        // Part of Indiana's 219 keeps Chicago's time: a longer prefix overrides the area code.
        assert_eq!(names("+12192265555"), ["America/Chicago"]);
        assert_eq!(names("+12195550100"), ["America/New_York"]);
    }

    #[test]
    fn a_number_only_its_countrys_line_knows_shows_no_zone_of_a_country_of_several() {
        // Toll-free: the NANP's own line lists every zone from Guam to St. John's.
        assert_eq!(zones_of("+18005550100"), None);
        // A country of one zone still answers with it; Australian mobiles with Sydney's.
        assert_eq!(names("+33612345678"), ["Europe/Paris"]);
        assert_eq!(names("+61412345678"), ["Australia/Sydney"]);
    }

    #[test]
    fn a_prefix_spanning_two_zones_keeps_both() {
        assert_eq!(names("+12082005555"), ["America/Boise", "America/Los_Angeles"]);
        assert_eq!(names("+12082015555"), ["America/Denver"]);
    }

    #[test]
    fn unknown_or_malformed_numbers_have_no_zones() {
        for n in ["", "+", "+abc", "12 12", "+0123"] {
            assert_eq!(zones_of(n), None, "{n:?}");
        }
    }
}

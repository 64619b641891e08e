//! Regions (ISO 3166-2 subdivisions) of the US and Canada as a phone number shows them: the state or
//! province of its area code, from libphonenumber's geocoding data
//! (`data/libphonenumber/nanp_areas.txt`, Apache-2.0), and the zones a region's numbers are in.

use super::phone_zones;
use super::timezone::Timezone;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// `1NPA|Name` per area code, as libphonenumber's English geocoding names it.
const DATA: &str = include_str!("../../data/libphonenumber/nanp_areas.txt");

/// The subdivision codes of the names the data uses (a state, a province, a territory; a city's
/// name ends with its state's or province's abbreviation instead).
const NAMES: &[(&str, &str)] = &[
    ("Alabama", "US-AL"),
    ("Alaska", "US-AK"),
    ("Arizona", "US-AZ"),
    ("Arkansas", "US-AR"),
    ("California", "US-CA"),
    ("Colorado", "US-CO"),
    ("Connecticut", "US-CT"),
    ("Delaware", "US-DE"),
    ("Florida", "US-FL"),
    ("Georgia", "US-GA"),
    ("Hawaii", "US-HI"),
    ("Idaho", "US-ID"),
    ("Illinois", "US-IL"),
    ("Indiana", "US-IN"),
    ("Iowa", "US-IA"),
    ("Kansas", "US-KS"),
    ("Kentucky", "US-KY"),
    ("Louisiana", "US-LA"),
    ("Maine", "US-ME"),
    ("Maryland", "US-MD"),
    ("Massachusetts", "US-MA"),
    ("Michigan", "US-MI"),
    ("Minnesota", "US-MN"),
    ("Mississippi", "US-MS"),
    ("Missouri", "US-MO"),
    ("Montana", "US-MT"),
    ("Nebraska", "US-NE"),
    ("Nevada", "US-NV"),
    ("New Hampshire", "US-NH"),
    ("New Jersey", "US-NJ"),
    ("New Mexico", "US-NM"),
    ("New York", "US-NY"),
    ("North Carolina", "US-NC"),
    ("North Dakota", "US-ND"),
    ("Ohio", "US-OH"),
    ("Oklahoma", "US-OK"),
    ("Oregon", "US-OR"),
    ("Pennsylvania", "US-PA"),
    ("Rhode Island", "US-RI"),
    ("South Carolina", "US-SC"),
    ("South Dakota", "US-SD"),
    ("Tennessee", "US-TN"),
    ("Texas", "US-TX"),
    ("Utah", "US-UT"),
    ("Vermont", "US-VT"),
    ("Virginia", "US-VA"),
    ("Washington State", "US-WA"),
    ("Washington D.C.", "US-DC"),
    ("West Virginia", "US-WV"),
    ("Wisconsin", "US-WI"),
    ("Wyoming", "US-WY"),
    ("Alberta", "CA-AB"),
    ("British Columbia", "CA-BC"),
    ("British Colombia", "CA-BC"),
    ("Manitoba", "CA-MB"),
    ("New Brunswick", "CA-NB"),
    ("Newfoundland and Labrador", "CA-NL"),
    ("Nova Scotia", "CA-NS"),
    ("Prince Edward Island", "CA-PE"),
    ("Ontario", "CA-ON"),
    ("Quebec", "CA-QC"),
    ("Saskatchewan", "CA-SK"),
    ("Northwest Territories", "CA-NT"),
    ("Nunavut", "CA-NU"),
    ("Yukon", "CA-YT"),
];

/// Canadian provinces among the cities' abbreviations (any other two letters are a US state).
const PROVINCES: &[&str] = &["AB", "BC", "MB", "NB", "NL", "NS", "PE", "ON", "QC", "SK", "NT", "NU", "YT"];

struct Areas {
    /// Area code (`1NPA`) → the regions it serves (several where one code serves several).
    regions: HashMap<&'static str, Vec<String>>,
}

static AREAS: LazyLock<Areas> = LazyLock::new(|| {
    let mut regions = HashMap::new();
    for line in DATA.lines().filter(|l| !l.starts_with('#')) {
        let Some((area, name)) = line.split_once('|') else { continue };
        let codes: Vec<String> = name.split('/').filter_map(code_of).collect();
        if !codes.is_empty() {
            regions.insert(area, codes);
        }
    }
    Areas { regions }
});

/// The subdivision code of a state's, province's or city's name (`Chicago, IL` → `US-IL`).
fn code_of(name: &str) -> Option<String> {
    if let Some((_, abbreviation)) = name.rsplit_once(", ") {
        let country = if PROVINCES.contains(&abbreviation) { "CA" } else { "US" };
        return Some(format!("{country}-{abbreviation}"));
    }
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, code)| (*code).to_owned())
}

/// The region of a US or Canadian number (E.164), where its area code serves exactly one.
pub fn region_of(e164: &str) -> Option<&'static str> {
    let digits = e164.strip_prefix('+')?;
    match AREAS.regions.get(digits.get(..4)?)?.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    }
}

/// Region → the zones its area codes' numbers are in, computed once.
static REGION_ZONES: LazyLock<HashMap<String, Vec<Timezone>>> = LazyLock::new(|| {
    let mut names: HashMap<String, BTreeSet<&'static str>> = HashMap::new();
    for (prefix, zones) in phone_zones::prefixes() {
        let Some(codes) = prefix.get(..4).and_then(|area| AREAS.regions.get(area)) else { continue };
        for code in codes {
            names.entry(code.clone()).or_default().extend(zones.iter().map(Timezone::name));
        }
    }
    names.into_iter().map(|(code, zones)| (code, zones.into_iter().filter_map(Timezone::parse).collect())).collect()
});

/// Whether a number's area code is one of the US's or Canada's (whether or not it shows one region).
pub fn in_us_or_canada(e164: &str) -> bool {
    e164.strip_prefix('+').and_then(|d| d.get(..4)).is_some_and(|area| AREAS.regions.contains_key(area))
}

/// The zones the numbers of a region's area codes are in (every one of them); `None` for a region
/// no area code serves.
pub fn zones_of_region(region: &str) -> Option<Vec<Timezone>> {
    REGION_ZONES.get(region).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_code_has_its_region() {
        let unnamed: Vec<&str> = DATA
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains('|'))
            .filter(|l| l.split_once('|').is_none_or(|(_, n)| n.split('/').any(|p| code_of(p).is_none())))
            .collect();
        assert!(unnamed.is_empty(), "{unnamed:?}");
    }

    #[test]
    fn an_area_code_gives_its_state_or_province() {
        assert_eq!(region_of("+13055550100"), Some("US-FL"));
        assert_eq!(region_of("+13125550100"), Some("US-IL"));
        assert_eq!(region_of("+14165550100"), Some("CA-ON"));
        assert_eq!(region_of("+12025550100"), Some("US-DC"));
        assert_eq!(region_of("+14055550100"), Some("US-OK"));
        // Area codes whose lines are all longer prefixes.
        assert_eq!(region_of("+13105550100"), Some("US-CA"));
        assert_eq!(region_of("+17185550100"), Some("US-NY"));
        assert_eq!(region_of("+19055550100"), Some("CA-ON"));
        // One code for Nova Scotia and Prince Edward Island: the region is not known.
        assert_eq!(region_of("+19025550100"), None);
        assert_eq!(region_of("+919876543210"), None);
    }

    #[test]
    fn a_region_spanning_zones_gives_them_all() {
        let names = |r| zones_of_region(r).unwrap().iter().map(Timezone::name).collect::<Vec<_>>();
        // The Florida panhandle keeps Chicago's time.
        assert_eq!(names("US-FL"), ["America/Chicago", "America/New_York"]);
        // Arizona keeps standard time all year, but the Navajo Nation's exchanges keep Denver's.
        assert_eq!(names("US-AZ"), ["America/Denver", "America/Phoenix"]);
        assert!(names("US-TX").contains(&"America/Denver"), "{:?}", names("US-TX"));
        assert_eq!(zones_of_region("US-XX"), None);
    }
}

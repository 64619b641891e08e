//! IANA time zones, validated by name against the tz database compiled into chrono-tz.

use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::LazyLock;

/// A valid IANA zone name, as given by the client (e.g. `Asia/Kolkata`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Timezone(Tz);

impl Timezone {
    /// Parses an IANA zone name (case-sensitive, as the tz database spells it).
    pub fn parse(name: &str) -> Option<Self> {
        name.parse::<Tz>().ok().filter(|tz| tz.name() == name).map(Self)
    }

    /// UTC, the default.
    pub fn utc() -> Self {
        Self(Tz::UTC)
    }

    /// The zone's canonical name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The chrono-tz zone, for local-time arithmetic.
    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The zone a link of the tz database names (`Asia/Calcutta` → `Asia/Kolkata`, `US/Eastern` →
    /// `America/New_York`): the canonical IANA name; a zone that is no link as it is.
    pub fn canonical(self) -> Self {
        LINKS.get(self.name()).copied().unwrap_or(self)
    }
}

/// The tz database's links, alias|zone per line (`data/tzdb/links.txt`, public domain).
const LINK_DATA: &str = include_str!("../../data/tzdb/links.txt");

/// Alias → the zone it links to (a link the compiled database lacks is left out).
static LINKS: LazyLock<HashMap<&'static str, Timezone>> = LazyLock::new(|| {
    LINK_DATA
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('|'))
        .filter_map(|(alias, zone)| Some((alias, Timezone::parse(zone)?)))
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_zones_only() {
        for z in ["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Chatham", "Australia/Lord_Howe"] {
            assert_eq!(Timezone::parse(z).map(|t| t.name()), Some(z));
        }
        for z in ["", "Mars/Olympus", "asia/kolkata", "+05:30", "Asia/Kolkata ", "EST5"] {
            assert!(Timezone::parse(z).is_none(), "{z:?}");
        }
    }

    #[test]
    fn linked_zones_take_the_zone_they_link_to() {
        let canonical = |z| Timezone::parse(z).unwrap().canonical().name();
        assert_eq!(canonical("Asia/Calcutta"), "Asia/Kolkata");
        assert_eq!(canonical("Pacific/Enderbury"), "Pacific/Kanton");
        assert_eq!(canonical("America/New_York"), "America/New_York");
        assert_eq!(canonical("US/Eastern"), "America/New_York");
        for (alias, new) in LINK_DATA.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once('|')) {
            assert_eq!(Timezone::parse(new).map(|t| t.name()), Some(new));
            assert!(Timezone::parse(alias).is_some(), "{alias} is in the compiled database");
        }
    }
}

//! IANA time zones, validated by name against the tz database compiled into chrono-tz.

use chrono_tz::Tz;

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

    /// The zone under its current name where the tz database renamed it (`Asia/Calcutta` is now
    /// `Asia/Kolkata`); any other zone as it is.
    pub fn canonical(self) -> Self {
        RENAMED.iter().find(|(old, _)| *old == self.name()).and_then(|(_, new)| Self::parse(new)).unwrap_or(self)
    }
}

/// Zones the tz database renamed (its `backward` links that only respell a zone), old name first.
const RENAMED: [(&str, &str); 11] = [
    ("Africa/Asmera", "Africa/Asmara"),
    ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("America/Godthab", "America/Nuuk"),
    ("Asia/Calcutta", "Asia/Kolkata"),
    ("Asia/Choibalsan", "Asia/Ulaanbaatar"),
    ("Asia/Katmandu", "Asia/Kathmandu"),
    ("Asia/Rangoon", "Asia/Yangon"),
    ("Atlantic/Faeroe", "Atlantic/Faroe"),
    ("Pacific/Enderbury", "Pacific/Kanton"),
    ("Pacific/Ponape", "Pacific/Pohnpei"),
    ("Pacific/Truk", "Pacific/Chuuk"),
];

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
    fn renamed_zones_take_their_current_name() {
        let canonical = |z| Timezone::parse(z).unwrap().canonical().name();
        assert_eq!(canonical("Asia/Calcutta"), "Asia/Kolkata");
        assert_eq!(canonical("Pacific/Enderbury"), "Pacific/Kanton");
        assert_eq!(canonical("America/New_York"), "America/New_York");
        for (_, new) in RENAMED {
            assert_eq!(Timezone::parse(new).map(|t| t.name()), Some(new));
        }
    }
}

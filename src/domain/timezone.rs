//! IANA time zones, validated by name against the tz database compiled into chrono-tz.

use chrono_tz::Tz;

/// A valid IANA zone name, as given by the client (e.g. `Asia/Kolkata`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
}

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
}

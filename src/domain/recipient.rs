//! Whose clock a contact's call is judged by (API.md §12.1): its candidate zones, the first source
//! that answers (the contact's `timezone`, its `region`, its phone number, the campaign's zone), the
//! region its number shows, and the legal calling hours the recipient basis always applies
//! (rules the software applies, not legal advice).

use super::phone_zones;
use super::regions;
use super::timezone::Timezone;
use super::wire::wire_enum;

wire_enum!(
    /// Where a contact's zones came from, as the contact record names it.
    ZoneSource {
        Contact = "contact",
        Region = "region",
        PhoneNumber = "phone_number",
        Campaign = "campaign",
    }
);

/// A contact's candidate zones and where they came from, with the region its number shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zones {
    pub zones: Vec<Timezone>,
    pub source: ZoneSource,
    pub region: Option<&'static str>,
}

/// Whether `region` is a region a contact may give: an ISO 3166-2 code (below), and for the US and
/// Canada one of their states, districts, territories or provinces that an area code serves.
pub fn is_known_region(region: &str) -> bool {
    is_region_code(region)
        && (!(region.starts_with("US-") || region.starts_with("CA-")) || regions::zones_of_region(region).is_some())
}

/// Whether `region` is written as an ISO 3166-2 code: a country's two letters, `-`, then one to
/// three letters or digits (`US-FL`, `CA-QC`, `IN-MH`).
pub fn is_region_code(region: &str) -> bool {
    let Some((country, part)) = region.split_once('-') else { return false };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=3).contains(&part.len())
        && part.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The candidate zones of a contact (E.164 `phone`), in the order §12.1 gives; when nothing answers,
/// `ZoneSource::Campaign` with no zones (the campaign's zone, which the caller knows). A region whose
/// zones are not known (outside the US and Canada) does not answer, and the number is asked next.
/// Zones are named as the tz database now names them.
pub fn resolve(timezone: Option<Timezone>, region: Option<&str>, phone: &str) -> Zones {
    let derived = regions::region_of(phone);
    let (zones, source) = if let Some(tz) = timezone {
        (vec![tz.canonical()], ZoneSource::Contact)
    } else if let Some(zones) = region.and_then(regions::zones_of_region) {
        (zones, ZoneSource::Region)
    } else if let Some(zones) = phone_zones::zones_of(phone) {
        (zones.to_vec(), ZoneSource::PhoneNumber)
    } else {
        (Vec::new(), ZoneSource::Campaign)
    };
    Zones { zones, source, region: derived }
}

/// The hours a recipient may be called in their own local time whatever the campaign's working
/// hours say, in the recipient basis (rules the software applies, not legal advice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Floor {
    /// No such rule.
    None,
    /// US and Canadian numbers: 08:00–21:00.
    NorthAmerica,
    /// Florida, Oklahoma and Maryland: 08:00–20:00.
    UntilEight,
    /// Indian numbers: 09:00–21:00.
    India,
}

impl Floor {
    /// The floor of a number, given its resolved region (the contact's own, else its number's).
    pub fn of(phone: &str, region: Option<&str>) -> Self {
        match region {
            Some("US-FL" | "US-OK" | "US-MD") => return Floor::UntilEight,
            Some(r) if r.starts_with("US-") || r.starts_with("CA-") => return Floor::NorthAmerica,
            Some(r) if r.starts_with("IN-") => return Floor::India,
            _ => {}
        }
        if phone.starts_with("+91") {
            Floor::India
        } else if regions::in_us_or_canada(phone) {
            Floor::NorthAmerica
        } else {
            Floor::None
        }
    }

    /// Its window as minutes since local midnight, `[start, end)`; `None` for no rule.
    pub fn minutes(self) -> Option<(u16, u16)> {
        match self {
            Floor::None => None,
            Floor::NorthAmerica => Some((8 * 60, 21 * 60)),
            Floor::UntilEight => Some((8 * 60, 20 * 60)),
            Floor::India => Some((9 * 60, 21 * 60)),
        }
    }

    /// Its short name in a zone key.
    pub fn as_str(self) -> &'static str {
        match self {
            Floor::None => "-",
            Floor::NorthAmerica => "na",
            Floor::UntilEight => "na20",
            Floor::India => "in",
        }
    }

    /// The floor of a short name.
    pub fn parse(text: &str) -> Option<Self> {
        [Floor::None, Floor::NorthAmerica, Floor::UntilEight, Floor::India].into_iter().find(|f| f.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> Timezone {
        Timezone::parse(name).unwrap()
    }

    fn names(z: &Zones) -> Vec<&'static str> {
        z.zones.iter().map(Timezone::name).collect()
    }

    #[test]
    fn the_first_source_that_answers_gives_the_zones() {
        let own = resolve(Some(tz("America/Phoenix")), Some("US-FL"), "+13055550100");
        assert_eq!(
            (names(&own), own.source, own.region),
            (vec!["America/Phoenix"], ZoneSource::Contact, Some("US-FL"))
        );
        let by_region = resolve(None, Some("US-FL"), "+12125550100");
        assert_eq!(names(&by_region), ["America/Chicago", "America/New_York"]);
        assert_eq!((by_region.source, by_region.region), (ZoneSource::Region, Some("US-NY")));
        let by_number = resolve(None, None, "+17095550100");
        assert_eq!(by_number.source, ZoneSource::PhoneNumber);
        assert!(names(&by_number).contains(&"America/St_Johns"));
        // A region outside the US and Canada does not answer: the number does.
        let kolkata = resolve(None, Some("IN-MH"), "+919876543210");
        assert_eq!((names(&kolkata), kolkata.source), (vec!["Asia/Kolkata"], ZoneSource::PhoneNumber));
        let own_alias = resolve(Some(tz("Asia/Calcutta")), None, "+919876543210");
        assert_eq!(names(&own_alias), ["Asia/Kolkata"]);
        let unknown = resolve(None, None, "+80012345678");
        assert_eq!((names(&unknown), unknown.source), (Vec::<&str>::new(), ZoneSource::Campaign));
    }

    #[test]
    fn region_codes_are_iso_3166_2_shaped() {
        for ok in ["US-FL", "CA-QC", "IN-MH", "GB-ENG", "FR-75"] {
            assert!(is_region_code(ok), "{ok}");
        }
        for bad in ["", "US", "us-fl", "US-", "US-FLOR", "USA-FL", "US_FL", "US-fl"] {
            assert!(!is_region_code(bad), "{bad}");
        }
        assert!(is_known_region("US-FL") && is_known_region("CA-NU") && is_known_region("FR-75"));
        assert!(!is_known_region("US-ZZ") && !is_known_region("CA-XX"));
    }

    #[test]
    fn the_legal_floor_follows_the_recipient() {
        let floor = |p, r| Floor::of(p, r).minutes().map(|(a, b)| (a / 60, b / 60));
        assert_eq!(floor("+13055550100", Some("US-FL")), Some((8, 20)));
        assert_eq!(floor("+12125550100", Some("US-NY")), Some((8, 21)));
        assert_eq!(floor("+14165550100", Some("CA-ON")), Some((8, 21)));
        assert_eq!(floor("+14055550100", Some("US-OK")), Some((8, 20)));
        // One area code for Nova Scotia and Prince Edward Island: no region, but Canada's hours.
        assert_eq!(floor("+19025550100", None), Some((8, 21)));
        assert_eq!(floor("+12425550100", None), None);
        assert_eq!(floor("+919876543210", None), Some((9, 21)));
        assert_eq!(floor("+33612345678", None), None);
        assert_eq!(floor("+33612345678", Some("IN-MH")), Some((9, 21)), "the contact's own region");
        for f in [Floor::None, Floor::NorthAmerica, Floor::UntilEight, Floor::India] {
            assert_eq!(Floor::parse(f.as_str()), Some(f));
        }
    }
}

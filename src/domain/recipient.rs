//! Whose clock a contact's call is judged by (API.md §12.1): its candidate zones, the first source
//! that answers (the contact's `timezone`, its `region`, its phone number, the campaign's zone), the
//! region its number shows, and the legal calling hours the recipient basis always applies
//! (rules the software applies, not legal advice).

use super::phone_zones;
use super::regions;
use super::timezone::Timezone;
use chrono::NaiveTime;

/// Where a contact's zones came from, as the contact record names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneSource {
    Contact,
    Region,
    PhoneNumber,
    Campaign,
}

impl ZoneSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Contact => "contact",
            ZoneSource::Region => "region",
            ZoneSource::PhoneNumber => "phone_number",
            ZoneSource::Campaign => "campaign",
        }
    }
}

/// A contact's candidate zones and where they came from, with the region its number shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zones {
    pub zones: Vec<Timezone>,
    pub source: ZoneSource,
    pub region: Option<&'static str>,
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

/// The candidate zones of a contact (E.164 `phone`), in the order §12.1 gives. A region whose zones
/// are not known (outside the US and Canada) does not answer, and the number is asked next.
pub fn resolve(timezone: Option<Timezone>, region: Option<&str>, phone: &str, campaign: Timezone) -> Zones {
    let derived = regions::region_of(phone);
    let (zones, source) = if let Some(tz) = timezone {
        (vec![tz], ZoneSource::Contact)
    } else if let Some(zones) = region.and_then(regions::zones_of_region) {
        (zones, ZoneSource::Region)
    } else if let Some(zones) = phone_zones::zones_of(phone) {
        (zones.to_vec(), ZoneSource::PhoneNumber)
    } else {
        (vec![campaign], ZoneSource::Campaign)
    };
    Zones { zones, source, region: derived }
}

/// The hours a recipient may be called in their own local time whatever the campaign's working
/// hours say, in the recipient basis: US and Canadian numbers 08:00–21:00 (Florida, Oklahoma and
/// Maryland 08:00–20:00), Indian numbers 09:00–21:00; `None` where no such rule is applied.
pub fn legal_hours(phone: &str, region: Option<&str>) -> Option<(NaiveTime, NaiveTime)> {
    let at = |h| NaiveTime::from_hms_opt(h, 0, 0);
    match region {
        Some("US-FL" | "US-OK" | "US-MD") => return Some((at(8)?, at(20)?)),
        Some(r) if r.starts_with("US-") || r.starts_with("CA-") => return Some((at(8)?, at(21)?)),
        _ => {}
    }
    if phone.starts_with("+91") {
        Some((at(9)?, at(21)?))
    } else if regions::in_us_or_canada(phone) {
        Some((at(8)?, at(21)?))
    } else {
        None
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
        let utc = Timezone::utc();
        let own = resolve(Some(tz("America/Phoenix")), Some("US-FL"), "+13055550100", utc);
        assert_eq!(
            (names(&own), own.source, own.region),
            (vec!["America/Phoenix"], ZoneSource::Contact, Some("US-FL"))
        );
        let by_region = resolve(None, Some("US-FL"), "+12125550100", utc);
        assert_eq!(names(&by_region), ["America/Chicago", "America/New_York"]);
        assert_eq!((by_region.source, by_region.region), (ZoneSource::Region, Some("US-NY")));
        let by_number = resolve(None, None, "+17095550100", utc);
        assert_eq!(by_number.source, ZoneSource::PhoneNumber);
        assert!(names(&by_number).contains(&"America/St_Johns"));
        // A region outside the US and Canada does not answer: the number does.
        let kolkata = resolve(None, Some("IN-MH"), "+919876543210", utc);
        assert_eq!((names(&kolkata), kolkata.source), (vec!["Asia/Calcutta"], ZoneSource::PhoneNumber));
        let unknown = resolve(None, None, "+80012345678", tz("Europe/Paris"));
        assert_eq!((names(&unknown), unknown.source), (vec!["Europe/Paris"], ZoneSource::Campaign));
    }

    #[test]
    fn region_codes_are_iso_3166_2_shaped() {
        for ok in ["US-FL", "CA-QC", "IN-MH", "GB-ENG", "FR-75"] {
            assert!(is_region_code(ok), "{ok}");
        }
        for bad in ["", "US", "us-fl", "US-", "US-FLOR", "USA-FL", "US_FL", "US-fl"] {
            assert!(!is_region_code(bad), "{bad}");
        }
    }

    #[test]
    fn legal_hours_follow_the_recipient() {
        let hours = |p, r| legal_hours(p, r).map(|(a, b): (NaiveTime, NaiveTime)| (a.to_string(), b.to_string()));
        let until = |h: &str| Some(("08:00:00".to_owned(), h.to_owned()));
        assert_eq!(hours("+13055550100", Some("US-FL")), until("20:00:00"));
        assert_eq!(hours("+12125550100", Some("US-NY")), until("21:00:00"));
        assert_eq!(hours("+14165550100", Some("CA-ON")), until("21:00:00"));
        assert_eq!(hours("+14055550100", Some("US-OK")), until("20:00:00"));
        // One area code for Nova Scotia and Prince Edward Island: no region, but Canada's hours.
        assert_eq!(hours("+19025550100", None), until("21:00:00"));
        assert_eq!(hours("+12425550100", None), None);
        assert_eq!(hours("+919876543210", None), Some(("09:00:00".to_owned(), "21:00:00".to_owned())));
        assert_eq!(hours("+33612345678", None), None);
    }
}

//! A contact's calling group (API.md §12.1, DESIGN.md "Calling rules in the recipient's time"): its
//! candidate zones, its resolved region and its legal floor, as one short text stored with the
//! contact. Contacts of one key open and close together, so a claim filters on the keys open now
//! instead of judging contacts one by one.

use super::recipient::{Floor, ZoneSource, Zones};
use super::timezone::Timezone;

/// One calling group: zones sorted by name and without repeats.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZoneKey {
    pub zones: Vec<Timezone>,
    /// The contact's own region, else the one its number shows.
    pub region: Option<String>,
    pub floor: Floor,
}

impl ZoneKey {
    /// The key of a contact whose zones resolved to `zones` (the campaign's zone `campaign` when
    /// nothing else answered), given its own `region`, for its E.164 `phone`.
    pub fn of(zones: &Zones, region: Option<&str>, phone: &str, campaign: Timezone) -> Self {
        let mut list = if zones.source == ZoneSource::Campaign { vec![campaign] } else { zones.zones.clone() };
        list.sort_by_key(Timezone::name);
        list.dedup();
        let region = region.or(zones.region).map(str::to_owned);
        let floor = Floor::of(phone, region.as_deref());
        Self { zones: list, region, floor }
    }

    /// Its text: `floor|region|zone zone…` (`na|US-FL|America/Chicago America/New_York`).
    pub fn text(&self) -> String {
        let zones: Vec<&str> = self.zones.iter().map(Timezone::name).collect();
        format!("{}|{}|{}", self.floor.as_str(), self.region.as_deref().unwrap_or(""), zones.join(" "))
    }

    /// The key a text names; `None` for a text `text` did not write.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '|');
        let floor = Floor::parse(parts.next()?)?;
        let region = Some(parts.next()?).filter(|r| !r.is_empty()).map(str::to_owned);
        let zones = parts.next()?.split(' ').map(Timezone::parse).collect::<Option<Vec<_>>>()?;
        (!zones.is_empty()).then_some(Self { zones, region, floor })
    }

    /// The zones' names, as a contact record lists them.
    pub fn zone_names(&self) -> Vec<&'static str> {
        self.zones.iter().map(Timezone::name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::recipient::resolve;
    use super::*;

    fn key(timezone: Option<&str>, region: Option<&str>, phone: &str) -> ZoneKey {
        let zones = resolve(timezone.and_then(Timezone::parse), region, phone);
        ZoneKey::of(&zones, region, phone, Timezone::parse("Europe/Paris").unwrap())
    }

    #[test]
    fn a_key_reads_back_from_its_text() {
        for k in [
            key(None, None, "+13055550100"),
            key(None, Some("US-AZ"), "+16025550100"),
            key(Some("Asia/Calcutta"), None, "+919876543210"),
            key(None, None, "+80012345678"),
        ] {
            assert_eq!(ZoneKey::parse(&k.text()), Some(k));
        }
        assert_eq!(key(None, Some("US-FL"), "+12125550100").text(), "na20|US-FL|America/Chicago America/New_York");
        assert_eq!(key(None, None, "+80012345678").text(), "-||Europe/Paris");
        assert_eq!(key(None, None, "+919876543210").text(), "in||Asia/Kolkata");
        for bad in ["", "x||UTC", "na|US-FL|", "na|US-FL|Mars/Base", "na|US-FL"] {
            assert_eq!(ZoneKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_contacts_own_region_wins_over_its_numbers() {
        let k = key(Some("America/New_York"), Some("US-MD"), "+12125550100");
        assert_eq!((k.region.as_deref(), k.floor), (Some("US-MD"), Floor::UntilEight));
        let derived = key(None, None, "+14055550100");
        assert_eq!((derived.region.as_deref(), derived.floor), (Some("US-OK"), Floor::UntilEight));
    }
}

//! When a campaign's calls may start, in either basis (API.md §6 condition 3, §12.1): its working
//! hours in its own zone, or in each contact's zones with the legal floor. One rule for the claim,
//! `/stats`, `/debug`, contact records and the evidence each call keeps.

use super::calendar::Calendars;
use super::campaign::{CampaignSettings, WorkingHoursBasis};
use super::recipient::Floor;
use super::recipient_hours::{RecipientHours, ZoneDays};
use super::timezone::Timezone;
use super::working_hours::WorkingHours;
use super::zone_key::ZoneKey;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The work waiting in one zone key of a batch that may dispatch (`zone_key` is `None` for a batch
/// stored before contacts had keys, judged in the campaign's zone).
#[derive(Clone, Debug)]
pub struct ZoneWork {
    pub batch: super::ids::BatchId,
    pub scheduled_start: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub zone_key: Option<String>,
    /// Whether contacts of the key are `pending`.
    pub pending: bool,
    /// The earliest due time of its retries and follow-ups.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Whether the batch's own concurrency limit is reached now.
    pub batch_full: bool,
}

/// Whether the calling hours let calls start now: open, closed, or closed by a calendar alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoursNow {
    Open,
    Closed,
    Holiday,
}

/// A campaign's calling hours.
#[derive(Clone, Debug)]
pub enum CallingHours {
    /// Read in the campaign's zone (`hours` is `None` when not enforced), with its calendars (whose
    /// region-limited entries concern the recipients of those regions: the key's region).
    Campaign { hours: Option<WorkingHours>, zone: Timezone, calendars: Arc<Calendars> },
    /// Read in each contact's zones; `own_zone` stands for a contact without a key.
    Recipient { rule: RecipientHours, own_zone: ZoneKey },
}

impl CallingHours {
    /// The calling hours of a campaign with `s`, whose calendars are `calendars`.
    pub fn of(s: &CampaignSettings, calendars: Arc<Calendars>) -> Self {
        match s.working_hours_basis {
            WorkingHoursBasis::Campaign => CallingHours::Campaign {
                hours: s.working_hours_enforced.then_some(s.working_hours),
                zone: s.timezone,
                calendars,
            },
            WorkingHoursBasis::Recipient => CallingHours::Recipient {
                rule: RecipientHours::new(&s.working_hours, s.working_hours_enforced, calendars),
                own_zone: ZoneKey { zones: vec![s.timezone], region: None, floor: Floor::None },
            },
        }
    }

    /// Whether contacts are judged by their zone keys: in the recipient basis, and in the campaign
    /// basis when a calendar entry concerns only some regions' recipients.
    pub fn by_key(&self) -> bool {
        match self {
            CallingHours::Campaign { calendars, .. } => calendars.has_regional(),
            CallingHours::Recipient { .. } => true,
        }
    }

    pub fn basis(&self) -> WorkingHoursBasis {
        match self {
            CallingHours::Campaign { .. } => WorkingHoursBasis::Campaign,
            CallingHours::Recipient { .. } => WorkingHoursBasis::Recipient,
        }
    }

    /// Whether a call to a contact of `key` may start at `at`.
    pub fn is_open(&self, key: Option<&ZoneKey>, at: DateTime<Utc>) -> bool {
        match self {
            CallingHours::Campaign { hours, zone, calendars } => {
                campaign_days(hours, calendars, key).is_open(zone.tz(), at)
            }
            CallingHours::Recipient { rule, own_zone } => rule.is_open(key.unwrap_or(own_zone), at),
        }
    }

    /// The first instant at or after `at` when a call to a contact of `key` may start.
    pub fn next_open(&self, key: Option<&ZoneKey>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            CallingHours::Campaign { hours, zone, calendars } => {
                campaign_days(hours, calendars, key).next_open(zone.tz(), at)
            }
            CallingHours::Recipient { rule, own_zone } => rule.next_open(key.unwrap_or(own_zone), at),
        }
    }

    /// Whether a call to a contact of `key` may start at `at`, and if not, whether a calendar alone
    /// holds it back.
    pub fn state(&self, key: Option<&ZoneKey>, at: DateTime<Utc>) -> HoursNow {
        if self.is_open(key, at) {
            HoursNow::Open
        } else if self.without_calendars().is_open(key, at) {
            HoursNow::Holiday
        } else {
            HoursNow::Closed
        }
    }

    /// The same hours without calendars.
    fn without_calendars(&self) -> Self {
        match self {
            CallingHours::Campaign { hours, zone, .. } => {
                CallingHours::Campaign { hours: *hours, zone: *zone, calendars: Arc::default() }
            }
            CallingHours::Recipient { rule, own_zone } => {
                CallingHours::Recipient { rule: rule.without_calendars(), own_zone: own_zone.clone() }
            }
        }
    }

    fn calendars(&self) -> &Calendars {
        match self {
            CallingHours::Campaign { calendars, .. } => calendars,
            CallingHours::Recipient { rule, .. } => rule.calendars(),
        }
    }

    /// The zones a call to a contact of `key` is judged in.
    pub fn zones<'a>(&'a self, key: Option<&'a ZoneKey>) -> &'a [Timezone] {
        match self {
            CallingHours::Campaign { zone, .. } => std::slice::from_ref(zone),
            CallingHours::Recipient { own_zone, .. } => &key.unwrap_or(own_zone).zones,
        }
    }

    /// The earliest instant at or after `now` when a contact of `work` may start, as far as zones,
    /// hours, starts and expiries tell; `None` when none ever may.
    pub fn next_start<'a>(
        &self,
        work: impl IntoIterator<Item = &'a ZoneWork>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut parsed: HashMap<&str, Option<ZoneKey>> = HashMap::new();
        let mut best: Option<DateTime<Utc>> = None;
        for w in work {
            let key = match &w.zone_key {
                None => None,
                Some(text) => match parsed.entry(text.as_str()).or_insert_with(|| ZoneKey::parse(text)) {
                    Some(k) => Some(&*k),
                    None => continue,
                },
            };
            let starts = [w.pending.then_some(w.scheduled_start), w.next_retry_at];
            for start in starts.into_iter().flatten() {
                let Some(t) = self.next_open(key, start.max(now)) else { continue };
                if w.expires_at.is_some_and(|e| e <= t) || best.is_some_and(|b| b <= t) {
                    continue;
                }
                best = Some(t);
            }
        }
        best
    }

    /// The evidence a call started at `now` for a contact of `key` keeps (API.md §12.5): its zones,
    /// each zone's local wall time, the basis, the calendars and the caps that were checked.
    pub fn decision(&self, key: Option<&ZoneKey>, now: DateTime<Utc>) -> Value {
        let zones = self.zones(key);
        let local_times: Map<String, Value> = zones
            .iter()
            .map(|z| {
                let local = now.with_timezone(&z.tz()).naive_local().format("%Y-%m-%dT%H:%M:%S").to_string();
                (z.name().to_owned(), Value::String(local))
            })
            .collect();
        json!({
            "timezones": zones.iter().map(Timezone::name).collect::<Vec<_>>(),
            "local_times": local_times,
            "basis": self.basis().as_str(),
            "calendars": self.calendars().ids().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "caps": [],
        })
    }
}

/// The campaign's zone's windows, by local date, for a contact of `key`: its region's calendar
/// entries apply, the recipient's zones and legal floor do not.
fn campaign_days<'a>(
    hours: &'a Option<WorkingHours>,
    calendars: &'a Calendars,
    key: Option<&'a ZoneKey>,
) -> ZoneDays<'a> {
    ZoneDays { hours: hours.as_ref(), calendars, region: key.and_then(|k| k.region.as_deref()), floor: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_shows_each_zones_wall_time() {
        let s = CampaignSettings {
            name: "Nationwide".into(),
            agent_id: "agent".into(),
            phone_numbers: Vec::new(),
            phone_number_strategy: crate::domain::campaign::PhoneNumberStrategy::RoundRobin,
            working_hours_enforced: true,
            timezone: Timezone::utc(),
            working_hours: WorkingHours::default(),
            working_hours_basis: WorkingHoursBasis::Recipient,
            calendar_ids: Vec::new(),
            frequency_caps: Vec::new(),
            retry_policy: Default::default(),
            default_call_variables: Map::new(),
            metadata: Map::new(),
            concurrency_limit: 10,
        };
        let hours = CallingHours::of(&s, Arc::default());
        let key = ZoneKey::parse("na|US-FL|America/Chicago America/New_York").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-05-11T13:00:05Z").unwrap().to_utc();
        assert_eq!(
            hours.decision(Some(&key), at),
            json!({"timezones": ["America/Chicago", "America/New_York"],
                   "local_times": {"America/Chicago": "2026-05-11T08:00:05", "America/New_York": "2026-05-11T09:00:05"},
                   "basis": "recipient", "calendars": [], "caps": []})
        );
    }
}

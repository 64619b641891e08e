//! Frequency caps (API.md §12.4): how many calls one number may get in a rolling window, the
//! campaign's caps and the built-in ones of the recipient basis, and whether a call may start now or
//! when it next may, from the calls already placed to that number.

use super::ids::CampaignId;
use super::wire::wire_enum;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

wire_enum!(
    /// Whose calls a cap counts: this campaign's, or every campaign's of the organization.
    CapScope {
        Campaign = "campaign",
        Organization = "organization",
    }
);

/// The longest window a cap may have.
pub const MAX_WINDOW_DAYS: i64 = 30;
/// The most caps a campaign may have.
pub const MAX_CAPS: usize = 10;
/// The most calls a cap may allow in its window.
pub const MAX_CALLS: u32 = 1000;

/// At most `max_calls` calls to one number in any rolling `window`, counted in `scope`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FrequencyCap {
    pub max_calls: u32,
    pub window: Window,
    pub scope: CapScope,
}

/// A rolling window as the client wrote it (ISO 8601 duration) and its length.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Window {
    pub text: String,
    pub length: Duration,
}

impl Window {
    /// Parses an ISO 8601 duration of weeks, days, hours, minutes and seconds (`PT24H`, `P7D`,
    /// `P1DT12H`, `P2W`), longer than nothing and at most 30 days. Years and months have no fixed
    /// length and are refused.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix('P')?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return None,
            None => (rest, None),
        };
        let mut seconds: i64 = 0;
        let mut any = false;
        let mut add = |part: &str, units: &[(char, i64)]| -> Option<()> {
            let mut number = String::new();
            let mut next_unit = 0;
            for ch in part.chars() {
                if ch.is_ascii_digit() {
                    number.push(ch);
                    continue;
                }
                let at = units.iter().skip(next_unit).position(|(u, _)| *u == ch)? + next_unit;
                let n: i64 = number.parse().ok().filter(|_| number.len() <= 7)?;
                seconds = seconds.checked_add(n.checked_mul(units[at].1)?)?;
                number.clear();
                next_unit = at + 1;
                any = true;
            }
            number.is_empty().then_some(())
        };
        add(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
        if let Some(t) = time {
            add(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
        }
        (any && seconds > 0 && seconds <= MAX_WINDOW_DAYS * 86_400)
            .then(|| Window { text: text.to_owned(), length: Duration::seconds(seconds) })
    }
}

impl FrequencyCap {
    /// The cap as the API shows it.
    pub fn to_json(&self) -> Value {
        json!({"max_calls": self.max_calls, "window": self.window.text, "scope": self.scope.as_str()})
    }
}

/// A campaign's caps as stored (the JSON the API shows).
pub fn list_to_stored(caps: &[FrequencyCap]) -> String {
    Value::Array(caps.iter().map(FrequencyCap::to_json).collect()).to_string()
}

/// A campaign's caps from their stored JSON; `None` when it is not a valid list.
pub fn list_from_stored(text: &str) -> Option<Vec<FrequencyCap>> {
    let items: Vec<Value> = serde_json::from_str(text).ok()?;
    items
        .iter()
        .map(|v| {
            Some(FrequencyCap {
                max_calls: u32::try_from(v.get("max_calls")?.as_u64()?).ok()?,
                window: Window::parse(v.get("window")?.as_str()?)?,
                scope: CapScope::parse(v.get("scope")?.as_str()?)?,
            })
        })
        .collect()
}

/// The regions whose recipients get the built-in cap in the recipient basis.
pub const BUILT_IN_REGIONS: [&str; 3] = ["US-FL", "US-MD", "US-OK"];

/// The built-in cap for a recipient of `region` (API.md §12.4): 3 calls per rolling 24 h per
/// campaign in Florida, Maryland and Oklahoma, in the recipient basis only (`recipient_basis`).
pub fn built_in(recipient_basis: bool, region: Option<&str>) -> Option<FrequencyCap> {
    let applies = recipient_basis && region.is_some_and(|r| BUILT_IN_REGIONS.contains(&r));
    applies.then(|| FrequencyCap {
        max_calls: 3,
        window: Window { text: "PT24H".into(), length: Duration::hours(24) },
        scope: CapScope::Campaign,
    })
}

/// The caps that apply to one recipient: the campaign's, then the built-in one of their region.
pub fn caps_for(own: &[FrequencyCap], recipient_basis: bool, region: Option<&str>) -> Vec<FrequencyCap> {
    own.iter().cloned().chain(built_in(recipient_basis, region)).collect()
}

/// How far back the calls of a number must be read to judge `caps`.
pub fn lookback(caps: &[FrequencyCap]) -> Option<Duration> {
    caps.iter().map(|c| c.window.length).max()
}

/// A call already placed to the number: by which campaign, when.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PastCall {
    pub campaign: CampaignId,
    pub at: DateTime<Utc>,
}

/// What the caps say about calling a number from `campaign` at `now`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Judged {
    /// Per cap, the calls counted in its window before this one.
    pub counts: Vec<u32>,
    /// When no cap holds the call back any more; `None` when none holds it now.
    pub held_until: Option<DateTime<Utc>>,
}

/// Judges `caps` for a call from `campaign` at `now`, given every call placed to the number that
/// may fall in a window (`history`, any order). A call counts while it is less than the window old;
/// a capped number may be called again once enough of its oldest counted calls have left the window.
pub fn judge(caps: &[FrequencyCap], campaign: CampaignId, history: &[PastCall], now: DateTime<Utc>) -> Judged {
    let mut counts = Vec::with_capacity(caps.len());
    let mut held_until: Option<DateTime<Utc>> = None;
    for cap in caps {
        let start = now - cap.window.length;
        let mut times: Vec<DateTime<Utc>> = history
            .iter()
            .filter(|c| cap.scope == CapScope::Organization || c.campaign == campaign)
            // A call dated after `now` (another replica's clock runs ahead) counts too.
            .filter(|c| c.at > start)
            .map(|c| c.at)
            .collect();
        times.sort_unstable();
        let n = times.len();
        counts.push(u32::try_from(n).unwrap_or(u32::MAX));
        let max = cap.max_calls as usize;
        if n >= max {
            // The (n - max + 1)th oldest must leave for fewer than `max` to remain.
            let until = times[n - max] + cap.window.length;
            held_until = Some(held_until.map_or(until, |h| h.max(until)));
        }
    }
    Judged { counts, held_until }
}

/// The caps and counts a call's `decision.caps` records.
pub fn evidence(caps: &[FrequencyCap], counts: &[u32]) -> Value {
    Value::Array(
        caps.iter()
            .zip(counts)
            .map(|(cap, n)| {
                let mut v = cap.to_json();
                v["count"] = json!(n);
                v
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 11, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn windows_parse_as_iso_8601_durations_of_at_most_30_days() {
        let secs = |t: &str| Window::parse(t).map(|w| w.length.num_seconds());
        assert_eq!(secs("PT24H"), Some(86_400));
        assert_eq!(secs("P7D"), Some(7 * 86_400));
        assert_eq!(secs("P1DT12H"), Some(36 * 3600));
        assert_eq!(secs("P2W"), Some(14 * 86_400));
        assert_eq!(secs("PT90M"), Some(5400));
        assert_eq!(secs("PT1H30M15S"), Some(5415));
        assert_eq!(secs("P30D"), Some(30 * 86_400));
        for bad in ["", "P", "PT", "P31D", "P1M", "P1Y", "PT0S", "P0D", "24H", "PT24", "PH", "P1DT", "PT1M1H", "P-1D"] {
            assert_eq!(secs(bad), None, "{bad}");
        }
    }

    fn cap(max: u32, hours: i64, scope: CapScope) -> FrequencyCap {
        FrequencyCap {
            max_calls: max,
            window: Window { text: format!("PT{hours}H"), length: Duration::hours(hours) },
            scope,
        }
    }

    #[test]
    fn a_capped_number_waits_until_its_oldest_counted_call_leaves_the_window() {
        let (a, b) = (CampaignId::generate(), CampaignId::generate());
        let history = [
            PastCall { campaign: a, at: at(1) },
            PastCall { campaign: b, at: at(2) },
            PastCall { campaign: a, at: at(3) },
        ];
        let caps = [cap(2, 24, CapScope::Campaign), cap(3, 24, CapScope::Organization)];
        let j = judge(&caps, a, &history, at(4));
        assert_eq!(j.counts, vec![2, 3]);
        // Campaign: the 1st of 2 leaves at 25 h; organization: the 1st of 3 leaves at 25 h too.
        assert_eq!(j.held_until, Some(at(25)));
        let j = judge(&caps, b, &history, at(4));
        assert_eq!((j.counts.clone(), j.held_until), (vec![1, 3], Some(at(25))));
        // At 25 h the call of 1 h has left: a's campaign count is 1, the organization's 2.
        assert_eq!(judge(&caps, a, &history, at(25)), Judged { counts: vec![1, 2], held_until: None });
    }

    #[test]
    fn a_call_dated_ahead_of_this_clock_counts() {
        // Another replica's clock runs a minute ahead: its call is counted all the same.
        let a = CampaignId::generate();
        let ahead = [PastCall { campaign: a, at: at(4) + Duration::minutes(1) }];
        let j = judge(&[cap(1, 24, CapScope::Organization)], a, &ahead, at(4));
        assert_eq!((j.counts, j.held_until), (vec![1], Some(at(28) + Duration::minutes(1))));
    }

    #[test]
    fn the_built_in_cap_is_for_three_states_in_the_recipient_basis() {
        assert!(built_in(true, Some("US-FL")).is_some());
        assert!(built_in(false, Some("US-FL")).is_none());
        assert!(built_in(true, Some("US-CA")).is_none());
        let caps = caps_for(&[cap(7, 168, CapScope::Organization)], true, Some("US-OK"));
        assert_eq!(caps.iter().map(|c| c.max_calls).collect::<Vec<_>>(), vec![7, 3]);
        assert_eq!(lookback(&caps), Some(Duration::hours(168)));
    }
}

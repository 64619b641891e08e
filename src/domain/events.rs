//! Events (API.md §13): their types, ids, the stored form the feed and deliveries read, and the
//! schedule of delivery retries.

use super::ids::OrgId;
use super::wire::wire_enum;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

wire_enum!(
    /// What happened.
    EventType {
        CallEnded = "call.ended",
        ContactFinished = "contact.finished",
        BatchUpdated = "batch.updated",
        CampaignUpdated = "campaign.updated",
        SuppressionAdded = "suppression.added",
        EndpointDisabled = "endpoint.disabled",
    }
);

/// An event's number: it increases with commit order within an organization. Written
/// `evt_<16 lowercase hex digits>`, so that ids sort as their numbers do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EventId(pub i64);

impl EventId {
    pub const PREFIX: &'static str = "evt_";

    /// Parses `evt_` and 16 hex digits; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix(Self::PREFIX)?;
        if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        i64::from_str_radix(digits, 16).ok().filter(|n| *n >= 0).map(Self)
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{:016x}", Self::PREFIX, self.0)
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An event as stored: what it is about, and what cannot be read back later (`Snapshot`).
#[derive(Clone, PartialEq, Debug)]
pub struct StoredEvent {
    pub id: EventId,
    pub organization_id: OrgId,
    pub kind: EventType,
    pub subject: Uuid,
    /// The campaign it belongs to, if any.
    pub campaign_id: Option<super::ids::CampaignId>,
    pub data: Snapshot,
    pub created_at: DateTime<Utc>,
}

/// What an event keeps of its subject as of the change.
#[derive(Clone, PartialEq, Debug)]
pub enum Snapshot {
    /// Nothing: the subject does not change once the event is written (a closed call, a finished
    /// contact), and is read when the event is sent.
    None,
    Batch(Box<super::batch::Batch>),
    Campaign(Box<super::campaign::Campaign>),
    /// The data itself (a suppression entry as added, a disabled endpoint).
    Json(serde_json::Value),
}

/// The event types an endpoint or a feed read takes: every one, or those listed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TypeFilter {
    All,
    Only(Vec<EventType>),
}

impl TypeFilter {
    /// Whether events of `kind` pass.
    pub fn matches(&self, kind: EventType) -> bool {
        match self {
            TypeFilter::All => true,
            TypeFilter::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// The wire list: `["*"]` or the type names.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            TypeFilter::All => vec!["*"],
            TypeFilter::Only(kinds) => kinds.iter().map(|k| k.as_str()).collect(),
        }
    }

    /// Reads a wire list; `Err` holds the position and text of an unknown name. A `"*"` anywhere
    /// means every type; repeats are kept once.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, (usize, String)> {
        let mut kinds = Vec::new();
        let mut all = false;
        for (i, name) in names.into_iter().enumerate() {
            if name == "*" {
                all = true;
                continue;
            }
            let kind = EventType::parse(name).ok_or_else(|| (i, name.to_owned()))?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(if all { TypeFilter::All } else { TypeFilter::Only(kinds) })
    }
}

/// How long after a failed try the next one comes: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about
/// 28 h in all). After the last one fails, the endpoint is disabled.
pub const RETRY_SCHEDULE: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// When the retry of schedule step `step` (1 = the first retry) comes after a try failed at
/// `failed_at`; `None` once the schedule is spent.
pub fn retry_at(step: usize, failed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let wait = RETRY_SCHEDULE.get(step.checked_sub(1)?)?;
    Some(failed_at + Duration::seconds(*wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_as_numbers() {
        let id = EventId(0x2a);
        assert_eq!(id.to_string(), "evt_000000000000002a");
        assert_eq!(EventId::parse("evt_000000000000002a"), Some(id));
        for bad in ["evt_2a", "evt_000000000000002A", "evt_-00000000000002a", "whe_000000000000002a", ""] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
        assert!(EventId(9).to_string() < EventId(10).to_string());
        assert!(EventId(255).to_string() < EventId(256).to_string());
    }

    #[test]
    fn filters_read_stars_and_refuse_unknown_types() {
        assert_eq!(TypeFilter::parse(["*"]), Ok(TypeFilter::All));
        assert_eq!(TypeFilter::parse(["call.ended", "call.ended"]), Ok(TypeFilter::Only(vec![EventType::CallEnded])));
        assert_eq!(TypeFilter::parse(["call.ended", "call.started"]), Err((1, "call.started".into())));
        assert!(TypeFilter::Only(vec![EventType::CallEnded]).matches(EventType::CallEnded));
        assert!(!TypeFilter::Only(vec![EventType::CallEnded]).matches(EventType::BatchUpdated));
    }

    #[test]
    fn the_schedule_spans_about_28_hours_then_ends() {
        let t0 = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(retry_at(1, t0), Some(t0 + Duration::seconds(5)));
        assert_eq!(retry_at(7, t0), Some(t0 + Duration::hours(10)));
        assert_eq!(retry_at(8, t0), None);
        assert_eq!(retry_at(0, t0), None);
        let total: i64 = RETRY_SCHEDULE.iter().sum();
        assert_eq!(total / 3600, 27);
    }
}

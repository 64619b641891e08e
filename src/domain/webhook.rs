//! Customer webhook endpoints (API.md §13): the endpoint, its limits, and which addresses an
//! endpoint may point at.

use super::events::{EventId, TypeFilter};
use super::ids::{EndpointId, OrgId};
use chrono::{DateTime, Duration, Utc};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most endpoints an organization may have.
pub const MAX_ENDPOINTS: i64 = 20;
/// The longest URL and description kept.
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// How long after a rotation the previous secret still signs deliveries.
pub const PREVIOUS_SECRET_HOURS: i64 = 24;

/// What a change of an endpoint sets (the fields not given keep their value).
#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<TypeFilter>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

/// Which events a replay sends again (of them, those of the endpoint's types and organization).
pub enum ReplayOf {
    /// These events.
    Ids(Vec<EventId>),
    /// The events after `.0` (the oldest retained when none) up to `.1` included (the newest when none).
    Range(Option<EventId>, Option<EventId>),
}

/// A customer's endpoint.
#[derive(Clone, PartialEq, Debug)]
pub struct Endpoint {
    pub id: EndpointId,
    pub organization_id: OrgId,
    pub url: String,
    pub events: TypeFilter,
    pub description: Option<String>,
    /// `whsec_<base64>`.
    pub secret: String,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl Endpoint {
    /// The secrets that sign a delivery at `now`: the current one, then the previous one during
    /// the day after a rotation.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_until)
            && now < until
        {
            secrets.push(previous);
        }
        secrets
    }

    /// Until when a secret rotated at `now` keeps signing.
    pub fn previous_secret_until(now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::hours(PREVIOUS_SECRET_HOURS)
    }
}

/// One try of one event at one endpoint.
#[derive(Clone, PartialEq, Debug)]
pub struct Attempt {
    pub event: EventId,
    /// Which try of that event at that endpoint (1 = the first), counted when it is written.
    pub attempt: i64,
    pub attempted_at: DateTime<Utc>,
    /// The answer's status, if one came.
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the endpoint took the event: a `2xx`.
    pub fn delivered(&self) -> bool {
        matches!(self.status_code, Some(200..=299))
    }
}

/// A replica's lease on deliveries: its key, and the real clock's now and the lease's end.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    pub owner: i64,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// An endpoint whose new events a replica sends, from just after `cursor`.
#[derive(Clone, Debug)]
pub struct Stream {
    pub endpoint: Endpoint,
    pub cursor: EventId,
}

/// What a stream did: its tries, the new cursor, the events to try again and when, and whether
/// every try failed (the endpoint then gets no new events until a retry gets through).
#[derive(Clone, Debug)]
pub struct StreamDone {
    pub endpoint: EndpointId,
    pub cursor: EventId,
    pub attempts: Vec<Attempt>,
    pub retries: Vec<(EventId, DateTime<Utc>)>,
    pub failing: bool,
}

/// An event due for another try at an endpoint; `step` is its place in the schedule (0 for a replay).
#[derive(Clone, Debug)]
pub struct DueRetry {
    pub endpoint: Endpoint,
    pub event: EventId,
    pub step: i64,
    /// The row's replay count when it was claimed.
    pub generation: i64,
}

/// What became of a retry.
#[derive(Clone, Debug)]
pub struct RetryDone {
    pub endpoint: EndpointId,
    pub event: EventId,
    /// The row's replay count when it was claimed.
    pub generation: i64,
    /// The try made; none when the event is gone (pruned, or its campaign deleted).
    pub attempt: Option<Attempt>,
    pub next: RetryNext,
}

/// After a retry: done, tried again at step `.0` at `.1`, or the schedule is spent and the
/// endpoint is disabled, with the `endpoint.disabled` event's data.
#[derive(Clone, Debug)]
pub enum RetryNext {
    Done,
    Again(i64, DateTime<Utc>),
    Disable(serde_json::Value),
}

/// Whether an address is on the public internet: not private, loopback, link-local, unspecified,
/// shared (carrier-grade NAT), benchmarking, documentation, multicast, broadcast or reserved, nor
/// an IPv6 form of one of those (mapped, NAT64, 6to4 IPv4 addresses are judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[0] == 0x64 && s[1] == 0xff9b {
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || s[..6].iter().all(|x| *x == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "::127.0.0.1",
            "ff02::1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }

    #[test]
    fn the_previous_secret_signs_for_a_day() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let mut e = Endpoint {
            id: EndpointId::generate(),
            organization_id: OrgId::generate(),
            url: "https://hooks.example/x".into(),
            events: TypeFilter::All,
            description: None,
            secret: "new".into(),
            previous_secret: Some("old".into()),
            previous_until: Some(Endpoint::previous_secret_until(now)),
            disabled: false,
            created_at: now,
        };
        assert_eq!(e.signing_secrets(now), ["new", "old"]);
        assert_eq!(e.signing_secrets(now + Duration::hours(24)), ["new"]);
        e.previous_until = None;
        assert_eq!(e.signing_secrets(now), ["new"]);
    }
}

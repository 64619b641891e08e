//! The claim against the pure rule (API.md §12.1, §12.2, §12.5): in seeded random scenarios (working
//! hours, a calendar with regional entries, a start around a DST change), for contacts in many zone
//! sets with legal floors, each waiting contact's `next_eligible_at` is the pure rule's first opening,
//! and its first call starts exactly then: never earlier, never later.

use super::{batch, campaign};
use crate::common::TestApp;
use chrono::{DateTime, Utc};
use graine::domain::calendar::{Calendar, CalendarEntry, Calendars};
use graine::domain::ids::{CalendarId, OrgId};
use graine::domain::recipient::Floor;
use graine::domain::recipient_hours::RecipientHours;
use graine::domain::timezone::Timezone;
use graine::domain::working_hours::{DayHours, WorkingHours};
use graine::domain::zone_key::ZoneKey;
use serde_json::{Value, json};
use std::sync::Arc;

/// DST changes of 2026 (US spring and autumn, Europe's autumn, Chile's and Lord Howe's April one) the
/// scenarios start around.
const CHANGES: [&str; 4] =
    ["2026-03-08T07:00:00Z", "2026-10-25T01:00:00Z", "2026-11-01T06:00:00Z", "2026-04-04T15:00:00Z"];

/// xorshift64*: the scenarios are random, and the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn window(&mut self) -> (String, String) {
        let start = self.below(72) * 15;
        let end = (start + 60 + self.below(40) * 15).min(1440);
        let hhmm = |m: u64| format!("{:02}:{:02}", m / 60, m % 60);
        (hhmm(start), hhmm(end))
    }
}

/// A scenario's working hours (every weekday its own window; weekends sometimes closed) and
/// calendar entries (dates around `start`, some for one region only), as the API takes them.
fn scenario(rng: &mut Rng, start: DateTime<Utc>) -> (Value, Value) {
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let hours: serde_json::Map<String, Value> = days
        .iter()
        .map(|d| {
            let (s, e) = rng.window();
            ((*d).to_owned(), json!({"start": s, "end": e, "enabled": rng.below(5) > 0}))
        })
        .collect();
    let entries: Vec<Value> = (0..rng.below(5))
        .map(|_| {
            let date = (start + chrono::Duration::days(rng.below(5) as i64 - 1)).format("%Y-%m-%d").to_string();
            let mut e = match rng.below(2) {
                0 => json!({"date": date, "closed": true}),
                _ => {
                    let (s, end) = rng.window();
                    json!({"date": date, "hours": {"start": s, "end": end}})
                }
            };
            if rng.below(2) == 0 {
                let region = ["US-LA", "US-FL", "CA-NL"][rng.below(3) as usize];
                e["regions"] = json!([region]);
            }
            e
        })
        .collect();
    (Value::Object(hours), Value::Array(entries))
}

/// The rule the pure domain gives for the same hours and entries.
fn pure_rule(hours: &Value, entries: &Value) -> RecipientHours {
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let mut wh = WorkingHours::default();
    for (slot, d) in wh.days.iter_mut().zip(days) {
        let h = &hours[d];
        *slot =
            DayHours::parse(h["start"].as_str().unwrap(), h["end"].as_str().unwrap(), h["enabled"].as_bool().unwrap())
                .unwrap();
    }
    let entries = CalendarEntry::list_from_stored(&entries.to_string()).unwrap();
    let now = DateTime::<Utc>::UNIX_EPOCH;
    let calendar = Calendar {
        id: CalendarId::generate(),
        organization_id: OrgId::generate(),
        name: "c".into(),
        entries,
        created_at: now,
        updated_at: now,
    };
    RecipientHours::new(&wh, true, Arc::new(Calendars::new(&[calendar])))
}

/// Numbers across the continent and abroad, some with their own zone or region.
fn contacts() -> Vec<Value> {
    let mut out = Vec::new();
    let numbers = [
        "+12125550100",
        "+13105550100",
        "+15045550100",
        "+16025550100",
        "+17095550100",
        "+12085550100",
        "+13055550100",
        "+14055550100",
        "+19025550100",
        "+919876543210",
        "+447911123456",
        "+61412345678",
        "+33612345678",
        "+5511912345678",
    ];
    for (i, n) in numbers.iter().enumerate() {
        out.push(json!({"phone_number": n}));
        let other = format!("{}{}", &n[..n.len() - 3], 200 + i);
        let own = ["Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham", "Asia/Kathmandu"][i % 4];
        out.push(json!({"phone_number": other, "timezone": own}));
        let third = format!("{}{}", &n[..n.len() - 3], 300 + i);
        let region = ["US-FL", "US-LA", "US-AZ", "CA-NL"][i % 4];
        out.push(json!({"phone_number": third, "region": region}));
    }
    out
}

/// The zone key the pure rule judges a listed contact by.
fn key_of(contact: &Value) -> ZoneKey {
    let phone = contact["phone_number"].as_str().unwrap();
    let region = contact["region"].as_str();
    let zones = contact["timezones"].as_array().unwrap().iter().map(|z| Timezone::parse(z.as_str().unwrap()).unwrap());
    ZoneKey { zones: zones.collect(), region: region.map(str::to_owned), floor: Floor::of(phone, region) }
}

fn text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[tokio::test]
async fn every_first_call_starts_at_the_pure_rules_first_opening() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut called, mut contacts_seen) = (0, 0);
    for (round, change) in CHANGES.iter().enumerate() {
        let change = DateTime::parse_from_rfc3339(change).unwrap().to_utc();
        let start = change - chrono::Duration::minutes(rng.below(48 * 60) as i64);
        let start_text = text(Some(start)).unwrap();
        let (hours, entries) = scenario(&mut rng, start);
        let app = TestApp::with_clock(&start_text, |_| {}).await;
        let r = app.post("/api/v1/calendars", json!({"name": "Random", "entries": entries})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let c = campaign(
            &app,
            json!({"timezone": "UTC", "calendar_ids": [r.body["calendar_id"]], "working_hours": hours,
                   "metadata": {"concurrency_limit": 100}}),
        )
        .await;
        let b = batch(&app, &c, Value::Array(contacts())).await;
        let rule = pure_rule(&hours, &entries);
        // Before any time passes, each waiting contact's next_eligible_at is the rule's first opening.
        let path = format!("/api/v1/batches/{b}/contacts?include_calls=true&limit=1000");
        for contact in app.get(&path).await.body.as_array().unwrap() {
            if contact["status"] == "pending" {
                let expected = text(rule.next_open(&key_of(contact), start));
                assert_eq!(contact["next_eligible_at"].as_str(), expected.as_deref(), "round {round}: {contact}");
            }
        }
        app.advance(7 * 24 * 3600).await;
        for contact in app.get(&path).await.body.as_array().unwrap() {
            let key = key_of(contact);
            let expected = text(rule.next_open(&key, start).filter(|t| *t < start + chrono::Duration::days(7)));
            let got = contact["call_records"][0]["dispatched_at"].as_str();
            assert_eq!(
                got,
                expected.as_deref(),
                "round {round} from {start_text}, {} ({}): {contact}",
                contact["phone_number"],
                key.text()
            );
            contacts_seen += 1;
            called += usize::from(got.is_some());
        }
    }
    assert!(
        called * 2 >= contacts_seen,
        "only {called} of {contacts_seen} contacts were called: the scenarios test little"
    );
}

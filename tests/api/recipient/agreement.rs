//! The claim against the pure rule (API.md §12.1, §12.2, §12.5): for contacts in many zone sets,
//! with legal floors, a calendar with regional entries, across a DST change, each first call starts
//! exactly when the pure rule says the contact first may be called: never earlier, never later.

use super::{batch, campaign};
use crate::common::TestApp;
use chrono::{DateTime, Utc};
use graine::domain::calendar::{Calendar, CalendarEntry, Calendars, DayRule};
use graine::domain::ids::{CalendarId, OrgId};
use graine::domain::recipient::Floor;
use graine::domain::recipient_hours::RecipientHours;
use graine::domain::timezone::Timezone;
use graine::domain::working_hours::{DayMinute, WorkingHours};
use graine::domain::zone_key::ZoneKey;
use serde_json::{Value, json};
use std::sync::Arc;

/// Saturday 31 October 2026, 12:00 UTC: the US falls back the next morning.
const SATURDAY: &str = "2026-10-31T12:00:00Z";

fn entries() -> Value {
    json!([
        {"date": "2026-11-01", "hours": {"start": "12:00", "end": "14:00"}, "name": "A Sunday opened"},
        {"date": "2026-11-02", "closed": true, "regions": ["US-LA"]},
        {"date": "2026-11-03", "hours": {"start": "10:00", "end": "11:00"}},
        {"date": "2026-11-03", "hours": {"start": "10:30", "end": "17:00"}, "regions": ["US-FL"]},
    ])
}

/// The same entries as the domain reads them.
fn calendars() -> Calendars {
    let at = |t: &str| DayMinute::parse(t, true).unwrap();
    let entry = |date: &str, rule, regions: &[&str]| CalendarEntry {
        date: date.parse().unwrap(),
        rule,
        name: None,
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
    };
    let entries = vec![
        entry("2026-11-01", DayRule::Hours { start: at("12:00"), end: at("14:00") }, &[]),
        entry("2026-11-02", DayRule::Closed, &["US-LA"]),
        entry("2026-11-03", DayRule::Hours { start: at("10:00"), end: at("11:00") }, &[]),
        entry("2026-11-03", DayRule::Hours { start: at("10:30"), end: at("17:00") }, &["US-FL"]),
    ];
    let now = DateTime::<Utc>::UNIX_EPOCH;
    let calendar = Calendar {
        id: CalendarId::generate(),
        organization_id: OrgId::generate(),
        name: "c".into(),
        entries,
        created_at: now,
        updated_at: now,
    };
    Calendars::new(&[calendar])
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

#[tokio::test]
async fn every_first_call_starts_at_the_pure_rules_first_opening() {
    let app = TestApp::with_clock(SATURDAY, |_| {}).await;
    let r = app.post("/api/v1/calendars", json!({"name": "Autumn", "entries": entries()})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = campaign(
        &app,
        json!({"timezone": "UTC", "calendar_ids": [r.body["calendar_id"]],
                                 "metadata": {"concurrency_limit": 100}}),
    )
    .await;
    let b = batch(&app, &c, Value::Array(contacts())).await;
    app.advance(7 * 24 * 3600).await;
    let rule = RecipientHours::new(&WorkingHours::default(), true, Arc::new(calendars()));
    let start = DateTime::parse_from_rfc3339(SATURDAY).unwrap().to_utc();
    let list = app.get(&format!("/api/v1/batches/{b}/contacts?include_calls=true&limit=1000")).await.body;
    let list = list.as_array().unwrap();
    let called = list.iter().filter(|c| c["call_records"][0].is_object()).count();
    let distinct: std::collections::HashSet<&str> =
        list.iter().filter_map(|c| c["call_records"][0]["dispatched_at"].as_str()).collect();
    assert!(called >= list.len() * 3 / 4 && distinct.len() >= 10, "{called} of {} called, at {distinct:?}", list.len());
    for contact in list {
        let phone = contact["phone_number"].as_str().unwrap();
        let region = contact["region"].as_str();
        let zones =
            contact["timezones"].as_array().unwrap().iter().map(|z| Timezone::parse(z.as_str().unwrap()).unwrap());
        let key =
            ZoneKey { zones: zones.collect(), region: region.map(str::to_owned), floor: Floor::of(phone, region) };
        let expected = rule.next_open(&key, start).filter(|t| *t < start + chrono::Duration::days(7));
        let got = contact["call_records"][0]["dispatched_at"].as_str();
        let expected = expected.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        assert_eq!(got, expected.as_deref(), "{phone} ({}): {contact}", key.text());
    }
}

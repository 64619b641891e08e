//! Campaign request bodies (create and PATCH) turned into domain values, every problem reported.

use super::validate::{Problems, at};
use crate::domain::campaign::{
    CONCURRENCY_LIMIT_RANGE, CampaignPatch, CampaignSettings, DEFAULT_CONCURRENCY_LIMIT, PhoneNumberStrategy,
    RetryPolicy, RetryStrategy, WorkingHoursBasis,
};
use crate::domain::frequency::{self, CapScope, FrequencyCap, Window};
use crate::domain::ids::CalendarId;
use crate::domain::phone::PhoneNumber;
use crate::domain::timezone::Timezone;
use crate::domain::voicemail::VoicemailAction;
use crate::domain::working_hours::{DayHours, WEEKDAYS, WorkingHours};
use crate::error::{Error, Loc};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Largest JSON size of `default_call_variables` and of `metadata`.
const MAX_OBJECT_BYTES: usize = 64 * 1024;

const SETTINGS_FIELDS: [&str; 13] = [
    "name",
    "agent_id",
    "phone_numbers",
    "phone_number_strategy",
    "working_hours_enforced",
    "timezone",
    "working_hours",
    "working_hours_basis",
    "calendar_ids",
    "frequency_caps",
    "retry_policy",
    "default_call_variables",
    "metadata",
];

/// Fields of the campaign object a PATCH may not change.
const READ_ONLY_FIELDS: [&str; 10] = [
    "campaign_id",
    "organization_id",
    "status",
    "completed_calls",
    "failed_calls",
    "busy_calls",
    "no_answer_calls",
    "follow_up_calls",
    "created_at",
    "updated_at",
];

fn body() -> Vec<Loc> {
    vec![Loc::from("body")]
}

/// A create body: the settings and the `organization_id` given, if any.
pub fn parse_create(obj: &Map<String, Value>) -> Result<(CampaignSettings, Option<String>), Error> {
    let mut p = Problems::default();
    let mut allowed = SETTINGS_FIELDS.to_vec();
    allowed.push("organization_id");
    p.unknown_keys(obj, &allowed, &body());
    let org = p
        .field(obj, "organization_id", &body(), false)
        .and_then(|v| p.string(v, at(&body(), "organization_id"), 1, 64));
    let patch = parse_fields(obj, &mut p, true);
    if !p.is_empty() {
        return Err(Error::Validation(p.0));
    }
    let (metadata, concurrency_limit) = patch.metadata.unwrap_or_else(|| (Map::new(), DEFAULT_CONCURRENCY_LIMIT));
    let settings = CampaignSettings {
        name: patch.name.unwrap_or_default(),
        agent_id: patch.agent_id.unwrap_or_default(),
        phone_numbers: patch.phone_numbers.unwrap_or_default(),
        phone_number_strategy: patch.phone_number_strategy.unwrap_or(PhoneNumberStrategy::RoundRobin),
        working_hours_enforced: patch.working_hours_enforced.unwrap_or(false),
        timezone: patch.timezone.unwrap_or_else(Timezone::utc),
        working_hours: patch.working_hours.unwrap_or_default(),
        working_hours_basis: patch.working_hours_basis.unwrap_or(WorkingHoursBasis::Campaign),
        calendar_ids: patch.calendar_ids.unwrap_or_default(),
        frequency_caps: patch.frequency_caps.unwrap_or_default(),
        retry_policy: patch.retry_policy.unwrap_or_default(),
        default_call_variables: patch.default_call_variables.unwrap_or_default(),
        metadata,
        concurrency_limit,
    };
    Ok((settings, org))
}

/// A PATCH body.
pub fn parse_patch(obj: &Map<String, Value>) -> Result<CampaignPatch, Error> {
    let mut p = Problems::default();
    for key in obj.keys() {
        if READ_ONLY_FIELDS.contains(&key.as_str()) {
            p.push(at(&body(), key.as_str()), "read_only", "Field cannot be updated");
        }
    }
    let mut allowed = SETTINGS_FIELDS.to_vec();
    allowed.extend(READ_ONLY_FIELDS);
    p.unknown_keys(obj, &allowed, &body());
    let patch = parse_fields(obj, &mut p, false);
    if p.is_empty() { Ok(patch) } else { Err(Error::Validation(p.0)) }
}

fn parse_fields(obj: &Map<String, Value>, p: &mut Problems, create: bool) -> CampaignPatch {
    let b = body();
    CampaignPatch {
        name: p.field(obj, "name", &b, create).and_then(|v| p.string(v, at(&b, "name"), 1, 200)),
        agent_id: p.field(obj, "agent_id", &b, create).and_then(|v| p.string(v, at(&b, "agent_id"), 1, 200)),
        phone_numbers: p.field(obj, "phone_numbers", &b, create).and_then(|v| phone_numbers(v, p)),
        phone_number_strategy: p.field(obj, "phone_number_strategy", &b, false).and_then(|v| {
            p.one_of(v, at(&b, "phone_number_strategy"), PhoneNumberStrategy::parse, &PhoneNumberStrategy::expected())
        }),
        working_hours_enforced: p
            .field(obj, "working_hours_enforced", &b, false)
            .and_then(|v| p.boolean(v, at(&b, "working_hours_enforced"))),
        timezone: p.field(obj, "timezone", &b, false).and_then(|v| {
            let loc = at(&b, "timezone");
            let name = p.string(v, loc.clone(), 1, 64)?;
            let tz = Timezone::parse(&name);
            if tz.is_none() {
                p.push(
                    loc,
                    "value_error",
                    format!("Value error, unknown IANA time zone '{name}' (e.g. 'Asia/Kolkata')"),
                );
            }
            tz
        }),
        working_hours: p.field(obj, "working_hours", &b, false).and_then(|v| working_hours(v, p)),
        working_hours_basis: p.field(obj, "working_hours_basis", &b, false).and_then(|v| {
            p.one_of(v, at(&b, "working_hours_basis"), WorkingHoursBasis::parse, &WorkingHoursBasis::expected())
        }),
        calendar_ids: p.field(obj, "calendar_ids", &b, false).and_then(|v| calendar_ids(v, p)),
        frequency_caps: p.field(obj, "frequency_caps", &b, false).and_then(|v| frequency_caps(v, p)),
        retry_policy: p.field(obj, "retry_policy", &b, false).and_then(|v| retry_policy(v, p)),
        default_call_variables: p
            .field(obj, "default_call_variables", &b, false)
            .and_then(|v| p.bounded_object(v, at(&b, "default_call_variables"), MAX_OBJECT_BYTES)),
        metadata: p.field(obj, "metadata", &b, false).and_then(|v| metadata(v, p)),
    }
}

/// Most calendars one campaign applies.
const MAX_CALENDARS: usize = 20;

fn calendar_ids(value: &Value, p: &mut Problems) -> Option<Vec<CalendarId>> {
    let loc = at(&body(), "calendar_ids");
    let items = p.array(value, loc.clone(), 0, MAX_CALENDARS)?;
    let before = p.0.len();
    let mut ids: Vec<CalendarId> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_loc = at(&loc, i);
        let Some(text) = p.string(item, item_loc.clone(), 1, 64) else { continue };
        match CalendarId::parse(&text) {
            Some(id) if ids.contains(&id) => {
                p.push(item_loc, "value_error", format!("Value error, duplicate calendar {text}"))
            }
            Some(id) => ids.push(id),
            None => p.push(item_loc, "value_error", format!("Value error, '{text}' is not a calendar id (cal_…)")),
        }
    }
    (p.0.len() == before).then_some(ids)
}

fn frequency_caps(value: &Value, p: &mut Problems) -> Option<Vec<FrequencyCap>> {
    let loc = at(&body(), "frequency_caps");
    let items = p.array(value, loc.clone(), 0, frequency::MAX_CAPS)?;
    let before = p.0.len();
    let mut caps = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_loc = at(&loc, i);
        let Some(obj) = p.object(item, item_loc.clone()) else { continue };
        p.unknown_keys(obj, &["max_calls", "window", "scope"], &item_loc);
        let max = p
            .field(obj, "max_calls", &item_loc, true)
            .and_then(|v| p.int(v, at(&item_loc, "max_calls"), 1, i64::from(frequency::MAX_CALLS)));
        let window = p.field(obj, "window", &item_loc, true).and_then(|v| {
            let wloc = at(&item_loc, "window");
            let text = p.string(v, wloc.clone(), 1, 32)?;
            let w = Window::parse(&text);
            if w.is_none() {
                p.push(
                    wloc,
                    "value_error",
                    format!(
                        "Value error, '{text}' is not an ISO 8601 duration of weeks, days, hours, minutes or seconds \
                         between PT1S and P30D (e.g. 'PT24H', 'P7D')"
                    ),
                );
            }
            w
        });
        let scope = match p.field(obj, "scope", &item_loc, false) {
            Some(v) => p.one_of(v, at(&item_loc, "scope"), CapScope::parse, &CapScope::expected()),
            None => Some(CapScope::Campaign),
        };
        if let (Some(max), Some(window), Some(scope)) = (max, window, scope) {
            caps.push(FrequencyCap { max_calls: max as u32, window, scope });
        }
    }
    (p.0.len() == before).then_some(caps)
}

fn phone_numbers(value: &Value, p: &mut Problems) -> Option<Vec<PhoneNumber>> {
    let loc = at(&body(), "phone_numbers");
    let items = p.array(value, loc.clone(), 1, 100)?;
    let before = p.0.len();
    let mut seen = HashSet::new();
    let mut numbers = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_loc = at(&loc, i);
        let Some(text) = p.string(item, item_loc.clone(), 1, 32) else { continue };
        match PhoneNumber::parse(&text) {
            Ok(n) if !seen.insert(n.clone()) => {
                p.push(item_loc, "value_error", format!("Value error, duplicate phone number {n}"));
            }
            Ok(n) => numbers.push(n),
            Err(e) => p.push(item_loc, "value_error", e.message()),
        }
    }
    (p.0.len() == before).then_some(numbers)
}

fn working_hours(value: &Value, p: &mut Problems) -> Option<WorkingHours> {
    let loc = at(&body(), "working_hours");
    let obj = p.object(value, loc.clone())?;
    let before = p.0.len();
    p.unknown_keys(obj, &WEEKDAYS, &loc);
    let mut hours = WorkingHours::default();
    for (slot, day) in hours.days.iter_mut().zip(WEEKDAYS) {
        let Some(v) = p.field(obj, day, &loc, true) else { continue };
        let day_loc = at(&loc, day);
        let Some(d) = p.object(v, day_loc.clone()) else { continue };
        p.unknown_keys(d, &["start", "end", "enabled"], &day_loc);
        let start = p.field(d, "start", &day_loc, true).and_then(|v| p.string(v, at(&day_loc, "start"), 0, 16));
        let end = p.field(d, "end", &day_loc, true).and_then(|v| p.string(v, at(&day_loc, "end"), 0, 16));
        let enabled = p.field(d, "enabled", &day_loc, true).and_then(|v| p.boolean(v, at(&day_loc, "enabled")));
        let (Some(start), Some(end), Some(enabled)) = (start, end, enabled) else { continue };
        match DayHours::parse(&start, &end, enabled) {
            Ok(h) => *slot = h,
            Err(errors) => {
                for e in errors {
                    p.push(at(&day_loc, e.field), "value_error", e.message);
                }
            }
        }
    }
    (p.0.len() == before).then_some(hours)
}

fn retry_policy(value: &Value, p: &mut Problems) -> Option<RetryPolicy> {
    let loc = at(&body(), "retry_policy");
    let obj = p.object(value, loc.clone())?;
    let before = p.0.len();
    p.unknown_keys(obj, &["max_retries", "strategy", "cooldown_minutes"], &loc);
    let mut policy = RetryPolicy::default();
    if let Some(n) = p
        .field(obj, "max_retries", &loc, false)
        .and_then(|v| p.int(v, at(&loc, "max_retries"), 0, RetryPolicy::MAX_RETRIES))
    {
        policy.max_retries = n as u8;
    }
    if let Some(s) = p
        .field(obj, "strategy", &loc, false)
        .and_then(|v| p.one_of(v, at(&loc, "strategy"), RetryStrategy::parse, &RetryStrategy::expected()))
    {
        policy.strategy = s;
    }
    if let Some(n) = p
        .field(obj, "cooldown_minutes", &loc, false)
        .and_then(|v| p.int(v, at(&loc, "cooldown_minutes"), 0, RetryPolicy::MAX_COOLDOWN_MINUTES))
    {
        policy.cooldown_minutes = n as u32;
    }
    (p.0.len() == before).then_some(policy)
}

fn metadata(value: &Value, p: &mut Problems) -> Option<(Map<String, Value>, u32)> {
    let loc = at(&body(), "metadata");
    let mut obj = p.bounded_object(value, loc.clone(), MAX_OBJECT_BYTES)?;
    let limit = match obj.remove("concurrency_limit") {
        None | Some(Value::Null) => DEFAULT_CONCURRENCY_LIMIT,
        Some(v) => {
            let range = CONCURRENCY_LIMIT_RANGE;
            p.int(&v, at(&loc, "concurrency_limit"), *range.start(), *range.end())? as u32
        }
    };
    // Kept in the metadata as given; only its value is checked (API.md §7 "Answering machines").
    if let Some(v) = obj.get("voicemail_action").filter(|v| !v.is_null()) {
        p.one_of(v, at(&loc, "voicemail_action"), VoicemailAction::parse, &VoicemailAction::expected())?;
    }
    Some((obj, limit))
}

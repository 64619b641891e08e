//! Batch request bodies: JSON, or multipart with a CSV file, turned into domain values with every
//! problem reported (contacts by index), all or nothing.

use super::batch_contacts::{Contacts, CsvRows};
use super::validate::{Problems, at};
use crate::domain::batch::{BatchSettings, NewContact};
use crate::domain::campaign::{CONCURRENCY_LIMIT_RANGE, RetryPolicy};
use crate::domain::ids::CampaignId;
use crate::domain::phone::PhoneNumber;
use crate::domain::recipient::{self, is_known_region};
use crate::domain::time::parse_start;
use crate::domain::timezone::Timezone;
use crate::error::{Error, Loc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use tokio::sync::mpsc;

/// Most contacts in one batch.
pub const MAX_CONTACTS: usize = 100_000;
/// Largest JSON size of `call_context`, `metadata` and one contact's `call_variables`.
const MAX_OBJECT_BYTES: usize = 64 * 1024;
/// The CSV columns that may hold the phone number, in order of preference.
pub const PHONE_COLUMNS: [&str; 3] = ["phone_number", "phone", "contact_number"];

const FIELDS: [&str; 9] = [
    "campaign_id",
    "contacts",
    "organization_id",
    "scheduled_start",
    "concurrency_limit",
    "max_retries_override",
    "call_context",
    "metadata",
    "expires_at",
];

/// A contact accepted with a remark, reported in the `201` response.
#[derive(Serialize, Clone, Debug)]
pub struct Warning {
    pub index: usize,
    pub phone_number: String,
    pub message: &'static str,
}

/// A batch body whose fields are valid; its contacts are checked apart, by a [`ContactChecker`], so
/// that they can be checked chunk by chunk while earlier chunks are being stored.
pub struct BatchEnvelope {
    /// `None` when the id is malformed: the campaign is then simply not found.
    pub campaign_id: Option<CampaignId>,
    pub organization_id: Option<String>,
    pub settings: BatchSettings,
}

fn body() -> Vec<Loc> {
    vec![Loc::from("body")]
}

/// Checks a batch body's fields (from JSON, or assembled from a multipart form) and the shape of its
/// contact list. Returns the fields when they are all valid, the contacts to check, and the problems.
/// Contacts refused as a whole (not a list, too short or too long) come back empty: none is checked.
pub fn envelope(obj: Map<String, Value>, contacts: Contacts) -> (Option<BatchEnvelope>, Contacts, Problems) {
    let mut p = Problems::default();
    let b = body();
    p.unknown_keys(&obj, &FIELDS, &b);
    let campaign_id = p.field(&obj, "campaign_id", &b, true).and_then(|v| p.string(v, at(&b, "campaign_id"), 1, 64));
    let organization_id =
        p.field(&obj, "organization_id", &b, false).and_then(|v| p.string(v, at(&b, "organization_id"), 1, 64));
    let scheduled_start = p.field(&obj, "scheduled_start", &b, false).and_then(|v| {
        let loc = at(&b, "scheduled_start");
        let parsed = v.as_str().and_then(parse_start);
        if parsed.is_none() {
            p.push(
                loc,
                "datetime_from_date_parsing",
                "Input should be a valid datetime (RFC 3339, with or without an offset)",
            );
        }
        parsed
    });
    let expires_at = p.field(&obj, "expires_at", &b, false).and_then(|v| p.instant(v, at(&b, "expires_at")));
    let range = CONCURRENCY_LIMIT_RANGE;
    let concurrency_limit = p
        .field(&obj, "concurrency_limit", &b, false)
        .and_then(|v| p.int(v, at(&b, "concurrency_limit"), *range.start(), *range.end()));
    let max_retries_override = p
        .field(&obj, "max_retries_override", &b, false)
        .and_then(|v| p.int(v, at(&b, "max_retries_override"), 0, RetryPolicy::MAX_RETRIES));
    let call_context = p
        .field(&obj, "call_context", &b, false)
        .and_then(|v| p.bounded_object(v, at(&b, "call_context"), MAX_OBJECT_BYTES));
    let metadata =
        p.field(&obj, "metadata", &b, false).and_then(|v| p.bounded_object(v, at(&b, "metadata"), MAX_OBJECT_BYTES));
    let contacts = if contact_count(&contacts, &mut p) { contacts } else { Contacts::Missing };
    let envelope = p.is_empty().then(|| BatchEnvelope {
        campaign_id: campaign_id.as_deref().and_then(CampaignId::parse),
        organization_id,
        settings: BatchSettings {
            concurrency_limit: concurrency_limit.map(|n| n as u32),
            max_retries_override: max_retries_override.map(|n| n as u8),
            scheduled_start,
            expires_at,
            call_context: call_context.unwrap_or_default(),
            metadata: metadata.unwrap_or_default(),
        },
    });
    (envelope, contacts, p)
}

/// Reports a `contacts` that is missing, not a list, or of a length not accepted (counted before any
/// contact is built); says whether it is accepted.
fn contact_count(contacts: &Contacts, p: &mut Problems) -> bool {
    let loc = at(&body(), "contacts");
    let before = p.0.len();
    match contacts.count() {
        None if matches!(contacts, Contacts::Missing) => p.push(loc, "missing", "Field required"),
        None => p.push(loc, "list_type", "Input should be a valid list"),
        Some(0) => p.push(loc, "too_short", "List should have at least 1 item after validation, not 0"),
        Some(n) if n > MAX_CONTACTS => {
            p.push(loc, "too_long", format!("List should have at most {MAX_CONTACTS} items after validation, not {n}"))
        }
        Some(_) => {}
    }
    p.0.len() == before
}

/// Checks contacts one by one, in list order: every problem is named by index; duplicates (after the
/// first) are dropped and counted; a contact without `callee_name` is kept with a warning. Once any
/// problem is found (in the body's fields too) nothing more is kept, only checked.
pub struct ContactChecker {
    problems: Problems,
    seen: HashSet<PhoneNumber>,
    warnings: Vec<Warning>,
    duplicates: usize,
    loc: Vec<Loc>,
}

/// What checking every contact found.
pub struct Checked {
    pub warnings: Vec<Warning>,
    pub duplicates_removed: usize,
}

impl ContactChecker {
    /// A checker that also reports `problems` already found in the body's fields.
    pub fn new(problems: Problems, expected: usize) -> Self {
        Self {
            problems,
            seen: HashSet::with_capacity(expected),
            warnings: Vec::new(),
            duplicates: 0,
            loc: at(&body(), "contacts"),
        }
    }

    /// Checks the contact at `index`; returns it when it is to be stored.
    pub fn check(&mut self, index: usize, item: Value) -> Option<NewContact> {
        let p = &mut self.problems;
        let item_loc = at(&self.loc, index);
        let Value::Object(mut obj) = item else {
            p.push(
                item_loc,
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            );
            return None;
        };
        p.unknown_keys(&obj, &["phone_number", "call_variables", "timezone", "region"], &item_loc);
        let phone = match obj.remove("phone_number") {
            None | Some(Value::Null) => {
                p.push(at(&item_loc, "phone_number"), "missing", "Field required");
                None
            }
            Some(Value::String(text)) => match PhoneNumber::parse(&text) {
                Ok(n) => Some(n),
                Err(e) => {
                    p.push(at(&item_loc, "phone_number"), "value_error", e.message());
                    None
                }
            },
            Some(_) => {
                p.push(at(&item_loc, "phone_number"), "string_type", "Input should be a valid string");
                None
            }
        };
        let vars = match obj.remove("call_variables") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(v) => p.bounded_object_owned(v, at(&item_loc, "call_variables"), MAX_OBJECT_BYTES),
        };
        let timezone = optional_text(p, &mut obj, &item_loc, "timezone").and_then(|name| {
            let tz = Timezone::parse(&name);
            if tz.is_none() {
                let message = format!("Value error, unknown IANA time zone '{name}' (e.g. 'America/New_York')");
                p.push(at(&item_loc, "timezone"), "value_error", message);
            }
            tz
        });
        let region = optional_text(p, &mut obj, &item_loc, "region").and_then(|code| {
            if is_known_region(&code) {
                return Some(code);
            }
            let message = format!("Value error, '{code}' is not a known ISO 3166-2 region code (e.g. 'US-FL')");
            p.push(at(&item_loc, "region"), "value_error", message);
            None
        });
        let (Some(phone_number), Some(call_variables)) = (phone, vars) else { return None };
        if !p.is_empty() {
            // Once anything is wrong nothing is stored: only keep checking.
            return None;
        }
        if self.seen.contains(&phone_number) {
            self.duplicates += 1;
            return None;
        }
        self.seen.insert(phone_number.clone());
        if !call_variables.contains_key("callee_name") {
            self.warnings.push(Warning {
                index,
                phone_number: phone_number.to_string(),
                message: "call_variables has no callee_name; the agent will not know whom it is calling",
            });
        }
        let zones = recipient::resolve(timezone, region.as_deref(), phone_number.as_str());
        Some(NewContact { phone_number, call_variables, zones, region })
    }

    /// Every problem found, or the warnings and the number of duplicates dropped.
    pub fn finish(self) -> Result<Checked, Error> {
        if !self.problems.is_empty() {
            return Err(Error::Validation(self.problems.0));
        }
        Ok(Checked { warnings: self.warnings, duplicates_removed: self.duplicates })
    }
}

/// An optional text field of a contact (`null` or absent: none), at most 64 characters.
fn optional_text(p: &mut Problems, obj: &mut Map<String, Value>, item_loc: &[Loc], name: &str) -> Option<String> {
    match obj.remove(name) {
        None | Some(Value::Null) => None,
        Some(v) => p.string(&v, at(item_loc, name), 1, 64),
    }
}

/// Contacts handed to storage at a time while the rest are being checked.
const CHUNK: usize = 4096;

/// Checks every contact, sending those to store in chunks as it goes; once a problem is found, or
/// the receiver is gone, it only checks. Blocking: run it off the async workers.
pub fn check_contacts(
    contacts: Contacts,
    problems: Problems,
    out: mpsc::Sender<Vec<NewContact>>,
) -> Result<Checked, Error> {
    let mut checker = ContactChecker::new(problems, contacts.count().unwrap_or(0));
    let items = contacts.into_items();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut sending = true;
    for (index, item) in items.into_iter().enumerate() {
        chunk.extend(checker.check(index, item));
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            sending = sending && out.blocking_send(full).is_ok();
        }
    }
    if sending && !chunk.is_empty() {
        let _ = out.blocking_send(chunk);
    }
    checker.finish()
}

/// Builds the fields of a multipart upload as the JSON fields, and its CSV file's rows as the contacts.
/// Numbers and objects arrive as text and are decoded where they parse, so that the same validation
/// (and the same error bodies) apply as for JSON.
pub fn from_form(fields: Vec<(String, String)>, csv: Option<Vec<u8>>) -> Result<(Map<String, Value>, Contacts), Error> {
    let mut obj = Map::new();
    for (name, text) in fields {
        let value = match name.as_str() {
            "concurrency_limit" | "max_retries_override" => {
                text.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(text))
            }
            "call_context" | "metadata" => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            _ if text.is_empty() => Value::Null,
            _ => Value::String(text),
        };
        obj.insert(name, value);
    }
    let file_loc = || vec![Loc::from("body"), Loc::from("file")];
    let Some(csv) = csv else {
        return Err(Error::invalid(file_loc(), "missing", "Field required: a CSV file in the form field 'file'"));
    };
    let (rows, total) = CsvRows::parse(csv).map_err(|msg| Error::invalid(file_loc(), "value_error", msg))?;
    Ok((obj, Contacts::Csv { rows, total }))
}

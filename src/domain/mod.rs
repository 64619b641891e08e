//! Pure domain types and rules: ids, phone numbers, working hours, campaigns; no I/O, no clock.

pub mod batch;
pub mod calendar;
pub mod caller_id;
pub mod calling_hours;
pub mod campaign;
pub mod contact;
pub mod eligibility;
pub mod events;
pub mod frequency;
pub mod ids;
#[cfg(test)]
mod no_import_circle;
pub mod numbering;
pub mod outcome;
pub mod pacing;
#[cfg(test)]
mod parsers_props;
pub mod phone;
pub mod phone_zones;
pub mod provider;
pub mod recipient;
pub mod recipient_hours;
#[cfg(test)]
mod recipient_hours_props;
pub mod regions;
pub mod simulate;
pub mod suppression;
pub mod time;
pub mod timezone;
pub mod voicemail;
pub mod webhook;
pub mod wire;
pub mod working_hours;
#[cfg(test)]
mod working_hours_props;
pub mod zone_key;

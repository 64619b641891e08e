//! Do-not-call use-cases (API.md §12.3): adding entries row by row (each refused row says why, the
//! others are added), listing, removing (the entry and its history stay) and checking numbers.

use crate::domain::campaign::{Campaign, WorkingHoursBasis};
use crate::domain::contact::Contact;
use crate::domain::eligibility::NumberRules;
use crate::domain::frequency::{self, CapScope, FrequencyCap, PastCall};
use crate::domain::ids::{CampaignId, ContactId, OrgId};
use crate::domain::suppression::{AddReport, NewSuppression, Suppression, SuppressionFilter};
use crate::error::Error;
use crate::store::{Page, Store};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// One entry of a request: checked, or refused with the reason.
pub enum Row {
    Entry(NewSuppression),
    Rejected(String),
}

/// Adds the valid entries in one transaction; an entry whose campaign is not the organization's, or
/// that expires before `now`, is refused; one repeated in the request, or already in force, is
/// counted as already present.
pub async fn add(store: &dyn Store, org: OrgId, rows: Vec<Row>, now: DateTime<Utc>) -> Result<AddReport, Error> {
    let mut known: HashMap<CampaignId, bool> = HashMap::new();
    for row in &rows {
        if let Row::Entry(NewSuppression { campaign_id: Some(c), .. }) = row
            && !known.contains_key(c)
        {
            known.insert(*c, store.get_campaign(org, *c).await?.is_some());
        }
    }
    let mut report = AddReport::default();
    let mut seen: HashSet<(String, Option<CampaignId>)> = HashSet::new();
    let mut entries = Vec::with_capacity(rows.len());
    for (index, row) in rows.into_iter().enumerate() {
        let entry = match row {
            Row::Rejected(reason) => {
                report.rejected.push((index, reason));
                continue;
            }
            Row::Entry(e) => e,
        };
        if let Some(c) = entry.campaign_id
            && !known.get(&c).copied().unwrap_or(false)
        {
            report.rejected.push((index, format!("Campaign {c} not found")));
        } else if entry.expires_at.is_some_and(|t| t <= now) {
            report.rejected.push((index, "expires_at must be in the future".into()));
        } else if !seen.insert((entry.phone_number.clone(), entry.campaign_id)) {
            report.already_present += 1;
        } else {
            entries.push(entry);
        }
    }
    let mut tx = store.begin().await?;
    report.added = tx.add_suppressions(org, &entries, now).await?;
    report.already_present += entries.len() as u64 - report.added;
    super::idempotency::commit(tx).await?;
    Ok(report)
}

/// The entries in force of these numbers, every scope.
pub async fn check(
    store: &dyn Store,
    org: OrgId,
    numbers: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Suppression>, Error> {
    store.suppressions_of(org, numbers, now).await
}

/// A page of entries, newest first, with the total matching.
pub async fn list(
    store: &dyn Store,
    org: OrgId,
    filter: &SuppressionFilter,
    page: &Page,
    now: DateTime<Utc>,
) -> Result<(Vec<Suppression>, i64), Error> {
    store.list_suppressions(org, filter, page, now).await
}

/// Removes the entry in force of `phone` in its scope, keeping it and its history; `404` when none.
pub async fn remove(
    store: &dyn Store,
    org: OrgId,
    phone: &str,
    campaign: Option<CampaignId>,
    now: DateTime<Utc>,
) -> Result<Suppression, Error> {
    store.remove_suppression(org, phone, campaign, now).await?.ok_or(Error::NotFound("Suppression"))
}

/// What the do-not-call list and the frequency caps say now about each open contact of a page, read
/// in two statements for the whole page (the rule is the claim's: `frequency::judge`).
pub async fn number_rules(
    store: &dyn Store,
    campaign: &Campaign,
    contacts: &[Contact],
    now: DateTime<Utc>,
) -> Result<HashMap<ContactId, NumberRules>, Error> {
    let s = &campaign.settings;
    let open: Vec<&Contact> = contacts.iter().filter(|c| c.status.is_waiting()).collect();
    let mut numbers: Vec<String> = open.iter().map(|c| c.phone_number.clone()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let org = campaign.organization_id;
    let suppressed: HashSet<String> =
        store.suppressed_among(org, campaign.id, &numbers, now).await?.into_iter().collect();
    let caps: Vec<Vec<FrequencyCap>> = open
        .iter()
        .map(|c| {
            frequency::caps_for(
                &s.frequency_caps,
                s.working_hours_basis == WorkingHoursBasis::Recipient,
                c.zone_key.as_ref().and_then(|k| k.region.as_deref()),
            )
        })
        .collect();
    let mut history: HashMap<String, Vec<PastCall>> = HashMap::new();
    if let Some(lookback) = caps.iter().filter_map(|c| frequency::lookback(c)).max() {
        let whole_org = caps.iter().flatten().any(|c| c.scope == CapScope::Organization);
        let scope = if whole_org { None } else { Some(campaign.id) };
        for (number, call) in store.calls_to(org, scope, &numbers, now - lookback).await? {
            history.entry(number).or_default().push(call);
        }
    }
    Ok(open
        .iter()
        .zip(caps)
        .map(|(c, caps)| {
            let past = history.get(&c.phone_number).map_or(&[][..], Vec::as_slice);
            let rules = NumberRules {
                suppressed: suppressed.contains(&c.phone_number),
                capped_until: frequency::judge(&caps, campaign.id, past, now).held_until,
            };
            (c.id, rules)
        })
        .collect())
}

//! The rules a claimed number passes before its call starts, in the claim's transaction: the
//! do-not-call list (API.md §12.3) and the frequency caps (§12.4). A suppressed number's contact is
//! skipped; a capped one is held until the cap lets it through, keeping its status.

use crate::domain::batch::Batch;
use crate::domain::campaign::{Campaign, WorkingHoursBasis};
use crate::domain::frequency::{self, CapScope, PastCall};
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::{ClaimedContact, ScreenedContact, Tx};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A claimed contact that may be called, with the caps it was judged by and their counts
/// (`decision.caps`), or `None` when no cap applies to it.
pub(super) type Kept = (Batch, ClaimedContact, Option<Value>);

/// Screens the claimed contacts: skips those whose numbers are suppressed, holds those a cap holds
/// back, and returns the others in claim order with how many it turned away.
pub(super) async fn screen(
    tx: &mut dyn Tx,
    campaign: &Campaign,
    claimed: Vec<(Batch, ClaimedContact)>,
    now: DateTime<Utc>,
) -> Result<(Vec<Kept>, usize), Error> {
    let s = &campaign.settings;
    let org = campaign.organization_id;
    let mut numbers: Vec<String> = claimed.iter().map(|(_, c)| c.phone_number.clone()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let suppressed: HashSet<String> = tx.suppressed_among(org, campaign.id, &numbers, now).await?.into_iter().collect();
    let caps: Vec<Vec<frequency::FrequencyCap>> = claimed
        .iter()
        .map(|(_, c)| {
            let region = c.zone_key.as_deref().and_then(ZoneKey::parse).and_then(|k| k.region);
            frequency::caps_for(
                &s.frequency_caps,
                s.working_hours_basis == WorkingHoursBasis::Recipient,
                region.as_deref(),
            )
        })
        .collect();
    let mut history: HashMap<String, Vec<PastCall>> = HashMap::new();
    if let Some(lookback) = caps.iter().filter_map(|c| frequency::lookback(c)).max() {
        let capped: Vec<String> = claimed
            .iter()
            .zip(&caps)
            .filter(|((_, c), caps)| !caps.is_empty() && !suppressed.contains(&c.phone_number))
            .map(|((_, c), _)| c.phone_number.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let whole_org = caps.iter().flatten().any(|c| c.scope == CapScope::Organization);
        if whole_org {
            // Another campaign's claim of the same number counts before or after this one.
            let mut sorted = capped.clone();
            sorted.sort_unstable();
            tx.lock_numbers(&sorted).await?;
        }
        let scope = if whole_org { None } else { Some(campaign.id) };
        for (number, call) in tx.calls_to(org, scope, &capped, now - lookback).await? {
            history.entry(number).or_default().push(call);
        }
    }
    let (mut kept, mut skips, mut holds) = (Vec::new(), Vec::new(), Vec::new());
    for ((batch, contact), caps) in claimed.into_iter().zip(caps) {
        if suppressed.contains(&contact.phone_number) {
            skips.push(ScreenedContact { contact_id: contact.id, batch_id: batch.id, status: contact.status });
            continue;
        }
        if caps.is_empty() {
            kept.push((batch, contact, None));
            continue;
        }
        let past = history.entry(contact.phone_number.clone()).or_default();
        let judged = frequency::judge(&caps, campaign.id, past, now);
        match judged.held_until {
            Some(until) => holds.push((contact.id, until)),
            None => {
                // A second contact of the same number in this claim counts this call.
                past.push(PastCall { campaign: campaign.id, at: now });
                kept.push((batch, contact, Some(frequency::evidence(&caps, &judged.counts))));
            }
        }
    }
    tx.skip_claimed(&skips, now).await?;
    tx.hold_claimed(&holds).await?;
    Ok((kept, skips.len() + holds.len()))
}

//! The claim: in one short transaction, what a campaign may call now, within its hours and limits,
//! written as calls (with the contacts' prior state, should telephony not take them).

use super::Dispatcher;
use super::place::Claimed;
use super::screen;
use super::zones::Open;
use crate::domain::caller_id;
use crate::domain::campaign::PhoneNumberStrategy;
use crate::domain::contact::{CallKind, ContactStatus};
use crate::domain::ids::{CampaignId, ExecutionId};
use crate::domain::pacing;
use crate::domain::time::never;
use crate::domain::voicemail::VoicemailAction;
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::{LockedForDispatch, NewCall, UnplacedCall};
use crate::telephony::placer::CallRequest;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// What one claim did.
#[derive(Default)]
pub(super) struct Claim {
    /// Calls claimed (and recorded).
    pub claimed: usize,
    /// The calls still to hand to the placer.
    pub to_place: Vec<Claimed>,
    /// Claimed contacts the rules of calling turned away (skipped or held).
    pub turned_away: usize,
}

impl Dispatcher {
    /// Claims what the campaign may call now, in one short transaction. Returns `None` when another
    /// transaction held the campaign (or it stopped being active meanwhile).
    pub(super) async fn claim(&self, id: CampaignId, slot: u32, now: DateTime<Utc>) -> Result<Option<Claim>, Error> {
        if !self.store.still_due(id, now).await? {
            // Claimed meanwhile (by another stream or replica): not worth a turn in a slot.
            return Ok(Some(Claim::default()));
        }
        let mut tx = self.store.begin().await?;
        if !tx.take_dispatch_slot(slot, self.streams).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let Some(LockedForDispatch { campaign, round_robin_cursor: cursor, due_at }) =
            tx.lock_campaign_for_dispatch(id).await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        if due_at > now {
            // Claimed meanwhile (by another stream or replica, whose claim recorded when more is due).
            tx.rollback().await?;
            return Ok(Some(Claim::default()));
        }
        let s = &campaign.settings;
        let hours = self.store.calling_hours(&campaign).await?;
        // Judged by zone key: the recipient basis, or calendar entries for some regions only.
        let by_key = hours.by_key();
        if !by_key && !hours.is_open(None, now) {
            // Closed: nothing looks at the campaign again until its hours open (or it changes).
            let opens = hours.next_open(None, now).unwrap_or_else(never);
            tx.set_opens_at(id, opens).await?;
            tx.commit().await?;
            return Ok(Some(Claim::default()));
        }
        let mut capacity = i64::from(s.concurrency_limit) - campaign.in_flight;
        // Pacing: this second's count is locked until commit, so replicas count one after another.
        let second = pacing::second_of(now);
        let mut paced_room = None;
        if let Some(per_second) = self.calls_per_second
            && capacity > 0
        {
            let room = pacing::room(per_second, tx.paced_calls(second).await?);
            if room == 0 {
                tx.rollback().await?;
                self.pace_until(pacing::next_second(now));
                return Ok(Some(Claim::default()));
            }
            capacity = capacity.min(room);
            paced_room = Some(room);
        }
        let mut claimed = Vec::new();
        for batch in tx.running_batches(id, now).await? {
            if capacity <= 0 {
                break;
            }
            if batch.scheduled_start > now {
                continue;
            }
            let room = batch.concurrency_limit.map_or(capacity, |l| capacity.min(i64::from(l) - batch.in_flight));
            if room <= 0 {
                continue;
            }
            let open =
                if by_key { self.zone_keys.open(&*self.store, batch.id, &hours, now).await? } else { Some(Open::All) };
            let contacts = match open {
                None => continue,
                Some(Open::All) => tx.claim_contacts(batch.id, now, room).await?,
                Some(Open::Keys(keys)) => tx.claim_contacts_in(batch.id, &keys, now, room).await?,
            };
            capacity -= contacts.len() as i64;
            claimed.extend(contacts.into_iter().map(|c| (batch.clone(), c)));
        }
        let (claimed, turned_away) = if claimed.is_empty() {
            (Vec::new(), 0)
        } else {
            screen::screen(&mut *tx, &campaign, claimed, now).await?
        };
        if claimed.is_empty() {
            // Nothing due yet: the campaign's `due_at` (a lower bound, stale after a pause or a resume)
            // says when something will be; an unchanged one is not written. Judged by zone key, it is
            // when the first waiting key opens.
            let changed = if by_key {
                let work = tx.zone_work(id).await?;
                tx.set_due_at(id, hours.next_start(&work, now).unwrap_or_else(never)).await?
            } else {
                tx.refresh_due_at(id).await?
            };
            if changed || turned_away > 0 {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            return Ok(Some(Claim { turned_away, ..Claim::default() }));
        }
        let live = if s.phone_number_strategy == PhoneNumberStrategy::LeastLoaded {
            let by_number = tx.live_calls_by_number(id).await?;
            s.phone_numbers.iter().map(|n| by_number.get(n.as_str()).copied().unwrap_or(0)).collect()
        } else {
            Vec::new()
        };
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| Error::internal(e.to_string()))?;
        let mut state = u64::from_le_bytes(seed) | 1;
        let picks =
            caller_id::pick(s.phone_number_strategy, s.phone_numbers.len(), cursor, &live, claimed.len(), || {
                // xorshift64*: uniform enough to spread calls over caller IDs
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                state.wrapping_mul(0x2545_f491_4f6c_dd1d)
            });
        // The evidence of this decision, alike for the contacts of one zone key.
        let mut decisions: HashMap<Option<String>, Arc<str>> = HashMap::new();
        let mut calls = Vec::with_capacity(claimed.len());
        let mut requests = Vec::with_capacity(claimed.len());
        let mut priors = Vec::with_capacity(claimed.len());
        for ((batch, contact, caps), pick) in claimed.into_iter().zip(picks) {
            let kind = match contact.status {
                ContactStatus::Retrying => CallKind::Retry,
                ContactStatus::FollowupScheduled => CallKind::FollowUp,
                _ => CallKind::Initial,
            };
            let execution_id = ExecutionId::generate();
            let from_number = s.phone_numbers[pick].to_string();
            let attempt = contact.retry_count + contact.follow_up_count;
            priors.push(contact.prior.clone());
            let mut call_variables = s.default_call_variables.clone();
            call_variables.extend(contact.call_variables);
            let request = CallRequest {
                execution_id,
                campaign_id: id,
                batch_id: batch.id,
                contact_id: contact.id,
                agent_id: s.agent_id.clone(),
                from_number: from_number.clone(),
                to_number: contact.phone_number.clone(),
                call_variables,
                call_context: batch.call_context,
                attempt,
                kind,
                voicemail_action: VoicemailAction::of_metadata(&s.metadata),
                dispatched_at: now,
                deadline_at: now + self.call_timeout,
            };
            let decision = match (caps, decisions.get(&contact.zone_key)) {
                (Some(caps), _) => {
                    // The caps' counts are this number's own.
                    let key = contact.zone_key.as_deref().and_then(ZoneKey::parse);
                    let mut d = hours.decision(key.as_ref(), now);
                    d["caps"] = caps;
                    d.to_string().into()
                }
                (None, Some(d)) => d.clone(),
                (None, None) => {
                    let key = contact.zone_key.as_deref().and_then(ZoneKey::parse);
                    let d: Arc<str> = hours.decision(key.as_ref(), now).to_string().into();
                    decisions.insert(contact.zone_key.clone(), d.clone());
                    d
                }
            };
            calls.push(NewCall {
                decision,
                accepted: self.placer.accept_at_once(&request),
                execution_id,
                contact_id: contact.id,
                batch_id: batch.id,
                campaign_id: id,
                from_status: contact.status,
                attempt,
                kind,
                from_number: from_number.clone(),
                to_number: contact.phone_number.clone(),
                provider: self.placer.provider(),
                dispatched_at: now,
                deadline_at: now + self.call_timeout,
            });
            requests.push(request);
        }
        let advance = if s.phone_number_strategy == PhoneNumberStrategy::RoundRobin { calls.len() as i64 } else { 0 };
        tx.insert_calls(id, &calls, advance).await?;
        if let Some(room) = paced_room {
            tx.add_paced_calls(second, calls.len() as i64).await?;
            if calls.len() as i64 >= room {
                self.pace_until(pacing::next_second(now));
            }
        }
        tx.refresh_due_at(id).await?;
        tx.commit().await?;
        let calls_len = calls.len();
        // Calls telephony accepted at once were recorded (and handed over) by the claim itself; the
        // others are counted when they are sent.
        let to_place: Vec<Claimed> = requests
            .into_iter()
            .zip(calls)
            .zip(priors)
            .filter(|((_, c), _)| c.accepted.is_none())
            .map(|((request, c), prior)| Claimed {
                unplaced: UnplacedCall {
                    execution_id: c.execution_id,
                    contact_id: c.contact_id,
                    batch_id: c.batch_id,
                    campaign_id: c.campaign_id,
                    kind: c.kind,
                    prior,
                },
                request,
            })
            .collect();
        self.metrics.add_calls_placed((calls_len - to_place.len()) as u64);
        Ok(Some(Claim { claimed: calls_len, to_place, turned_away }))
    }
}

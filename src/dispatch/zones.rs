//! The claim in the recipient basis (API.md §12.1, DESIGN.md "Calling rules in the recipient's
//! time"): which zone keys of a batch are open now, and when the campaign's waiting work may next
//! start, judged key by key rather than contact by contact.

use crate::domain::campaign::CampaignSettings;
use crate::domain::ids::BatchId;
use crate::domain::recipient::Floor;
use crate::domain::recipient_hours::RecipientHours;
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::{Store, ZoneWork};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Batches whose keys are remembered at most (they never change; the oldest are forgotten).
const REMEMBERED_BATCHES: usize = 4096;

/// A batch's zone keys, as text and parsed; `None` for a batch stored before contacts had keys.
type BatchKeys = Arc<Option<Vec<(String, ZoneKey)>>>;

/// The zone keys of the batches this process has claimed from.
#[derive(Default)]
pub(super) struct ZoneKeys(Mutex<HashMap<BatchId, BatchKeys>>);

/// Which contacts of a batch may be called now.
pub(super) enum Open {
    /// Every contact (a batch without keys, judged in the campaign's zone, open now).
    All,
    /// Those of these keys.
    Keys(Vec<String>),
}

impl ZoneKeys {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<BatchId, BatchKeys>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn of(&self, store: &dyn Store, batch: BatchId) -> Result<BatchKeys, Error> {
        let known = self.map().get(&batch).cloned();
        if let Some(keys) = known {
            return Ok(keys);
        }
        let texts = store.batch_zone_keys(batch).await?;
        let parsed = texts.map(|texts| texts.into_iter().filter_map(|t| ZoneKey::parse(&t).map(|k| (t, k))).collect());
        let keys = Arc::new(parsed);
        let mut map = self.map();
        if map.len() >= REMEMBERED_BATCHES {
            map.clear();
        }
        map.insert(batch, keys.clone());
        Ok(keys)
    }

    /// The contacts of `batch` that may be called at `now` under `rule`; `None` when none may.
    pub(super) async fn open(
        &self,
        store: &dyn Store,
        batch: BatchId,
        rule: &Rule,
        now: DateTime<Utc>,
    ) -> Result<Option<Open>, Error> {
        let open = match &*self.of(store, batch).await? {
            None => rule.hours.is_open(&rule.own_zone, now).then_some(Open::All),
            Some(keys) => {
                let open: Vec<String> =
                    keys.iter().filter(|(_, k)| rule.hours.is_open(k, now)).map(|(t, _)| t.clone()).collect();
                (!open.is_empty()).then_some(Open::Keys(open))
            }
        };
        Ok(open)
    }
}

/// A campaign's recipient-basis rule, with the key that stands for its own zone (for contacts stored
/// before contacts had keys).
pub(super) struct Rule {
    pub hours: RecipientHours,
    pub own_zone: ZoneKey,
}

impl Rule {
    pub fn of(s: &CampaignSettings) -> Self {
        Self {
            hours: RecipientHours::new(&s.working_hours, s.working_hours_enforced),
            own_zone: ZoneKey { zones: vec![s.timezone], region: None, floor: Floor::None },
        }
    }

    /// The earliest instant at or after `now` when a contact of `work` may start, as far as zones,
    /// hours, starts and expiries tell; `None` when none ever may.
    pub fn next_start(&self, work: &[ZoneWork], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut parsed: HashMap<&str, Option<ZoneKey>> = HashMap::new();
        let mut best: Option<DateTime<Utc>> = None;
        for w in work {
            let key = match &w.zone_key {
                None => Some(&self.own_zone),
                Some(text) => parsed.entry(text.as_str()).or_insert_with(|| ZoneKey::parse(text)).as_ref(),
            };
            let Some(key) = key else { continue };
            let starts = [w.pending.then_some(w.scheduled_start), w.next_retry_at];
            for start in starts.into_iter().flatten() {
                let Some(t) = self.hours.next_open(key, start.max(now)) else { continue };
                if w.expires_at.is_some_and(|e| e <= t) || best.is_some_and(|b| b <= t) {
                    continue;
                }
                best = Some(t);
            }
        }
        best
    }
}

//! The claim by zone key (API.md §12.1, §12.2, DESIGN.md "Calling rules in the recipient's
//! time"): which zone keys of a batch are open now, and when the campaign's waiting work may next
//! start (`CallingHours::next_start`), judged key by key rather than contact by contact.

use crate::domain::calling_hours::CallingHours;
use crate::domain::ids::BatchId;
use crate::domain::zone_key::ZoneKey;
use crate::error::Error;
use crate::store::Store;
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

    /// The contacts of `batch` that `hours` let be called at `now`; `None` when none may.
    pub(super) async fn open(
        &self,
        store: &dyn Store,
        batch: BatchId,
        hours: &CallingHours,
        now: DateTime<Utc>,
    ) -> Result<Option<Open>, Error> {
        let open = match &*self.of(store, batch).await? {
            None => hours.is_open(None, now).then_some(Open::All),
            Some(keys) => {
                let open: Vec<String> =
                    keys.iter().filter(|(_, k)| hours.is_open(Some(k), now)).map(|(t, _)| t.clone()).collect();
                (!open.is_empty()).then_some(Open::Keys(open))
            }
        };
        Ok(open)
    }
}

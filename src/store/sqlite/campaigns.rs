//! Campaign rows: the statements are shared (`store/common/listings.rs`), and a campaign needs no
//! lock of its own here.

use super::Tx;
use crate::domain::ids::CampaignId;
use crate::error::Error;

crate::store::common::campaign_statements!();
crate::store::common::calendar_statements!();

impl Tx<'_> {
    /// The writer, held by this transaction, already excludes every other one.
    pub async fn try_lock_campaign(&mut self, _id: CampaignId) -> Result<bool, Error> {
        Ok(true)
    }
}

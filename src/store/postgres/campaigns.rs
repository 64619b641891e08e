//! Campaign rows: the statements are shared (`store/common/listings.rs`), and taking a campaign's
//! lock without waiting for it.

use super::Tx;
use crate::domain::ids::CampaignId;
use crate::error::Error;

crate::store::common::campaign_statements!();
crate::store::common::calendar_statements!();

impl Tx<'_> {
    pub async fn try_lock_campaign(&mut self, id: CampaignId) -> Result<bool, Error> {
        let locked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE SKIP LOCKED")
            .bind(id.uuid())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(locked.is_some())
    }
}

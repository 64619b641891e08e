//! Events and webhook deliveries on SQLite: the statements written once (`store/common`), and the
//! leases a new server forgets.

use super::Store;
use crate::error::Error;

crate::store::common::event_statements!();
crate::store::common::endpoint_statements!();
crate::store::common::delivery_statements!();

impl Store {
    /// Forgets every delivery lease: one server owns the file, so any lease belongs to an earlier
    /// run of it that ended, perhaps mid-delivery (those deliveries are made again).
    pub async fn announce_owner(&self, _owner: i64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
        )
        .execute(self.writes())
        .await?;
        sqlx::query("UPDATE webhook_retries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
            .execute(self.writes())
            .await?;
        Ok(())
    }
}

//! Events and webhook deliveries on SQLite: the statements written once (`store/common`), and the
//! leases a new server forgets.

use super::Store;
use crate::domain::ids::EndpointId;
use crate::domain::webhook::Attempt;
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

/// A try as a row of the JSON array: event, number, time, status, duration, error.
type AttemptRow<'a> = (i64, i64, i64, Option<i64>, i64, Option<&'a str>);

/// Writes an endpoint's tries (at least one), each with its number, in one statement: their fields as one JSON
/// array of rows (a stream's chunk holds hundreds; SQLite binds a statement's parameters by name,
/// looking each name up in a list, so a parameter per field of each costs the square of their number).
async fn insert_attempts(
    conn: &mut sqlx::SqliteConnection,
    endpoint: EndpointId,
    numbered: &[(&Attempt, i64)],
) -> Result<(), Error> {
    let rows: Vec<AttemptRow> = numbered
        .iter()
        .map(|(a, n)| (a.event.0, *n, super::micros(a.attempted_at), a.status_code, a.duration_ms, a.error.as_deref()))
        .collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (endpoint_id, seq, attempt, attempted_at, status_code, duration_ms, error)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?2)",
    )
    .bind(super::db_id(endpoint.uuid()))
    .bind(serde_json::to_string(&rows).map_err(Error::internal)?)
    .execute(conn)
    .await?;
    Ok(())
}

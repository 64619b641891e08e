//! Delivering events to customer webhook endpoints (API.md §13): streams of new events per endpoint
//! and retries of failed ones, each leased on the real clock by one replica while it sends.

/// The delivery worker's claims and results, for the engine where it expands.
macro_rules! delivery_statements {
    () => {
        mod deliveries_written_once {
            use super::super::{SKIP_LOCKED, Store, among_ids, among_ints, db_at, db_id, db_ids, db_ints, owner_gone};
            use super::endpoints_written_once::{ENDPOINT_COLUMNS, endpoint};
            use super::events_written_once::write_event;
            use crate::domain::events::{EventId, EventType};
            use crate::domain::ids::EndpointId;
            use crate::domain::webhook::{Attempt, DueRetry, Lease, RetryDone, RetryNext, Stream, StreamDone};
            use crate::error::Error;
            use crate::store::rows::Cells;
            use chrono::{DateTime, Utc};
            use std::collections::HashMap;

            /// Writes tries, numbering each after the tries of its event at its endpoint: those are
            /// read first in one statement (over the range of the events when it is dense, as a
            /// stream's chunk is), not counted once per try; the tries go in with one statement too.
            async fn write_attempts(
                conn: &mut <super::super::Db as sqlx::Database>::Connection,
                endpoint: EndpointId,
                attempts: &[&Attempt],
            ) -> Result<(), Error> {
                let (Some(lo), Some(hi)) =
                    (attempts.iter().map(|a| a.event.0).min(), attempts.iter().map(|a| a.event.0).max())
                else {
                    return Ok(());
                };
                // The endpoint's row first, as every transaction that writes tries takes it.
                sqlx::query("UPDATE webhook_endpoints SET tries = tries + $2 WHERE id = $1")
                    .bind(db_id(endpoint.uuid()))
                    .bind(attempts.len() as i64)
                    .execute(&mut *conn)
                    .await?;
                let counted = "SELECT seq, count(*) AS n FROM webhook_attempts WHERE endpoint_id = $1 AND seq";
                let earlier = if hi - lo <= 4 * attempts.len() as i64 {
                    let sql = format!("{counted} >= $2 AND seq <= $3 GROUP BY seq");
                    sqlx::query(&sql).bind(db_id(endpoint.uuid())).bind(lo).bind(hi).fetch_all(&mut *conn).await?
                } else {
                    let sql = format!("{counted} {} GROUP BY seq", among_ints("$2"));
                    let seqs = db_ints(attempts.iter().map(|a| a.event.0).collect());
                    sqlx::query(&sql).bind(db_id(endpoint.uuid())).bind(seqs).fetch_all(&mut *conn).await?
                };
                let mut tried: HashMap<i64, i64> = HashMap::new();
                for row in earlier {
                    tried.insert(row.int("seq")?, row.int("n")?);
                }
                let numbered: Vec<(&Attempt, i64)> = attempts
                    .iter()
                    .map(|a| {
                        let number = tried.entry(a.event.0).or_insert(0);
                        *number += 1;
                        (*a, *number)
                    })
                    .collect();
                super::insert_attempts(conn, endpoint, &numbered).await?;
                Ok(())
            }

            impl Store {
                pub async fn claim_streams(&self, lease: &Lease, limit: i64) -> Result<Vec<Stream>, Error> {
                    let claimable = format!(
                        "NOT e.disabled AND NOT e.failing AND (e.lease_until IS NULL OR e.lease_until < $3 OR {})
                         AND e.cursor < (SELECT h.last_seq FROM event_heads h WHERE h.organization_id = e.organization_id)",
                        owner_gone("e.lease_owner")
                    );
                    // Looked for with a read first: most passes find nothing, and on SQLite a write
                    // waits for the one writer.
                    let any = format!("SELECT e.id FROM webhook_endpoints e WHERE {claimable} LIMIT 1");
                    let q = sqlx::query(&any).bind(lease.owner).bind(db_at(lease.until)).bind(db_at(lease.now));
                    if q.fetch_optional(self.reads()).await?.is_none() {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "UPDATE webhook_endpoints SET lease_owner = $1, lease_until = $2
                         WHERE id IN (SELECT e.id FROM webhook_endpoints e WHERE {claimable}
                                      ORDER BY e.id LIMIT $4{SKIP_LOCKED})
                           AND (lease_until IS NULL OR lease_until < $3 OR {})
                         RETURNING {ENDPOINT_COLUMNS}, cursor",
                        owner_gone("lease_owner")
                    );
                    let q = sqlx::query(&sql).bind(lease.owner).bind(db_at(lease.until)).bind(db_at(lease.now)).bind(limit);
                    let rows = q.fetch_all(self.writes()).await?;
                    rows.iter().map(|r| Ok(Stream { endpoint: endpoint(r)?, cursor: EventId(r.int("cursor")?) })).collect()
                }

                pub async fn finish_stream(
                    &self,
                    owner: i64,
                    done: &StreamDone,
                    renew: Option<DateTime<Utc>>,
                ) -> Result<bool, Error> {
                    let mut tx = self.writes().begin().await?;
                    // The endpoint's row first. A cursor never goes back; a lease lost meanwhile leaves
                    // the endpoint to its new holder. An endpoint deleted meanwhile takes nothing more:
                    // its tries would never be pruned (a deletion after this waits for it, and takes
                    // these tries with the rest).
                    let held = sqlx::query(
                        "UPDATE webhook_endpoints SET cursor = CASE WHEN cursor < $3 THEN $3 ELSE cursor END,
                            failing = $4, lease_until = $5, lease_owner = CASE WHEN $6 THEN lease_owner END
                         WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(db_id(done.endpoint.uuid()))
                    .bind(owner)
                    .bind(done.cursor.0)
                    .bind(done.failing)
                    .bind(renew.map(db_at))
                    .bind(renew.is_some())
                    .execute(&mut *tx)
                    .await?;
                    if held.rows_affected() == 0 {
                        let there: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints WHERE id = $1")
                            .bind(db_id(done.endpoint.uuid()))
                            .fetch_one(&mut *tx)
                            .await?;
                        if there == 0 {
                            tx.rollback().await?;
                            return Ok(false);
                        }
                    }
                    let attempts: Vec<&Attempt> = done.attempts.iter().collect();
                    write_attempts(&mut tx, done.endpoint, &attempts).await?;
                    for chunk in done.retries.chunks(100) {
                        let rows: Vec<String> =
                            (0..chunk.len()).map(|i| format!("($1, ${}, 1, ${})", 2 + 2 * i, 3 + 2 * i)).collect();
                        let sql = format!(
                            "INSERT INTO webhook_retries (endpoint_id, seq, step, due_at) VALUES {}
                             ON CONFLICT (endpoint_id, seq) DO NOTHING",
                            rows.join(", ")
                        );
                        let mut q = sqlx::query(&sql).bind(db_id(done.endpoint.uuid()));
                        for (event, due) in chunk {
                            q = q.bind(event.0).bind(db_at(*due));
                        }
                        q.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(held.rows_affected() == 1)
                }

                pub async fn release_leases(
                    &self,
                    owner: i64,
                    streams: &[EndpointId],
                    retries: &[(EndpointId, EventId)],
                ) -> Result<(), Error> {
                    let mut tx = self.writes().begin().await?;
                    let sql = format!(
                        "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL
                         WHERE lease_owner = $1 AND id {}",
                        among_ids("$2")
                    );
                    let ids = db_ids(streams.iter().map(|e| e.uuid()).collect());
                    sqlx::query(&sql).bind(owner).bind(ids).execute(&mut *tx).await?;
                    for (endpoint, event) in retries {
                        sqlx::query(
                            "UPDATE webhook_retries SET lease_owner = NULL, lease_until = NULL
                             WHERE endpoint_id = $1 AND seq = $2 AND lease_owner = $3",
                        )
                        .bind(db_id(endpoint.uuid()))
                        .bind(event.0)
                        .bind(owner)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                pub async fn claim_retries(
                    &self,
                    lease: &Lease,
                    due_by: DateTime<Utc>,
                    busy: &[EndpointId],
                    per_endpoint: i64,
                    limit: i64,
                ) -> Result<Vec<DueRetry>, Error> {
                    let due = format!(
                        "FROM webhook_retries r JOIN webhook_endpoints e ON e.id = r.endpoint_id
                         WHERE r.due_at <= $3 AND (r.lease_until IS NULL OR r.lease_until < $4 OR {}) AND NOT e.disabled
                           AND NOT (r.endpoint_id {})",
                        owner_gone("r.lease_owner"),
                        among_ids("$5"),
                    );
                    let busy = db_ids(busy.iter().map(|e| e.uuid()).collect());
                    let (until, due_by, now) = (db_at(lease.until), db_at(due_by), db_at(lease.now));
                    // Looked for with a read first, as streams are.
                    let any = format!("SELECT r.seq {due} LIMIT 1");
                    let q = sqlx::query(&any).bind(lease.owner).bind(until).bind(due_by).bind(now).bind(busy.clone());
                    if q.fetch_optional(self.reads()).await?.is_none() {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "UPDATE webhook_retries SET lease_owner = $1, lease_until = $2
                         WHERE (endpoint_id, seq) IN (
                            SELECT endpoint_id, seq FROM (
                                SELECT r.endpoint_id, r.seq, row_number() OVER (PARTITION BY r.endpoint_id ORDER BY r.due_at, r.seq) AS n
                                {due}) c
                            WHERE c.n <= $6 LIMIT $7)
                           AND (lease_until IS NULL OR lease_until < $4 OR {})
                         RETURNING endpoint_id, seq, step, generation",
                        owner_gone("lease_owner")
                    );
                    let q = sqlx::query(&sql)
                        .bind(lease.owner)
                        .bind(until)
                        .bind(due_by)
                        .bind(now)
                        .bind(busy)
                        .bind(per_endpoint)
                        .bind(limit);
                    let claimed = q.fetch_all(self.writes()).await?;
                    if claimed.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut ids: Vec<uuid::Uuid> = claimed.iter().map(|r| r.id("endpoint_id")).collect::<Result<_, _>>()?;
                    ids.sort_unstable();
                    ids.dedup();
                    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id {}", among_ids("$1"));
                    let rows = sqlx::query(&sql).bind(db_ids(ids)).fetch_all(self.writes()).await?;
                    let endpoints: HashMap<uuid::Uuid, _> =
                        rows.iter().map(|r| endpoint(r).map(|e| (e.id.uuid(), e))).collect::<Result<_, _>>()?;
                    let mut due = Vec::with_capacity(claimed.len());
                    for r in &claimed {
                        if let Some(e) = endpoints.get(&r.id("endpoint_id")?) {
                            due.push(DueRetry {
                                endpoint: e.clone(),
                                event: EventId(r.int("seq")?),
                                step: r.int("step")?,
                                generation: r.int("generation")?,
                            });
                        }
                    }
                    Ok(due)
                }

                pub async fn finish_retries(&self, owner: i64, done: &[RetryDone], now: DateTime<Utc>) -> Result<(), Error> {
                    let mut tx = self.writes().begin().await?;
                    let mut tried: HashMap<EndpointId, Vec<&Attempt>> = HashMap::new();
                    for d in done {
                        tried.entry(d.endpoint).or_default().extend(d.attempt.as_ref());
                    }
                    // Endpoint by endpoint in one order, so that two replicas' transactions never
                    // wait for each other's endpoint rows.
                    let mut in_order: Vec<(&EndpointId, &Vec<&Attempt>)> = tried.iter().collect();
                    in_order.sort_by_key(|(endpoint, _)| endpoint.uuid());
                    for (endpoint, attempts) in in_order {
                        write_attempts(&mut tx, *endpoint, attempts).await?;
                    }
                    for d in done {
                        let endpoint = db_id(d.endpoint.uuid());
                        // A replay asked for while the try was in flight (a new generation) stands.
                        let held = "WHERE endpoint_id = $1 AND seq = $2 AND lease_owner = $3 AND generation = $4";
                        let mut ended = false;
                        match &d.next {
                            RetryNext::Again(step, due) => {
                                let sql = format!("UPDATE webhook_retries SET step = $5, due_at = $6 {held}");
                                sqlx::query(&sql)
                                    .bind(endpoint)
                                    .bind(d.event.0)
                                    .bind(owner)
                                    .bind(d.generation)
                                    .bind(*step)
                                    .bind(db_at(*due))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            RetryNext::Done | RetryNext::Disable(_) => {
                                let sql = format!("DELETE FROM webhook_retries {held}");
                                let q = sqlx::query(&sql).bind(endpoint).bind(d.event.0).bind(owner).bind(d.generation);
                                ended = q.execute(&mut *tx).await?.rows_affected() == 1;
                            }
                        }
                        sqlx::query(
                            "UPDATE webhook_retries SET lease_owner = NULL, lease_until = NULL
                             WHERE endpoint_id = $1 AND seq = $2 AND lease_owner = $3",
                        )
                        .bind(endpoint)
                        .bind(d.event.0)
                        .bind(owner)
                        .execute(&mut *tx)
                        .await?;
                        if d.attempt.as_ref().is_some_and(Attempt::delivered) {
                            sqlx::query("UPDATE webhook_endpoints SET failing = false WHERE id = $1 AND failing")
                                .bind(endpoint)
                                .execute(&mut *tx)
                                .await?;
                        }
                        // Only the last step's own end disables: not one a replay or another replica renewed.
                        if let RetryNext::Disable(data) = &d.next
                            && ended
                        {
                            let disabled = sqlx::query(
                                "UPDATE webhook_endpoints SET disabled = true WHERE id = $1 AND NOT disabled
                                 RETURNING organization_id",
                            )
                            .bind(endpoint)
                            .fetch_optional(&mut *tx)
                            .await?;
                            if let Some(row) = disabled {
                                let org = crate::domain::ids::OrgId::from_uuid(row.id("organization_id")?);
                                write_event(&mut tx, org, EventType::EndpointDisabled, d.endpoint.uuid(), data, now).await?;
                            }
                        }
                    }
                    // Their events gone (pruned), the endpoints may have no retry left to wait for.
                    let ended = crate::store::common::end_waits(&format!("id {}", among_ids("$1")));
                    let endpoints = db_ids(tried.keys().map(|e| e.uuid()).collect());
                    sqlx::query(&ended).bind(endpoints).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(())
                }
            }
        }
    };
}
pub(crate) use delivery_statements;

/// The statement that ends the wait of the endpoints `which` picks (a condition on
/// `webhook_endpoints`) that have no retry left: an endpoint's new events wait behind its failed
/// ones only while one of those is still to be tried (not once they are gone: pruned, or deleted
/// with their campaign).
pub(crate) fn end_waits(which: &str) -> String {
    format!(
        "UPDATE webhook_endpoints SET failing = false WHERE {which} AND failing
           AND NOT EXISTS (SELECT 1 FROM webhook_retries r WHERE r.endpoint_id = webhook_endpoints.id)"
    )
}

//! Events (API.md §13): the feed's reads, what events are about, pruning, and events written directly.

/// Reading and pruning events, for the engine where it expands.
macro_rules! event_statements {
    () => {
        mod events_written_once {
            use super::super::{
                REGISTER_EVENTS, Store, among_ids, among_ints, db_at, db_id, db_ids, db_ints,
                db_texts, events_in_order, PRUNE_EVENTS,
            };
            use crate::domain::contact::{CallRecord, Contact};
            use crate::store::rows;
            use crate::store::shared::{CALL_COLUMNS, CONTACT_COLUMNS};
            use crate::domain::events::{EventId, EventType, Snapshot, StoredEvent, TypeFilter};
            use crate::store::json_row::JsonRow;
            use crate::domain::ids::{ContactId, ExecutionId, OrgId};
            use crate::error::Error;
            use crate::store::rows::Cells;
            use crate::store::shared::{corrupt, json_text};
            use chrono::{DateTime, Utc};

            const EVENT_COLUMNS: &str =
                "seq, organization_id, type, subject_id, campaign_id, data, created_at";

            pub(in super::super) fn event(r: &impl Cells) -> Result<StoredEvent, Error> {
                let kind = EventType::parse(r.text("type")?).ok_or_else(|| corrupt("event type"))?;
                let data = match (kind, r.text_opt("data")?) {
                    (_, None) => Snapshot::None,
                    (EventType::BatchUpdated, Some(text)) => {
                        let row = JsonRow::parse(text).ok_or_else(|| corrupt("event data"))?;
                        Snapshot::Batch(Box::new(rows::batch(&row)?))
                    }
                    (EventType::CampaignUpdated, Some(text)) => {
                        let row = JsonRow::parse(text).ok_or_else(|| corrupt("event data"))?;
                        Snapshot::Campaign(Box::new(rows::campaign(&row)?))
                    }
                    (_, Some(text)) => Snapshot::Json(serde_json::from_str(text).map_err(|_| corrupt("event data"))?),
                };
                Ok(StoredEvent {
                    id: EventId(r.int("seq")?),
                    organization_id: OrgId::from_uuid(r.id("organization_id")?),
                    kind,
                    subject: r.id("subject_id")?,
                    campaign_id: r.id_opt("campaign_id")?.map(crate::domain::ids::CampaignId::from_uuid),
                    data,
                    created_at: r.at("created_at")?,
                })
            }


            impl Store {
                pub async fn events_after(
                    &self,
                    org: OrgId,
                    after: EventId,
                    types: &TypeFilter,
                    limit: i64,
                ) -> Result<Vec<StoredEvent>, Error> {
                    let sql = events_in_order(EVENT_COLUMNS, matches!(types, TypeFilter::Only(_)));
                    let names: Vec<&str> = types.names();
                    let q = sqlx::query(&sql).bind(db_id(org.uuid())).bind(after.0).bind(limit).bind(db_texts(names)?);
                    q.fetch_all(self.reads()).await?.iter().map(event).collect()
                }

                pub async fn events_by_id(&self, org: OrgId, ids: &[EventId]) -> Result<Vec<StoredEvent>, Error> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = $1 AND seq {} ORDER BY seq",
                        among_ints("$2")
                    );
                    let q = sqlx::query(&sql)
                        .bind(db_id(org.uuid()))
                        .bind(db_ints(ids.iter().map(|id| id.0).collect()));
                    q.fetch_all(self.lookups()).await?.iter().map(event).collect()
                }

                pub async fn calls_by_id(&self, ids: &[ExecutionId]) -> Result<Vec<CallRecord>, Error> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!("SELECT {CALL_COLUMNS} FROM call_records WHERE id {}", among_ids("$1"));
                    let q = sqlx::query(&sql).bind(db_ids(ids.iter().map(|id| id.uuid()).collect()));
                    q.fetch_all(self.reads()).await?.iter().map(rows::call).collect()
                }

                pub async fn contacts_by_id(&self, ids: &[ContactId]) -> Result<Vec<Contact>, Error> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id {}", among_ids("$1"));
                    let q = sqlx::query(&sql).bind(db_ids(ids.iter().map(|id| id.uuid()).collect()));
                    q.fetch_all(self.reads()).await?.iter().map(rows::contact).collect()
                }

                pub async fn last_event(&self, org: OrgId) -> Result<Option<EventId>, Error> {
                    let last: Option<i64> =
                        sqlx::query_scalar("SELECT last_seq FROM event_heads WHERE organization_id = $1")
                            .bind(db_id(org.uuid()))
                            .fetch_optional(self.lookups())
                            .await?;
                    Ok(last.filter(|s| *s > 0).map(EventId))
                }

                pub async fn event_heads(&self) -> Result<Vec<(OrgId, EventId)>, Error> {
                    let rows = sqlx::query("SELECT organization_id, last_seq FROM event_heads")
                        .fetch_all(self.lookups())
                        .await?;
                    rows.iter().map(|r| Ok((OrgId::from_uuid(r.id("organization_id")?), EventId(r.int("last_seq")?)))).collect()
                }

                pub async fn prune_events(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, Error> {
                    let done = sqlx::query(PRUNE_EVENTS)
                    .bind(db_at(before))
                    .bind(limit)
                    .execute(self.writes())
                    .await?;
                    if done.rows_affected() >= limit.unsigned_abs() {
                        return Ok(done.rows_affected()); // more to come: the tries go after the last chunk
                    }
                    // Tries go with their organization's oldest events (once none is left, with all of them).
                    let endpoints = sqlx::query("SELECT id, organization_id FROM webhook_endpoints")
                        .fetch_all(self.reads())
                        .await?;
                    for e in &endpoints {
                        // The count goes down with the tries (a stream writing new ones meanwhile
                        // takes the endpoint's row and then only adds rows: neither waits for the other).
                        let mut tx = self.writes().begin().await?;
                        let endpoint = db_id(e.id("id")?);
                        let gone = sqlx::query(
                            "DELETE FROM webhook_attempts WHERE endpoint_id = $1 AND seq <
                               COALESCE((SELECT min(seq) FROM events WHERE organization_id = $2),
                                        (SELECT last_seq + 1 FROM event_heads WHERE organization_id = $2), 0)",
                        )
                        .bind(endpoint)
                        .bind(db_id(e.id("organization_id")?))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if gone > 0 {
                            sqlx::query("UPDATE webhook_endpoints SET tries = tries - $2 WHERE id = $1")
                                .bind(endpoint)
                                .bind(i64::try_from(gone).unwrap_or(i64::MAX))
                                .execute(&mut *tx)
                                .await?;
                        }
                        tx.commit().await?;
                    }
                    Ok(done.rows_affected())
                }
            }

            /// Writes an event the trigger of no table writes (a disabled endpoint), in `conn`'s transaction.
            pub(in super::super) async fn write_event(
                conn: &mut <super::super::Db as sqlx::Database>::Connection,
                org: OrgId,
                kind: EventType,
                subject: uuid::Uuid,
                data: &serde_json::Value,
                at: DateTime<Utc>,
            ) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO events (organization_id, type, subject_id, data, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(db_id(org.uuid()))
                .bind(kind.as_str())
                .bind(db_id(subject))
                .bind(json_text(data)?)
                .bind(db_at(at))
                .execute(&mut *conn)
                .await?;
                if let Some(register) = REGISTER_EVENTS {
                    sqlx::query(register).execute(&mut *conn).await?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use event_statements;

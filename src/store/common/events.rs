//! Events (API.md §13): the feed's reads, and customer webhook endpoints' rows.

/// Reading events and keeping endpoints, for the engine where it expands.
macro_rules! event_statements {
    () => {
        mod events_written_once {
            use super::super::{
                ORG_EXCLUSIVE, REGISTER_EVENTS, Store, among_ids, among_ints, among_texts, db_at, db_id, db_ids, db_ints,
                db_texts,
            };
            use crate::domain::contact::{CallRecord, Contact};
            use crate::store::rows;
            use crate::store::shared::{CALL_COLUMNS, CONTACT_COLUMNS};
            use crate::domain::events::{EventId, EventType, Snapshot, StoredEvent, TypeFilter};
            use crate::store::json_row::JsonRow;
            use crate::domain::ids::{ContactId, EndpointId, ExecutionId, OrgId};
            use crate::domain::webhook::{Attempt, Endpoint, EndpointChange, MAX_ENDPOINTS, ReplayOf};
            use crate::error::Error;
            use crate::store::Page;
            use crate::store::rows::Cells;
            use crate::store::shared::{corrupt, json_text};
            use chrono::{DateTime, Utc};

            const EVENT_COLUMNS: &str =
                "seq, organization_id, type, subject_id, campaign_id, status, data, created_at";
            pub(in super::super) const ENDPOINT_COLUMNS: &str = "id, organization_id, url, events, description, \
                secret, previous_secret, previous_until, disabled, created_at";

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
                    status: r.text_opt("status")?.map(str::to_owned),
                    data,
                    created_at: r.at("created_at")?,
                })
            }

            pub(in super::super) fn endpoint(r: &impl Cells) -> Result<Endpoint, Error> {
                let names: Vec<String> = serde_json::from_str(r.text("events")?).map_err(|_| corrupt("events"))?;
                Ok(Endpoint {
                    id: EndpointId::from_uuid(r.id("id")?),
                    organization_id: OrgId::from_uuid(r.id("organization_id")?),
                    url: r.text("url")?.to_owned(),
                    events: TypeFilter::parse(names.iter().map(String::as_str)).map_err(|_| corrupt("events"))?,
                    description: r.text_opt("description")?.map(str::to_owned),
                    secret: r.text("secret")?.to_owned(),
                    previous_secret: r.text_opt("previous_secret")?.map(str::to_owned),
                    previous_until: r.at_opt("previous_until")?,
                    disabled: r.flag("disabled")?,
                    created_at: r.at("created_at")?,
                })
            }

            fn type_names(types: &TypeFilter) -> Result<String, Error> {
                json_text(&types.names())
            }

            impl Store {
                pub async fn events_after(
                    &self,
                    org: OrgId,
                    after: EventId,
                    types: &TypeFilter,
                    limit: i64,
                ) -> Result<Vec<StoredEvent>, Error> {
                    let only = match types {
                        TypeFilter::All => String::new(),
                        TypeFilter::Only(_) => format!(" AND type {}", among_texts("$4")),
                    };
                    let sql = format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = $1 AND seq > $2{only}
                         ORDER BY seq LIMIT $3"
                    );
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
                    // `created_at` first, so that only the old events are looked at.
                    let done = sqlx::query(
                        "DELETE FROM events WHERE created_at < $1
                           AND seq IN (SELECT seq FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
                    )
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
                        sqlx::query(
                            "DELETE FROM webhook_attempts WHERE endpoint_id = $1 AND seq <
                               COALESCE((SELECT min(seq) FROM events WHERE organization_id = $2),
                                        (SELECT last_seq + 1 FROM event_heads WHERE organization_id = $2), 0)",
                        )
                        .bind(db_id(e.id("id")?))
                        .bind(db_id(e.id("organization_id")?))
                        .execute(self.writes())
                        .await?;
                    }
                    Ok(done.rows_affected())
                }

                pub async fn insert_endpoint(&self, e: &Endpoint) -> Result<bool, Error> {
                    let mut tx = self.writes().begin().await?;
                    // Endpoints of one organization are counted one addition at a time.
                    let lock = format!("SELECT id FROM organizations WHERE id = $1{ORG_EXCLUSIVE}");
                    sqlx::query(&lock).bind(db_id(e.organization_id.uuid())).fetch_optional(&mut *tx).await?;
                    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1")
                        .bind(db_id(e.organization_id.uuid()))
                        .fetch_one(&mut *tx)
                        .await?;
                    if count >= MAX_ENDPOINTS {
                        return Ok(false);
                    }
                    // It hears of events committed after it.
                    let sql = format!(
                        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, cursor)
                         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8,
                                 COALESCE((SELECT last_seq FROM event_heads WHERE organization_id = $2), 0))"
                    );
                    sqlx::query(&sql)
                        .bind(db_id(e.id.uuid()))
                        .bind(db_id(e.organization_id.uuid()))
                        .bind(&e.url)
                        .bind(type_names(&e.events)?)
                        .bind(&e.description)
                        .bind(&e.secret)
                        .bind(e.disabled)
                        .bind(db_at(e.created_at))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                pub async fn any_endpoint(&self) -> Result<bool, Error> {
                    let found: Option<i64> = sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM webhook_endpoints LIMIT 1")
                        .fetch_optional(self.lookups())
                        .await?;
                    Ok(found.is_some())
                }

                pub async fn list_endpoints(&self, org: OrgId) -> Result<Vec<Endpoint>, Error> {
                    let sql = format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 ORDER BY created_at, id"
                    );
                    let rows = sqlx::query(&sql).bind(db_id(org.uuid())).fetch_all(self.lookups()).await?;
                    rows.iter().map(endpoint).collect()
                }

                pub async fn get_endpoint(&self, org: OrgId, id: EndpointId) -> Result<Option<Endpoint>, Error> {
                    let sql = format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND organization_id = $2"
                    );
                    let q = sqlx::query(&sql).bind(db_id(id.uuid())).bind(db_id(org.uuid()));
                    q.fetch_optional(self.lookups()).await?.as_ref().map(endpoint).transpose()
                }

                pub async fn change_endpoint(
                    &self,
                    org: OrgId,
                    id: EndpointId,
                    c: &EndpointChange,
                ) -> Result<Option<Endpoint>, Error> {
                    // Enabled again, it sends what waited behind its cursor, and tries its retries anew.
                    let sql = format!(
                        "UPDATE webhook_endpoints SET url = COALESCE($3, url), events = COALESCE($4, events),
                            description = COALESCE($5, description), disabled = COALESCE($6, disabled),
                            failing = CASE WHEN COALESCE($6, disabled) THEN failing ELSE false END
                         WHERE id = $1 AND organization_id = $2 RETURNING {ENDPOINT_COLUMNS}"
                    );
                    let events = c.events.as_ref().map(type_names).transpose()?;
                    let row = sqlx::query(&sql)
                        .bind(db_id(id.uuid()))
                        .bind(db_id(org.uuid()))
                        .bind(&c.url)
                        .bind(events)
                        .bind(&c.description)
                        .bind(c.disabled)
                        .fetch_optional(self.writes())
                        .await?;
                    row.as_ref().map(endpoint).transpose()
                }

                pub async fn rotate_secret(
                    &self,
                    org: OrgId,
                    id: EndpointId,
                    secret: &str,
                    previous_until: DateTime<Utc>,
                ) -> Result<Option<Endpoint>, Error> {
                    let sql = format!(
                        "UPDATE webhook_endpoints SET previous_secret = secret, secret = $3, previous_until = $4
                         WHERE id = $1 AND organization_id = $2 RETURNING {ENDPOINT_COLUMNS}"
                    );
                    let row = sqlx::query(&sql)
                        .bind(db_id(id.uuid()))
                        .bind(db_id(org.uuid()))
                        .bind(secret)
                        .bind(db_at(previous_until))
                        .fetch_optional(self.writes())
                        .await?;
                    row.as_ref().map(endpoint).transpose()
                }

                pub async fn delete_endpoint(&self, org: OrgId, id: EndpointId) -> Result<bool, Error> {
                    let mut tx = self.writes().begin().await?;
                    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND organization_id = $2")
                        .bind(db_id(id.uuid()))
                        .bind(db_id(org.uuid()))
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() > 0 {
                        // Tries have no foreign key (checking one per try slowed their writing).
                        sqlx::query("DELETE FROM webhook_attempts WHERE endpoint_id = $1")
                            .bind(db_id(id.uuid()))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                }

                pub async fn list_attempts(
                    &self,
                    endpoint: EndpointId,
                    event: Option<EventId>,
                    page: &Page,
                ) -> Result<(Vec<Attempt>, i64), Error> {
                    let only = if event.is_some() { " AND seq = $4" } else { "" };
                    let sql = format!(
                        "SELECT seq, attempt, attempted_at, status_code, duration_ms, error FROM webhook_attempts
                         WHERE endpoint_id = $1{only} ORDER BY attempted_at DESC, seq DESC, attempt DESC LIMIT $2 OFFSET $3"
                    );
                    let seq = event.map_or(0, |e| e.0);
                    let q = sqlx::query(&sql).bind(db_id(endpoint.uuid())).bind(page.limit).bind(page.skip).bind(seq);
                    let rows = q.fetch_all(self.reads()).await?;
                    let items = rows
                        .iter()
                        .map(|r| {
                            Ok(Attempt {
                                event: EventId(r.int("seq")?),
                                attempt: r.int("attempt")?,
                                attempted_at: r.at("attempted_at")?,
                                status_code: r.int_opt("status_code")?,
                                duration_ms: r.int("duration_ms")?,
                                error: r.text_opt("error")?.map(str::to_owned),
                            })
                        })
                        .collect::<Result<_, Error>>()?;
                    let count = format!("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1{}", only.replace("$4", "$2"));
                    let total: i64 =
                        sqlx::query_scalar(&count).bind(db_id(endpoint.uuid())).bind(seq).fetch_one(self.reads()).await?;
                    Ok((items, total))
                }

                pub async fn replay_events(
                    &self,
                    endpoint: EndpointId,
                    of: &ReplayOf,
                    types: &TypeFilter,
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> Result<(u64, Option<EventId>), Error> {
                    let (chosen, ids, after, until) = match of {
                        ReplayOf::Ids(ids) if ids.is_empty() => return Ok((0, None)),
                        ReplayOf::Ids(ids) => (format!("seq {}", among_ints("$3")), ids.iter().map(|e| e.0).collect(), 0, 0),
                        ReplayOf::Range(after, until) => (
                            "seq > $4 AND seq <= $5".to_owned(),
                            Vec::new(),
                            after.map_or(0, |e| e.0),
                            until.map_or(i64::MAX, |e| e.0),
                        ),
                    };
                    let only = match types {
                        TypeFilter::All => String::new(),
                        TypeFilter::Only(_) => format!(" AND type {}", among_texts("$6")),
                    };
                    let sql = format!(
                        "INSERT INTO webhook_retries (endpoint_id, seq, step, due_at)
                         SELECT $1, seq, 0, $2 FROM events
                         WHERE organization_id = (SELECT organization_id FROM webhook_endpoints WHERE id = $1)
                           AND {chosen}{only}
                         ORDER BY seq LIMIT $7
                         ON CONFLICT (endpoint_id, seq) DO UPDATE
                            SET step = 0, due_at = excluded.due_at, generation = webhook_retries.generation + 1
                         RETURNING seq"
                    );
                    let queued: Vec<i64> = sqlx::query_scalar(&sql)
                        .bind(db_id(endpoint.uuid()))
                        .bind(db_at(now))
                        .bind(db_ints(ids))
                        .bind(after)
                        .bind(until)
                        .bind(db_texts(types.names())?)
                        .bind(limit)
                        .fetch_all(self.writes())
                        .await?;
                    Ok((queued.len() as u64, queued.iter().max().map(|seq| EventId(*seq))))
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

//! Customer webhook endpoints (API.md §13): their rows, their tries, and replays.

/// Keeping endpoints, listing their tries and replaying events, for the engine where it expands.
macro_rules! endpoint_statements {
    () => {
        mod endpoints_written_once {
            use super::super::{
                KEY_SHARE, ORG_EXCLUSIVE, Store, TYPES_OF_ENDPOINT, among_ints, db_at, db_id, db_ints,
            };
            use crate::domain::events::{EventId, TypeFilter};
            use crate::domain::ids::{EndpointId, OrgId};
            use crate::domain::webhook::{Attempt, Endpoint, EndpointChange, MAX_ENDPOINTS, ReplayOf};
            use crate::error::Error;
            use crate::store::Page;
            use crate::store::rows::Cells;
            use crate::store::shared::{corrupt, json_text};
            use chrono::{DateTime, Utc};

            pub(in super::super) const ENDPOINT_COLUMNS: &str = "id, organization_id, url, events, description, \
                secret, previous_secret, previous_until, disabled, created_at";

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
                    // Enabled again, or given a URL, a failing endpoint sends what waited behind its
                    // cursor at once; a change of its description or types leaves it waiting.
                    let sql = format!(
                        "UPDATE webhook_endpoints SET url = COALESCE($3, url), events = COALESCE($4, events),
                            description = COALESCE($5, description), disabled = COALESCE($6, disabled),
                            failing = CASE WHEN COALESCE($6, disabled) THEN failing
                                WHEN $3 IS NOT NULL OR $6 IS NOT NULL THEN false ELSE failing END
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
                    let id = db_id(endpoint.uuid());
                    let sql = crate::store::common::attempts_listing(event.is_some());
                    let mut q = sqlx::query(&sql).bind(id).bind(page.limit).bind(page.skip);
                    if let Some(e) = event {
                        q = q.bind(e.0);
                    }
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
                    // One event's tries are counted; all of an endpoint's are counted as they are written.
                    let total: Option<i64> = match event {
                        Some(e) => {
                            let count = "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1 AND seq = $2";
                            sqlx::query_scalar(count).bind(id).bind(e.0).fetch_optional(self.reads()).await?
                        }
                        None => {
                            let count = "SELECT tries FROM webhook_endpoints WHERE id = $1";
                            sqlx::query_scalar(count).bind(id).fetch_optional(self.reads()).await?
                        }
                    };
                    Ok((items, total.unwrap_or(0)))
                }

                pub async fn replay_events(
                    &self,
                    org: OrgId,
                    endpoint: EndpointId,
                    of: &ReplayOf,
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> Result<(u64, Option<EventId>), Error> {
                    let (chosen, ids, after, until) = match of {
                        ReplayOf::Ids(ids) if ids.is_empty() => return Ok((0, None)),
                        ReplayOf::Ids(ids) => (format!("e.seq {}", among_ints("$3")), ids.iter().map(|e| e.0).collect(), 0, 0),
                        ReplayOf::Range(after, until) => (
                            "e.seq > $4 AND e.seq <= $5".to_owned(),
                            Vec::new(),
                            after.map_or(0, |e| e.0),
                            until.map_or(i64::MAX, |e| e.0),
                        ),
                    };
                    // One statement with the endpoint's row (if it is the organization's), held against
                    // its deletion (whose cascade then takes these retries along), and its types as
                    // they stand.
                    let sql = format!(
                        "WITH w AS (SELECT id, organization_id, events FROM webhook_endpoints
                                    WHERE id = $1 AND organization_id = $7{KEY_SHARE})
                         INSERT INTO webhook_retries (endpoint_id, seq, step, due_at)
                         SELECT w.id, e.seq, 0, $2 FROM w JOIN events e ON e.organization_id = w.organization_id
                         WHERE {chosen} AND EXISTS (SELECT 1 FROM {TYPES_OF_ENDPOINT} WHERE t.value IN ('*', e.type))
                         ORDER BY e.seq LIMIT $6
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
                        .bind(limit)
                        .bind(db_id(org.uuid()))
                        .fetch_all(self.writes())
                        .await?;
                    Ok((queued.len() as u64, queued.iter().max().map(|seq| EventId(*seq))))
                }
            }
        }
    };
}
pub(crate) use endpoint_statements;

/// The statement listing an endpoint's tries (`$1`), newest first, a page at a time (`$2`, `$3`);
/// with `one_event`, only those of event `$4`. One event's tries are picked out first, by the
/// event's index: asked to list them in the order of the listing's index, SQLite walks that index
/// through every try of the endpoint (millions, over a month of events) to find the few.
pub(crate) fn attempts_listing(one_event: bool) -> String {
    let columns = "seq, attempt, attempted_at, status_code, duration_ms, error";
    let order = "ORDER BY attempted_at DESC, seq DESC, attempt DESC LIMIT $2 OFFSET $3";
    if one_event {
        format!(
            "WITH tried AS MATERIALIZED
               (SELECT {columns} FROM webhook_attempts WHERE endpoint_id = $1 AND seq = $4)
             SELECT {columns} FROM tried {order}"
        )
    } else {
        format!("SELECT {columns} FROM webhook_attempts WHERE endpoint_id = $1 {order}")
    }
}

#[cfg(test)]
mod tests {
    use super::attempts_listing;
    use sqlx::Connection;

    /// On SQLite, which has no statistics to plan by, the listing of one event's tries reads that
    /// event's entries of the event index, not every try of the endpoint.
    #[tokio::test]
    async fn one_events_tries_are_found_by_the_event_index_on_sqlite() {
        let path = std::env::temp_dir().join(format!("graine-plan-{}.db", uuid::Uuid::now_v7().simple()));
        let url = format!("sqlite://{}", path.display());
        let store = crate::store::sqlite::Store::connect(&url, 2, false).await.unwrap();
        store.migrate().await.unwrap();
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", attempts_listing(true)))
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|(.., step)| step.as_str()).collect();
        assert!(
            steps.iter().any(|s| s.contains("USING INDEX webhook_attempts_event (endpoint_id=? AND seq=?)")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.contains("webhook_attempts_endpoint")), "{steps:?}");
        drop(conn);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

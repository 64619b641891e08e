//! Calendar rows (API.md §12.2): organization-scoped, their entries kept as the JSON the API writes.

/// Inserting, reading, listing, updating and deleting calendars, for the engine where it expands.
macro_rules! calendar_statements {
    () => {
        mod calendars_written_once {
            use super::super::{JSON, LOCKED, Store, Tx, among_ids, db_at, db_id, db_ids};
            use crate::domain::calendar::{Calendar, CalendarEntry};
            use crate::domain::ids::{CalendarId, OrgId};
            use crate::error::Error;
            use crate::store::Page;
            use crate::store::rows::Cells;
            use crate::store::shared::{corrupt, json_text};

            const COLUMNS: &str = "id, organization_id, name, CAST(entries AS TEXT) AS entries, created_at, updated_at";

            /// The `LIKE` pattern of a campaign's `calendar_ids` (a JSON array of ids) that names `id`.
            fn naming(id: CalendarId) -> String {
                format!("%\"{id}\"%")
            }

            fn calendar(r: &impl Cells) -> Result<Calendar, Error> {
                Ok(Calendar {
                    id: CalendarId::from_uuid(r.id("id")?),
                    organization_id: OrgId::from_uuid(r.id("organization_id")?),
                    name: r.text("name")?.to_owned(),
                    entries: CalendarEntry::list_from_stored(r.text("entries")?).ok_or_else(|| corrupt("entries"))?,
                    created_at: r.at("created_at")?,
                    updated_at: r.at("updated_at")?,
                })
            }

            impl Store {
                pub async fn get_calendar(&self, org: OrgId, id: CalendarId) -> Result<Option<Calendar>, Error> {
                    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = $1 AND organization_id = $2");
                    let q = sqlx::query(&sql).bind(db_id(id.uuid())).bind(db_id(org.uuid()));
                    q.fetch_optional(self.lookups()).await?.as_ref().map(calendar).transpose()
                }

                pub async fn list_calendars(&self, org: OrgId, page: &Page) -> Result<(Vec<Calendar>, i64), Error> {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM calendars WHERE organization_id = $1
                         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                    );
                    let q = sqlx::query(&sql).bind(db_id(org.uuid())).bind(page.limit).bind(page.skip);
                    let items = q.fetch_all(self.reads()).await?.iter().map(calendar).collect::<Result<_, _>>()?;
                    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM calendars WHERE organization_id = $1")
                        .bind(db_id(org.uuid()))
                        .fetch_one(self.reads())
                        .await?;
                    Ok((items, total))
                }

                pub async fn calendars_of(&self, org: OrgId, ids: &[CalendarId]) -> Result<Vec<Calendar>, Error> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    // One statement for all of them: a claim of a campaign with calendars reads them.
                    let sql = format!(
                        "SELECT {COLUMNS} FROM calendars WHERE organization_id = $1 AND id {}",
                        among_ids("$2")
                    );
                    let q = sqlx::query(&sql)
                        .bind(db_id(org.uuid()))
                        .bind(db_ids(ids.iter().map(|id| id.uuid()).collect()));
                    let mut found: Vec<Calendar> =
                        q.fetch_all(self.lookups()).await?.iter().map(calendar).collect::<Result<_, _>>()?;
                    found.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
                    Ok(found)
                }
            }

            impl Tx<'_> {
                pub async fn insert_calendar(&mut self, c: &Calendar) -> Result<(), Error> {
                    let sql = format!(
                        "INSERT INTO calendars (id, organization_id, name, entries, created_at, updated_at)
                         VALUES ($1, $2, $3, $4{JSON}, $5, $5)"
                    );
                    sqlx::query(&sql)
                        .bind(db_id(c.id.uuid()))
                        .bind(db_id(c.organization_id.uuid()))
                        .bind(&c.name)
                        .bind(json_text(&c.entries)?)
                        .bind(db_at(c.created_at))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(())
                }

                pub async fn lock_calendar(&mut self, org: OrgId, id: CalendarId) -> Result<Option<Calendar>, Error> {
                    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = $1 AND organization_id = $2{LOCKED}");
                    let q = sqlx::query(&sql).bind(db_id(id.uuid())).bind(db_id(org.uuid()));
                    q.fetch_optional(&mut *self.0).await?.as_ref().map(calendar).transpose()
                }

                pub async fn update_calendar(&mut self, c: &Calendar) -> Result<bool, Error> {
                    let sql =
                        format!("UPDATE calendars SET name = $2, entries = $3{JSON}, updated_at = $4 WHERE id = $1");
                    let done = sqlx::query(&sql)
                        .bind(db_id(c.id.uuid()))
                        .bind(&c.name)
                        .bind(json_text(&c.entries)?)
                        .bind(db_at(c.updated_at))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                pub async fn calendar_in_use(&mut self, org: OrgId, id: CalendarId) -> Result<bool, Error> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM campaigns WHERE organization_id = $1
                            AND status <> 'cancelled' AND calendar_ids LIKE $2",
                    )
                    .bind(db_id(org.uuid()))
                    .bind(naming(id))
                    .fetch_one(&mut *self.0)
                    .await?;
                    Ok(n > 0)
                }

                pub async fn campaigns_changed_by_calendar(
                    &mut self,
                    org: OrgId,
                    id: CalendarId,
                    now: chrono::DateTime<chrono::Utc>,
                ) -> Result<(), Error> {
                    // Their next opening, and in the recipient basis their next due time, are judged anew.
                    sqlx::query(
                        "UPDATE campaigns SET opens_at = $3, due_at = CASE WHEN due_at > $4 THEN $4 ELSE due_at END
                         WHERE organization_id = $1 AND calendar_ids LIKE $2",
                    )
                    .bind(db_id(org.uuid()))
                    .bind(naming(id))
                    .bind(db_at(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH))
                    .bind(db_at(now))
                    .execute(&mut *self.0)
                    .await?;
                    Ok(())
                }

                pub async fn delete_calendar(&mut self, id: CalendarId) -> Result<bool, Error> {
                    let done = sqlx::query("DELETE FROM calendars WHERE id = $1")
                        .bind(db_id(id.uuid()))
                        .execute(&mut *self.0)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        }
    };
}
pub(crate) use calendar_statements;

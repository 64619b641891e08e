//! What a claim reads: the campaign, its batches with contacts to call, the contacts callable now,
//! and the calls in flight per caller-ID number. PostgreSQL locks these rows (`LOCKED`,
//! `SKIP_LOCKED`); SQLite's transaction already holds its one writer, so the fragments are empty.

/// The claim's reads, for the `Tx` of the engine where it expands.
macro_rules! claim_reads {
    () => {
        mod written_once {
            use super::super::{KEYS_OF_BATCH, LOCKED, SKIP_LOCKED, Store, Tx, ZONE_INDEX, db_at, db_id};
            use crate::domain::batch::Batch;
            use crate::domain::ids::{BatchId, CampaignId};
            use crate::error::Error;
            use crate::store::key_merge::KeyMerge;
            use crate::store::rows::{self, Cells};
            use crate::store::shared::{BATCH_COLUMNS, CAMPAIGN_COLUMNS, LIVE, WAITING};
            use crate::store::{ClaimedContact, LockedForDispatch, ZoneWork};
            use chrono::{DateTime, Utc};
            use std::collections::HashMap;

            impl Tx<'_> {
                pub async fn lock_campaign_for_dispatch(
                    &mut self,
                    id: CampaignId,
                ) -> Result<Option<LockedForDispatch>, Error> {
                    let sql = format!(
                        "SELECT {CAMPAIGN_COLUMNS}, round_robin_cursor, due_at FROM campaigns
                         WHERE id = $1 AND status = 'active'{SKIP_LOCKED}"
                    );
                    let row = sqlx::query(&sql).bind(db_id(id.uuid())).fetch_optional(&mut *self.0).await?;
                    row.map(|r| {
                        Ok(LockedForDispatch {
                            campaign: rows::campaign(&r)?,
                            round_robin_cursor: r.int("round_robin_cursor")?,
                            due_at: r.at("due_at")?,
                        })
                    })
                    .transpose()
                }

                pub async fn running_batches(
                    &mut self,
                    campaign: CampaignId,
                    now: DateTime<Utc>,
                ) -> Result<Vec<Batch>, Error> {
                    let sql = format!(
                        "SELECT {BATCH_COLUMNS} FROM batches WHERE campaign_id = $1 AND status = 'in_progress'
                            AND (expires_at IS NULL OR expires_at > $2)
                            AND (n_pending > 0 OR n_retrying > 0 OR n_followup_scheduled > 0)
                         ORDER BY created_at, id{LOCKED}"
                    );
                    let rows =
                        sqlx::query(&sql).bind(db_id(campaign.uuid())).bind(db_at(now)).fetch_all(&mut *self.0).await?;
                    rows.iter().map(rows::batch).collect()
                }

                pub async fn claim_contacts(
                    &mut self,
                    batch: BatchId,
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> Result<Vec<ClaimedContact>, Error> {
                    let columns = rows::CLAIMED_CONTACT_COLUMNS;
                    let due = format!(
                        "SELECT {columns} FROM contacts WHERE batch_id = $1
                            AND status IN {WAITING} AND next_retry_at <= $2
                         ORDER BY next_retry_at, seq LIMIT $3{SKIP_LOCKED}"
                    );
                    let mut found = sqlx::query(&due)
                        .bind(db_id(batch.uuid()))
                        .bind(db_at(now))
                        .bind(limit)
                        .fetch_all(&mut *self.0)
                        .await?;
                    let rest = limit - found.len() as i64;
                    if rest > 0 {
                        let pending = format!(
                            "SELECT {columns} FROM contacts WHERE batch_id = $1 AND status = 'pending'
                                AND next_retry_at IS NULL ORDER BY seq LIMIT $2{SKIP_LOCKED}"
                        );
                        let more = sqlx::query(&pending).bind(db_id(batch.uuid())).bind(rest);
                        found.extend(more.fetch_all(&mut *self.0).await?);
                    }
                    found.iter().map(rows::claimed_contact).collect()
                }

                pub async fn claim_contacts_in(
                    &mut self,
                    batch: BatchId,
                    keys: &[String],
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> Result<Vec<ClaimedContact>, Error> {
                    let columns = rows::CLAIMED_CONTACT_COLUMNS;
                    let due = format!(
                        "SELECT {columns} FROM contacts{ZONE_INDEX} WHERE batch_id = $1 AND zone_key = $2
                            AND status IN {WAITING} AND next_retry_at <= $3
                         ORDER BY next_retry_at, seq LIMIT $4{SKIP_LOCKED}"
                    );
                    let mut found = Vec::new();
                    // One look at the batch's due retries first: most claims have none, and then no key
                    // is asked for them.
                    let probe = format!(
                        "SELECT id FROM contacts WHERE batch_id = $1 AND next_retry_at <= $2
                            AND status IN {WAITING} LIMIT 1"
                    );
                    let any_due = sqlx::query(&probe)
                    .bind(db_id(batch.uuid()))
                    .bind(db_at(now))
                    .fetch_optional(&mut *self.0)
                    .await?;
                    for key in keys.iter().filter(|_| any_due.is_some()) {
                        let q = sqlx::query(&due).bind(db_id(batch.uuid())).bind(key).bind(db_at(now)).bind(limit);
                        for row in q.fetch_all(&mut *self.0).await? {
                            found.push(rows::claimed_contact(&row)?);
                        }
                    }
                    found.sort_by_key(|c| (c.prior.next_retry_at, c.seq));
                    found.truncate(usize::try_from(limit).unwrap_or(0));
                    let rest = usize::try_from(limit).unwrap_or(0) - found.len();
                    if rest == 0 || keys.is_empty() {
                        return Ok(found);
                    }
                    // Pending contacts in position order across the keys, each key read a page at a time
                    // (`next_retry_at` is null for every pending contact: the order is the index's).
                    let pending = format!(
                        "SELECT {columns} FROM contacts{ZONE_INDEX} WHERE batch_id = $1 AND zone_key = $2
                            AND status = 'pending' AND next_retry_at IS NULL AND seq > $3
                         ORDER BY next_retry_at, seq LIMIT $4{SKIP_LOCKED}"
                    );
                    let page = (rest / keys.len() + 1).max(16);
                    let mut merge = KeyMerge::new(keys.len(), rest, |c: &ClaimedContact| c.seq);
                    loop {
                        let wanted = merge.wanted();
                        if wanted.is_empty() {
                            break;
                        }
                        for (lane, after) in wanted {
                            let q = sqlx::query(&pending)
                                .bind(db_id(batch.uuid()))
                                .bind(&keys[lane])
                                .bind(after)
                                .bind(page as i64);
                            let rows = q.fetch_all(&mut *self.0).await?;
                            merge.add(lane, rows.iter().map(rows::claimed_contact).collect::<Result<_, _>>()?, page);
                        }
                    }
                    found.extend(merge.finish());
                    Ok(found)
                }

                pub async fn zone_work(&mut self, campaign: CampaignId) -> Result<Vec<ZoneWork>, Error> {
                    let rows =
                        sqlx::query(&zone_work_sql()).bind(db_id(campaign.uuid())).fetch_all(&mut *self.0).await?;
                    rows.iter().map(rows::zone_work).collect()
                }

                pub async fn live_calls_by_number(
                    &mut self,
                    campaign: CampaignId,
                ) -> Result<HashMap<String, i64>, Error> {
                    let sql = format!(
                        "SELECT from_number, count(*) AS n FROM call_records
                         WHERE campaign_id = $1 AND call_status IN {LIVE} GROUP BY from_number"
                    );
                    let rows = sqlx::query(&sql).bind(db_id(campaign.uuid())).fetch_all(&mut *self.0).await?;
                    rows.iter().map(|r| Ok((sqlx::Row::try_get(r, "from_number")?, r.int("n")?))).collect()
                }
            }

            /// The work waiting in each zone key of campaign `$1`'s pending and running batches.
            fn zone_work_sql() -> String {
                format!(
                    "SELECT b.id, b.scheduled_start, b.expires_at, b.in_flight, b.concurrency_limit, k.value AS zone_key,
                        EXISTS (SELECT 1 FROM contacts c WHERE c.batch_id = b.id AND c.zone_key = k.value
                            AND c.status = 'pending' AND c.next_retry_at IS NULL) AS pending,
                        (SELECT min(c.next_retry_at) FROM contacts c WHERE c.batch_id = b.id AND c.next_retry_at IS NOT NULL
                            AND c.zone_key = k.value AND c.status IN {WAITING}) AS next_retry_at
                     FROM batches b, {KEYS_OF_BATCH}
                     WHERE b.campaign_id = $1 AND b.status IN ('pending', 'in_progress')
                        AND (b.n_pending > 0 OR b.n_retrying > 0 OR b.n_followup_scheduled > 0)
                     UNION ALL
                     SELECT b.id, b.scheduled_start, b.expires_at, b.in_flight, b.concurrency_limit, NULL,
                        EXISTS (SELECT 1 FROM contacts c WHERE c.batch_id = b.id AND c.status = 'pending'
                            AND c.next_retry_at IS NULL),
                        (SELECT min(c.next_retry_at) FROM contacts c WHERE c.batch_id = b.id AND c.next_retry_at IS NOT NULL
                            AND c.status IN {WAITING})
                     FROM batches b
                     WHERE b.campaign_id = $1 AND b.status IN ('pending', 'in_progress') AND b.zone_keys IS NULL
                        AND (b.n_pending > 0 OR b.n_retrying > 0 OR b.n_followup_scheduled > 0)"
                )
            }

            impl Store {
                pub async fn zone_work(&self, campaign: CampaignId) -> Result<Vec<ZoneWork>, Error> {
                    let rows =
                        sqlx::query(&zone_work_sql()).bind(db_id(campaign.uuid())).fetch_all(self.lookups()).await?;
                    rows.iter().map(rows::zone_work).collect()
                }

                pub async fn batch_zone_keys(&self, batch: BatchId) -> Result<Option<Vec<String>>, Error> {
                    let row = sqlx::query("SELECT zone_keys FROM batches WHERE id = $1")
                        .bind(db_id(batch.uuid()))
                        .fetch_optional(self.lookups())
                        .await?;
                    match row.as_ref().map(|r| r.text_opt("zone_keys")).transpose()?.flatten() {
                        Some(text) => Ok(Some(
                            serde_json::from_str(text).map_err(|_| crate::store::shared::corrupt("zone keys"))?,
                        )),
                        None => Ok(None),
                    }
                }
            }
        }
    };
}
pub(crate) use claim_reads;

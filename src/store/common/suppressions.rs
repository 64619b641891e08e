//! Do-not-call entries and the call history of numbers (API.md §12.3, §12.4): listing, checking and
//! removing entries, which claimed numbers are suppressed or capped, and the contacts a claim skips
//! for them. Adding entries in bulk, skipping an upload's suppressed contacts and holding capped
//! ones are each engine's (`suppressions.rs`).
//!
//! A claim reads the entries of its numbers after taking the organization's row in share mode
//! (`ORG_SHARED`), and every addition takes it exclusively first (`ORG_EXCLUSIVE`): a claim that read
//! before an addition committed commits before it, and one that reads after sees it.

/// The statements of suppressions and caps, for the engine where it expands.
macro_rules! suppression_statements {
    () => {
        mod suppressions_written_once {
            use super::super::dispatch::{apply_batch_deltas, complete_finished};
            use super::super::{
                ORG_SHARED, Store, Tx, among_ids, among_texts, db_at, db_id, db_ids, db_texts,
            };
            use crate::domain::contact::ContactStatus;
            use crate::domain::frequency::PastCall;
            use crate::domain::ids::{CampaignId, ExecutionId, OrgId};
            use crate::domain::suppression::{Episode, Suppression, SuppressionFilter};
            use crate::error::Error;
            use crate::store::rows::Cells;
            use crate::store::shared::{BatchDelta, LIVE, corrupt};
            use crate::store::{Page, ScreenedContact};
            use chrono::{DateTime, Utc};
            use std::collections::BTreeMap;

            const COLUMNS: &str =
                "id, organization_id, phone_number, scope, reason, expires_at, created_at, removed_at";

            /// An entry in force at `$now` (the parameter named) that covers campaign `$campaign` (the
            /// scope text of a campaign is its id).
            pub(in super::super) fn in_force(s: &str, now: &str, campaign: &str) -> String {
                format!(
                    "{s}removed_at IS NULL AND ({s}expires_at IS NULL OR {s}expires_at > {now})
                     AND {s}scope IN ('', {campaign})"
                )
            }

            fn entry(r: &impl Cells) -> Result<(uuid::Uuid, Suppression), Error> {
                // The scope names the campaign (its id's text), or is empty for the organization.
                let campaign_id = match r.text("scope")? {
                    "" => None,
                    text => Some(CampaignId::from_uuid(uuid::Uuid::parse_str(text).map_err(|_| corrupt("scope"))?)),
                };
                Ok((
                    r.id("id")?,
                    Suppression {
                        organization_id: OrgId::from_uuid(r.id("organization_id")?),
                        phone_number: r.text("phone_number")?.to_owned(),
                        campaign_id,
                        reason: r.text_opt("reason")?.map(str::to_owned),
                        expires_at: r.at_opt("expires_at")?,
                        created_at: r.at("created_at")?,
                        removed_at: r.at_opt("removed_at")?,
                        history: Vec::new(),
                    },
                ))
            }

            /// The campaign's scope text.
            pub(in super::super) fn scope_of(campaign: CampaignId) -> String {
                campaign.uuid().hyphenated().to_string()
            }

            impl Store {
                /// Entries with their history, newest first.
                pub async fn list_suppressions(
                    &self,
                    org: OrgId,
                    filter: &SuppressionFilter,
                    page: &Page,
                    now: DateTime<Utc>,
                ) -> Result<(Vec<Suppression>, i64), Error> {
                    let cond = "organization_id = $1 AND ($2 = '' OR phone_number = $2) AND ($3 = '' OR scope = $3)
                        AND ($4 = '' OR reason = $4)
                        AND ($6 OR (removed_at IS NULL AND (expires_at IS NULL OR expires_at > $5)))";
                    let list = format!(
                        "SELECT {COLUMNS} FROM suppressions WHERE {cond}
                         ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8"
                    );
                    let count = format!("SELECT count(*) FROM suppressions WHERE {cond}");
                    let (phone, reason) = (filter.phone_number.as_deref().unwrap_or(""), filter.reason.as_deref().unwrap_or(""));
                    let scope = filter.campaign_id.map(scope_of).unwrap_or_default();
                    let rows = sqlx::query(&list)
                        .bind(db_id(org.uuid()))
                        .bind(phone)
                        .bind(&scope)
                        .bind(reason)
                        .bind(db_at(now))
                        .bind(filter.include_inactive)
                        .bind(page.limit)
                        .bind(page.skip)
                        .fetch_all(self.reads())
                        .await?;
                    let total: i64 = sqlx::query_scalar(&count)
                        .bind(db_id(org.uuid()))
                        .bind(phone)
                        .bind(&scope)
                        .bind(reason)
                        .bind(db_at(now))
                        .bind(filter.include_inactive)
                        .fetch_one(self.reads())
                        .await?;
                    let entries = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
                    Ok((self.with_history(entries).await?, total))
                }

                /// The entries in force at `now` for these numbers, of every scope.
                pub async fn suppressions_of(
                    &self,
                    org: OrgId,
                    numbers: &[String],
                    now: DateTime<Utc>,
                ) -> Result<Vec<Suppression>, Error> {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM suppressions WHERE organization_id = $1
                            AND phone_number {list}
                            AND removed_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
                         ORDER BY phone_number, scope",
                        list = among_texts("$2")
                    );
                    let rows = sqlx::query(&sql)
                        .bind(db_id(org.uuid()))
                        .bind(db_texts(numbers.iter().map(String::as_str).collect())?)
                        .bind(db_at(now))
                        .fetch_all(self.reads())
                        .await?;
                    rows.iter().map(|r| entry(r).map(|e| e.1)).collect()
                }

                /// Removes the entry of `phone` in its scope (the organization's, or the campaign's),
                /// keeping the row and its history; `None` when no entry in force was there.
                pub async fn remove_suppression(
                    &self,
                    org: OrgId,
                    phone: &str,
                    campaign: Option<CampaignId>,
                    now: DateTime<Utc>,
                ) -> Result<Option<Suppression>, Error> {
                    let sql = format!(
                        "UPDATE suppressions SET removed_at = $4
                         WHERE organization_id = $1 AND phone_number = $2 AND scope = $3
                            AND removed_at IS NULL AND (expires_at IS NULL OR expires_at > $4)
                         RETURNING {COLUMNS}"
                    );
                    let row = sqlx::query(&sql)
                        .bind(db_id(org.uuid()))
                        .bind(phone)
                        .bind(campaign.map(scope_of).unwrap_or_default())
                        .bind(db_at(now))
                        .fetch_optional(self.writes())
                        .await?;
                    let Some(found) = row.as_ref().map(entry).transpose()? else { return Ok(None) };
                    Ok(self.with_history(vec![found]).await?.pop())
                }

                /// The numbers among `numbers` an entry in force stops campaign `campaign` from calling.
                pub async fn suppressed_among(
                    &self,
                    org: OrgId,
                    campaign: CampaignId,
                    numbers: &[String],
                    now: DateTime<Utc>,
                ) -> Result<Vec<String>, Error> {
                    suppressed_among(self.lookups(), org, campaign, numbers, now).await
                }

                /// The calls placed to these numbers since `since` by the organization's campaigns
                /// (or by `campaign` only).
                pub async fn calls_to(
                    &self,
                    org: OrgId,
                    campaign: Option<CampaignId>,
                    numbers: &[String],
                    since: DateTime<Utc>,
                ) -> Result<Vec<(String, PastCall)>, Error> {
                    calls_to(self.lookups(), org, campaign, numbers, since).await
                }

                pub async fn mark_opt_out(&self, call: ExecutionId, now: DateTime<Utc>) -> Result<bool, Error> {
                    let mut tx = self.begin().await?;
                    // Waits for a transaction recording the call's outcome, then sees whether it closed it.
                    let row = sqlx::query(
                        "UPDATE call_records SET opt_out = true WHERE id = $1
                         RETURNING call_status, to_number, campaign_id",
                    )
                    .bind(db_id(call.uuid()))
                    .fetch_optional(&mut *tx.0)
                    .await?;
                    let Some(row) = row else { return Ok(false) };
                    let live = LIVE.contains(&format!("'{}'", row.text("call_status")?));
                    let mut added = 0;
                    if !live {
                        let org = sqlx::query("SELECT organization_id FROM campaigns WHERE id = $1")
                            .bind(db_id(row.id("campaign_id")?))
                            .fetch_one(&mut *tx.0)
                            .await?
                            .id("organization_id")?;
                        let pair = (org, row.text("to_number")?.to_owned());
                        for (org, entries) in crate::domain::suppression::opt_outs_by_org([pair]) {
                            added += super::add(&mut tx.0, org, &entries, now).await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(live || added > 0)
                }

                /// Adds each entry's earlier episodes, oldest first.
                async fn with_history(&self, entries: Vec<(uuid::Uuid, Suppression)>) -> Result<Vec<Suppression>, Error> {
                    if entries.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "SELECT suppression_id AS id, added_at, reason, expires_at, removed_at FROM suppression_history
                         WHERE suppression_id {} ORDER BY added_at",
                        among_ids("$1")
                    );
                    let rows = sqlx::query(&sql)
                        .bind(db_ids(entries.iter().map(|e| e.0).collect()))
                        .fetch_all(self.reads())
                        .await?;
                    let mut out: Vec<(uuid::Uuid, Suppression)> = entries;
                    for r in &rows {
                        let owner = r.id("id")?;
                        let episode = Episode {
                            added_at: r.at("added_at")?,
                            reason: r.text_opt("reason")?.map(str::to_owned),
                            expires_at: r.at_opt("expires_at")?,
                            removed_at: r.at_opt("removed_at")?,
                        };
                        if let Some(e) = out.iter_mut().find(|e| e.0 == owner) {
                            e.1.history.push(episode);
                        }
                    }
                    Ok(out.into_iter().map(|e| e.1).collect())
                }
            }

            /// The numbers among `numbers` an entry of `org` in force at `now` stops `campaign` from calling.
            async fn suppressed_among<'e>(
                db: impl sqlx::Executor<'e, Database = super::super::Db>,
                org: OrgId,
                campaign: CampaignId,
                numbers: &[String],
                now: DateTime<Utc>,
            ) -> Result<Vec<String>, Error> {
                if numbers.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT DISTINCT phone_number FROM suppressions WHERE organization_id = $1
                        AND phone_number {} AND {}",
                    among_texts("$2"),
                    in_force("", "$3", "$4")
                );
                Ok(sqlx::query_scalar(&sql)
                    .bind(db_id(org.uuid()))
                    .bind(db_texts(numbers.iter().map(String::as_str).collect())?)
                    .bind(db_at(now))
                    .bind(scope_of(campaign))
                    .fetch_all(db)
                    .await?)
            }

            async fn calls_to<'e>(
                db: impl sqlx::Executor<'e, Database = super::super::Db>,
                org: OrgId,
                campaign: Option<CampaignId>,
                numbers: &[String],
                since: DateTime<Utc>,
            ) -> Result<Vec<(String, PastCall)>, Error> {
                if numbers.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT cr.to_number, cr.campaign_id, cr.dispatched_at FROM call_records cr
                        JOIN campaigns c ON c.id = cr.campaign_id
                     WHERE cr.to_number {} AND cr.dispatched_at > $2
                        AND c.organization_id = $3 AND ($4 = '' OR c.id = $5)",
                    among_texts("$1")
                );
                let rows = sqlx::query(&sql)
                    .bind(db_texts(numbers.iter().map(String::as_str).collect())?)
                    .bind(db_at(since))
                    .bind(db_id(org.uuid()))
                    .bind(campaign.map(scope_of).unwrap_or_default())
                    .bind(db_id(campaign.map_or(org.uuid(), |c| c.uuid())))
                    .fetch_all(db)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let call = PastCall { campaign: CampaignId::from_uuid(r.id("campaign_id")?), at: r.at("dispatched_at")? };
                        Ok((r.text("to_number")?.to_owned(), call))
                    })
                    .collect()
            }

            impl Tx<'_> {
                /// As `Store::suppressed_among`, after taking the organization's row in share mode
                /// (see the module's note).
                pub async fn suppressed_among(
                    &mut self,
                    org: OrgId,
                    campaign: CampaignId,
                    numbers: &[String],
                    now: DateTime<Utc>,
                ) -> Result<Vec<String>, Error> {
                    let lock = format!("SELECT id FROM organizations WHERE id = $1{ORG_SHARED}");
                    sqlx::query(&lock).bind(db_id(org.uuid())).fetch_optional(&mut *self.0).await?;
                    suppressed_among(&mut *self.0, org, campaign, numbers, now).await
                }

                /// Whether the organization has any entry at all (most have none).
                pub(in super::super) async fn has_suppressions(&mut self, org: OrgId) -> Result<bool, Error> {
                    let any = sqlx::query("SELECT id FROM suppressions WHERE organization_id = $1 LIMIT 1")
                        .bind(db_id(org.uuid()))
                        .fetch_optional(&mut *self.0)
                        .await?;
                    Ok(any.is_some())
                }

                pub async fn calls_to(
                    &mut self,
                    org: OrgId,
                    campaign: Option<CampaignId>,
                    numbers: &[String],
                    since: DateTime<Utc>,
                ) -> Result<Vec<(String, PastCall)>, Error> {
                    calls_to(&mut *self.0, org, campaign, numbers, since).await
                }

                /// Skips claimed contacts whose numbers are suppressed (`skip_reason: "suppressed"`),
                /// moving every counter, and completes the batches (and campaigns) they finish.
                pub async fn skip_claimed(&mut self, contacts: &[ScreenedContact], now: DateTime<Utc>) -> Result<(), Error> {
                    if contacts.is_empty() {
                        return Ok(());
                    }
                    let sql = format!(
                        "UPDATE contacts SET status = 'skipped', skip_reason = 'suppressed', next_retry_at = NULL,
                            updated_at = $2 WHERE id {}",
                        among_ids("$1")
                    );
                    sqlx::query(&sql)
                        .bind(db_ids(contacts.iter().map(|c| c.contact_id.uuid()).collect()))
                        .bind(db_at(now))
                        .execute(&mut *self.0)
                        .await?;
                    let mut deltas: BTreeMap<uuid::Uuid, BatchDelta> = BTreeMap::new();
                    for c in contacts {
                        deltas.entry(c.batch_id.uuid()).or_default().moved(c.status, ContactStatus::Skipped);
                    }
                    apply_batch_deltas(&mut self.0, &deltas, now).await?;
                    let batches: Vec<uuid::Uuid> = deltas.keys().copied().collect();
                    complete_finished(&mut self.0, &batches, now).await
                }

            }
        }
    };
}
pub(crate) use suppression_statements;

//! The counts of an organization's campaigns and batches by status (`X-Total-Count`), kept by
//! triggers in the transaction of every change (migration `list_counts`).

use super::{Store, id};
use crate::domain::ids::OrgId;
use crate::error::Error;
use sqlx::SqlitePool;

/// How many of the organization's `kind` (`campaign` or `batch`) there are, of one status or all.
pub(super) async fn listed(pool: &SqlitePool, org: OrgId, kind: &str, status: Option<&str>) -> Result<i64, Error> {
    let of_status = if status.is_some() { " AND status = ?3" } else { "" };
    let sql =
        format!("SELECT COALESCE(sum(n), 0) FROM list_counts WHERE organization_id = ?1 AND kind = ?2{of_status}");
    Ok(sqlx::query_scalar(&sql).bind(id(org.uuid())).bind(kind).bind(status).fetch_one(pool).await?)
}

impl Store {
    /// Nothing to fold: the triggers keep the counts themselves.
    pub async fn fold_list_counts(&self) -> Result<u64, Error> {
        Ok(0)
    }
}

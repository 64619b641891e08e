//! Do-not-call entries (API.md §12.3): a number the organization, or one of its campaigns, must
//! never call, while the entry is in force; each entry keeps the episodes it was closed in before.

use super::ids::{CampaignId, OrgId};
use chrono::{DateTime, Utc};

/// The reason an opt-out captured during a call records.
pub const OPT_OUT: &str = "opt_out";
/// The most entries one request may add or check.
pub const MAX_ENTRIES: usize = 100_000;
/// The longest reason kept.
pub const MAX_REASON_CHARS: usize = 200;

/// One number suppressed for the organization (`campaign_id` none) or for one campaign.
#[derive(Clone, PartialEq, Debug)]
pub struct Suppression {
    pub organization_id: OrgId,
    pub phone_number: String,
    pub campaign_id: Option<CampaignId>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// When the entry was (last) added.
    pub created_at: DateTime<Utc>,
    /// When it was removed, if it was.
    pub removed_at: Option<DateTime<Utc>>,
    /// Its earlier episodes, oldest first (filled where asked for).
    pub history: Vec<Episode>,
}

/// An earlier episode of an entry: added, then removed or expired, then added again.
#[derive(Clone, PartialEq, Debug)]
pub struct Episode {
    pub added_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
}

impl Suppression {
    /// Whether the entry stops calls at `now`: not removed, not expired.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.removed_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// `organization` or `campaign`.
    pub fn scope(&self) -> &'static str {
        if self.campaign_id.is_some() { "campaign" } else { "organization" }
    }
}

/// An entry to add, checked.
#[derive(Clone, PartialEq, Debug)]
pub struct NewSuppression {
    pub phone_number: String,
    pub campaign_id: Option<CampaignId>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What adding a list of entries did, row by row.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct AddReport {
    pub added: u64,
    pub already_present: u64,
    /// Entries refused: their index in the request and why.
    pub rejected: Vec<(usize, String)>,
}

/// Which entries a listing shows.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct SuppressionFilter {
    pub phone_number: Option<String>,
    pub campaign_id: Option<CampaignId>,
    pub reason: Option<String>,
    /// Also entries removed or expired.
    pub include_inactive: bool,
}

/// The entries opt-outs add, per organization: `(organization, number)` pairs grouped, each number
/// once, for the whole organization with reason `opt_out`.
pub fn opt_outs_by_org(
    pairs: impl IntoIterator<Item = (uuid::Uuid, String)>,
) -> std::collections::BTreeMap<uuid::Uuid, Vec<NewSuppression>> {
    let mut by_org: std::collections::BTreeMap<uuid::Uuid, Vec<NewSuppression>> = Default::default();
    for (org, phone_number) in pairs {
        let list = by_org.entry(org).or_default();
        if !list.iter().any(|e| e.phone_number == phone_number) {
            list.push(NewSuppression {
                phone_number,
                campaign_id: None,
                reason: Some(OPT_OUT.into()),
                expires_at: None,
            });
        }
    }
    by_org
}

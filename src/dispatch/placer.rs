//! The telephony side as the dispatcher sees it: one trait, implemented by each way of placing calls.

use crate::domain::contact::CallKind;
use crate::domain::ids::{BatchId, CampaignId, ContactId, ExecutionId};
use crate::domain::simulate::Script;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

/// Everything telephony needs to place one call (the body of the http placer's request).
#[derive(Clone, Debug, Serialize)]
pub struct CallRequest {
    pub execution_id: ExecutionId,
    pub campaign_id: CampaignId,
    pub batch_id: BatchId,
    pub contact_id: ContactId,
    pub agent_id: String,
    pub from_number: String,
    pub to_number: String,
    /// The campaign's defaults overlaid by the contact's own variables (the contact wins).
    pub call_variables: Map<String, Value>,
    pub call_context: Map<String, Value>,
    pub attempt: i64,
    pub kind: CallKind,
    #[serde(skip)]
    pub dispatched_at: DateTime<Utc>,
    /// After this instant the call is closed as timed out: telephony must not start it any more.
    #[serde(serialize_with = "crate::domain::time::serialize_rfc3339")]
    pub deadline_at: DateTime<Utc>,
}

/// What telephony said to a placement.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// The call is on its way; a simulated call comes with its script.
    Accepted(Option<Script>),
    /// Telephony refused or could not be reached; the reason is kept on the call record.
    Rejected(String),
    /// It is not known whether telephony took the call: it stays live until an outcome arrives or
    /// the call timeout closes it, and is never placed again meanwhile.
    Unknown(String),
}

/// A future returned by a placer.
pub type PlaceFuture<'a> = Pin<Box<dyn Future<Output = Placement> + Send + 'a>>;

/// A way of placing calls.
pub trait Placer: Send + Sync {
    /// Hands one call to telephony.
    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a>;

    /// For a placer that accepts every call at once, without I/O: the call's script, so that the
    /// claim records the placement in its own transaction. `None`: the call goes through `place`.
    fn accept_at_once(&self, _call: &CallRequest) -> Option<Option<Script>> {
        None
    }
}

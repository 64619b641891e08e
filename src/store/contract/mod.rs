//! The storage contract: the `Store` and `Tx` traits the services speak to, documented once here.
//! Each engine (PostgreSQL, embedded SQLite) implements them with inherent methods of the same
//! names, which `implement_contract!` forwards to; a fake or a third engine implements the traits.

use crate::error::Error;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;

/// The types the contract's methods take and return, for the places that expand its method lists.
pub mod types {
    pub use crate::domain::batch::{Batch, BatchStatus, NewContact};
    pub use crate::domain::calendar::Calendar;
    pub use crate::domain::campaign::{Campaign, CampaignStatus};
    pub use crate::domain::contact::{CallRecord, Contact, ContactStatus};
    pub use crate::domain::events::{EventId, StoredEvent, TypeFilter};
    pub use crate::domain::frequency::PastCall;
    pub use crate::domain::ids::{BatchId, CalendarId, CampaignId, ContactId, EndpointId, ExecutionId, OrgId, TokenId};
    pub use crate::domain::outcome::Outcome;
    pub use crate::domain::suppression::{NewSuppression, Suppression, SuppressionFilter};
    pub use crate::domain::timezone::Timezone;
    pub use crate::domain::voicemail::VoicemailAction;
    pub use crate::domain::webhook::{
        Attempt, DueRetry, Endpoint, EndpointChange, Lease, ReplayOf, RetryDone, Stream, StreamDone,
    };
    pub use crate::error::Error;
    pub use crate::store::{
        AcceptedCall, BatchFilter, ClaimedContact, Closed, DueNow, FinishedCall, IdempotencyBegin, IdempotencyClaim,
        Ingested, LockedForDispatch, NewCall, OpenBatch, OrgRecord, Page, ScreenedContact, StatsSnapshot,
        StatusBreakdown, TokenRecord, UnplacedCall, ZoneWork,
    };
    pub use chrono::{DateTime, Utc};
    pub use std::collections::HashMap;
    pub use tokio::sync::mpsc;
}
use types::*;

/// Work run under the bootstrap lock.
pub type LockedWork<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// Passes the `Store` methods that every engine implements alike to `$then!`.
macro_rules! store_methods {
    ($then:ident!($($head:tt)*)) => {
        $then! { ($($head)*)
        /// Applies every pending migration.
        fn migrate() -> ();
        /// Whether the database answers and every migration is applied.
        fn ready() -> ();
        /// Opens the connections an idle server keeps, ready for the first claims (PostgreSQL's write
        /// pool; nothing on SQLite). Run in the background once the server serves.
        fn fill() -> ();

        /// Adds an organization.
        fn insert_org(id: OrgId, name: &str, now: DateTime<Utc>) -> ();
        /// Every organization, oldest first.
        fn list_orgs() -> Vec<OrgRecord>;
        /// Whether the organization exists.
        fn org_exists(id: OrgId) -> bool;
        /// Stores a token's hash.
        fn insert_token(record: &TokenRecord, hash: &[u8; 32]) -> ();
        /// The live (not revoked) token with this hash.
        fn find_live_token(hash: &[u8; 32]) -> Option<TokenRecord>;
        /// Whether any token, live or revoked, has this hash.
        fn token_hash_exists(hash: &[u8; 32]) -> bool;
        /// Tokens, optionally of one organization, oldest first.
        fn list_tokens(org: Option<OrgId>) -> Vec<TokenRecord>;
        /// Revokes a token and tells every server to forget it; `false` when no live token has that id.
        fn revoke_token(id: TokenId, now: DateTime<Utc>) -> bool;

        /// Claims `claim.key` for a request with this hash until `lease_until`, or says what to answer
        /// instead. A record created before `expired_before`, or still in progress with its lease lapsed
        /// at `now` (its request died), is taken over.
        fn begin_idempotent(
            claim: &IdempotencyClaim,
            request_hash: &[u8; 32],
            now: DateTime<Utc>,
            expired_before: DateTime<Utc>,
            lease_until: DateTime<Utc>
        ) -> IdempotencyBegin;
        /// Extends the lease of a claim still held; says whether it is.
        fn renew_idempotent(claim: &IdempotencyClaim, lease_until: DateTime<Utc>) -> bool;
        /// Stores the response of a request that did no work, if it still holds its claim.
        fn finish_idempotent(claim: &IdempotencyClaim, status: u16, body: &[u8]) -> bool;
        /// Releases a claim still held, after a failure the client should be able to retry.
        fn abandon_idempotent(claim: &IdempotencyClaim) -> ();
        /// Deletes records older than `before`; returns how many.
        fn purge_idempotency(before: DateTime<Utc>) -> u64;
        /// Folds the counts of campaigns and batches by status that `X-Total-Count` reads (PostgreSQL
        /// appends them as deltas; SQLite keeps them whole); returns how many deltas it folded.
        fn fold_list_counts() -> u64;

        /// The organization's campaign with this id.
        fn get_campaign(org: OrgId, id: CampaignId) -> Option<Campaign>;
        /// The organization's calendar.
        fn get_calendar(org: OrgId, id: CalendarId) -> Option<Calendar>;
        /// A page of the organization's calendars, newest first, with their total.
        fn list_calendars(org: OrgId, page: &Page) -> (Vec<Calendar>, i64);
        /// The organization's calendars among `ids`, in that order (an id it has not is left out).
        fn calendars_of(org: OrgId, ids: &[CalendarId]) -> Vec<Calendar>;
        /// Inserts a new campaign in a statement of its own.
        fn insert_campaign(c: &Campaign) -> ();
        /// A page of the organization's campaigns, newest first, and the number matching in all.
        fn list_campaigns(org: OrgId, status: Option<CampaignStatus>, page: &Page) -> (Vec<Campaign>, i64);

        /// The organization's batch with this id.
        fn get_batch(org: OrgId, id: BatchId) -> Option<Batch>;
        /// A page of the organization's batches, newest first, and the number matching in all.
        fn list_batches(org: OrgId, filter: &BatchFilter, page: &Page) -> (Vec<Batch>, i64);
        /// Everything `/stats` reads about a campaign, at one instant.
        fn campaign_stats_snapshot(org: OrgId, campaign: CampaignId) -> Option<StatsSnapshot>;

        /// A page of a batch's contacts in upload order, optionally of one status.
        fn list_contacts(batch: BatchId, status: Option<ContactStatus>, page: &Page) -> Vec<Contact>;
        /// The call records of these contacts, oldest first per contact.
        fn calls_of(contacts: &[ContactId]) -> Vec<CallRecord>;
        /// The id of each contact's latest call, by one index probe per contact (contacts with no
        /// call are left out).
        fn latest_call_ids(contacts: &[ContactId]) -> Vec<(ContactId, ExecutionId)>;
        /// Contacts of a batch by status with the oldest `updated_at` of each (for `/debug`).
        fn status_breakdown(batch: BatchId) -> Vec<StatusBreakdown>;
        /// Up to `n` of the batch's pending contacts, first in dispatch order.
        fn pending_sample(batch: BatchId, n: i64) -> Vec<ContactId>;
        /// Whether some pending contact of the batch is not held back by a frequency cap.
        fn any_pending_unheld(batch: BatchId) -> bool;
        /// Pending contacts of the batch untouched since `before`.
        fn pending_untouched_since(batch: BatchId, before: DateTime<Utc>) -> i64;
        /// The earliest time a retry or follow-up of the batch is due, if any is waiting.
        fn next_due_retry(batch: BatchId) -> Option<DateTime<Utc>>;
        /// The zone keys of the batch's contacts (`ZoneKey::text`, sorted); `None` for a batch stored
        /// before contacts had them. They never change once the batch is stored.
        fn batch_zone_keys(batch: BatchId) -> Option<Vec<String>>;
        /// The work waiting in each zone key of the campaign's pending and running batches (read
        /// without a lock).
        fn zone_work(campaign: CampaignId) -> Vec<ZoneWork>;

        /// A page of the organization's do-not-call entries, newest first, with their history, and the
        /// number matching in all (entries in force at `now` only, unless the filter asks for all).
        fn list_suppressions(org: OrgId, filter: &SuppressionFilter, page: &Page, now: DateTime<Utc>) -> (Vec<Suppression>, i64);
        /// The organization's entries in force at `now` for these numbers, of every scope.
        fn suppressions_of(org: OrgId, numbers: &[String], now: DateTime<Utc>) -> Vec<Suppression>;
        /// Removes the entry in force of `phone` in its scope (the organization's when `campaign` is
        /// none), keeping the row and its history; `None` when there is none.
        fn remove_suppression(org: OrgId, phone: &str, campaign: Option<CampaignId>, now: DateTime<Utc>) -> Option<Suppression>;
        /// The numbers among `numbers` that an entry in force at `now` stops `campaign` from calling.
        fn suppressed_among(org: OrgId, campaign: CampaignId, numbers: &[String], now: DateTime<Utc>) -> Vec<String>;
        /// The calls placed since `since` to these numbers by the organization's campaigns, or by
        /// `campaign` only.
        fn calls_to(org: OrgId, campaign: Option<CampaignId>, numbers: &[String], since: DateTime<Utc>) -> Vec<(String, PastCall)>;

        /// Active, open campaigns with room, whose due work has come (`due_at`, a lower bound: the
        /// claim recomputes it), and one of whose running batches has room and open contacts.
        fn dispatch_candidates(now: DateTime<Utc>) -> Vec<CampaignId>;
        /// Whether the campaign is active, open and its due work has come (read without a lock).
        fn still_due(campaign: CampaignId, now: DateTime<Utc>) -> bool;
        /// The calls every replica started in `second` (Unix seconds) so far.
        fn paced_calls(second: i64) -> i64;
        /// Removes calls telephony did not take and that used no attempt (still `dispatched`), and puts
        /// their contacts back as they were before the claim, with every counter; returns how many.
        fn release_unplaced(calls: &[UnplacedCall], now: DateTime<Utc>) -> usize;
        /// Moves calls forward while they are live: to `ringing`, or to `in_progress` when `answered`
        /// (see `mark_accepted`, `mark_answered`); a live call gets the provider's id it did not have.
        /// Returns how many calls changed.
        fn mark_live(calls: &[AcceptedCall], answered: bool, now: DateTime<Utc>) -> usize;
        /// Keeps the provider's id for a live call that has none yet; `false` when the call has one, is
        /// not live, or does not exist.
        fn name_call(call: ExecutionId, provider_call_id: &str) -> bool;
        /// Records that the person opted out on a call (API.md §12.3): a live call is marked and its
        /// outcome, recorded later, carries it; a call already closed adds its number to the
        /// organization's list now. Says whether it changed anything (`false` for no such call, or a
        /// closed call whose number is on the list already).
        fn mark_opt_out(call: ExecutionId, now: DateTime<Utc>) -> bool;
        /// The voicemail action of the campaign a call belongs to; `None` when there is no such call.
        fn voicemail_action_of(call: ExecutionId) -> Option<VoicemailAction>;
        /// When a call was answered (`Some(None)`: not answered); `None` when there is no such call.
        fn answered_at_of(call: ExecutionId) -> Option<Option<DateTime<Utc>>>;
        /// Plans `outcome` for a live call not yet answered, to be recorded at `at` unless the call
        /// closes first (a provider's guess waiting for a surer answer); `false` when the call is
        /// answered, closed or already has a planned end.
        fn defer_outcome(call: ExecutionId, at: DateTime<Utc>, outcome: &Outcome) -> bool;
        /// Records final outcomes. A call that is no longer live (already recorded, timed out, or a
        /// duplicate callback) is left as it is. Returns the statuses of the calls it closed.
        fn record_outcomes(finished: &[FinishedCall], now: DateTime<Utc>) -> Vec<Closed>;
        /// Records the outcomes of simulated calls that ended by `now`, up to `limit` of them, taking only
        /// calls of campaigns no other transaction holds, in a dispatch slot (see
        /// `Tx::take_dispatch_slot`). Returns the statuses of the calls it closed, or `None` when no
        /// slot came free in time.
        fn settle_simulated_ends(now: DateTime<Utc>, limit: i64, slot: u32, slots: u32) -> Option<Vec<Closed>>;
        /// Calls in flight across every campaign, counted in proportion to them.
        fn calls_in_flight() -> i64;
        /// Live simulated calls whose scripted end is at or before `now`, soonest first.
        fn simulated_ends(now: DateTime<Utc>, limit: i64) -> Vec<FinishedCall>;
        /// Closes up to `limit` live calls whose deadline passed by `now` with `outcome`, ended at their
        /// deadline. With `skip_held`, calls of campaigns another transaction holds are left for a
        /// later call (a long upload, or a frozen replica, delays only its own campaign); without, it
        /// waits for them. Returns the statuses of the calls it closed.
        fn close_overdue(now: DateTime<Utc>, limit: i64, outcome: &Outcome, skip_held: bool) -> Vec<Closed>;
        /// Moves pending batches whose start has come to `in_progress`; returns how many.
        fn start_due_batches(now: DateTime<Utc>) -> u64;
        /// Open batches whose expiry has passed: `(org, campaign, batch)`.
        fn expired_batches(now: DateTime<Utc>) -> Vec<(OrgId, CampaignId, BatchId)>;
        /// Which kinds of timed work are due at `now` (one indexed probe each, in one query).
        fn due_now(now: DateTime<Utc>) -> DueNow;
        /// The earliest future instant at which something is due: a simulated call's end, a call
        /// deadline, a batch start or expiry, or a campaign's due work in its working hours.
        fn next_wakeup(now: DateTime<Utc>) -> Option<DateTime<Utc>>;

        /// Up to `limit` of the organization's events after `after`, of the types `types` lets
        /// through, oldest first (API.md §13).
        fn events_after(org: OrgId, after: EventId, types: &TypeFilter, limit: i64) -> Vec<StoredEvent>;
        /// The organization's events among `ids`, oldest first (an id it has not is left out).
        fn events_by_id(org: OrgId, ids: &[EventId]) -> Vec<StoredEvent>;
        /// These calls, in no order.
        fn calls_by_id(ids: &[ExecutionId]) -> Vec<CallRecord>;
        /// These contacts, in no order.
        fn contacts_by_id(ids: &[ContactId]) -> Vec<Contact>;
        /// The organization's newest event, if it has one.
        fn last_event(org: OrgId) -> Option<EventId>;
        /// Every organization's newest event.
        fn event_heads() -> Vec<(OrgId, EventId)>;
        /// Deletes up to `limit` events written before `before`; once fewer than `limit` are left,
        /// also the tries of events no longer kept. Returns how many events.
        fn prune_events(before: DateTime<Utc>, limit: i64) -> u64;
        /// Adds an endpoint, which hears of the events committed after it; `false` when its
        /// organization has `MAX_ENDPOINTS` already.
        fn insert_endpoint(e: &Endpoint) -> bool;
        /// The organization's endpoints, oldest first.
        fn list_endpoints(org: OrgId) -> Vec<Endpoint>;
        /// The organization's endpoint.
        fn get_endpoint(org: OrgId, id: EndpointId) -> Option<Endpoint>;
        /// Changes the fields `change` gives, and nothing else, in one statement; enabled again,
        /// the endpoint resumes where it stopped. The endpoint as changed, if it was there.
        fn change_endpoint(org: OrgId, id: EndpointId, change: &EndpointChange) -> Option<Endpoint>;
        /// Makes `secret` the endpoint's secret, and the one it replaces (as stored at that moment)
        /// its previous secret until `previous_until`. The endpoint as changed, if it was there.
        fn rotate_secret(org: OrgId, id: EndpointId, secret: &str, previous_until: DateTime<Utc>) -> Option<Endpoint>;
        /// Deletes an endpoint with its retries and tries; says whether it was there.
        fn delete_endpoint(org: OrgId, id: EndpointId) -> bool;
        /// A page of an endpoint's tries, newest first, optionally of one event, with their total.
        fn list_attempts(endpoint: EndpointId, event: Option<EventId>, page: &Page) -> (Vec<Attempt>, i64);
        /// Makes the first `limit` events `of` selects, of the types the endpoint takes as the
        /// statement runs, due at the endpoint at `now` again, in one statement, if the endpoint is
        /// `org`'s; returns how many (none for another organization's or a deleted endpoint), and
        /// the last of them.
        fn replay_events(org: OrgId, endpoint: EndpointId, of: &ReplayOf, now: DateTime<Utc>, limit: i64) -> (u64, Option<EventId>);
        /// Leases (real clock) up to `limit` enabled, healthy endpoints with events after their
        /// cursor and no lease in force.
        fn claim_streams(lease: &Lease, limit: i64) -> Vec<Stream>;
        /// Records what a stream did, if `owner` still holds its lease, and ends the lease (or keeps it
        /// until `renew`, to go on); says whether `owner` held it.
        fn finish_stream(owner: i64, done: &StreamDone, renew: Option<DateTime<Utc>>) -> bool;
        /// Leases up to `limit` retries due by `due_by` (server clock), at most `per_endpoint` per
        /// endpoint, of enabled endpoints not among `busy`.
        fn claim_retries(lease: &Lease, due_by: DateTime<Utc>, busy: &[EndpointId], per_endpoint: i64, limit: i64) -> Vec<DueRetry>;
        /// Records what retries did: tries, the next step, or the endpoint disabled with its event.
        fn finish_retries(owner: i64, done: &[RetryDone], now: DateTime<Utc>) -> ();
        /// Ends `owner`'s leases on these endpoints' streams and on these retries.
        fn release_leases(owner: i64, streams: &[EndpointId], retries: &[(EndpointId, EventId)]) -> ();
        /// Whether any organization has a webhook endpoint.
        fn any_endpoint() -> bool;
        /// Makes `owner` (this process's key on delivery leases) known as alive while the store is
        /// open, so that a lease of a process that died is taken over at once (PostgreSQL: a session
        /// lock; SQLite: the one server forgets every earlier lease).
        fn announce_owner(owner: i64) -> ();
        }
    };
}

mod declare;
mod implement;
mod tx_methods;

use declare::declare;

pub(crate) use implement::implement_contract;
pub(crate) use store_methods;
pub(crate) use tx_methods::tx_methods;

store_methods!(declare!(
    /// A database: reads and short writes, each in a statement or transaction of its own. Cheap to
    /// share (`Arc<dyn Store>`).
    Store: Send Sync, shared, {
        /// Which engine this is: `postgres` or `sqlite`.
        fn kind(&self) -> &'static str;
        /// This store as `Any`, for the tools bound to one engine (`migrate-store`).
        fn as_any(&self) -> &dyn Any;
        /// Opens a transaction.
        async fn begin(&self) -> Result<Box<dyn Tx>, Error>;
        /// Closes every connection (and gives up a SQLite file).
        async fn close(&self);
        /// Subscribes to token revocations announced by any process sharing the database.
        async fn token_events(&self) -> Result<Box<dyn TokenEvents>, Error>;
        /// Runs `work` while no other first start of a server on this database runs, so that it
        /// bootstraps once.
        async fn bootstrap_locked(&self, work: LockedWork<'_>) -> Result<(), Error>;
        /// Records that telephony accepted these calls: they ring, their contacts are in progress, and a
        /// simulated call's script is kept so that it ends on the server's clock.
        async fn mark_accepted(&self, calls: &[AcceptedCall], now: DateTime<Utc>) -> Result<usize, Error> {
            self.mark_live(calls, false, now).await
        }
        /// Records that live calls were answered; returns how many changed (a call no longer ringing or
        /// dispatched does not).
        async fn mark_answered(&self, calls: &[AcceptedCall], now: DateTime<Utc>) -> Result<usize, Error> {
            self.mark_live(calls, true, now).await
        }
    }
));

tx_methods!(declare!(
    /// A transaction opened by a service; dropped without `commit` it rolls back.
    Tx: Send, exclusive, {
        /// Makes the transaction's writes durable and visible.
        async fn commit(self: Box<Self>) -> Result<(), Error>;
        /// Undoes the transaction now, releasing its locks before this returns (dropping it leaves the
        /// rollback to the pool, a moment later).
        async fn rollback(self: Box<Self>) -> Result<(), Error>;
    }
));

/// A subscription to token revocations made by any process sharing the database.
#[async_trait::async_trait]
pub trait TokenEvents: Send {
    /// Waits for the next revocation. After a lost connection it returns an error, since a
    /// revocation may have been missed meanwhile.
    async fn next(&mut self) -> Result<(), Error>;
}

impl dyn Store {
    /// Runs `f` while no other first start of a server on this database runs (see
    /// `Store::bootstrap_locked`), and returns what it returned.
    pub async fn with_bootstrap_lock<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        T: Send,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T, Error>> + Send,
    {
        let mut out = None;
        self.bootstrap_locked(Box::pin(async {
            out = Some(f().await?);
            Ok(())
        }))
        .await?;
        out.ok_or_else(|| Error::internal("the bootstrap work did not run"))
    }
}

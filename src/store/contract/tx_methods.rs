//! The `Tx` half of the storage contract: the methods a transaction offers, documented once.

/// Passes the `Tx` methods to `$then!`.
macro_rules! tx_methods {
    ($then:ident!($($head:tt)*)) => {
        $then! { ($($head)*)
        /// Inserts a new campaign.
        fn insert_campaign(c: &Campaign) -> ();
        /// Inserts a new calendar.
        fn insert_calendar(c: &Calendar) -> ();
        /// Reads and locks the organization's calendar until the transaction ends.
        fn lock_calendar(org: OrgId, id: CalendarId) -> Option<Calendar>;
        /// Writes a calendar's name, entries and `updated_at`; says whether it was there.
        fn update_calendar(c: &Calendar) -> bool;
        /// Whether a campaign of the organization that is not cancelled applies it (a completed one
        /// becomes active again with a new batch).
        fn calendar_in_use(org: OrgId, id: CalendarId) -> bool;
        /// Makes the campaigns that apply a changed calendar judge their next opening and due time anew.
        fn campaigns_changed_by_calendar(org: OrgId, id: CalendarId, now: DateTime<Utc>) -> ();
        /// Deletes a calendar; says whether it was there.
        fn delete_calendar(id: CalendarId) -> bool;
        /// Records that the campaign may have work from `at` on (a new batch, a resume): its `due_at`
        /// is lowered to `at` if later. Every change that adds work calls it, or lowers `due_at` itself.
        fn mark_due(campaign: CampaignId, at: DateTime<Utc>) -> ();
        /// Recomputes the campaign's `due_at` from its pending and running batches (after a claim, a
        /// pause, a cancel or an expiry took work away); says whether it changed.
        fn refresh_due_at(campaign: CampaignId) -> bool;
        /// Records when the campaign's working hours next open (they are closed until then).
        fn set_opens_at(campaign: CampaignId, at: DateTime<Utc>) -> ();
        /// Records the campaign's `due_at` as computed by the caller (the recipient basis, which
        /// judges each zone key); says whether it changed.
        fn set_due_at(campaign: CampaignId, at: DateTime<Utc>) -> bool;
        /// Stores the response of the request that holds `claim` in this transaction, with its work, if
        /// it still holds the claim; says whether it did.
        fn finish_idempotent(claim: &IdempotencyClaim, status: u16, body: &[u8]) -> bool;
        /// Reads and locks the organization's campaign until the transaction ends.
        fn lock_campaign(org: OrgId, id: CampaignId) -> Option<Campaign>;
        /// Locks the campaign unless another transaction holds it; `false` when held or gone.
        fn try_lock_campaign(id: CampaignId) -> bool;
        /// Writes a campaign's settings, if its status is still `expected`; `false` otherwise.
        fn update_campaign_settings(c: &Campaign, expected: CampaignStatus) -> bool;
        /// Moves a campaign from `from` to `to` (compare-and-set); `false` when its status was not `from`.
        fn set_campaign_status(id: CampaignId, from: CampaignStatus, to: CampaignStatus, now: DateTime<Utc>) -> bool;
        /// Deletes a campaign in status `expected`, with everything that belongs to it.
        fn delete_campaign(id: CampaignId, expected: CampaignStatus) -> bool;

        /// Inserts a batch row (its contacts are pending or, suppressed, skipped).
        fn insert_batch(b: &Batch) -> ();
        /// Reads and locks the organization's batch until the transaction ends.
        fn lock_batch(org: OrgId, id: BatchId) -> Option<Batch>;
        /// Moves a batch from `from` to `to` (compare-and-set); `false` when its status was not `from`.
        fn set_batch_status(id: BatchId, from: BatchStatus, to: BatchStatus, now: DateTime<Utc>) -> bool;
        /// Turns the batch's pending, dispatched, retrying and follow-up contacts into `skipped`, keeping
        /// the counters exact; returns how many were skipped.
        fn skip_open_contacts(id: BatchId, now: DateTime<Utc>) -> i64;
        /// The campaign's batches that are not terminal, locked: id, status and scheduled start.
        fn lock_open_batches(campaign: CampaignId) -> Vec<OpenBatch>;
        /// The statuses of every batch of the campaign.
        fn batch_statuses(campaign: CampaignId) -> Vec<BatchStatus>;

        /// Inserts a batch's contacts, all `pending`, chunk by chunk as they arrive until the sender
        /// closes (positions follow arrival order), each with its zone key (`zone` standing for the
        /// campaign's zone). Returns how many were inserted, and their zone keys.
        fn insert_contacts(
            batch: BatchId,
            campaign: CampaignId,
            zone: Timezone,
            chunks: &mut mpsc::Receiver<Vec<NewContact>>,
            now: DateTime<Utc>
        ) -> Ingested;

        /// Records the zone keys of a new batch's contacts.
        fn set_batch_zone_keys(batch: BatchId, keys: &[String]) -> ();

        /// Takes one of `slots` dispatch slots for the rest of the transaction: any free one, else
        /// `slot` once it frees, waiting at most a couple of seconds (its holder may be frozen). Across
        /// every replica on one database, at most one claim or settle runs in each slot, so adding
        /// replicas never runs more of them at once than the database has room for. Says whether it
        /// got one; when not, the transaction can only be rolled back.
        fn take_dispatch_slot(slot: u32, slots: u32) -> bool;
        /// The calls every replica started in `second` (Unix seconds) so far, that second's count
        /// locked until the transaction ends, so that concurrent claims count one after another.
        fn paced_calls(second: i64) -> i64;
        /// Counts `calls` more started in `second`.
        fn add_paced_calls(second: i64, calls: i64) -> ();
        /// Locks an active campaign for a claim, skipping it when another transaction holds it.
        /// Returns it with its round-robin cursor and recorded `due_at`.
        fn lock_campaign_for_dispatch(id: CampaignId) -> Option<LockedForDispatch>;
        /// The campaign's running, unexpired batches with contacts still to call, oldest first, locked
        /// (a batch whose contacts are all in calls or done is neither locked nor read).
        fn running_batches(campaign: CampaignId, now: DateTime<Utc>) -> Vec<Batch>;
        /// Up to `limit` contacts of the batch callable now: due retries and follow-ups first (soonest
        /// due first), then pending contacts in upload order.
        fn claim_contacts(batch: BatchId, now: DateTime<Utc>, limit: i64) -> Vec<ClaimedContact>;
        /// As `claim_contacts`, among the contacts of the zone keys `keys` only: due retries and
        /// follow-ups first (soonest due first), then pending contacts in upload order across the keys.
        fn claim_contacts_in(batch: BatchId, keys: &[String], now: DateTime<Utc>, limit: i64) -> Vec<ClaimedContact>;
        /// The work waiting in each zone key of the campaign's pending and running batches.
        fn zone_work(campaign: CampaignId) -> Vec<ZoneWork>;
        /// As `Store::suppressed_among`, ordered with additions to the list: no addition commits
        /// between this read and the end of the transaction.
        fn suppressed_among(org: OrgId, campaign: CampaignId, numbers: &[String], now: DateTime<Utc>) -> Vec<String>;
        /// Holds these numbers until the transaction ends, so that claims of one number under an
        /// organization-wide cap count one after the other.
        fn lock_numbers(numbers: &[String]) -> ();
        /// As `Store::calls_to`, in the transaction.
        fn calls_to(org: OrgId, campaign: Option<CampaignId>, numbers: &[String], since: DateTime<Utc>) -> Vec<(String, PastCall)>;
        /// Skips claimed contacts whose numbers are suppressed (`skip_reason: "suppressed"`), moving
        /// every counter, and completes the batches and campaigns this finishes.
        fn skip_claimed(contacts: &[ScreenedContact], now: DateTime<Utc>) -> ();
        /// Holds claimed contacts back until the instants given (a frequency cap): they keep their
        /// status and are due again then.
        fn hold_claimed(holds: &[(ContactId, DateTime<Utc>)]) -> ();
        /// Adds do-not-call entries (one per number and scope) ordered with claims (see
        /// `suppressed_among`); an entry in force is left as it is, a removed or expired one opens
        /// again with its episode kept in its history. Returns how many were added.
        fn add_suppressions(org: OrgId, entries: &[NewSuppression], now: DateTime<Utc>) -> u64;
        /// Skips the contacts of a batch being stored whose numbers an entry in force stops the
        /// campaign from calling (`skip_reason: "suppressed"`); returns how many.
        fn skip_suppressed(org: OrgId, campaign: CampaignId, batch: BatchId, now: DateTime<Utc>) -> i64;
        /// Calls in flight per caller-ID number of the campaign.
        fn live_calls_by_number(campaign: CampaignId) -> HashMap<String, i64>;
        /// Writes the claimed calls, marks their contacts, and moves every counter: the batches', and
        /// the campaign's calls in flight, attempts, follow-ups and round-robin cursor.
        fn insert_calls(campaign: CampaignId, calls: &[NewCall], cursor_advance: i64) -> ();
        }
    };
}
pub(crate) use tx_methods;

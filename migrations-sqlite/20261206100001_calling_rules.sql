-- Do-not-call lists and frequency caps (API.md §12.3, §12.4). One row per number and scope (the whole
-- organization, or one campaign): an entry is in force while it is not removed and not expired; a
-- removal keeps the row, and an entry closed (removed or expired) and added again keeps the closed
-- episode in `suppression_history`. A contact skipped because its number is suppressed says so
-- (`skip_reason`); a contact held by a frequency cap keeps its status and waits for `next_retry_at`,
-- so every contact with a `next_retry_at` is in `contacts_batch_due`, pending ones included.
CREATE TABLE suppressions (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    phone_number TEXT NOT NULL,
    -- '' for the whole organization, else the campaign's id: the scope an entry is unique in.
    scope TEXT NOT NULL,
    campaign_id TEXT,
    reason TEXT,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    removed_at INTEGER,
    UNIQUE (organization_id, phone_number, scope)
) STRICT;
CREATE INDEX suppressions_org_created ON suppressions (organization_id, created_at DESC, id DESC);
CREATE TABLE suppression_history (
    suppression_id TEXT NOT NULL REFERENCES suppressions (id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    reason TEXT,
    expires_at INTEGER,
    removed_at INTEGER,
    closed_at INTEGER NOT NULL
) STRICT;
CREATE INDEX suppression_history_entry ON suppression_history (suppression_id, added_at);
ALTER TABLE contacts ADD COLUMN skip_reason TEXT;
DROP INDEX contacts_batch_due;
CREATE INDEX contacts_batch_due ON contacts (batch_id, next_retry_at, seq) WHERE next_retry_at IS NOT NULL;
-- The calls placed to a number, for frequency caps.
CREATE INDEX call_records_to_number ON call_records (to_number, dispatched_at);
ALTER TABLE campaigns ADD COLUMN frequency_caps TEXT NOT NULL DEFAULT '[]';

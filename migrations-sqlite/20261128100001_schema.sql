-- The embedded store's schema: the same tables, columns and rules as the Postgres migrations, in
-- SQLite's types. Ids are hyphenated UUID text (their text order is the UUID byte order), instants
-- are integer microseconds since the Unix epoch (Postgres keeps microseconds too), JSON is text,
-- booleans are 0 or 1. Tables are STRICT, so a value of the wrong type is refused, not converted.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL DEFAULT '',
    -- SHA-256 of the clear token; the clear token is never stored.
    token_hash       BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    token_prefix     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    revoked_at       INTEGER
) STRICT;
CREATE INDEX api_tokens_org ON api_tokens (organization_id, created_at);

CREATE TABLE campaigns (
    id                      TEXT PRIMARY KEY,
    organization_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    agent_id                TEXT NOT NULL,
    status                  TEXT NOT NULL
        CHECK (status IN ('draft', 'active', 'paused', 'completed', 'cancelled')),
    -- A JSON array of E.164 numbers.
    phone_numbers           TEXT NOT NULL CHECK (json_array_length(phone_numbers) BETWEEN 1 AND 100),
    phone_number_strategy   TEXT NOT NULL
        CHECK (phone_number_strategy IN ('round_robin', 'random', 'least_loaded')),
    working_hours_enforced  INTEGER NOT NULL CHECK (working_hours_enforced IN (0, 1)),
    timezone                TEXT NOT NULL,
    working_hours           TEXT NOT NULL,
    max_retries             INTEGER NOT NULL CHECK (max_retries BETWEEN 0 AND 20),
    retry_strategy          TEXT NOT NULL CHECK (retry_strategy IN ('fixed', 'exponential')),
    cooldown_minutes        INTEGER NOT NULL CHECK (cooldown_minutes BETWEEN 0 AND 10080),
    default_call_variables  TEXT NOT NULL,
    metadata                TEXT NOT NULL,
    concurrency_limit       INTEGER NOT NULL CHECK (concurrency_limit BETWEEN 1 AND 10000),
    completed_calls         INTEGER NOT NULL DEFAULT 0 CHECK (completed_calls >= 0),
    failed_calls            INTEGER NOT NULL DEFAULT 0 CHECK (failed_calls >= 0),
    busy_calls              INTEGER NOT NULL DEFAULT 0 CHECK (busy_calls >= 0),
    no_answer_calls         INTEGER NOT NULL DEFAULT 0 CHECK (no_answer_calls >= 0),
    follow_up_calls         INTEGER NOT NULL DEFAULT 0 CHECK (follow_up_calls >= 0),
    in_flight               INTEGER NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    round_robin_cursor      INTEGER NOT NULL DEFAULT 0,
    call_attempts           INTEGER NOT NULL DEFAULT 0 CHECK (call_attempts >= 0),
    answered_calls          INTEGER NOT NULL DEFAULT 0 CHECK (answered_calls >= 0),
    answered_seconds        REAL NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;
CREATE INDEX campaigns_org_created ON campaigns (organization_id, created_at DESC, id DESC);
CREATE INDEX campaigns_org_status_created ON campaigns (organization_id, status, created_at DESC, id DESC);

CREATE TABLE idempotency_keys (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key              TEXT NOT NULL,
    request_hash     BLOB NOT NULL,
    response_status  INTEGER,
    response_body    BLOB,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (organization_id, key)
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE batches (
    id                    TEXT PRIMARY KEY,
    campaign_id           TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    organization_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status                TEXT NOT NULL
        CHECK (status IN ('pending', 'in_progress', 'paused', 'completed', 'cancelled', 'expired')),
    total_contacts        INTEGER NOT NULL CHECK (total_contacts BETWEEN 1 AND 100000),
    concurrency_limit     INTEGER CHECK (concurrency_limit BETWEEN 1 AND 10000),
    max_retries_override  INTEGER CHECK (max_retries_override BETWEEN 0 AND 20),
    scheduled_start       INTEGER NOT NULL,
    expires_at            INTEGER,
    call_context          TEXT NOT NULL,
    metadata              TEXT NOT NULL,
    n_pending             INTEGER NOT NULL DEFAULT 0 CHECK (n_pending >= 0),
    n_dispatched          INTEGER NOT NULL DEFAULT 0 CHECK (n_dispatched >= 0),
    n_in_progress         INTEGER NOT NULL DEFAULT 0 CHECK (n_in_progress >= 0),
    n_retrying            INTEGER NOT NULL DEFAULT 0 CHECK (n_retrying >= 0),
    n_followup_scheduled  INTEGER NOT NULL DEFAULT 0 CHECK (n_followup_scheduled >= 0),
    n_completed           INTEGER NOT NULL DEFAULT 0 CHECK (n_completed >= 0),
    n_failed              INTEGER NOT NULL DEFAULT 0 CHECK (n_failed >= 0),
    n_busy                INTEGER NOT NULL DEFAULT 0 CHECK (n_busy >= 0),
    n_no_answer           INTEGER NOT NULL DEFAULT 0 CHECK (n_no_answer >= 0),
    n_skipped             INTEGER NOT NULL DEFAULT 0 CHECK (n_skipped >= 0),
    n_max_retries_reached INTEGER NOT NULL DEFAULT 0 CHECK (n_max_retries_reached >= 0),
    in_flight             INTEGER NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    completed_at          INTEGER,
    -- Contacts by status always sum to the batch's total.
    CHECK (n_pending + n_dispatched + n_in_progress + n_retrying + n_followup_scheduled + n_completed
           + n_failed + n_busy + n_no_answer + n_skipped + n_max_retries_reached = total_contacts)
) STRICT;
CREATE INDEX batches_org_created ON batches (organization_id, created_at DESC, id DESC);
CREATE INDEX batches_campaign_created ON batches (campaign_id, created_at DESC, id DESC);
CREATE INDEX batches_running ON batches (campaign_id, created_at, id) WHERE status = 'in_progress';
CREATE INDEX batches_pending_start ON batches (scheduled_start) WHERE status = 'pending';
CREATE INDEX batches_open_expiry ON batches (expires_at)
    WHERE status IN ('pending', 'in_progress', 'paused') AND expires_at IS NOT NULL;

CREATE TABLE contacts (
    id                  TEXT PRIMARY KEY,
    -- Checked at commit: a batch's contacts are written before its row, in the same transaction.
    batch_id            TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    campaign_id         TEXT NOT NULL,
    seq                 INTEGER NOT NULL,
    phone_number        TEXT NOT NULL,
    call_variables      TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'dispatched', 'in_progress', 'retrying',
        'followup_scheduled', 'completed', 'failed', 'busy', 'no_answer', 'skipped', 'max_retries_reached')),
    retry_count         INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    follow_up_count     INTEGER NOT NULL DEFAULT 0 CHECK (follow_up_count >= 0),
    latest_retry_count  INTEGER NOT NULL DEFAULT 0 CHECK (latest_retry_count >= 0),
    last_attempted_at   INTEGER,
    next_retry_at       INTEGER,
    updated_at          INTEGER NOT NULL,
    UNIQUE (batch_id, seq)
) STRICT;
CREATE INDEX contacts_batch_status_seq ON contacts (batch_id, status, seq);
CREATE INDEX contacts_batch_due ON contacts (batch_id, next_retry_at, seq)
    WHERE status IN ('retrying', 'followup_scheduled');
CREATE INDEX contacts_campaign_retrying ON contacts (campaign_id, retry_count) WHERE status = 'retrying';

CREATE TABLE call_records (
    id                TEXT PRIMARY KEY,
    contact_id        TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    batch_id          TEXT NOT NULL,
    campaign_id       TEXT NOT NULL,
    attempt           INTEGER NOT NULL CHECK (attempt >= 0),
    kind              TEXT NOT NULL CHECK (kind IN ('initial', 'retry', 'follow_up')),
    call_status       TEXT NOT NULL CHECK (call_status IN ('dispatched', 'ringing', 'in_progress', 'completed',
        'busy', 'no_answer', 'failed')),
    from_number       TEXT NOT NULL,
    to_number         TEXT NOT NULL,
    duration_seconds  REAL,
    recording_url     TEXT,
    transcript        TEXT,
    summary           TEXT,
    sentiment         TEXT,
    hangup_by         TEXT,
    hangup_reason     TEXT,
    total_cost        REAL,
    dispatched_at     INTEGER NOT NULL,
    answered_at       INTEGER,
    ended_at          INTEGER,
    deadline_at       INTEGER NOT NULL,
    planned_end_at    INTEGER,
    planned_outcome   TEXT,
    -- The order of every placement and every close (see call_events).
    placed_seq        INTEGER NOT NULL,
    closed_seq        INTEGER
) STRICT;
CREATE UNIQUE INDEX call_records_one_live_per_contact ON call_records (contact_id)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');
CREATE INDEX call_records_contact_attempt ON call_records (contact_id, dispatched_at, id);
CREATE INDEX call_records_live_deadline ON call_records (deadline_at, id)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');
CREATE INDEX call_records_live_planned ON call_records (planned_end_at, id)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress') AND planned_end_at IS NOT NULL;
CREATE INDEX call_records_live_campaign_from ON call_records (campaign_id, from_number)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');

-- The counter behind placed_seq and closed_seq (Postgres has the call_events sequence).
CREATE TABLE call_events (
    only  INTEGER PRIMARY KEY CHECK (only = 1),
    last  INTEGER NOT NULL
) STRICT;
INSERT INTO call_events (only, last) VALUES (1, 0);

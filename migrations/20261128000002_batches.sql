-- Batches, contacts and call records, shaped for the dispatcher: due times, attempt counts,
-- in-flight counters and one live call per contact enforced by the database.

ALTER TABLE campaigns
    ADD COLUMN call_attempts    bigint NOT NULL DEFAULT 0 CHECK (call_attempts >= 0),
    ADD COLUMN answered_calls   bigint NOT NULL DEFAULT 0 CHECK (answered_calls >= 0),
    ADD COLUMN answered_seconds double precision NOT NULL DEFAULT 0;

CREATE TABLE batches (
    id                    uuid PRIMARY KEY,
    campaign_id           uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    organization_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status                text NOT NULL
        CHECK (status IN ('pending', 'in_progress', 'paused', 'completed', 'cancelled', 'expired')),
    total_contacts        integer NOT NULL CHECK (total_contacts BETWEEN 1 AND 100000),
    concurrency_limit     integer CHECK (concurrency_limit BETWEEN 1 AND 10000),
    max_retries_override  smallint CHECK (max_retries_override BETWEEN 0 AND 20),
    scheduled_start       timestamptz NOT NULL,
    expires_at            timestamptz,
    call_context          jsonb NOT NULL,
    metadata              jsonb NOT NULL,
    -- Contacts by status, changed in the same transaction as the contacts themselves, so that
    -- reads never count rows. They always sum to total_contacts.
    n_pending             integer NOT NULL DEFAULT 0 CHECK (n_pending >= 0),
    n_dispatched          integer NOT NULL DEFAULT 0 CHECK (n_dispatched >= 0),
    n_in_progress         integer NOT NULL DEFAULT 0 CHECK (n_in_progress >= 0),
    n_retrying            integer NOT NULL DEFAULT 0 CHECK (n_retrying >= 0),
    n_followup_scheduled  integer NOT NULL DEFAULT 0 CHECK (n_followup_scheduled >= 0),
    n_completed           integer NOT NULL DEFAULT 0 CHECK (n_completed >= 0),
    n_failed              integer NOT NULL DEFAULT 0 CHECK (n_failed >= 0),
    n_busy                integer NOT NULL DEFAULT 0 CHECK (n_busy >= 0),
    n_no_answer           integer NOT NULL DEFAULT 0 CHECK (n_no_answer >= 0),
    n_skipped             integer NOT NULL DEFAULT 0 CHECK (n_skipped >= 0),
    n_max_retries_reached integer NOT NULL DEFAULT 0 CHECK (n_max_retries_reached >= 0),
    CHECK (n_pending + n_dispatched + n_in_progress + n_retrying + n_followup_scheduled + n_completed
           + n_failed + n_busy + n_no_answer + n_skipped + n_max_retries_reached = total_contacts),
    -- Live calls of this batch (for its own concurrency_limit).
    in_flight             integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    completed_at          timestamptz
);
-- GET /batches/ and /campaigns/{id}/batches: org or campaign scope, newest first.
CREATE INDEX batches_org_created ON batches (organization_id, created_at DESC, id DESC);
CREATE INDEX batches_campaign_created ON batches (campaign_id, created_at DESC, id DESC);

CREATE TABLE contacts (
    id                  uuid PRIMARY KEY,
    batch_id            uuid NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    campaign_id         uuid NOT NULL,
    -- Position in the uploaded list: dispatch and listing order within a batch.
    seq                 integer NOT NULL,
    phone_number        text NOT NULL,
    call_variables      jsonb NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'dispatched', 'in_progress', 'retrying',
        'followup_scheduled', 'completed', 'failed', 'busy', 'no_answer', 'skipped', 'max_retries_reached')),
    retry_count         smallint NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    follow_up_count     smallint NOT NULL DEFAULT 0 CHECK (follow_up_count >= 0),
    latest_retry_count  smallint NOT NULL DEFAULT 0 CHECK (latest_retry_count >= 0),
    last_attempted_at   timestamptz,
    -- When a retrying or followup_scheduled contact is due.
    next_retry_at       timestamptz,
    updated_at          timestamptz NOT NULL,
    UNIQUE (batch_id, seq)
);
-- Listing by status and claiming pending contacts in upload order.
CREATE INDEX contacts_batch_status_seq ON contacts (batch_id, status, seq);
-- Claiming due retries and follow-ups.
CREATE INDEX contacts_batch_due ON contacts (batch_id, next_retry_at, seq)
    WHERE status IN ('retrying', 'followup_scheduled');
-- /stats retry_breakdown: contacts now retrying, by retry_count.
CREATE INDEX contacts_campaign_retrying ON contacts (campaign_id, retry_count) WHERE status = 'retrying';

CREATE TABLE call_records (
    id                uuid PRIMARY KEY,
    contact_id        uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    batch_id          uuid NOT NULL,
    campaign_id       uuid NOT NULL,
    attempt           smallint NOT NULL CHECK (attempt >= 0),
    kind              text NOT NULL CHECK (kind IN ('initial', 'retry', 'follow_up')),
    call_status       text NOT NULL CHECK (call_status IN ('dispatched', 'ringing', 'in_progress', 'completed',
        'busy', 'no_answer', 'failed')),
    from_number       text NOT NULL,
    to_number         text NOT NULL,
    duration_seconds  double precision,
    recording_url     text,
    transcript        text,
    summary           text,
    sentiment         text,
    hangup_by         text,
    hangup_reason     text,
    total_cost        double precision,
    dispatched_at     timestamptz NOT NULL,
    answered_at       timestamptz,
    ended_at          timestamptz,
    -- A live call with no outcome by then is closed as failed/status_timeout.
    deadline_at       timestamptz NOT NULL
);
-- At most one live call per contact, whatever any replica does.
CREATE UNIQUE INDEX call_records_one_live_per_contact ON call_records (contact_id)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');
CREATE INDEX call_records_contact_attempt ON call_records (contact_id, dispatched_at, id);
CREATE INDEX call_records_live_deadline ON call_records (deadline_at)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');

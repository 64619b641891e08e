-- Events and customer webhooks (API.md §13), as in the Postgres migration (a batch's or campaign's
-- row as of the change is kept with the columns the store reads, `BATCH_COLUMNS` and `CAMPAIGN_COLUMNS`). The one writer commits
-- one transaction at a time, so the row id of `events` already follows commit order: it is the
-- event's number. AUTOINCREMENT never gives a number twice, even after pruning.
CREATE TABLE events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id  TEXT NOT NULL,
    type             TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    campaign_id      TEXT,
    status           TEXT,
    data             TEXT,
    created_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX events_feed ON events (organization_id, seq);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX events_campaign ON events (campaign_id);
CREATE TABLE event_heads (
    organization_id  TEXT PRIMARY KEY,
    last_seq         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TRIGGER events_head AFTER INSERT ON events BEGIN
    INSERT INTO event_heads (organization_id, last_seq) VALUES (NEW.organization_id, NEW.seq)
        ON CONFLICT (organization_id) DO UPDATE SET last_seq = excluded.last_seq;
END;

CREATE TRIGGER calls_ended AFTER UPDATE OF call_status ON call_records
WHEN OLD.call_status IN ('dispatched', 'ringing', 'in_progress')
 AND NEW.call_status NOT IN ('dispatched', 'ringing', 'in_progress')
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, created_at)
    SELECT c.organization_id, 'call.ended', NEW.id, NEW.campaign_id, COALESCE(NEW.ended_at, NEW.dispatched_at)
    FROM campaigns c WHERE c.id = NEW.campaign_id;
END;

CREATE TRIGGER contacts_finished AFTER UPDATE OF status ON contacts
WHEN OLD.status IN ('pending', 'dispatched', 'in_progress', 'retrying', 'followup_scheduled')
 AND NEW.status NOT IN ('pending', 'dispatched', 'in_progress', 'retrying', 'followup_scheduled')
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, created_at)
    SELECT c.organization_id, 'contact.finished', NEW.id, NEW.campaign_id, NEW.updated_at
    FROM campaigns c WHERE c.id = NEW.campaign_id;
END;

CREATE TRIGGER batches_updated AFTER UPDATE OF status ON batches WHEN OLD.status <> NEW.status BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, status, data, created_at)
    VALUES (NEW.organization_id, 'batch.updated', NEW.id, NEW.campaign_id, NEW.status,
        json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'organization_id', NEW.organization_id,
        'status', NEW.status, 'total_contacts', NEW.total_contacts,
        'concurrency_limit', NEW.concurrency_limit,
        'max_retries_override', NEW.max_retries_override, 'scheduled_start', NEW.scheduled_start,
        'expires_at', NEW.expires_at, 'call_context', NEW.call_context, 'metadata', NEW.metadata,
        'n_pending', NEW.n_pending, 'n_dispatched', NEW.n_dispatched,
        'n_in_progress', NEW.n_in_progress, 'n_retrying', NEW.n_retrying,
        'n_followup_scheduled', NEW.n_followup_scheduled, 'n_completed', NEW.n_completed,
        'n_failed', NEW.n_failed, 'n_busy', NEW.n_busy, 'n_no_answer', NEW.n_no_answer,
        'n_skipped', NEW.n_skipped, 'n_max_retries_reached', NEW.n_max_retries_reached,
        'in_flight', NEW.in_flight, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at,
        'completed_at', NEW.completed_at),
        NEW.updated_at);
END;

CREATE TRIGGER campaigns_updated AFTER UPDATE OF status ON campaigns WHEN OLD.status <> NEW.status BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, status, data, created_at)
    VALUES (NEW.organization_id, 'campaign.updated', NEW.id, NEW.id, NEW.status,
        json_object('id', NEW.id, 'organization_id', NEW.organization_id, 'name', NEW.name,
        'agent_id', NEW.agent_id, 'status', NEW.status, 'phone_numbers', NEW.phone_numbers,
        'phone_number_strategy', NEW.phone_number_strategy,
        'working_hours_enforced', NEW.working_hours_enforced, 'timezone', NEW.timezone,
        'working_hours', NEW.working_hours, 'working_hours_basis', NEW.working_hours_basis,
        'calendar_ids', NEW.calendar_ids, 'frequency_caps', NEW.frequency_caps,
        'max_retries', NEW.max_retries, 'retry_strategy', NEW.retry_strategy,
        'cooldown_minutes', NEW.cooldown_minutes,
        'default_call_variables', NEW.default_call_variables, 'metadata', NEW.metadata,
        'concurrency_limit', NEW.concurrency_limit, 'completed_calls', NEW.completed_calls,
        'failed_calls', NEW.failed_calls, 'busy_calls', NEW.busy_calls,
        'no_answer_calls', NEW.no_answer_calls, 'follow_up_calls', NEW.follow_up_calls,
        'in_flight', NEW.in_flight, 'call_attempts', NEW.call_attempts,
        'answered_calls', NEW.answered_calls, 'answered_seconds', NEW.answered_seconds,
        'created_at', NEW.created_at, 'updated_at', NEW.updated_at),
        NEW.updated_at);
END;

CREATE TRIGGER suppressions_inserted AFTER INSERT ON suppressions BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, data, created_at)
    VALUES (NEW.organization_id, 'suppression.added', NEW.id, NEW.campaign_id,
        json_object('phone_number', NEW.phone_number, 'campaign_id', NEW.campaign_id, 'reason', NEW.reason,
                    'expires_at', NEW.expires_at), NEW.created_at);
END;
CREATE TRIGGER suppressions_reopened AFTER UPDATE OF created_at ON suppressions
WHEN OLD.created_at <> NEW.created_at BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, data, created_at)
    VALUES (NEW.organization_id, 'suppression.added', NEW.id, NEW.campaign_id,
        json_object('phone_number', NEW.phone_number, 'campaign_id', NEW.campaign_id, 'reason', NEW.reason,
                    'expires_at', NEW.expires_at), NEW.created_at);
END;

CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    description       TEXT,
    secret            TEXT NOT NULL,
    previous_secret   TEXT,
    previous_until    INTEGER,
    disabled          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    cursor            INTEGER NOT NULL,
    failing           INTEGER NOT NULL DEFAULT 0,
    lease_owner       INTEGER,
    lease_until       INTEGER
) STRICT;
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (organization_id, created_at);
CREATE TABLE webhook_retries (
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    step         INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    generation   INTEGER NOT NULL DEFAULT 0,
    lease_owner  INTEGER,
    lease_until  INTEGER,
    PRIMARY KEY (endpoint_id, seq)
) STRICT;
CREATE INDEX webhook_retries_due ON webhook_retries (due_at);
-- Every try; no foreign key (as on PostgreSQL): deleting an endpoint deletes its tries.
CREATE TABLE webhook_attempts (
    endpoint_id   TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    attempted_at  INTEGER NOT NULL,
    status_code   INTEGER,
    duration_ms   INTEGER NOT NULL,
    error         TEXT
) STRICT;
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at DESC, seq DESC);
CREATE INDEX webhook_attempts_event ON webhook_attempts (endpoint_id, seq);
CREATE INDEX webhook_attempts_time ON webhook_attempts (attempted_at);

-- Events and customer webhooks (API.md §13). An event is a row written by the trigger of the change
-- it reports, in the change's transaction, so it exists exactly when the change does. Its number
-- (`seq`) is given at commit: the transaction then locks its organizations' heads in id order and
-- numbers its events from one global sequence, so that within an organization numbers follow commit
-- order (a later transaction numbers its events only once an earlier one committed). Until then
-- `seq` is null, and only the writing transaction sees the row.
CREATE SEQUENCE event_seq;
-- The order events were written in within their transaction (their numbers follow it).
CREATE SEQUENCE event_ord CACHE 1000;
CREATE TABLE events (
    seq              bigint,
    organization_id  uuid NOT NULL,
    type             text NOT NULL,
    -- The call, contact, batch, campaign, suppression entry or endpoint the event is about.
    subject_id       uuid NOT NULL,
    campaign_id      uuid,
    -- A batch's or campaign's status as of the change.
    status           text,
    -- What cannot be read back later: a batch's or campaign's row as of the change, a suppression
    -- entry as added, a disabled endpoint.
    data             text,
    created_at       timestamptz NOT NULL,
    ord              bigint NOT NULL DEFAULT nextval('event_ord')
);
CREATE UNIQUE INDEX events_feed ON events (organization_id, seq);
CREATE INDEX events_unsequenced ON events (organization_id) WHERE seq IS NULL;
CREATE INDEX events_created ON events (created_at);
CREATE INDEX events_campaign ON events (campaign_id);
-- The newest number of each organization's events; its row is the lock of the numbering.
CREATE TABLE event_heads (
    organization_id  uuid PRIMARY KEY,
    last_seq         bigint NOT NULL DEFAULT 0
);
-- One row per transaction that wrote events, until it commits: its deferred trigger numbers them.
CREATE TABLE event_commits (txid xid8 PRIMARY KEY);

CREATE FUNCTION register_events() RETURNS void LANGUAGE sql AS $$
    INSERT INTO event_commits VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
$$;

CREATE FUNCTION events_sequence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Other transactions' unnumbered events are not visible: every committed event has its number.
    INSERT INTO event_heads AS h (organization_id)
        SELECT DISTINCT organization_id FROM events WHERE seq IS NULL ORDER BY 1
        ON CONFLICT (organization_id) DO UPDATE SET last_seq = h.last_seq;
    WITH pending AS (
        SELECT ctid AS at, row_number() OVER (ORDER BY ord) AS n
        FROM events WHERE seq IS NULL
    ), fresh AS (
        SELECT s, row_number() OVER (ORDER BY s) AS n
        FROM (SELECT nextval('event_seq') AS s FROM generate_series(1, (SELECT count(*) FROM pending))) g
    ), numbered AS (
        UPDATE events e SET seq = fresh.s FROM pending JOIN fresh USING (n) WHERE e.ctid = pending.at
        RETURNING e.organization_id, e.seq
    )
    UPDATE event_heads h SET last_seq = m.s
    FROM (SELECT organization_id, max(seq) AS s FROM numbered GROUP BY 1) m
    WHERE h.organization_id = m.organization_id;
    DELETE FROM event_commits WHERE txid = NEW.txid;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER events_sequence AFTER INSERT ON event_commits
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION events_sequence();

-- The changes that are events, one statement at a time. A transition table looks like one row to the
-- planner, so a join of the old and new rows would be a nested loop, quadratic in a settle of
-- thousands of calls (2.6 s for one statement, BENCHMARKS.md): these functions hash-join them
-- (`enable_nestloop = off`), and read an organization by a lookup per row, not a join.
CREATE FUNCTION calls_ended() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, created_at)
    SELECT (SELECT c.organization_id FROM campaigns c WHERE c.id = n.campaign_id), 'call.ended', n.id,
        n.campaign_id, COALESCE(n.ended_at, n.dispatched_at)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.call_status IN ('dispatched', 'ringing', 'in_progress')
      AND n.call_status NOT IN ('dispatched', 'ringing', 'in_progress');
    IF FOUND THEN PERFORM register_events(); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER calls_ended AFTER UPDATE ON call_records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_ended();

CREATE FUNCTION contacts_finished() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, created_at)
    SELECT (SELECT c.organization_id FROM campaigns c WHERE c.id = n.campaign_id), 'contact.finished', n.id,
        n.campaign_id, n.updated_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.status IN ('pending', 'dispatched', 'in_progress', 'retrying', 'followup_scheduled')
      AND n.status NOT IN ('pending', 'dispatched', 'in_progress', 'retrying', 'followup_scheduled');
    IF FOUND THEN PERFORM register_events(); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER contacts_finished AFTER UPDATE ON contacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_finished();

CREATE FUNCTION batches_updated() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, status, data, created_at)
    SELECT n.organization_id, 'batch.updated', n.id, n.campaign_id, n.status, row_to_json(n)::text, n.updated_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.status <> n.status;
    IF FOUND THEN PERFORM register_events(); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER batches_updated AFTER UPDATE ON batches REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION batches_updated();

CREATE FUNCTION campaigns_updated() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, status, data, created_at)
    SELECT n.organization_id, 'campaign.updated', n.id, n.id, n.status, row_to_json(n)::text, n.updated_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.status <> n.status;
    IF FOUND THEN PERFORM register_events(); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_updated AFTER UPDATE ON campaigns REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_updated();

-- An entry added, or opened again: its `created_at` is the addition's instant.
CREATE FUNCTION suppressions_inserted() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, data, created_at)
    SELECT n.organization_id, 'suppression.added', n.id, n.campaign_id, json_build_object('phone_number', n.phone_number, 'campaign_id', n.campaign_id, 'reason', n.reason,
        'expires_at', (extract(epoch FROM n.expires_at) * 1000000)::bigint)::text, n.created_at
    FROM new_rows n;
    IF FOUND THEN PERFORM register_events(); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER suppressions_inserted AFTER INSERT ON suppressions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION suppressions_inserted();
CREATE FUNCTION suppressions_reopened() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (organization_id, type, subject_id, campaign_id, data, created_at)
    SELECT n.organization_id, 'suppression.added', n.id, n.campaign_id, json_build_object('phone_number', n.phone_number, 'campaign_id', n.campaign_id, 'reason', n.reason,
        'expires_at', (extract(epoch FROM n.expires_at) * 1000000)::bigint)::text, n.created_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.created_at <> n.created_at;
    IF FOUND THEN PERFORM register_events(); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER suppressions_reopened AFTER UPDATE ON suppressions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION suppressions_reopened();

-- Customer webhook endpoints. `cursor` is the last event the endpoint's stream has handled; new
-- events after it go out in order. `failing`: every try of its last stream failed, so new events
-- wait behind the cursor until a retry gets through. Leases are on the real clock, held by one
-- replica (`lease_owner`, its process key) while it sends.
CREATE TABLE webhook_endpoints (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url               text NOT NULL,
    events            text NOT NULL,
    description       text,
    secret            text NOT NULL,
    previous_secret   text,
    previous_until    timestamptz,
    disabled          boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    cursor            bigint NOT NULL,
    failing           boolean NOT NULL DEFAULT false,
    lease_owner       bigint,
    lease_until       timestamptz
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (organization_id, created_at);
-- Events waiting for another try at an endpoint, due on the server's clock.
CREATE TABLE webhook_retries (
    endpoint_id  uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    -- Which step of the schedule the next try is (1 = the first retry).
    step         smallint NOT NULL,
    due_at       timestamptz NOT NULL,
    -- Raised by each replay, so that a try in flight when a replay came does not end the row.
    generation   integer NOT NULL DEFAULT 0,
    lease_owner  bigint,
    lease_until  timestamptz,
    PRIMARY KEY (endpoint_id, seq)
);
CREATE INDEX webhook_retries_due ON webhook_retries (due_at);
-- Every try, for `GET …/deliveries`. No foreign key: checking one per try slowed the writing of
-- thousands a second; deleting an endpoint deletes its tries.
CREATE TABLE webhook_attempts (
    endpoint_id   uuid NOT NULL,
    seq           bigint NOT NULL,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    duration_ms   integer NOT NULL,
    error         text
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at DESC, seq DESC);
CREATE INDEX webhook_attempts_event ON webhook_attempts (endpoint_id, seq);
-- For pruning tries past the retention.
CREATE INDEX webhook_attempts_time ON webhook_attempts (attempted_at);

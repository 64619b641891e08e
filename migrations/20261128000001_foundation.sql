-- Organizations, API tokens, campaigns and idempotency records.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             text NOT NULL DEFAULT '',
    -- SHA-256 of the clear token; the clear token is never stored.
    token_hash       bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- The first characters of the token, to recognise it in listings.
    token_prefix     text NOT NULL,
    created_at       timestamptz NOT NULL,
    revoked_at       timestamptz
);
CREATE INDEX api_tokens_org ON api_tokens (organization_id, created_at);

CREATE TABLE campaigns (
    id                      uuid PRIMARY KEY,
    organization_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                    text NOT NULL,
    agent_id                text NOT NULL,
    status                  text NOT NULL
        CHECK (status IN ('draft', 'active', 'paused', 'completed', 'cancelled')),
    phone_numbers           text[] NOT NULL CHECK (cardinality(phone_numbers) BETWEEN 1 AND 100),
    phone_number_strategy   text NOT NULL
        CHECK (phone_number_strategy IN ('round_robin', 'random', 'least_loaded')),
    working_hours_enforced  boolean NOT NULL,
    timezone                text NOT NULL,
    -- {"monday": {"start": "09:00", "end": "18:00", "enabled": true}, …}
    working_hours           jsonb NOT NULL,
    max_retries             smallint NOT NULL CHECK (max_retries BETWEEN 0 AND 20),
    retry_strategy          text NOT NULL CHECK (retry_strategy IN ('fixed', 'exponential')),
    cooldown_minutes        integer NOT NULL CHECK (cooldown_minutes BETWEEN 0 AND 10080),
    default_call_variables  jsonb NOT NULL,
    -- metadata as given, less concurrency_limit which has its own column
    metadata                jsonb NOT NULL,
    concurrency_limit       integer NOT NULL CHECK (concurrency_limit BETWEEN 1 AND 10000),
    completed_calls         bigint NOT NULL DEFAULT 0 CHECK (completed_calls >= 0),
    failed_calls            bigint NOT NULL DEFAULT 0 CHECK (failed_calls >= 0),
    busy_calls              bigint NOT NULL DEFAULT 0 CHECK (busy_calls >= 0),
    no_answer_calls         bigint NOT NULL DEFAULT 0 CHECK (no_answer_calls >= 0),
    follow_up_calls         bigint NOT NULL DEFAULT 0 CHECK (follow_up_calls >= 0),
    -- Dispatch state: calls in flight now and the round-robin cursor, shared by every replica.
    in_flight               integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    round_robin_cursor      bigint NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
-- GET /campaigns/: org scope, newest first, ties by id; optionally filtered by status.
CREATE INDEX campaigns_org_created ON campaigns (organization_id, created_at DESC, id DESC);
CREATE INDEX campaigns_org_status_created ON campaigns (organization_id, status, created_at DESC, id DESC);

CREATE TABLE idempotency_keys (
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key              text NOT NULL,
    -- SHA-256 over method, path and body: the same key with another request is refused.
    request_hash     bytea NOT NULL,
    -- NULL while the first request is still being served.
    response_status  smallint,
    response_body    bytea,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- An idempotency key in progress belongs to the request that claimed it (`owner`) until
-- `locked_until`; the request renews it while it runs. A key whose request died with its server is
-- free again once the lease lapses, and the stored response is written, fenced by `owner`, in the
-- transaction of the request's own work.
ALTER TABLE idempotency_keys
    ADD COLUMN owner uuid,
    ADD COLUMN locked_until timestamptz;

-- How many tries each endpoint has in its log, kept with every try written or pruned:
-- `GET …/deliveries` answers its X-Total-Count from it instead of counting an endpoint's tries
-- (millions, over a month of events) on every page.
ALTER TABLE webhook_endpoints ADD COLUMN tries bigint NOT NULL DEFAULT 0;
UPDATE webhook_endpoints e SET tries = (SELECT count(*) FROM webhook_attempts a WHERE a.endpoint_id = e.id);

-- The listing of an endpoint's tries (newest first) reads this index backwards. Kept in descending
-- order, every new try went in at its far left, where the B-tree splits pages instead of appending
-- to the last one: each insert did more work and the index grew larger.
DROP INDEX IF EXISTS webhook_attempts_endpoint;
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at, seq);

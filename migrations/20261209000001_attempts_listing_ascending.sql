-- The listing of an endpoint's tries (newest first) reads this index backwards. Kept in descending
-- order, every new try went in at its far left, where the B-tree splits pages in half and never
-- fills them again: the index grew to twice its size and each insert did more work. In ascending
-- order each new try goes in at the right edge, where pages are filled before they split.
DROP INDEX IF EXISTS webhook_attempts_endpoint;
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at, seq);

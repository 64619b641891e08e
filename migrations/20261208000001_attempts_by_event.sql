-- Tries are pruned with their events, by (endpoint_id, seq) (webhook_attempts_event): the index on
-- their time only slowed the writing of thousands a second.
DROP INDEX IF EXISTS webhook_attempts_time;

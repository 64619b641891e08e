-- An organization's next events after a number, in order, at most `most` of them (of the types
-- `kinds`, or of every type when it is NULL): what the feed and each delivery stream read.
--
-- Planned without statistics on `events` (a new database before its first analyze, or a server
-- whose autovacuum is off), `seq > n ORDER BY seq LIMIT k` was read as a bitmap of every event
-- after n, sorted to keep the first k: each read of a backlog cost the whole backlog, and catching
-- up on it cost its square (a read 500 events into a backlog of 200,000: 5,000 pages instead of 16).
-- With the settings below the one plan left is the walk of the feed's index in order, which stops
-- after k events whatever the statistics say. PL/pgSQL keeps the plan for the connection.
CREATE FUNCTION events_after(org uuid, after_seq bigint, most bigint, kinds text[]) RETURNS SETOF events
    LANGUAGE plpgsql STABLE
    SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
BEGIN
    RETURN QUERY SELECT * FROM events
        WHERE organization_id = org AND seq > after_seq AND (kinds IS NULL OR type = ANY (kinds))
        ORDER BY seq LIMIT most;
END $$;

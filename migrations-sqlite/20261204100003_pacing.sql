-- Calls started per second (API.md §7 "Pacing"): the claim that starts calls reads and moves its
-- second's row in the writer's transaction.
CREATE TABLE dispatch_pacing (
    second INTEGER PRIMARY KEY,  -- Unix seconds
    placed INTEGER NOT NULL CHECK (placed >= 0)
) STRICT;

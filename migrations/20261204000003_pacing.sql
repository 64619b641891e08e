-- Calls started per second by every replica together (API.md §7 "Pacing"): the claim that starts
-- calls locks its second's row, so replicas never start more than --calls-per-second between them.
CREATE TABLE dispatch_pacing (
    second BIGINT PRIMARY KEY,  -- Unix seconds
    placed INTEGER NOT NULL CHECK (placed >= 0)
);

-- Who answered each call, where telephony detected it, and whether the person asked not to be
-- called again (API.md §5, §7).
ALTER TABLE call_records ADD COLUMN answered_by TEXT;
ALTER TABLE call_records ADD COLUMN opt_out INTEGER NOT NULL DEFAULT 0 CHECK (opt_out IN (0, 1));

-- Who answered each call, where telephony detected it, and whether the person asked not to be
-- called again (API.md §5, §7).
ALTER TABLE call_records ADD COLUMN answered_by TEXT, ADD COLUMN opt_out BOOLEAN NOT NULL DEFAULT false;

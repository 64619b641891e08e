-- Who placed each call, and the provider's own id for it (API.md §5). Calls placed before this
-- migration have neither.
ALTER TABLE call_records ADD COLUMN provider TEXT;
ALTER TABLE call_records ADD COLUMN provider_call_id TEXT;

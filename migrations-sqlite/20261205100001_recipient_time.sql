-- Calls judged in the recipient's local time (API.md §12.1). A campaign reads its working hours in
-- its own zone or in each contact's; each contact keeps its calling group (`zone_key`: legal floor,
-- region, candidate zones) and where its zones came from; each batch lists its contacts' groups, so
-- that a claim asks only for the groups open now, each through `contacts_zone_due`. Each call keeps the
-- evidence of the decision that let it start (`decision`, API.md §12.5).
ALTER TABLE campaigns ADD COLUMN working_hours_basis TEXT NOT NULL DEFAULT 'campaign';
ALTER TABLE batches ADD COLUMN zone_keys TEXT;
ALTER TABLE contacts ADD COLUMN zone_key TEXT;
ALTER TABLE contacts ADD COLUMN timezone_source TEXT;
CREATE INDEX contacts_zone_due ON contacts (batch_id, zone_key, status, next_retry_at, seq);
ALTER TABLE call_records ADD COLUMN decision TEXT;

-- Dispatcher support: simulated call plans, and the indexes of the dispatcher's queries.

-- A simulated call's scripted end (the simulated telephony reports it when the clock reaches it).
ALTER TABLE call_records
    ADD COLUMN planned_end_at  timestamptz,
    ADD COLUMN planned_outcome jsonb;

-- Simulated calls to settle, soonest first.
CREATE INDEX call_records_live_planned ON call_records (planned_end_at)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress') AND planned_end_at IS NOT NULL;
-- least_loaded caller ID: live calls per number of a campaign.
CREATE INDEX call_records_live_campaign_from ON call_records (campaign_id, from_number)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');

-- Batches that can dispatch, per campaign.
CREATE INDEX batches_running ON batches (campaign_id, created_at, id) WHERE status = 'in_progress';
-- Pending batches reaching their start, and open batches reaching their expiry.
CREATE INDEX batches_pending_start ON batches (scheduled_start) WHERE status = 'pending';
CREATE INDEX batches_open_expiry ON batches (expires_at)
    WHERE status IN ('pending', 'in_progress', 'paused') AND expires_at IS NOT NULL;

-- One sequence orders every placement and every close. Both happen under the campaign's row lock,
-- so within a campaign this order is the order in which the database saw them, across replicas
-- whatever their clocks say.
CREATE SEQUENCE call_events;
ALTER TABLE call_records
    ADD COLUMN placed_seq bigint NOT NULL DEFAULT nextval('call_events'),
    ADD COLUMN closed_seq bigint;

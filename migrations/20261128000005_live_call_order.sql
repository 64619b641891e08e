-- Settling reads live calls a chunk at a time in (end, id) order. Indexed on the end alone, a burst
-- of calls ending at the same instant (thousands at once) was sorted in full for every chunk.
DROP INDEX call_records_live_planned;
CREATE INDEX call_records_live_planned ON call_records (planned_end_at, id)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress') AND planned_end_at IS NOT NULL;
DROP INDEX call_records_live_deadline;
CREATE INDEX call_records_live_deadline ON call_records (deadline_at, id)
    WHERE call_status IN ('dispatched', 'ringing', 'in_progress');

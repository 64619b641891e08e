-- What a dispatch pass and the next wake-up need, kept on the campaign so that neither looks at a
-- campaign with nothing due now:
--   due_at   the earliest instant the campaign may have work (a pending contact: its batch's start;
--            a retry or follow-up: when it is due; no work: 9999-12-31). Lowered by every change that
--            adds work, raised only by a claim, which recomputes it under the campaign's lock.
--   opens_at the next opening of its working hours, set when a claim finds them closed (reset by
--            any update of the campaign).
-- A campaign is looked at when GREATEST(due_at, opens_at) has come; the earliest one to come is the
-- dispatcher's next wake-up. One index serves both.
ALTER TABLE campaigns
    ADD COLUMN due_at timestamptz NOT NULL DEFAULT '1970-01-01T00:00:00Z',
    ADD COLUMN opens_at timestamptz NOT NULL DEFAULT '1970-01-01T00:00:00Z';
CREATE INDEX campaigns_wake ON campaigns (GREATEST(due_at, opens_at)) WHERE status = 'active';

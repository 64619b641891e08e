-- What a dispatch pass and the next wake-up need, kept on the campaign so that neither looks at a
-- campaign with nothing due now (micros since the epoch, as every instant here):
--   due_at   the earliest instant the campaign may have work (a pending contact: its batch's start;
--            a retry or follow-up: when it is due; no work: 9999-12-31). Lowered by every change that
--            adds work, raised only by a claim, which recomputes it.
--   opens_at the next opening of its working hours, set when a claim finds them closed (reset by
--            any update of the campaign).
-- A campaign is looked at when max(due_at, opens_at) has come; the earliest one to come is the
-- dispatcher's next wake-up. One index serves both.
ALTER TABLE campaigns ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN opens_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX campaigns_wake ON campaigns (max(due_at, opens_at)) WHERE status = 'active';

-- Calendars of closed and special days (API.md §12.2), organization-scoped; a campaign lists the
-- calendars it applies (`calendar_ids`, a JSON array of ids, as the API writes them).
CREATE TABLE calendars (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    entries         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX calendars_org_created ON calendars (organization_id, created_at DESC, id DESC);
ALTER TABLE campaigns ADD COLUMN calendar_ids TEXT NOT NULL DEFAULT '[]';

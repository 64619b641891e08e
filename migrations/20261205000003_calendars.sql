-- Calendars of closed and special days (API.md §12.2), organization-scoped; a campaign lists the
-- calendars it applies (`calendar_ids`, a JSON array of ids, as the API writes them).
CREATE TABLE calendars (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    entries json NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX calendars_org_created ON calendars (organization_id, created_at DESC, id DESC);
ALTER TABLE campaigns ADD COLUMN calendar_ids text NOT NULL DEFAULT '[]';

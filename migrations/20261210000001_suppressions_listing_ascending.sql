-- The listing of suppressions (newest first) reads this index backwards. Kept in descending order,
-- every entry added went in at the organization's far left (an upload's ids increase with its
-- entries, as its time does), where the B-tree splits pages in half and never fills them again: a
-- bulk upload left the index nearly twice its size. In ascending order each entry goes in at the
-- right edge, where pages are filled before they split.
DROP INDEX IF EXISTS suppressions_org_created;
CREATE INDEX suppressions_org_created ON suppressions (organization_id, created_at, id);

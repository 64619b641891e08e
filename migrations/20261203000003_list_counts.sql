-- X-Total-Count of an organization's campaign and batch listings without counting their rows.
-- Every insert, delete and status change of a campaign or batch appends a delta row (appending never
-- waits for another writer, so creating campaigns side by side stays as fast as before); the server
-- folds the deltas into list_counts every second. A count is the sum of both, read in one snapshot.
CREATE TABLE list_counts (
    organization_id  uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('campaign', 'batch')),
    status           text NOT NULL,
    n                bigint NOT NULL,
    PRIMARY KEY (organization_id, kind, status)
);
CREATE TABLE list_count_deltas (
    id               bigserial PRIMARY KEY,
    organization_id  uuid NOT NULL,
    kind             text NOT NULL,
    status           text NOT NULL,
    delta            integer NOT NULL
);
CREATE INDEX list_count_deltas_org ON list_count_deltas (organization_id, kind, status);

CREATE FUNCTION count_listed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO list_count_deltas (organization_id, kind, status, delta)
            VALUES (OLD.organization_id, TG_ARGV[0], OLD.status, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO list_count_deltas (organization_id, kind, status, delta)
            VALUES (NEW.organization_id, TG_ARGV[0], NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER campaigns_counted AFTER INSERT OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION count_listed('campaign');
CREATE TRIGGER campaigns_recounted AFTER UPDATE OF status ON campaigns
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION count_listed('campaign');
CREATE TRIGGER batches_counted AFTER INSERT OR DELETE ON batches
    FOR EACH ROW EXECUTE FUNCTION count_listed('batch');
CREATE TRIGGER batches_recounted AFTER UPDATE OF status ON batches
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION count_listed('batch');

INSERT INTO list_counts (organization_id, kind, status, n)
    SELECT organization_id, 'campaign', status, count(*) FROM campaigns GROUP BY organization_id, status;
INSERT INTO list_counts (organization_id, kind, status, n)
    SELECT organization_id, 'batch', status, count(*) FROM batches GROUP BY organization_id, status;

-- GET /batches/?status=…: the organization's batches of one status, newest first.
CREATE INDEX batches_org_status_created ON batches (organization_id, status, created_at DESC, id DESC);

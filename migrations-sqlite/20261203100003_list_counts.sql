-- X-Total-Count of an organization's campaign and batch listings without counting their rows: kept
-- by triggers in the transaction of every insert, delete and status change (the one writer makes
-- these updates cost no waiting).
CREATE TABLE list_counts (
    organization_id  TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('campaign', 'batch')),
    status           TEXT NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (organization_id, kind, status)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER campaigns_counted_insert AFTER INSERT ON campaigns BEGIN
    INSERT OR IGNORE INTO list_counts VALUES (NEW.organization_id, 'campaign', NEW.status, 0);
    UPDATE list_counts SET n = n + 1
        WHERE organization_id = NEW.organization_id AND kind = 'campaign' AND status = NEW.status;
END;
CREATE TRIGGER campaigns_counted_delete AFTER DELETE ON campaigns BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE organization_id = OLD.organization_id AND kind = 'campaign' AND status = OLD.status;
END;
CREATE TRIGGER campaigns_recounted AFTER UPDATE OF status ON campaigns WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE organization_id = OLD.organization_id AND kind = 'campaign' AND status = OLD.status;
    INSERT OR IGNORE INTO list_counts VALUES (NEW.organization_id, 'campaign', NEW.status, 0);
    UPDATE list_counts SET n = n + 1
        WHERE organization_id = NEW.organization_id AND kind = 'campaign' AND status = NEW.status;
END;
CREATE TRIGGER batches_counted_insert AFTER INSERT ON batches BEGIN
    INSERT OR IGNORE INTO list_counts VALUES (NEW.organization_id, 'batch', NEW.status, 0);
    UPDATE list_counts SET n = n + 1
        WHERE organization_id = NEW.organization_id AND kind = 'batch' AND status = NEW.status;
END;
CREATE TRIGGER batches_counted_delete AFTER DELETE ON batches BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE organization_id = OLD.organization_id AND kind = 'batch' AND status = OLD.status;
END;
CREATE TRIGGER batches_recounted AFTER UPDATE OF status ON batches WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE organization_id = OLD.organization_id AND kind = 'batch' AND status = OLD.status;
    INSERT OR IGNORE INTO list_counts VALUES (NEW.organization_id, 'batch', NEW.status, 0);
    UPDATE list_counts SET n = n + 1
        WHERE organization_id = NEW.organization_id AND kind = 'batch' AND status = NEW.status;
END;

INSERT INTO list_counts (organization_id, kind, status, n)
    SELECT organization_id, 'campaign', status, count(*) FROM campaigns GROUP BY organization_id, status;
INSERT INTO list_counts (organization_id, kind, status, n)
    SELECT organization_id, 'batch', status, count(*) FROM batches GROUP BY organization_id, status;

CREATE INDEX batches_org_status_created ON batches (organization_id, status, created_at DESC, id DESC);

-- Leases on outbox work, so several instances over one database never take the same sync job or
-- notification: a worker claims rows for a while (lease_owner = its instance, lease_until = Unix
-- seconds), records a result only while its lease is live, and a lease that runs out (its owner
-- died) returns the row to whoever claims next.

ALTER TABLE sync_jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE sync_jobs ADD COLUMN lease_until INTEGER;
ALTER TABLE notifications ADD COLUMN lease_owner TEXT;
ALTER TABLE notifications ADD COLUMN lease_until INTEGER;

-- The claims scan only open rows, oldest first: sync jobs per subscriber (the oldest open one
-- goes first), notifications by id. Finished rows, the bulk of both tables, stay out of these.
CREATE INDEX idx_sync_jobs_open ON sync_jobs (subscriber, id)
    WHERE status IN ('pending', 'retrying', 'failed');
CREATE INDEX idx_sync_jobs_claimable ON sync_jobs (id)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX idx_notifications_open ON notifications (id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
-- A stopping instance gives back what it holds.
CREATE INDEX idx_sync_jobs_lease ON sync_jobs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX idx_notifications_lease ON notifications (lease_owner) WHERE lease_owner IS NOT NULL;

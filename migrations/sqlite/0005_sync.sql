-- The outbox of changes to push to an external streaming panel (SQLite). Written in the same
-- transaction as the change; delivered in order per subscriber by the sync worker.

CREATE TABLE sync_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber       TEXT    NOT NULL,
    reseller_id      INTEGER,
    kind             TEXT    NOT NULL
        CHECK (kind IN ('create', 'extend', 'reset', 'enable', 'disable', 'delete')),
    -- The subscriber's state right after the change: expires_at, max_connections, active.
    payload          TEXT,
    refund_credits   INTEGER NOT NULL DEFAULT 0,
    status           TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'retrying', 'done', 'failed', 'dropped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX idx_sync_jobs_due ON sync_jobs (status, next_attempt_at);
CREATE INDEX idx_sync_jobs_subscriber ON sync_jobs (subscriber, id);

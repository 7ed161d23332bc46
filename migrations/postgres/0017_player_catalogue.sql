-- What players are told about the catalogue (PostgreSQL): when each channel was first imported
-- (Xtream's `added`), kept by re-imports. Channels already there get the migration's time.
ALTER TABLE channels ADD COLUMN added_at BIGINT NOT NULL DEFAULT 0;
UPDATE channels SET added_at = EXTRACT(EPOCH FROM now())::BIGINT;

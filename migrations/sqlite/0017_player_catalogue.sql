-- What players are told about the catalogue (SQLite): when each channel was first imported
-- (Xtream's `added`), kept by re-imports. Channels already there get the migration's time.
ALTER TABLE channels ADD COLUMN added_at INTEGER NOT NULL DEFAULT 0;
UPDATE channels SET added_at = CAST(strftime('%s', 'now') AS INTEGER);

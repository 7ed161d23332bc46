-- What players are told about the catalogue (SQLite): when each channel was first imported
-- (Xtream's `added`), kept by re-imports. Channels already there get the migration's time.
ALTER TABLE channels ADD COLUMN added_at INTEGER NOT NULL DEFAULT 0;
UPDATE channels SET added_at = CAST(strftime('%s', 'now') AS INTEGER);

-- Movies and series from the same playlist, in the live channels' categories so that bouquets
-- cover them too. Ids are kept by re-imports (movies and episodes by source URL, series by
-- name), so players keep their favourites and resume points.
CREATE TABLE movies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    source_url   TEXT    NOT NULL UNIQUE,
    logo         TEXT    NOT NULL DEFAULT '',
    category_id  INTEGER NOT NULL REFERENCES channel_categories (id),
    container    TEXT    NOT NULL,
    sort_order   INTEGER NOT NULL DEFAULT 0,
    added_at     INTEGER NOT NULL
);
CREATE INDEX idx_movies_category ON movies (category_id, sort_order);

CREATE TABLE series (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    logo         TEXT    NOT NULL DEFAULT '',
    category_id  INTEGER NOT NULL REFERENCES channel_categories (id),
    sort_order   INTEGER NOT NULL DEFAULT 0,
    added_at     INTEGER NOT NULL
);
CREATE INDEX idx_series_category ON series (category_id, sort_order);

CREATE TABLE episodes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id    INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    season       INTEGER NOT NULL,
    episode      INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    source_url   TEXT    NOT NULL UNIQUE,
    container    TEXT    NOT NULL,
    sort_order   INTEGER NOT NULL DEFAULT 0,
    added_at     INTEGER NOT NULL
);
CREATE INDEX idx_episodes_series ON episodes (series_id, season, episode);

-- The channel list the built-in subscriber API serves (SQLite), imported from an M3U playlist.

CREATE TABLE channel_categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    sort_order  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE channels (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    source_url   TEXT    NOT NULL UNIQUE,
    logo         TEXT    NOT NULL DEFAULT '',
    epg_id       TEXT    NOT NULL DEFAULT '',
    category_id  INTEGER NOT NULL REFERENCES channel_categories (id),
    sort_order   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_channels_category ON channels (category_id, sort_order);

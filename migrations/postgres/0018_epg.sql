-- The programme guide (PostgreSQL): its one source with the fetch state and claim, the guide's
-- channels and programmes by generation (an import writes the next one, then switches), and
-- the admin's channel-name → guide-id mappings, which outlive playlist imports.

CREATE TABLE epg_source (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    url            TEXT    NOT NULL DEFAULT '',   -- '' for an uploaded file or none
    label          TEXT    NOT NULL DEFAULT '',   -- what /epg shows: the redacted URL or file name
    etag           TEXT    NOT NULL DEFAULT '',
    last_modified  TEXT    NOT NULL DEFAULT '',
    generation     BIGINT  NOT NULL DEFAULT 0,    -- the guide served
    fetched_at     BIGINT  NOT NULL DEFAULT 0,    -- the last attempt
    outcome        TEXT    NOT NULL DEFAULT '',
    lease_owner    TEXT    NOT NULL DEFAULT '',
    lease_until    BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO epg_source (id) VALUES (1);

CREATE TABLE epg_channels (
    generation  BIGINT  NOT NULL,
    xmltv_id    TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (generation, xmltv_id)
);

CREATE TABLE epg_programmes (
    id           BIGSERIAL PRIMARY KEY,
    generation   BIGINT  NOT NULL,
    xmltv_id     TEXT    NOT NULL,
    start_at     BIGINT  NOT NULL,
    stop_at      BIGINT  NOT NULL,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    lang         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX idx_epg_programmes_channel ON epg_programmes (generation, xmltv_id, start_at, id);

CREATE TABLE epg_map (
    channel_name  TEXT PRIMARY KEY,
    xmltv_id      TEXT NOT NULL
);

-- Permission templates. A template is a set of permissions plus limits; every reseller is on
-- one (Basic unless the admin chose another) and may have explicit overrides. A reseller's
-- effective setting is their override if set, else their template's: it is computed on read,
-- so editing a template changes every reseller on it at once and never touches an override.
CREATE TABLE permission_templates (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What admins type (one lower-case word), and what people read.
    name                      TEXT    NOT NULL UNIQUE,
    title                     TEXT    NOT NULL,
    can_create_users          INTEGER NOT NULL DEFAULT 1 CHECK (can_create_users IN (0, 1)),
    can_edit_users            INTEGER NOT NULL DEFAULT 1 CHECK (can_edit_users IN (0, 1)),
    can_delete_users          INTEGER NOT NULL DEFAULT 0 CHECK (can_delete_users IN (0, 1)),
    can_extend_users          INTEGER NOT NULL DEFAULT 1 CHECK (can_extend_users IN (0, 1)),
    can_reset_tokens          INTEGER NOT NULL DEFAULT 1 CHECK (can_reset_tokens IN (0, 1)),
    can_view_users            INTEGER NOT NULL DEFAULT 1 CHECK (can_view_users IN (0, 1)),
    can_view_statistics       INTEGER NOT NULL DEFAULT 1 CHECK (can_view_statistics IN (0, 1)),
    can_view_connections      INTEGER NOT NULL DEFAULT 1 CHECK (can_view_connections IN (0, 1)),
    can_view_logs             INTEGER NOT NULL DEFAULT 0 CHECK (can_view_logs IN (0, 1)),
    can_bulk_operations       INTEGER NOT NULL DEFAULT 0 CHECK (can_bulk_operations IN (0, 1)),
    can_api_access            INTEGER NOT NULL DEFAULT 0 CHECK (can_api_access IN (0, 1)),
    can_customize_branding    INTEGER NOT NULL DEFAULT 0 CHECK (can_customize_branding IN (0, 1)),
    can_create_subresellers   INTEGER NOT NULL DEFAULT 0 CHECK (can_create_subresellers IN (0, 1)),
    max_users                 INTEGER NOT NULL DEFAULT 500,
    max_connections_per_user  INTEGER NOT NULL DEFAULT 3,
    -- Trial subscribers a reseller may create, and how deep their sub-resellers may nest:
    -- stored now, used by the trial and sub-reseller features when they come.
    trial_quota               INTEGER NOT NULL DEFAULT 0,
    subreseller_depth         INTEGER NOT NULL DEFAULT 0,
    created_at                INTEGER NOT NULL
);

-- Basic is today's defaults. Premium adds deleting, bulk operations, the API, branding, the
-- activity log and sub-resellers. Trial sells trials only: no paid creations or extensions
-- (can_create_users and can_extend_users off) but a trial quota, at most 10 subscribers, no API.
INSERT INTO permission_templates (id, name, title, created_at) VALUES (1, 'basic', 'Basic reseller', CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO permission_templates (id, name, title, can_delete_users, can_bulk_operations, can_api_access,
    can_customize_branding, can_view_logs, can_create_subresellers, subreseller_depth, created_at)
    VALUES (2, 'premium', 'Premium reseller', 1, 1, 1, 1, 1, 1, 1, CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO permission_templates (id, name, title, can_create_users, can_extend_users, can_api_access,
    max_users, trial_quota, created_at)
    VALUES (3, 'trial', 'Trial reseller', 0, 0, 0, 10, 10, CAST(strftime('%s', 'now') AS INTEGER));

-- SQLite refuses a REFERENCES column with a non-NULL default; templates are never deleted.
ALTER TABLE resellers ADD COLUMN template_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX idx_resellers_template ON resellers (template_id);

-- A reseller's explicit overrides: NULL means "as the template says". One row per reseller, one
-- column per setting, so two admins changing two settings at once never overwrite each other.
CREATE TABLE reseller_overrides (
    reseller_id               INTEGER PRIMARY KEY REFERENCES resellers (id) ON DELETE CASCADE,
    can_create_users          INTEGER CHECK (can_create_users IN (0, 1)),
    can_edit_users            INTEGER CHECK (can_edit_users IN (0, 1)),
    can_delete_users          INTEGER CHECK (can_delete_users IN (0, 1)),
    can_extend_users          INTEGER CHECK (can_extend_users IN (0, 1)),
    can_reset_tokens          INTEGER CHECK (can_reset_tokens IN (0, 1)),
    can_view_users            INTEGER CHECK (can_view_users IN (0, 1)),
    can_view_statistics       INTEGER CHECK (can_view_statistics IN (0, 1)),
    can_view_connections      INTEGER CHECK (can_view_connections IN (0, 1)),
    can_view_logs             INTEGER CHECK (can_view_logs IN (0, 1)),
    can_bulk_operations       INTEGER CHECK (can_bulk_operations IN (0, 1)),
    can_api_access            INTEGER CHECK (can_api_access IN (0, 1)),
    can_customize_branding    INTEGER CHECK (can_customize_branding IN (0, 1)),
    can_create_subresellers   INTEGER CHECK (can_create_subresellers IN (0, 1)),
    max_users                 INTEGER,
    max_connections_per_user  INTEGER,
    trial_quota               INTEGER,
    subreseller_depth         INTEGER
);

-- Existing resellers go on Basic, keeping as overrides whatever differs from it.
INSERT INTO reseller_overrides (reseller_id, can_create_users, can_edit_users, can_delete_users, can_extend_users, can_reset_tokens, can_view_users, can_view_statistics, can_view_connections, can_view_logs, can_bulk_operations, can_api_access, can_customize_branding, max_users, max_connections_per_user)
    SELECT r.id,
        NULLIF(r.can_create_users, 1),
        NULLIF(r.can_edit_users, 1),
        NULLIF(r.can_delete_users, 0),
        NULLIF(r.can_extend_users, 1),
        NULLIF(r.can_reset_tokens, 1),
        NULLIF(r.can_view_users, 1),
        NULLIF(r.can_view_statistics, 1),
        NULLIF(r.can_view_connections, 1),
        NULLIF(r.can_view_logs, 0),
        NULLIF(r.can_bulk_operations, 0),
        NULLIF(r.can_api_access, 0),
        NULLIF(r.can_customize_branding, 0),
        NULLIF(r.max_users, 500),
        NULLIF(r.max_connections_per_user, 3)
    FROM resellers r;

-- The effective values are computed from the two tables above from now on.
ALTER TABLE resellers DROP COLUMN can_create_users;
ALTER TABLE resellers DROP COLUMN can_edit_users;
ALTER TABLE resellers DROP COLUMN can_delete_users;
ALTER TABLE resellers DROP COLUMN can_extend_users;
ALTER TABLE resellers DROP COLUMN can_reset_tokens;
ALTER TABLE resellers DROP COLUMN can_view_users;
ALTER TABLE resellers DROP COLUMN can_view_statistics;
ALTER TABLE resellers DROP COLUMN can_view_connections;
ALTER TABLE resellers DROP COLUMN can_view_logs;
ALTER TABLE resellers DROP COLUMN can_bulk_operations;
ALTER TABLE resellers DROP COLUMN can_api_access;
ALTER TABLE resellers DROP COLUMN can_customize_branding;
ALTER TABLE resellers DROP COLUMN max_users;
ALTER TABLE resellers DROP COLUMN max_connections_per_user;

-- Foundation schema (SQLite). Timestamps are Unix seconds (UTC); flags are 0/1 integers so
-- that the same queries and row decoding work on SQLite and PostgreSQL through sqlx's Any driver.

CREATE TABLE admins (
    telegram_id INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

CREATE TABLE resellers (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    username                  TEXT    NOT NULL UNIQUE,
    display_name              TEXT    NOT NULL,
    email                     TEXT,
    phone                     TEXT,
    active                    INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    telegram_id               INTEGER UNIQUE,
    balance                   INTEGER NOT NULL DEFAULT 0,
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
    max_users                 INTEGER NOT NULL,
    max_connections_per_user  INTEGER NOT NULL DEFAULT 3,
    panel_name                TEXT,
    parent_id                 INTEGER REFERENCES resellers (id),
    created_at                INTEGER NOT NULL,
    last_seen_at              INTEGER
);
CREATE INDEX idx_resellers_parent ON resellers (parent_id);

CREATE TABLE subscribers (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT    NOT NULL UNIQUE,
    password_enc        TEXT    NOT NULL,
    token_enc           TEXT    NOT NULL,
    token_hash          TEXT    NOT NULL UNIQUE,
    expires_at          INTEGER NOT NULL,
    max_connections     INTEGER NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    notes               TEXT    NOT NULL DEFAULT '',
    reseller_id         INTEGER REFERENCES resellers (id),
    created_by_admin    INTEGER NOT NULL DEFAULT 0 CHECK (created_by_admin IN (0, 1)),
    active_connections  INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    last_access_at      INTEGER
);
CREATE INDEX idx_subscribers_reseller ON subscribers (reseller_id, expires_at);
CREATE INDEX idx_subscribers_expires ON subscribers (expires_at);
CREATE INDEX idx_subscribers_created ON subscribers (reseller_id, created_at);

CREATE TABLE credit_transactions (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    reseller_id          INTEGER NOT NULL REFERENCES resellers (id),
    amount               INTEGER NOT NULL,
    kind                 TEXT    NOT NULL
        CHECK (kind IN ('credit', 'debit', 'refund', 'adjustment', 'bonus', 'purchase')),
    balance_before       INTEGER NOT NULL,
    balance_after        INTEGER NOT NULL,
    actor                TEXT    NOT NULL,
    subscriber_id        INTEGER,
    subscriber_username  TEXT,
    note                 TEXT,
    idempotency_key      TEXT    NOT NULL UNIQUE,
    created_at           INTEGER NOT NULL
);
CREATE INDEX idx_credit_transactions_reseller ON credit_transactions (reseller_id, id);
CREATE INDEX idx_credit_transactions_created ON credit_transactions (created_at);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    reseller_id  INTEGER,
    target       TEXT,
    details      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX idx_audit_log_reseller ON audit_log (reseller_id, id);
CREATE INDEX idx_audit_log_created ON audit_log (created_at);

-- One row per confirmed operation id: the first execution's outcome, returned on replay.
CREATE TABLE operations (
    id          TEXT    PRIMARY KEY,
    actor       TEXT    NOT NULL,
    outcome     TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE invites (
    code_hash    TEXT    PRIMARY KEY,
    reseller_id  INTEGER NOT NULL REFERENCES resellers (id),
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    used_by      INTEGER,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX idx_invites_reseller ON invites (reseller_id);

-- Front-end conversation state (opaque JSON), so a restart does not lose a half-finished flow.
CREATE TABLE conversations (
    chat_id     INTEGER PRIMARY KEY,
    state       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Actions waiting for their proposer's Confirm; the id doubles as the operation id.
CREATE TABLE pending_actions (
    id           TEXT    PRIMARY KEY,
    actor        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX idx_pending_actions_created ON pending_actions (created_at);

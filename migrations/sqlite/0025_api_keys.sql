-- Reseller API keys: `rb_<prefix>_<secret>`. The prefix is stored plain to find the row; the
-- secret only as an argon2id hash (PHC string), so a copy of the database holds no usable key.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    reseller_id INTEGER NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    prefix      TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX idx_api_keys_reseller ON api_keys (reseller_id);

-- One row per Idempotency-Key an API key used: what the request was (a SHA-256 of method,
-- path and body), so the same key sent with another request is refused. The replay itself is
-- the operation id derived from (API key, Idempotency-Key), whose stored outcome answers it.
CREATE TABLE api_idempotency (
    api_key_id      INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    idempotency_key TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);

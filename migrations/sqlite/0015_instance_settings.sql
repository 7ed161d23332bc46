-- Facts about the deployment that every instance sharing this database must agree on, as
-- name/value pairs: the fingerprint of the credentials key (a hash, never the key) is the first.
CREATE TABLE deployment (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- The changing-action budget of each reseller, shared by every instance: the theoretical
-- arrival time of the next action (GCRA), in Unix milliseconds. One row per reseller who has
-- acted; a row in the past means a full budget.
CREATE TABLE action_budgets (
    reseller_id BIGINT  PRIMARY KEY REFERENCES resellers (id) ON DELETE CASCADE,
    next_at_ms  BIGINT  NOT NULL
);

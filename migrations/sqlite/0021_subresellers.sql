-- Sub-resellers and credit transfers. A transfer is two ledger rows written in one
-- transaction: `transfer_out` on the giving side, `transfer_in` on the receiving side, sharing
-- a `transfer_id` so that `ledger verify` can check that every transfer pairs up.
-- SQLite cannot change a CHECK constraint, so the table is rebuilt with its rows, ids and
-- indexes (nothing references it).
CREATE TABLE credit_transactions_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    reseller_id          INTEGER NOT NULL REFERENCES resellers (id),
    amount               INTEGER NOT NULL,
    kind                 TEXT    NOT NULL
        CHECK (kind IN ('credit', 'debit', 'refund', 'adjustment', 'bonus', 'purchase',
                        'transfer_out', 'transfer_in')),
    balance_before       INTEGER NOT NULL,
    balance_after        INTEGER NOT NULL,
    actor                TEXT    NOT NULL,
    subscriber_id        INTEGER,
    subscriber_username  TEXT,
    note                 TEXT,
    idempotency_key      TEXT    NOT NULL UNIQUE,
    created_at           INTEGER NOT NULL,
    transfer_id          TEXT
);
INSERT INTO credit_transactions_new (id, reseller_id, amount, kind, balance_before, balance_after, actor,
    subscriber_id, subscriber_username, note, idempotency_key, created_at)
    SELECT id, reseller_id, amount, kind, balance_before, balance_after, actor,
        subscriber_id, subscriber_username, note, idempotency_key, created_at
    FROM credit_transactions;
DROP TABLE credit_transactions;
ALTER TABLE credit_transactions_new RENAME TO credit_transactions;
CREATE INDEX idx_credit_transactions_reseller ON credit_transactions (reseller_id, id);
CREATE INDEX idx_credit_transactions_created ON credit_transactions (created_at);
CREATE INDEX idx_credit_transactions_debits ON credit_transactions (created_at, amount) WHERE kind = 'debit';
CREATE INDEX idx_credit_transactions_transfer ON credit_transactions (transfer_id) WHERE transfer_id IS NOT NULL;

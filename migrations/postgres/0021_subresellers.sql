-- Sub-resellers and credit transfers. A transfer is two ledger rows written in one
-- transaction: `transfer_out` on the giving side, `transfer_in` on the receiving side, sharing
-- a `transfer_id` so that `ledger verify` can check that every transfer pairs up.
ALTER TABLE credit_transactions DROP CONSTRAINT credit_transactions_kind_check;
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_kind_check
    CHECK (kind IN ('credit', 'debit', 'refund', 'adjustment', 'bonus', 'purchase',
                    'transfer_out', 'transfer_in'));
ALTER TABLE credit_transactions ADD COLUMN transfer_id TEXT;
CREATE INDEX idx_credit_transactions_transfer ON credit_transactions (transfer_id) WHERE transfer_id IS NOT NULL;

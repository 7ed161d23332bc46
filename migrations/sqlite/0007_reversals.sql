-- Reversals in part (SQLite): how many of an order's credits refunds and chargebacks took back
-- so far, and how many of those an open dispute took (given back if the merchant wins it).
-- A paid order stays 'paid' until all its credits are taken back ('refunded').

ALTER TABLE orders ADD COLUMN reversed_credits INTEGER NOT NULL DEFAULT 0 CHECK (reversed_credits >= 0);
ALTER TABLE orders ADD COLUMN disputed_credits INTEGER NOT NULL DEFAULT 0 CHECK (disputed_credits >= 0);
-- Orders refunded after being paid lost all their credits.
UPDATE orders SET reversed_credits = credits WHERE status = 'refunded' AND paid_at IS NOT NULL;

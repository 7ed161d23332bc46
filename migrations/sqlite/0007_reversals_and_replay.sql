-- Reversals in part (SQLite): how many of an order's credits refunds and chargebacks took back
-- so far, and how many of those an open dispute took (given back if the merchant wins it).
-- A paid order stays 'paid' until all its credits are taken back ('refunded'). Payment events
-- keep what they mean for their order, so one left unapplied can be applied later.

ALTER TABLE orders ADD COLUMN reversed_credits INTEGER NOT NULL DEFAULT 0 CHECK (reversed_credits >= 0);
ALTER TABLE orders ADD COLUMN disputed_credits INTEGER NOT NULL DEFAULT 0 CHECK (disputed_credits >= 0);
-- Orders refunded after being paid lost all their credits.
UPDATE orders SET reversed_credits = credits WHERE status = 'refunded' AND paid_at IS NOT NULL;

ALTER TABLE payment_events ADD COLUMN event TEXT;
CREATE INDEX idx_payment_events_unprocessed ON payment_events (processed_at, received_at);

-- Payments hardening (SQLite). Orders count how many of their credits refunds and chargebacks
-- took back so far, and how many of those an open dispute took (given back if the merchant wins
-- it); a paid order stays 'paid' until all its credits are taken back ('refunded'). Payment events
-- keep what they mean for their order, so one left unapplied can be applied later.

ALTER TABLE orders ADD COLUMN reversed_credits INTEGER NOT NULL DEFAULT 0 CHECK (reversed_credits >= 0);
ALTER TABLE orders ADD COLUMN disputed_credits INTEGER NOT NULL DEFAULT 0 CHECK (disputed_credits >= 0);
-- Orders refunded after being paid lost all their credits.
UPDATE orders SET reversed_credits = credits WHERE status = 'refunded' AND paid_at IS NOT NULL;

ALTER TABLE payment_events ADD COLUMN event TEXT;
CREATE INDEX idx_payment_events_unprocessed ON payment_events (processed_at, received_at);

-- Prices were stored in hundredths whatever the currency: put them in each currency's ISO 4217
-- minor unit (whole yen, thousandths of a dinar). Stars (XTR) were always whole.
UPDATE credit_packages SET price_minor = price_minor / 100
    WHERE currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF');
UPDATE credit_packages SET price_minor = price_minor * 10
    WHERE currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND');
UPDATE credit_packages SET price_minor = price_minor * 100 WHERE currency IN ('CLF', 'UYW');
UPDATE orders SET amount_minor = amount_minor / 100
    WHERE currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF');
UPDATE orders SET amount_minor = amount_minor * 10
    WHERE currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND');
UPDATE orders SET amount_minor = amount_minor * 100 WHERE currency IN ('CLF', 'UYW');

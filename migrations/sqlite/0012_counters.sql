-- Counters that keep the admins' views and the max_users check independent of table size.
-- Triggers maintain them in the transaction of every change to a subscriber, whatever code path
-- makes it; `ledger verify` re-derives them.

-- Subscribers a reseller owns (checked against max_users on every creation).
ALTER TABLE resellers ADD COLUMN subscriber_count INTEGER NOT NULL DEFAULT 0;
UPDATE resellers SET subscriber_count = (SELECT COUNT(*) FROM subscribers s WHERE s.reseller_id = resellers.id);

-- Enabled subscribers by owner (0 = admin-owned) and by 30-day bucket of their expiry
-- (bucket = expires_at / 2592000), so "how many can watch now" sums a few rows per owner and
-- counts only the current bucket's subscribers through an index.
CREATE TABLE expiry_buckets (
    owner    INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    enabled  INTEGER NOT NULL,
    PRIMARY KEY (owner, bucket)
);
INSERT INTO expiry_buckets (owner, bucket, enabled)
    SELECT COALESCE(reseller_id, 0), expires_at / 2592000, COUNT(*) FROM subscribers
    WHERE active = 1 GROUP BY COALESCE(reseller_id, 0), expires_at / 2592000;

CREATE TRIGGER subscribers_counted_in AFTER INSERT ON subscribers
BEGIN
    UPDATE resellers SET subscriber_count = subscriber_count + 1 WHERE id = NEW.reseller_id;
    INSERT INTO expiry_buckets (owner, bucket, enabled)
        SELECT COALESCE(NEW.reseller_id, 0), NEW.expires_at / 2592000, 1 WHERE NEW.active = 1
        ON CONFLICT (owner, bucket) DO UPDATE SET enabled = enabled + 1;
END;

CREATE TRIGGER subscribers_counted_out AFTER DELETE ON subscribers
BEGIN
    UPDATE resellers SET subscriber_count = subscriber_count - 1 WHERE id = OLD.reseller_id;
    UPDATE expiry_buckets SET enabled = enabled - 1
        WHERE OLD.active = 1 AND owner = COALESCE(OLD.reseller_id, 0) AND bucket = OLD.expires_at / 2592000;
END;

CREATE TRIGGER subscribers_recounted AFTER UPDATE OF reseller_id, expires_at, active ON subscribers
WHEN OLD.reseller_id IS NOT NEW.reseller_id OR OLD.expires_at / 2592000 != NEW.expires_at / 2592000
    OR OLD.active != NEW.active
BEGIN
    UPDATE resellers SET subscriber_count = subscriber_count - 1
        WHERE id = OLD.reseller_id AND OLD.reseller_id IS NOT NEW.reseller_id;
    UPDATE resellers SET subscriber_count = subscriber_count + 1
        WHERE id = NEW.reseller_id AND OLD.reseller_id IS NOT NEW.reseller_id;
    UPDATE expiry_buckets SET enabled = enabled - 1
        WHERE OLD.active = 1 AND owner = COALESCE(OLD.reseller_id, 0) AND bucket = OLD.expires_at / 2592000;
    INSERT INTO expiry_buckets (owner, bucket, enabled)
        SELECT COALESCE(NEW.reseller_id, 0), NEW.expires_at / 2592000, 1 WHERE NEW.active = 1
        ON CONFLICT (owner, bucket) DO UPDATE SET enabled = enabled + 1;
END;

-- Indexes that answer the dashboards without scanning the table.
CREATE INDEX idx_subscribers_enabled ON subscribers (reseller_id, expires_at) WHERE active = 1;
CREATE INDEX idx_subscribers_enabled_expiry ON subscribers (expires_at) WHERE active = 1;
CREATE INDEX idx_subscribers_disabled ON subscribers (reseller_id) WHERE active = 0;
CREATE INDEX idx_subscribers_connected ON subscribers (active_connections) WHERE active_connections > 0;
CREATE INDEX idx_subscribers_created_at ON subscribers (created_at);
CREATE INDEX idx_credit_transactions_debits ON credit_transactions (created_at, amount) WHERE kind = 'debit';

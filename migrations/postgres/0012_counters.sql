-- Counters that keep the admins' views and the max_users check independent of table size.
-- Triggers maintain them in the transaction of every change to a subscriber, whatever code path
-- makes it; `ledger verify` re-derives them.

-- Subscribers a reseller owns (checked against max_users on every creation).
ALTER TABLE resellers ADD COLUMN subscriber_count BIGINT NOT NULL DEFAULT 0;
UPDATE resellers SET subscriber_count = (SELECT COUNT(*) FROM subscribers s WHERE s.reseller_id = resellers.id);

-- Enabled subscribers by owner (0 = admin-owned) and by 30-day bucket of their expiry
-- (bucket = expires_at / 2592000), so "how many can watch now" sums a few rows per owner and
-- counts only the current bucket's subscribers through an index. One row per owner and bucket:
-- a creation only touches rows of its own reseller, whose balance row it already locks.
CREATE TABLE expiry_buckets (
    owner    BIGINT NOT NULL,
    bucket   BIGINT NOT NULL,
    enabled  BIGINT NOT NULL,
    PRIMARY KEY (owner, bucket)
);
INSERT INTO expiry_buckets (owner, bucket, enabled)
    SELECT COALESCE(reseller_id, 0), expires_at / 2592000, COUNT(*) FROM subscribers
    WHERE active = 1 GROUP BY COALESCE(reseller_id, 0), expires_at / 2592000;

CREATE FUNCTION subscribers_recount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF TG_OP = 'DELETE' OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id THEN
            UPDATE resellers SET subscriber_count = subscriber_count - 1 WHERE id = OLD.reseller_id;
        END IF;
        IF OLD.active = 1 THEN
            UPDATE expiry_buckets SET enabled = enabled - 1
                WHERE owner = COALESCE(OLD.reseller_id, 0) AND bucket = OLD.expires_at / 2592000;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF TG_OP = 'INSERT' OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id THEN
            UPDATE resellers SET subscriber_count = subscriber_count + 1 WHERE id = NEW.reseller_id;
        END IF;
        IF NEW.active = 1 THEN
            INSERT INTO expiry_buckets (owner, bucket, enabled)
                VALUES (COALESCE(NEW.reseller_id, 0), NEW.expires_at / 2592000, 1)
                ON CONFLICT (owner, bucket) DO UPDATE SET enabled = expiry_buckets.enabled + 1;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER subscribers_counted AFTER INSERT OR DELETE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscribers_recount();
CREATE TRIGGER subscribers_recounted AFTER UPDATE OF reseller_id, expires_at, active ON subscribers
    FOR EACH ROW
    WHEN (OLD.reseller_id IS DISTINCT FROM NEW.reseller_id
          OR OLD.expires_at / 2592000 <> NEW.expires_at / 2592000 OR OLD.active <> NEW.active)
    EXECUTE FUNCTION subscribers_recount();

-- Indexes that answer the dashboards without scanning the table.
CREATE INDEX idx_subscribers_enabled ON subscribers (reseller_id, expires_at) WHERE active = 1;
CREATE INDEX idx_subscribers_enabled_expiry ON subscribers (expires_at) WHERE active = 1;
CREATE INDEX idx_subscribers_disabled ON subscribers (reseller_id) WHERE active = 0;
CREATE INDEX idx_subscribers_connected ON subscribers (active_connections) WHERE active_connections > 0;
CREATE INDEX idx_subscribers_created_at ON subscribers (created_at);
CREATE INDEX idx_credit_transactions_debits ON credit_transactions (created_at, amount) WHERE kind = 'debit';

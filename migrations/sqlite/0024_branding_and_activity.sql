-- Branding (issue 10 §6): a logo (Telegram's file id), a support line and a credentials
-- template, beside the panel name.
ALTER TABLE resellers ADD COLUMN brand_logo TEXT;
ALTER TABLE resellers ADD COLUMN brand_support TEXT;
ALTER TABLE resellers ADD COLUMN brand_template TEXT;

-- The activity log's filters (issue 10 §7): by action and by target, newest first.
CREATE INDEX idx_audit_log_action ON audit_log (action, id);
CREATE INDEX idx_audit_log_target ON audit_log (target, id);

-- A notification Telegram refused for good (the user never started the bot, blocked it, or the
-- text was refused) is recorded as failed with Telegram's reason, so the sender moves on to the
-- next one instead of retrying it forever.

ALTER TABLE notifications ADD COLUMN failed_at INTEGER;
ALTER TABLE notifications ADD COLUMN error TEXT;

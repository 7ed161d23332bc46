-- Every Telegram update id received (by webhook or by polling) is recorded before it is handled,
-- so an update delivered twice (a webhook retry, another instance's poller taking over) is
-- answered once. Rows older than a day are pruned: Telegram redelivers within hours, not days.

CREATE TABLE telegram_updates (
    update_id BIGINT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

CREATE INDEX telegram_updates_received_at ON telegram_updates (received_at);

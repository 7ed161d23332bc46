-- Notifications by kind, with each person's preferences; low-credit alerts once per crossing;
-- scheduled digests queued once per day; admin broadcasts sent at a pace, resumable.

-- What a notification is about (a person may switch a kind off), and its buttons as neutral
-- JSON (`notify::Button`s) that the bot turns into an inline keyboard.
ALTER TABLE notifications ADD COLUMN kind TEXT NOT NULL DEFAULT 'general';
ALTER TABLE notifications ADD COLUMN buttons TEXT;

-- A kind someone switched off (or back on). No row: on.
CREATE TABLE notification_prefs (
    telegram_id INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (telegram_id, kind)
);

-- Low credits: the threshold, whether the crossing below it was reported (cleared when the
-- balance is back at or above it), and the reseller's IANA time zone (NULL: the default).
ALTER TABLE resellers ADD COLUMN low_credit_threshold INTEGER NOT NULL DEFAULT 30;
ALTER TABLE resellers ADD COLUMN low_credit_notified INTEGER NOT NULL DEFAULT 0 CHECK (low_credit_notified IN (0, 1));
ALTER TABLE resellers ADD COLUMN time_zone TEXT;

-- A scheduled job done for a day (`digest:<reseller>` on their local date): the key makes it
-- once across instances and restarts.
CREATE TABLE scheduled_runs (
    job        TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job, day)
);

CREATE TABLE broadcasts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_telegram_id   INTEGER NOT NULL,
    text                TEXT    NOT NULL,
    audience            TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('draft', 'sending', 'done', 'cancelled')),
    progress_message_id INTEGER,
    created_at          INTEGER NOT NULL,
    finished_at         INTEGER,
    lease_owner         TEXT,
    lease_until         INTEGER
);
CREATE INDEX idx_broadcasts_sending ON broadcasts (id) WHERE status = 'sending';

-- One row per recipient, chosen when the admin confirms; the status persists, so a restart
-- resumes with the pending ones.
CREATE TABLE broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    telegram_id  INTEGER NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'blocked', 'failed')),
    error        TEXT,
    PRIMARY KEY (broadcast_id, telegram_id)
);

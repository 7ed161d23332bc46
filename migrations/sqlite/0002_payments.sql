-- Payments (SQLite): credit packages, orders, raw provider events, and the outbox of
-- Telegram notifications that the bot delivers.

CREATE TABLE credit_packages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    credits      INTEGER NOT NULL CHECK (credits > 0),
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    currency     TEXT    NOT NULL,
    stars_price  INTEGER CHECK (stars_price IS NULL OR stars_price > 0),
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    sort_order   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
INSERT INTO credit_packages (name, credits, price_minor, currency, sort_order, created_at) VALUES
    ('Starter', 900, 5000, 'USD', 1, 0),
    ('Business', 3600, 18000, 'USD', 2, 0),
    ('Enterprise', 10800, 50000, 'USD', 3, 0);

CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id           TEXT    NOT NULL UNIQUE,
    reseller_id         INTEGER NOT NULL REFERENCES resellers (id),
    package_id          INTEGER REFERENCES credit_packages (id),
    credits             INTEGER NOT NULL CHECK (credits > 0),
    amount_minor        INTEGER NOT NULL,
    currency            TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'paid', 'refunded', 'rejected', 'underpaid')),
    provider_reference  TEXT,
    created_at          INTEGER NOT NULL,
    paid_at             INTEGER,
    closed_at           INTEGER
);
CREATE INDEX idx_orders_reseller ON orders (reseller_id, id);
CREATE INDEX idx_orders_reference ON orders (provider, provider_reference);

CREATE TABLE payment_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    provider      TEXT    NOT NULL,
    event_key     TEXT    NOT NULL,
    headers       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    processed_at  INTEGER,
    outcome       TEXT,
    UNIQUE (provider, event_key)
);

CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    telegram_id  INTEGER NOT NULL,
    text         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER
);
CREATE INDEX idx_notifications_unsent ON notifications (sent_at, id);

-- Bouquets (SQLite): which channel categories a reseller may sell, and which of those each
-- subscriber gets. No rows means everything allowed one level up.

CREATE TABLE reseller_categories (
    reseller_id  INTEGER NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    category_id  INTEGER NOT NULL REFERENCES channel_categories (id) ON DELETE CASCADE,
    PRIMARY KEY (reseller_id, category_id)
);

CREATE TABLE subscriber_categories (
    subscriber_id  INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    category_id    INTEGER NOT NULL REFERENCES channel_categories (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, category_id)
);

-- Bouquets keep an explicit "restricted" flag (SQLite), so a restriction whose categories all
-- vanished in a playlist re-import means "nothing" instead of falling back to "everything".
ALTER TABLE resellers ADD COLUMN bouquet_restricted INTEGER NOT NULL DEFAULT 0 CHECK (bouquet_restricted IN (0, 1));
ALTER TABLE subscribers ADD COLUMN bouquet_restricted INTEGER NOT NULL DEFAULT 0 CHECK (bouquet_restricted IN (0, 1));
UPDATE resellers SET bouquet_restricted = 1 WHERE id IN (SELECT reseller_id FROM reseller_categories);
UPDATE subscribers SET bouquet_restricted = 1 WHERE id IN (SELECT subscriber_id FROM subscriber_categories);

-- An import that drops categories finds the restrictions using them by category.
CREATE INDEX idx_reseller_categories_category ON reseller_categories (category_id);
CREATE INDEX idx_subscriber_categories_category ON subscriber_categories (category_id);

-- Per-reseller pricing. A reseller pays, per package: their own price for it if an admin set one,
-- else the list price less their own discount, else less their template's discount, else the
-- list price. Discounts are whole percents from 0 to 90 (core refuses more: a free package
-- would let a reseller mint credits).
ALTER TABLE permission_templates ADD COLUMN discount_percent INTEGER NOT NULL DEFAULT 0
    CHECK (discount_percent BETWEEN 0 AND 90);

-- NULL: as the template says. Kept on the reseller (not in reseller_overrides) so applying a
-- template with `reset` clears permissions and limits, not prices.
ALTER TABLE resellers ADD COLUMN discount_percent INTEGER
    CHECK (discount_percent BETWEEN 0 AND 90);

-- One reseller's own price for one package: an amount (in the package's currency when it was
-- set: one whose currency no longer matches the package's is ignored) or a percent off its list
-- price, exactly one of the two.
CREATE TABLE reseller_prices (
    reseller_id      INTEGER NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    package_id       INTEGER NOT NULL REFERENCES credit_packages (id) ON DELETE CASCADE,
    price_minor      INTEGER CHECK (price_minor > 0),
    currency         TEXT,
    discount_percent INTEGER CHECK (discount_percent BETWEEN 0 AND 90),
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (reseller_id, package_id),
    CHECK ((price_minor IS NULL) <> (discount_percent IS NULL)),
    CHECK ((price_minor IS NULL) = (currency IS NULL))
);

-- Trials: short free (by default) subscribers a reseller may hand out, a quota per 24 hours.
ALTER TABLE subscribers ADD COLUMN is_trial INTEGER NOT NULL DEFAULT 0 CHECK (is_trial IN (0, 1));

-- What a trial costs a reseller on the template; overrides do not carry it.
ALTER TABLE permission_templates ADD COLUMN trial_cost_credits INTEGER NOT NULL DEFAULT 0;

-- One row per trial ever created: the quota counts these, so deleting or converting a trial
-- does not give its slot back before 24 hours have passed.
CREATE TABLE trials (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    reseller_id INTEGER NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    username    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_trials_reseller_created ON trials (reseller_id, created_at);

-- The issue's default of 5 trials a day, where the templates slice seeded 0.
UPDATE permission_templates SET trial_quota = 5 WHERE name IN ('basic', 'premium') AND trial_quota = 0;

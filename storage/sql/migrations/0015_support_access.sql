-- 0015_support_access: an organization's permission for the operator's
-- support to look in (CONTRACT §7). One row per org that has ever switched
-- it: enabled_until is when it ends (NULL: off); enabled_at is when it was
-- last switched on, and a support token names it, so a token issued before
-- switching off does not come back to life when it is switched on again.
-- updated_by names who last switched it (actor type and id).
CREATE TABLE support_access (
    org_id        TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    enabled_at    TIMESTAMP,
    enabled_until TIMESTAMP,
    updated_by    TEXT NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

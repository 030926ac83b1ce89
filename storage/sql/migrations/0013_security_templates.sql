-- 0013_security_templates: security templates, which turn a long-lived API
-- key into short-lived temporary keys (CONTRACT §6).
--
-- security_templates: one row per template, its name unique per realm (it
-- is what backends mint with). permissions, dir_scope, ip_ranges and
-- countries are JSON arrays of strings; a NULL limit is no limit.
--
-- security_template_permissions holds the template's permissions again as
-- rows, as api_key_permissions does for keys, so that the database itself
-- refuses to delete a permission some template holds (and the console can
-- name those templates).
CREATE TABLE security_templates (
    id                             TEXT PRIMARY KEY,
    realm_id                       TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    name                           TEXT NOT NULL,
    description                    TEXT NOT NULL,
    permissions                    TEXT NOT NULL,
    ttl_seconds                    INTEGER NOT NULL,
    limit_per_minute               INTEGER,
    limit_per_source_ip_per_minute INTEGER,
    dir_scope                      TEXT NOT NULL,
    ip_ranges                      TEXT NOT NULL,
    countries                      TEXT NOT NULL,
    created_at                     TIMESTAMP NOT NULL,
    updated_at                     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX security_templates_realm_name_key ON security_templates (realm_id, name);

CREATE TABLE security_template_permissions (
    template_id TEXT NOT NULL REFERENCES security_templates (id) ON DELETE CASCADE,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    PRIMARY KEY (template_id, permission),
    FOREIGN KEY (realm_id, permission) REFERENCES permissions (realm_id, name)
);
CREATE INDEX security_template_permissions_holder ON security_template_permissions (realm_id, permission, template_id);

-- The realm's recently deactivated keys, listed in its policy document so
-- that guards refuse the temporary keys they minted.
CREATE INDEX api_keys_deactivated ON api_keys (realm_id, updated_at) WHERE active = false;

-- 0008_policies: a realm's permission rules (CEL conditions), evaluated by
-- resource servers. Names are unique per realm case-insensitively, like
-- group names, since decisions name the policies that allowed. actions is
-- a JSON array of strings.
CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    name_lower    TEXT NOT NULL,
    description   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    actions       TEXT NOT NULL,
    condition     TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX policies_realm_name_key ON policies (realm_id, name_lower);

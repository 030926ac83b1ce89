-- 0012_access_keys: the permission catalog and API keys (CONTRACT §6).
--
-- permissions: what keys may be given, named resource_type:action, unique
-- per realm.
--
-- api_keys: a headless caller's long-lived key, stored as the SHA-256 hash
-- of the secret (looked up by it at every exchange). permissions is the
-- key's permissions as a JSON array, read with the key in the exchange's
-- one query; api_key_permissions holds the same as rows, so that the
-- database itself refuses to delete a permission some key holds (and the
-- console can name those keys).
CREATE TABLE permissions (
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, name)
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    realm_id     TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    prefix       TEXT NOT NULL,
    hash         BYTEA NOT NULL,
    description  TEXT NOT NULL,
    permissions  TEXT NOT NULL,
    active       BOOLEAN NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
CREATE INDEX api_keys_realm ON api_keys (realm_id, id);

CREATE TABLE api_key_permissions (
    api_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    realm_id   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (api_key_id, permission),
    FOREIGN KEY (realm_id, permission) REFERENCES permissions (realm_id, name)
);
CREATE INDEX api_key_permissions_holder ON api_key_permissions (realm_id, permission, api_key_id);

-- 0001_init: the foundation schema. Released: never edit, add a new file.
--
-- One file for SQLite and PostgreSQL, so it sticks to the common subset:
-- TEXT ids (realm.NewID), TIMESTAMP holding UTC (the store converts), BYTEA
-- for hashes and key material (SQLite keeps blobs as given under any type
-- name), BOOLEAN, JSON kept as TEXT. Realm-owned rows reference realms with
-- ON DELETE CASCADE so deleting a realm removes everything in it.

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX orgs_slug_key ON orgs (slug);

CREATE TABLE realms (
    id           TEXT PRIMARY KEY,
    org_id       TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX realms_name_key ON realms (name);
CREATE INDEX realms_org_idx ON realms (org_id, id);

CREATE TABLE attributes (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    multi       BOOLEAN NOT NULL,
    description TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX attributes_realm_name_key ON attributes (realm_id, name);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_lower  TEXT NOT NULL,
    description TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX groups_realm_name_key ON groups (realm_id, name_lower);
-- Target of the membership foreign keys, which pin members and groups to the
-- same realm.
CREATE UNIQUE INDEX groups_realm_id_key ON groups (realm_id, id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    email_lower   TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    active        BOOLEAN NOT NULL,
    primary_group TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_realm_email_key ON users (realm_id, email_lower);
CREATE UNIQUE INDEX users_realm_id_key ON users (realm_id, id);
CREATE INDEX users_realm_primary_idx ON users (realm_id, primary_group);

CREATE TABLE user_groups (
    realm_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (user_id, group_id),
    FOREIGN KEY (realm_id, user_id) REFERENCES users (realm_id, id) ON DELETE CASCADE,
    FOREIGN KEY (realm_id, group_id) REFERENCES groups (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX user_groups_group_idx ON user_groups (realm_id, group_id, user_id);

CREATE TABLE members (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX members_org_user_key ON members (org_id, user_id);
CREATE INDEX members_user_idx ON members (user_id, id);

CREATE TABLE clients (
    id                         TEXT PRIMARY KEY,
    realm_id                   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    client_id                  TEXT NOT NULL,
    name                       TEXT NOT NULL,
    description                TEXT NOT NULL,
    kind                       TEXT NOT NULL,
    active                     BOOLEAN NOT NULL,
    public                     BOOLEAN NOT NULL,
    audience                   TEXT NOT NULL,
    primary_group              TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,
    web_origins                TEXT NOT NULL,
    communication              TEXT NOT NULL,
    display_name               TEXT NOT NULL,
    org_id                     TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    org_role                   TEXT NOT NULL,
    secret_hash                BYTEA,
    previous_secret_hash       BYTEA,
    previous_secret_expires_at TIMESTAMP,
    created_at                 TIMESTAMP NOT NULL,
    updated_at                 TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX clients_realm_client_id_key ON clients (realm_id, client_id);
CREATE UNIQUE INDEX clients_realm_id_key ON clients (realm_id, id);
CREATE INDEX clients_realm_primary_idx ON clients (realm_id, primary_group);
CREATE INDEX clients_org_idx ON clients (realm_id, org_id, id);

CREATE TABLE client_groups (
    realm_id  TEXT NOT NULL,
    client_pk TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    PRIMARY KEY (client_pk, group_id),
    FOREIGN KEY (realm_id, client_pk) REFERENCES clients (realm_id, id) ON DELETE CASCADE,
    FOREIGN KEY (realm_id, group_id) REFERENCES groups (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX client_groups_group_idx ON client_groups (realm_id, group_id, client_pk);

CREATE TABLE signing_keys (
    id                TEXT PRIMARY KEY,
    realm_id          TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    algorithm         TEXT NOT NULL,
    encrypted_private BYTEA NOT NULL,
    public_jwk        BYTEA NOT NULL,
    active            BOOLEAN NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    retired_at        TIMESTAMP
);
CREATE INDEX signing_keys_realm_idx ON signing_keys (realm_id, created_at);

-- Events carry no foreign keys: an event may name a realm that is being
-- deleted in the same transaction. DeleteRealm removes the realm's events
-- explicitly.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    realm_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    details     TEXT NOT NULL,
    time        TIMESTAMP NOT NULL
);
CREATE INDEX events_scope_idx ON events (org_id, realm_id, id);

CREATE TABLE revoked_tokens (
    realm_id   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    jti        TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, jti)
);
CREATE INDEX revoked_tokens_expiry_idx ON revoked_tokens (expires_at);

CREATE TABLE setup_tokens (
    hash       BYTEA PRIMARY KEY,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

CREATE TABLE action_tokens (
    hash       BYTEA PRIMARY KEY,
    realm_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    FOREIGN KEY (realm_id, user_id) REFERENCES users (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX action_tokens_user_idx ON action_tokens (user_id, purpose);

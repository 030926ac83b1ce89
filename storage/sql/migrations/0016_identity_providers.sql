-- 0016_identity_providers: signing in through the organization's own
-- SAML 2.0 or OpenID Connect provider (CONTRACT §9).
--
-- identity_providers: a realm's providers, the alias unique per realm (it
-- names the provider in URLs and kc_idp_hint). The settings of the
-- provider's kind are in the saml_* or oidc_* columns, NULL for the other
-- kind. Sealed secrets (the SAML SP's private key, the OIDC client secret)
-- and the SP certificate are bytes; oidc_scopes, group_mappings
-- ([{"external","group"}]) and default_groups (group IDs) are JSON arrays.
-- The group lists hold group IDs without foreign keys: the service checks
-- a group is not named by a provider before deleting it
-- (IdentityProvidersUsingGroup).
--
-- user_identities: a user's account (subject) at a provider; a subject, and
-- a user, is linked at most once per provider. The composite foreign keys
-- pin the user and the provider to the link's realm; deleting a provider
-- removes its links (users are never deleted, except with their realm).
--
-- broker_states: sign-ins through a provider in flight, keyed by the
-- SHA-256 of the state token; taken (deleted) once when the browser comes
-- back, or swept after expires_at. Deleting the provider removes them.
--
-- Deleting a realm removes all three: providers cascade from the realm,
-- links and states from the provider (and links from the user).
CREATE TABLE identity_providers (
    id                        TEXT PRIMARY KEY,
    realm_id                  TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    alias                     TEXT NOT NULL,
    kind                      TEXT NOT NULL,
    display_name              TEXT NOT NULL,
    enabled                   BOOLEAN NOT NULL,
    disabled_reason           TEXT NOT NULL,
    saml_metadata_url         TEXT,
    saml_metadata_xml         TEXT,
    saml_sp_key_sealed        BYTEA,
    saml_sp_certificate       BYTEA,
    oidc_issuer               TEXT,
    oidc_client_id            TEXT,
    oidc_client_secret_sealed BYTEA,
    oidc_scopes               TEXT,
    jit                       BOOLEAN NOT NULL,
    link_by_email             BOOLEAN NOT NULL,
    group_claim               TEXT NOT NULL,
    group_mappings            TEXT NOT NULL,
    default_groups            TEXT NOT NULL,
    email_attribute           TEXT NOT NULL,
    first_name_attribute      TEXT NOT NULL,
    last_name_attribute       TEXT NOT NULL,
    created_at                TIMESTAMP NOT NULL,
    updated_at                TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX identity_providers_realm_alias_key ON identity_providers (realm_id, alias);
-- Target of the foreign keys of links and states, which pin them to the
-- provider's realm.
CREATE UNIQUE INDEX identity_providers_realm_id_key ON identity_providers (realm_id, id);

CREATE TABLE user_identities (
    realm_id    TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, provider_id, subject),
    FOREIGN KEY (realm_id, provider_id) REFERENCES identity_providers (realm_id, id) ON DELETE CASCADE,
    FOREIGN KEY (realm_id, user_id) REFERENCES users (realm_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX user_identities_provider_user_key ON user_identities (realm_id, provider_id, user_id);
CREATE INDEX user_identities_user_idx ON user_identities (realm_id, user_id);

CREATE TABLE broker_states (
    realm_id        TEXT NOT NULL,
    id              BYTEA NOT NULL,
    provider_id     TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    verifier_sealed BYTEA,
    continue_params TEXT NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, id),
    FOREIGN KEY (realm_id, provider_id) REFERENCES identity_providers (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX broker_states_expires_idx ON broker_states (expires_at);

-- A group's rank among those a provider's mappings put a user in (0:
-- never primary), and a realm's switch hiding the password form. Existing
-- rows take the defaults: never primary, password form shown.
ALTER TABLE groups ADD COLUMN idp_primary_priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE realms ADD COLUMN password_login_disabled BOOLEAN NOT NULL DEFAULT FALSE;

-- 0011_client_scopes_token_cutoff: two things issue 13 needs on clients.
--
-- tokens_valid_after (clients and users): when the row was last
-- deactivated. A token issued at or before it stays dead after a
-- reactivation (NULL: never deactivated).
--
-- default_scopes / optional_scopes (CONTRACT §4): an application's scopes
-- granted on every sign-in, and those granted only when asked for. Existing
-- applications get Keycloak's defaults, profile and email, and keep offline
-- access as an optional scope when they had it; service accounts have none.
ALTER TABLE clients ADD COLUMN tokens_valid_after TIMESTAMP;
ALTER TABLE users ADD COLUMN tokens_valid_after TIMESTAMP;
ALTER TABLE clients ADD COLUMN default_scopes TEXT NOT NULL DEFAULT '["profile","email"]';
ALTER TABLE clients ADD COLUMN optional_scopes TEXT NOT NULL DEFAULT '[]';
UPDATE clients SET default_scopes = '[]' WHERE kind <> 'application';
UPDATE clients SET optional_scopes = '["offline_access"]' WHERE kind = 'application' AND allow_offline_access;
-- Before 0011 a deactivated client's refresh tokens were kept out only by
-- its active flag; deactivating now revokes them, so a client already
-- inactive at the upgrade has them revoked here, lest a reactivation bring
-- them back (its access tokens and codes are short-lived and long gone by
-- any reactivation that matters).
UPDATE refresh_tokens SET revoked = TRUE
 WHERE NOT revoked AND EXISTS (SELECT 1 FROM clients c
   WHERE c.realm_id = refresh_tokens.realm_id AND c.client_id = refresh_tokens.client_id AND NOT c.active);

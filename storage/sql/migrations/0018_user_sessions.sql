-- 0018_user_sessions: what an admin sees of a user's sign-ins (the user's
-- sessions screen). ip_address is the client's address when the browser
-- session began and when each refresh token was issued ('' for rows from
-- before this migration). The session index serves the revocation of one
-- browser session's refresh tokens.
ALTER TABLE browser_sessions ADD COLUMN ip_address TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN ip_address TEXT NOT NULL DEFAULT '';
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (realm_id, session_id);
-- The audit log filtered by who acted and by what it is about (a user's
-- events, an admin's changes).
CREATE INDEX events_target_idx ON events (org_id, realm_id, target_id, id);
CREATE INDEX events_actor_idx ON events (org_id, realm_id, actor_id, id);
-- The user a sign-in lock is about, when the address is a user's ('' for an
-- unknown address and for locks from before): the users list's "locked"
-- filter reads it.
ALTER TABLE login_failures ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
-- A realm's settings (branding, password policy, brute-force limits,
-- lifetimes) as a JSON object; '{}' is every default.
ALTER TABLE realms ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
-- A realm's login page logo (PNG or JPEG, checked by the service), served
-- by Ward; it goes with its realm.
CREATE TABLE realm_logos (
    realm_id     TEXT PRIMARY KEY REFERENCES realms (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL
);

-- 0009_console_sessions: the console UI's web sessions, so that any node
-- can serve a signed-in member (no session lives in one node's memory).
-- id_hash is the SHA-256 of the session cookie's value: the cookie itself
-- is never stored. data is sealed (encrypted) by the console before it
-- gets here. owner names the console account; with expires_at it serves
-- the per-account cap, which keeps an account's newest sessions.
-- expires_at alone serves the sweep of expired sessions. version counts
-- the writes (1 at creation): an update names the version it read and
-- only lands if it is still current, because several nodes may serve one
-- session at once and must not overwrite each other's changes.
CREATE TABLE console_sessions (
    id_hash    BYTEA PRIMARY KEY,
    owner      TEXT NOT NULL,
    data       BYTEA NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version    BIGINT NOT NULL
);
CREATE INDEX console_sessions_owner_idx ON console_sessions (owner, expires_at);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- 0003_auth_sessions: what user sign-in persists between requests.
-- auth_requests holds the authorization code, PKCE and OpenID Connect
-- request sessions by kind and by the code's signature (a hash; the code
-- itself is never stored). "used" is set by one conditional UPDATE, so a
-- code redeemed concurrently is redeemed once. browser_sessions are the
-- sign-in cookies' sessions, stored by the hash of the cookie's token.
CREATE TABLE auth_requests (
    kind       TEXT NOT NULL,
    signature  TEXT NOT NULL,
    realm_id   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    session_id TEXT NOT NULL,
    data       BYTEA NOT NULL,
    used       BOOLEAN NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, kind, signature)
);
CREATE INDEX auth_requests_expires_idx ON auth_requests (expires_at);

CREATE TABLE browser_sessions (
    id         TEXT PRIMARY KEY,
    realm_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    auth_time  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked    BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    FOREIGN KEY (realm_id, user_id) REFERENCES users (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX browser_sessions_user_idx ON browser_sessions (realm_id, user_id);

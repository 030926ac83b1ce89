-- 0004_refresh_tokens: refresh tokens, tracked by their jti. A refresh
-- token is single use: "used" is set by one conditional UPDATE, so of two
-- concurrent refreshes with one token only one rotates it. family_id is the
-- authorization request the chain started from; reusing a used token
-- revokes every row of its family. access_jti is the access token issued
-- with the row, put on the revocation list when the family is revoked.
-- session_id is the browser session a non-offline token is bound to.
CREATE TABLE refresh_tokens (
    id         TEXT NOT NULL,
    realm_id   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    family_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    access_jti TEXT NOT NULL,
    offline    BOOLEAN NOT NULL,
    data       BYTEA NOT NULL,
    used       BOOLEAN NOT NULL,
    revoked    BOOLEAN NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, id)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (realm_id, family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (realm_id, user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Whether an application may be granted offline_access (refresh tokens
-- that outlive the browser session).
ALTER TABLE clients ADD COLUMN allow_offline_access BOOLEAN NOT NULL DEFAULT FALSE;

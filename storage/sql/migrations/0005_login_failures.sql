-- 0005_login_failures: brute-force protection of the sign-in form, shared
-- by every node. account_key is chosen by the oauth package (a hash of the
-- lower-cased email), so no address is stored and unknown addresses are
-- counted like known ones. failures counts consecutive failed sign-ins
-- since the last success or lockout; lockouts makes each lock longer.
CREATE TABLE login_failures (
    realm_id     TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    account_key  TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    lockouts     INTEGER NOT NULL,
    locked_until TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, account_key)
);
CREATE INDEX login_failures_updated_idx ON login_failures (updated_at);

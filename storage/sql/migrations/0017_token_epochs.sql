-- 0017_token_epochs: a counter per realm that changes in the transaction of
-- every change of what an introspection reads (a client or user updated, a
-- token revoked), so a node may keep those reads in memory and still learn,
-- by polling the counters of the realms it serves, of a change made by
-- another node (oauth/introspect_cache.go). A realm without a row has not
-- changed since this migration: its counter is 0. The row goes with its
-- realm.
CREATE TABLE realm_token_epochs (
    realm_id TEXT PRIMARY KEY REFERENCES realms (id) ON DELETE CASCADE,
    epoch    BIGINT NOT NULL
);

-- 0017_token_epochs: a counter per realm that changes in the transaction of
-- every change of what an introspection reads (a client or user updated, a
-- token revoked), so a node may keep those reads in memory and still learn,
-- by polling the counters of the realms it serves, of a change made by
-- another node (oauth/introspect_cache.go). Every realm has its row, made
-- with the realm (and here for the realms there are), so that a change
-- only ever updates it: an insert would check the reference to the realm,
-- a lock that an admin change holding the realm row would wait on while
-- holding the counter (a deadlock). The row goes with its realm.
CREATE TABLE realm_token_epochs (
    realm_id TEXT PRIMARY KEY REFERENCES realms (id) ON DELETE CASCADE,
    epoch    BIGINT NOT NULL
);
INSERT INTO realm_token_epochs (realm_id, epoch) SELECT id, 0 FROM realms;

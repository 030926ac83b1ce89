-- 0010_mail_outbox: link mails queued in the transaction that made their
-- link, until a node has delivered them or given up (then the row is
-- deleted, so a link's working copy does not outlive its delivery).
-- sealed is the mail (address, names, link) encrypted with a key derived
-- from the master key; org_id, realm_id, user_id and purpose say where the
-- outcome's audit event goes. due_at is when the row may next be claimed:
-- at once when queued, the end of a node's lease while it sends, the next
-- retry after a failure. lease names the claim holding the row, so a node
-- whose lease ran out cannot delete or reschedule a row another node has
-- claimed since. Deleting the realm drops its queued mail (the links in it
-- no longer work).
CREATE TABLE mail_outbox (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    realm_id   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    attempts   INTEGER NOT NULL,
    due_at     TIMESTAMP NOT NULL,
    lease      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (due_at);

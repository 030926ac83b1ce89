-- 0007_action_token_expiry: expired action tokens (set-password and reset
-- links) are deleted now and then; this index keeps that from scanning.
CREATE INDEX action_tokens_expiry_idx ON action_tokens (expires_at);

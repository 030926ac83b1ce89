-- 0006_id_token_alg: the algorithm an application's ID tokens are signed
-- with (RS256 or ES256). Existing applications keep RS256, the default;
-- service accounts get no ID tokens and keep ''.
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';
UPDATE clients SET id_token_alg = 'RS256' WHERE kind = 'application';

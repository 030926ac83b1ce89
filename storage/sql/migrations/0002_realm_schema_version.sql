-- 0002_realm_schema_version: a counter per realm that changes in the same
-- transaction as every change of the realm's attribute definitions, so the
-- token endpoint can keep the definitions in memory and know, from the one
-- query it runs per grant, whether they are still current.
ALTER TABLE realms ADD COLUMN schema_version BIGINT NOT NULL DEFAULT 0;

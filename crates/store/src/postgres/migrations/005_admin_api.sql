-- Version 3: the operator's admin API (issue #17). Mirrors
-- sqlite/migrations/005_admin_api.sql. Every statement is idempotent, so
-- this file may be renumbered when another branch's migration lands first.

-- An erased buyer's userId is never issued again: inserting it fails as a
-- collision on buyers_pkey would, and the sync batch retries with fresh
-- ids (postgres/batch.rs, Failure::UserIdTaken).
CREATE TABLE IF NOT EXISTS erased_buyers (
    user_id   BIGINT PRIMARY KEY,
    erased_at BIGINT NOT NULL
);
CREATE OR REPLACE FUNCTION payfac_refuse_erased_user_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erased_buyers WHERE user_id = NEW.user_id) THEN
        RAISE EXCEPTION 'user id was erased'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'buyers_pkey';
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS buyers_refuse_erased_ids ON buyers;
CREATE TRIGGER buyers_refuse_erased_ids BEFORE INSERT ON buyers
    FOR EACH ROW EXECUTE FUNCTION payfac_refuse_erased_user_id();

-- Ending one buyer's sessions (revocation, erasure, a disabled merchant)
-- must not scan every live session; codes are found by buyer too.
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);

-- Admin API bearer tokens: only the SHA-256 of the secret is kept.
CREATE TABLE IF NOT EXISTS admin_tokens (
    name         TEXT COLLATE "C" PRIMARY KEY,
    secret_hash  BYTEA NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);

-- Every change made through the admin API or the admin CLI commands.
CREATE TABLE IF NOT EXISTS admin_audit (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL
);

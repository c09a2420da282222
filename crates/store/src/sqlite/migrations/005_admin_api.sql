-- Version 4: the operator's admin API (issue #17). Every statement is
-- idempotent, so this file may be renumbered when another branch's
-- migration lands first.

-- An erased buyer's userId is never issued again: the id allocator's
-- insert fails like a primary-key collision and retries with a fresh id.
CREATE TABLE IF NOT EXISTS erased_buyers (
    user_id   INTEGER PRIMARY KEY,
    erased_at INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS buyers_refuse_erased_ids BEFORE INSERT ON buyers
WHEN EXISTS (SELECT 1 FROM erased_buyers WHERE user_id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'user id was erased');
END;

-- Ending one buyer's sessions (revocation, erasure, a disabled merchant)
-- must not scan every live session.
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);

-- Admin API bearer tokens: only the SHA-256 of the secret is kept.
CREATE TABLE IF NOT EXISTS admin_tokens (
    name         TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

-- Every change made through the admin API or the admin CLI commands.
CREATE TABLE IF NOT EXISTS admin_audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL
);

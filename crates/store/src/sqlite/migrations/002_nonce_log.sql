-- Version 2: nonces become an append-only log. The writer thread checks
-- live nonces in memory (sqlite/nonces.rs) and rebuilds that set from this
-- table, so it needs no unique index: inserts append at the end of the
-- table and of the expiry index instead of dirtying a random page each.
-- AUTOINCREMENT keeps ids increasing after the newest rows were purged,
-- which is how writers sharing the file find each other's new rows.

CREATE TABLE nonce_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
INSERT INTO nonce_log (merchant_id, nonce, expires_at)
    SELECT merchant_id, nonce, expires_at FROM nonces ORDER BY expires_at;
DROP TABLE nonces;
ALTER TABLE nonce_log RENAME TO nonces;
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

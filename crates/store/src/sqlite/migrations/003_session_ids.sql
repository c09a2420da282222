-- Version 3: sessions are keyed by a sequential id, like codes; the
-- cookie carries the id and a secret whose SHA-256 is stored. A random
-- primary key cost every sign-in a random B-tree page at COMMIT.
-- Cookies of the old form cannot name a row of the new table, so the old
-- sessions are dropped: their buyers sign in again through their merchant.

DROP TABLE sessions;
-- AUTOINCREMENT: a purged session's id is never handed out again.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash  BLOB NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES buyers (user_id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

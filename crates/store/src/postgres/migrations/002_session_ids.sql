-- Version 2: sessions are keyed by a sequential id, like codes; the
-- cookie carries the id and a secret whose SHA-256 is stored. A random
-- primary key cost every sign-in a random B-tree page (and a full-page
-- image in the WAL after each checkpoint).
-- Cookies of the old form cannot name a row of the new table, so the old
-- sessions are dropped: their buyers sign in again through their merchant.

DROP TABLE sessions;
CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret_hash  BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
    user_id      BIGINT NOT NULL REFERENCES buyers (user_id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

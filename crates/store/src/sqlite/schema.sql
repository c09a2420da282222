-- payfac schema, version 1 (SQLite).

CREATE TABLE merchants (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at INTEGER NOT NULL
);

-- A key id is global: one public key can belong to one merchant only,
-- because the signature does not cover the merchant id in the path.
CREATE TABLE merchant_keys (
    key_id      TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    spki_der    BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX merchant_keys_by_merchant ON merchant_keys (merchant_id);

-- Bumped by every merchant or key change; servers poll it.
CREATE TABLE config_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version   INTEGER NOT NULL
);
INSERT INTO config_version (singleton, version) VALUES (1, 0);

CREATE TABLE buyers (
    user_id          INTEGER PRIMARY KEY,
    merchant_id      TEXT NOT NULL,
    merchant_user_no TEXT NOT NULL,
    email            TEXT NOT NULL,
    first_name       TEXT,
    last_name        TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_user_no)
);

CREATE TABLE nonces (
    merchant_id TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

-- AUTOINCREMENT: a purged code's id is never handed out again.
CREATE TABLE codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash BLOB NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES buyers (user_id),
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX codes_by_expiry ON codes (expires_at);

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES buyers (user_id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

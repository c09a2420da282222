-- payfac schema, version 1 (PostgreSQL). Mirrors sqlite/schema.sql.
-- Times are Unix seconds in BIGINT, as in SQLite: every comparison uses the
-- `now` the service passes, so both backends agree on every boundary.
-- Key text columns use the "C" collation: byte-order comparison and
-- ordering, the same as SQLite and Rust, independent of the server locale.

CREATE TABLE merchants (
    id         TEXT COLLATE "C" PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at BIGINT NOT NULL
);

-- A key id is global: one public key can belong to one merchant only,
-- because the signature does not cover the merchant id in the path.
CREATE TABLE merchant_keys (
    key_id      TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants (id),
    spki_der    BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX merchant_keys_by_merchant ON merchant_keys (merchant_id);

-- Bumped by every merchant or key change; servers poll it.
CREATE TABLE config_version (
    singleton SMALLINT PRIMARY KEY CHECK (singleton = 1),
    version   BIGINT NOT NULL
);
INSERT INTO config_version (singleton, version) VALUES (1, 0);

CREATE TABLE buyers (
    user_id          BIGINT PRIMARY KEY CHECK (user_id > 0),
    merchant_id      TEXT COLLATE "C" NOT NULL,
    merchant_user_no TEXT COLLATE "C" NOT NULL,
    email            TEXT NOT NULL,
    first_name       TEXT,
    last_name        TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (merchant_id, merchant_user_no)
);

CREATE TABLE nonces (
    merchant_id TEXT COLLATE "C" NOT NULL,
    nonce       TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, nonce)
);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

-- An identity column: a sequence never hands out a purged code's id again,
-- and instances need no coordination to allocate ids.
CREATE TABLE codes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret_hash BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
    user_id     BIGINT NOT NULL REFERENCES buyers (user_id),
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX codes_by_expiry ON codes (expires_at);

CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id      BIGINT NOT NULL REFERENCES buyers (user_id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

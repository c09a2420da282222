-- Version 10: the OpenID Provider (issue 30). Clients are registered by
-- the operator; a confidential client's secret is stored as its SHA-256,
-- a public client has none. URI lists are one URI per line.
CREATE TABLE oidc_clients (
    client_id                 TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BYTEA,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL,
    created_at                BIGINT NOT NULL
);
-- Authorization codes, stored hashed, single use. They hang off the
-- buyer's session and the client: ending either ends the code and the
-- tokens issued with it. A used code is kept until its tokens have
-- expired, so a second use can still revoke them.
CREATE TABLE oidc_codes (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_hash      BYTEA NOT NULL UNIQUE,
    client_id      TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    session_id     BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,
    nonce          TEXT,
    scope          TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX oidc_codes_by_session ON oidc_codes (session_id);
CREATE INDEX oidc_codes_by_client ON oidc_codes (client_id);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);
-- Opaque access tokens for userinfo, stored hashed; revoked with the
-- code that issued them.
CREATE TABLE oidc_access_tokens (
    token_hash BYTEA PRIMARY KEY,
    code_id    BIGINT NOT NULL REFERENCES oidc_codes (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_access_tokens_by_code ON oidc_access_tokens (code_id);
-- The RS256 keys ID tokens are signed with, kept like identity_keys.
CREATE TABLE oidc_keys (
    kid           TEXT PRIMARY KEY,
    private_pkcs8 BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

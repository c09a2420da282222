-- Version 6: keys the service derives its own secrets from (issue #18):
-- the consent page's CSRF tokens and the permutation of credential ids.
-- One row per name, made by the first instance that needs it (the value
-- comes from the application's CSPRNG) and read by every other, so all
-- instances on one database share it. Idempotent, so it may be
-- renumbered when another branch's migration lands first.
CREATE TABLE IF NOT EXISTS server_secrets (
    name       TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

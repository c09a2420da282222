-- Version 3: the keys payfac signs buyer identities with (X-Payfac-Identity),
-- kept here so every instance on this database signs with a key that every
-- instance publishes. The newest key signs; older ones stay published for a
-- while after a rotation (the server decides from created_at).
CREATE TABLE identity_keys (
    kid           TEXT PRIMARY KEY,
    private_pkcs8 BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

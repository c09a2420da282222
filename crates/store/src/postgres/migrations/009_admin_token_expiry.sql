-- Version 9: an admin token may expire (`admin-token create --expires-in`);
-- NULL is never. Rows from before never expire. Idempotent.
ALTER TABLE admin_tokens ADD COLUMN IF NOT EXISTS expires_at BIGINT;

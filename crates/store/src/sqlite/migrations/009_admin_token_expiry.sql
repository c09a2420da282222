-- Version 9: an admin token may expire (`admin-token create --expires-in`);
-- NULL is never. Rows from before never expire.
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER;

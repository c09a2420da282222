-- Version 3: a nonce's `expires_at` is its request's timestamp plus a fixed
-- retention (NONCE_RETENTION_SECS, 3,900 s) instead of plus the recording
-- instance's window, so a restart with a larger window cannot reopen it.
-- Rows recorded before hold timestamp + some window; adding the retention
-- keeps each of them at least as long as the new rule would.

UPDATE nonces SET expires_at = expires_at + 3900;

-- Version 8: a session waiting for the buyer's consent (the "switch
-- account" page) is marked as such. It is never accepted as a session,
-- and only a pending session can be confirmed, so a live session cannot
-- be "confirmed" again to push its end back. Rows from before are full
-- sessions. Idempotent, so it may be renumbered.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS pending BOOLEAN NOT NULL DEFAULT false;

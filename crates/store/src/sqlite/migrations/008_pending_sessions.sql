-- Version 8: a session waiting for the buyer's consent (the "switch
-- account" page) is marked as such. It is never accepted as a session,
-- and only a pending session can be confirmed, so a live session cannot
-- be "confirmed" again to push its end back. Rows from before are full
-- sessions.
ALTER TABLE sessions ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

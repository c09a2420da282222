-- SQLite's migration 002 turned its nonces table into an append-only log
-- checked by the writer thread; PostgreSQL keeps its unique index on
-- (merchant_id, nonce), so it has nothing to change here. This version
-- exists so that both backends number every later migration alike.
SELECT 1;

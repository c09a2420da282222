//! Live nonces, kept in memory by the writer thread.
//!
//! A unique index on `(merchant, nonce)` costs every user-sync one random
//! B-tree page written at COMMIT, ~60 % of all pages the writer wrote (see
//! docs/PERFORMANCE.md). Only the writer thread writes nonces, so it checks
//! them here instead, and the `nonces` table is an append-only log
//! (sequential ids, no unique index) that this set is rebuilt from.
//!
//! The set stays exact across processes sharing one SQLite file: before
//! its first nonce check in each transaction (which holds SQLite's write
//! lock, so nobody else can append meanwhile) the writer reads the log rows
//! committed since it last looked, by others or by an earlier run.
//! `AUTOINCREMENT` keeps those ids increasing even after the purge deleted
//! the newest rows.

use std::collections::HashMap;

use rusqlite::{Connection, params};

/// `SHA-256(merchant ‖ 0 ‖ nonce)`, first 16 bytes: a fixed-size key, so
/// the set costs ~40 bytes per live nonce whatever their length.
type NonceKey = [u8; 16];

#[derive(Default)]
pub(crate) struct LiveNonces {
    /// Each live nonce with its `expires_at`.
    live: HashMap<NonceKey, i64>,
    /// The highest log id already in `live`, of committed rows only.
    seen_up_to: i64,
    /// Whether this transaction already read the log.
    caught_up: bool,
    /// Nonces recorded in the open transaction, with their log ids: undone
    /// if it does not commit.
    pending: Vec<(NonceKey, i64)>,
    /// The second `forget_expired` last swept the set at.
    swept_at: i64,
}

impl LiveNonces {
    /// Whether `(merchant, nonce)` is in use at `now` (live up to and
    /// including its `expires_at` second).
    pub(crate) fn is_live(
        &mut self,
        connection: &Connection,
        merchant: &str,
        nonce: &str,
        now: i64,
    ) -> Result<bool, rusqlite::Error> {
        self.catch_up(connection)?;
        Ok(self
            .live
            .get(&key(merchant, nonce))
            .is_some_and(|&expires_at| expires_at >= now))
    }

    /// Appends the nonce to the log and marks it live. Call it last in a
    /// job, once everything else of the job succeeded.
    pub(crate) fn record(
        &mut self,
        connection: &Connection,
        merchant: &str,
        nonce: &str,
        expires_at: i64,
    ) -> Result<(), rusqlite::Error> {
        self.catch_up(connection)?;
        let id = connection
            .prepare_cached(
                "INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES (?1, ?2, ?3)
                 RETURNING id",
            )?
            .query_row(params![merchant, nonce, expires_at], |row| row.get(0))?;
        let key = key(merchant, nonce);
        self.live.insert(key, expires_at);
        self.pending.push((key, id));
        Ok(())
    }

    /// Reads log rows committed since the last look (all of them on the
    /// first call), once per transaction.
    fn catch_up(&mut self, connection: &Connection) -> Result<(), rusqlite::Error> {
        if self.caught_up {
            return Ok(());
        }
        let mut statement = connection.prepare_cached(
            "SELECT id, merchant_id, nonce, expires_at FROM nonces WHERE id > ?1 ORDER BY id",
        )?;
        let mut rows = statement.query([self.seen_up_to])?;
        while let Some(row) = rows.next()? {
            let merchant: String = row.get(1)?;
            let nonce: String = row.get(2)?;
            let expires_at: i64 = row.get(3)?;
            let entry = self
                .live
                .entry(key(&merchant, &nonce))
                .or_insert(expires_at);
            *entry = (*entry).max(expires_at);
            self.seen_up_to = row.get(0)?;
        }
        self.caught_up = true;
        Ok(())
    }

    /// How many nonces the open transaction has recorded so far.
    pub(crate) fn mark(&self) -> usize {
        self.pending.len()
    }

    /// Forgets the nonces recorded after `mark`: their job was rolled back.
    pub(crate) fn undo_to(&mut self, mark: usize) {
        for (key, _) in self.pending.drain(mark..) {
            self.live.remove(&key);
        }
    }

    /// Ends the transaction: its nonces stay live only if it committed.
    pub(crate) fn finish(&mut self, committed: bool) {
        if committed {
            if let Some(&(_, id)) = self.pending.last() {
                self.seen_up_to = id;
            }
            self.pending.clear();
        } else {
            self.undo_to(0);
        }
        self.caught_up = false;
    }

    /// Drops nonces whose window is over, as the purge does to the log.
    /// The purge calls this once per batch of rows, many times a second
    /// under a backlog; a sweep of the whole set is done once a second.
    pub(crate) fn forget_expired(&mut self, now: i64) {
        if now <= self.swept_at {
            return;
        }
        self.live.retain(|_, expires_at| *expires_at >= now);
        self.swept_at = now;
    }
}

fn key(merchant: &str, nonce: &str) -> NonceKey {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(merchant.as_bytes());
    context.update(&[0]);
    context.update(nonce.as_bytes());
    let digest = context.finish();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest.as_ref()[..16]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory database with the real schema.
    fn log() -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        for migration in super::super::MIGRATIONS {
            connection.execute_batch(migration).unwrap();
        }
        connection
    }

    #[test]
    fn a_transaction_that_does_not_commit_leaves_its_nonces_free() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        connection.execute_batch("BEGIN").unwrap();
        assert!(!nonces.is_live(&connection, "M", "n1", 10).unwrap());
        nonces.record(&connection, "M", "n1", 100).unwrap();
        assert!(nonces.is_live(&connection, "M", "n1", 10).unwrap());
        connection.execute_batch("ROLLBACK").unwrap();
        nonces.finish(false);
        assert!(!nonces.is_live(&connection, "M", "n1", 10).unwrap());
    }

    #[test]
    fn a_rolled_back_job_frees_only_its_own_nonces() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        connection.execute_batch("BEGIN").unwrap();
        nonces.record(&connection, "M", "kept", 100).unwrap();
        connection.execute_batch("SAVEPOINT job").unwrap();
        let mark = nonces.mark();
        nonces.record(&connection, "M", "undone", 100).unwrap();
        connection.execute_batch("ROLLBACK TO job").unwrap();
        nonces.undo_to(mark);
        connection.execute_batch("COMMIT").unwrap();
        nonces.finish(true);
        assert!(nonces.is_live(&connection, "M", "kept", 10).unwrap());
        assert!(!nonces.is_live(&connection, "M", "undone", 10).unwrap());
    }

    #[test]
    fn rows_written_by_another_process_are_read_before_the_next_check() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        nonces.record(&connection, "M", "mine", 100).unwrap();
        nonces.finish(true);
        connection
            .execute(
                "INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES ('M', 'theirs', 100)",
                [],
            )
            .unwrap();
        assert!(nonces.is_live(&connection, "M", "theirs", 10).unwrap());
        assert!(
            !nonces.is_live(&connection, "N", "theirs", 10).unwrap(),
            "per merchant"
        );
        assert!(
            !nonces.is_live(&connection, "M", "theirs", 101).unwrap(),
            "expired"
        );
        nonces.forget_expired(101);
        assert!(nonces.live.is_empty());
    }

    #[test]
    fn the_set_is_swept_once_a_second() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        nonces.record(&connection, "M", "a", 100).unwrap();
        nonces.forget_expired(50);
        nonces.record(&connection, "M", "b", 50).unwrap();
        nonces.forget_expired(101);
        assert!(nonces.live.is_empty());
        nonces.record(&connection, "M", "c", 100).unwrap();
        nonces.forget_expired(101);
        assert_eq!(nonces.live.len(), 1, "swept twice in one second");
    }
}

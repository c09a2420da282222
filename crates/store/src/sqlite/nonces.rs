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
//!
//! A log row's `expires_at` is the request's timestamp plus
//! `NONCE_RETENTION_SECS` (not plus any instance's window), so a restart
//! with another window never reopens a recorded nonce. Liveness is judged
//! with the deciding request's own clock reading and window: a recorded
//! nonce is live while its timestamp is at least `now - window`. The set
//! keeps only what this process's window can judge live (with a minute to
//! spare for clock readings taken slightly out of order); the log keeps
//! every row for the full retention. A request judged with an earlier
//! clock (a clock stepped back) or a larger window than the set was swept
//! for makes the writer reload the set from the log first.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::NONCE_RETENTION_SECS;

/// `SHA-256(merchant ‖ 0 ‖ nonce)`, first 16 bytes: a fixed-size key, so
/// the set costs ~40 bytes per live nonce whatever their length.
type NonceKey = [u8; 16];

/// Entries stay in the set this much longer than the window needs, so the
/// clock readings of requests and the purge, taken a little out of order,
/// do not make the writer reload the set.
const SLACK_SECS: i64 = 60;

pub(crate) struct LiveNonces {
    /// Each live nonce with its `expires_at` (timestamp + retention).
    live: HashMap<NonceKey, i64>,
    /// The largest window a request of this process was judged with (one
    /// per process in practice); the set forgets what it cannot judge live.
    window: i64,
    /// The highest log id already in `live`, of committed rows only.
    seen_up_to: i64,
    /// Whether this transaction already read the log.
    caught_up: bool,
    /// Nonces recorded in the open transaction, with their log ids and
    /// `expires_at`: undone if it does not commit.
    pending: Vec<(NonceKey, i64, i64)>,
    /// The second `forget_expired` last swept the set at.
    swept_at: i64,
    /// The set holds every committed log row expiring at or after this
    /// (older ones were left out or swept).
    complete_from: i64,
}

impl Default for LiveNonces {
    fn default() -> Self {
        Self {
            live: HashMap::new(),
            window: 0,
            seen_up_to: 0,
            caught_up: false,
            pending: Vec::new(),
            swept_at: 0,
            complete_from: i64::MIN,
        }
    }
}

impl LiveNonces {
    /// Whether `(merchant, nonce)` is in use for a request judged at `now`
    /// with `window`: recorded with a timestamp of `now - window` or later.
    pub(crate) fn is_live(
        &mut self,
        connection: &Connection,
        merchant: &str,
        nonce: &str,
        now: i64,
        window: i64,
    ) -> Result<bool, rusqlite::Error> {
        self.window = self.window.max(window);
        let live_from = live_from(now, window);
        if live_from < self.complete_from {
            self.reload(connection, live_from - SLACK_SECS)?;
        }
        self.catch_up(connection, live_from - SLACK_SECS)?;
        Ok(self
            .live
            .get(&key(merchant, nonce))
            .is_some_and(|&expires_at| expires_at >= live_from))
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
        self.catch_up(connection, i64::MIN)?;
        let id = connection
            .prepare_cached(
                "INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES (?1, ?2, ?3)
                 RETURNING id",
            )?
            .query_row(params![merchant, nonce, expires_at], |row| row.get(0))?;
        let key = key(merchant, nonce);
        self.live.insert(key, expires_at);
        self.pending.push((key, id, expires_at));
        Ok(())
    }

    /// Rebuilds the set from the committed log rows it has seen and the
    /// open transaction's own, keeping those expiring at or after `from`.
    /// Rare: only a clock stepped back or a larger window needs it.
    fn reload(&mut self, connection: &Connection, from: i64) -> Result<(), rusqlite::Error> {
        tracing::info!("reloading live nonces from the log (clock stepped back or window grew)");
        self.live.clear();
        let mut statement = connection.prepare_cached(
            "SELECT merchant_id, nonce, expires_at FROM nonces WHERE id <= ?1 AND expires_at >= ?2",
        )?;
        let mut rows = statement.query(params![self.seen_up_to, from])?;
        while let Some(row) = rows.next()? {
            let merchant: String = row.get(0)?;
            let nonce: String = row.get(1)?;
            let expires_at: i64 = row.get(2)?;
            let entry = self
                .live
                .entry(key(&merchant, &nonce))
                .or_insert(expires_at);
            *entry = (*entry).max(expires_at);
        }
        for &(key, _, expires_at) in &self.pending {
            self.live.insert(key, expires_at);
        }
        self.complete_from = from;
        Ok(())
    }

    /// Reads log rows committed since the last look (all of them on the
    /// first call), once per transaction; rows expiring before `live_from`
    /// cannot be judged live and stay out of the set.
    fn catch_up(&mut self, connection: &Connection, live_from: i64) -> Result<(), rusqlite::Error> {
        if self.caught_up {
            return Ok(());
        }
        self.complete_from = self.complete_from.max(live_from);
        let mut statement = connection.prepare_cached(
            "SELECT id, merchant_id, nonce, expires_at FROM nonces WHERE id > ?1 ORDER BY id",
        )?;
        let mut rows = statement.query([self.seen_up_to])?;
        while let Some(row) = rows.next()? {
            self.seen_up_to = row.get(0)?;
            let expires_at: i64 = row.get(3)?;
            if expires_at < live_from {
                continue;
            }
            let merchant: String = row.get(1)?;
            let nonce: String = row.get(2)?;
            let entry = self
                .live
                .entry(key(&merchant, &nonce))
                .or_insert(expires_at);
            *entry = (*entry).max(expires_at);
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
        for (key, _, _) in self.pending.drain(mark..) {
            self.live.remove(&key);
        }
    }

    /// Ends the transaction: its nonces stay live only if it committed.
    pub(crate) fn finish(&mut self, committed: bool) {
        if committed {
            if let Some(&(_, id, _)) = self.pending.last() {
                self.seen_up_to = id;
            }
            self.pending.clear();
        } else {
            self.undo_to(0);
        }
        self.caught_up = false;
    }

    /// Drops nonces this process's window no longer judges live (the log
    /// keeps them for the full retention). The purge calls this once per
    /// batch of rows, many times a second under a backlog; a sweep of the
    /// whole set is done once a second.
    pub(crate) fn forget_expired(&mut self, now: i64) {
        if now <= self.swept_at {
            return;
        }
        // Before any request was judged, keep what the log keeps.
        let window = match self.window {
            0 => NONCE_RETENTION_SECS,
            window => window,
        };
        let keep_from = live_from(now, window) - SLACK_SECS;
        self.live.retain(|_, expires_at| *expires_at >= keep_from);
        self.complete_from = self.complete_from.max(keep_from);
        self.swept_at = now;
    }
}

/// The smallest `expires_at` still live for a request judged at `now`
/// with `window`: its timestamp is `now - window` or later.
fn live_from(now: i64, window: i64) -> i64 {
    now - window + NONCE_RETENTION_SECS
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
        for (_, sql) in super::super::migrate::MIGRATIONS {
            connection.execute_batch(sql).unwrap();
        }
        connection
    }

    /// The tests' window, and the log's `expires_at` of a request signed at `ts`.
    const W: i64 = 10;
    fn at(ts: i64) -> i64 {
        ts + NONCE_RETENTION_SECS
    }

    #[test]
    fn a_transaction_that_does_not_commit_leaves_its_nonces_free() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        connection.execute_batch("BEGIN").unwrap();
        assert!(!nonces.is_live(&connection, "M", "n1", 10, W).unwrap());
        nonces.record(&connection, "M", "n1", at(10)).unwrap();
        assert!(nonces.is_live(&connection, "M", "n1", 10, W).unwrap());
        connection.execute_batch("ROLLBACK").unwrap();
        nonces.finish(false);
        assert!(!nonces.is_live(&connection, "M", "n1", 10, W).unwrap());
    }

    #[test]
    fn a_rolled_back_job_frees_only_its_own_nonces() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        connection.execute_batch("BEGIN").unwrap();
        nonces.record(&connection, "M", "kept", at(10)).unwrap();
        connection.execute_batch("SAVEPOINT job").unwrap();
        let mark = nonces.mark();
        nonces.record(&connection, "M", "undone", at(10)).unwrap();
        connection.execute_batch("ROLLBACK TO job").unwrap();
        nonces.undo_to(mark);
        connection.execute_batch("COMMIT").unwrap();
        nonces.finish(true);
        assert!(nonces.is_live(&connection, "M", "kept", 10, W).unwrap());
        assert!(!nonces.is_live(&connection, "M", "undone", 10, W).unwrap());
    }

    #[test]
    fn rows_written_by_another_process_are_read_before_the_next_check() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        nonces.record(&connection, "M", "mine", at(100)).unwrap();
        nonces.finish(true);
        connection
            .execute(
                "INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES ('M', 'theirs', ?1)",
                [at(100)],
            )
            .unwrap();
        assert!(
            nonces
                .is_live(&connection, "M", "theirs", 100 + W, W)
                .unwrap()
        );
        assert!(
            !nonces.is_live(&connection, "N", "theirs", 100, W).unwrap(),
            "per merchant"
        );
        assert!(
            !nonces
                .is_live(&connection, "M", "theirs", 101 + W, W)
                .unwrap(),
            "out of the window"
        );
        nonces.forget_expired(101 + W + SLACK_SECS);
        assert!(nonces.live.is_empty());
        assert!(
            nonces
                .is_live(&connection, "M", "theirs", 100 + W, W)
                .unwrap(),
            "a clock stepped back finds the swept nonce in the log"
        );
    }

    /// The window that judges is the deciding request's, not the one the
    /// nonce was recorded with: a larger window finds the nonce live longer.
    #[test]
    fn a_larger_window_judges_an_older_nonce_live() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        assert!(!nonces.is_live(&connection, "M", "n1", 100, 20).unwrap());
        nonces.record(&connection, "M", "n1", at(100)).unwrap();
        nonces.finish(true);
        assert!(!nonces.is_live(&connection, "M", "n1", 121, 20).unwrap());
        let mut restarted = LiveNonces::default();
        assert!(restarted.is_live(&connection, "M", "n1", 121, 300).unwrap());
        assert!(restarted.is_live(&connection, "M", "n1", 400, 300).unwrap());
        assert!(!restarted.is_live(&connection, "M", "n1", 401, 300).unwrap());
    }

    #[test]
    fn the_set_is_swept_once_a_second() {
        let connection = log();
        let mut nonces = LiveNonces::default();
        assert!(!nonces.is_live(&connection, "M", "z", 0, W).unwrap());
        nonces.record(&connection, "M", "a", at(100)).unwrap();
        nonces.forget_expired(50);
        nonces.record(&connection, "M", "b", at(50)).unwrap();
        nonces.forget_expired(101 + W + SLACK_SECS);
        assert!(nonces.live.is_empty());
        nonces.record(&connection, "M", "c", at(100)).unwrap();
        nonces.forget_expired(101 + W + SLACK_SECS);
        assert_eq!(nonces.live.len(), 1, "swept twice in one second");
    }
}

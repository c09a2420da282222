//! The store's behaviour contract (docs/PROTOCOL.md §5, §7, §8, §10), written once and
//! run against every backend: SQLite always, PostgreSQL when
//! `PAYFAC_TEST_POSTGRES_URL` names a server (each test then creates its
//! own database and drops it afterwards).
//!
//!     PAYFAC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!         cargo test -p payfac-store

#[macro_use]
#[path = "common/mod.rs"]
mod common;

#[path = "behaviour/identity_keys.rs"]
mod identity_keys;
#[path = "behaviour/merchants.rs"]
mod merchants;
#[path = "behaviour/oidc.rs"]
mod oidc;
#[path = "behaviour/operations.rs"]
mod operations;
#[path = "behaviour/operator.rs"]
mod operator;
#[path = "behaviour/purge.rs"]
mod purge;
#[path = "behaviour/redeem.rs"]
mod redeem;
#[path = "behaviour/sessions.rs"]
mod sessions;
#[path = "behaviour/sync.rs"]
mod sync;

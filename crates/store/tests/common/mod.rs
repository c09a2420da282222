//! Test helpers: one `TestStore` per test, on a fresh database of either
//! backend (test-support's `on_both_stores!` runs each behaviour on
//! both), and requests as the server would build them.

pub mod backend;
pub mod fixtures;

pub use payfac_test_support::{on_both_stores, postgres, proxy};

pub use backend::TestStore;
pub use fixtures::*;

//! Test helpers: one `TestStore` per test, on a fresh database of either
//! backend, and the macro that runs each behaviour against both.

pub mod backend;
pub mod fixtures;

pub use payfac_test_support::{postgres, proxy};

pub use backend::TestStore;
pub use fixtures::*;

/// Writes each behaviour once and runs it per backend: every
/// `async fn name(t: &TestStore) { … }` becomes a module `name` with the
/// tests `name::sqlite` and `name::postgres`, the latter `#[ignore]`d
/// (run with `--include-ignored` and `PAYFAC_TEST_POSTGRES_URL` set, as
/// scripts/test.sh does).
/// Each run gets its own database, dropped afterwards even on failure.
macro_rules! backend_tests {
    ($(
        $(#[doc = $doc:literal])*
        async fn $name:ident($t:ident: &TestStore) $body:block
    )*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn behaviour($t: &$crate::common::TestStore) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let store = $crate::common::TestStore::sqlite().await;
                behaviour(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
            async fn postgres() {
                let store = $crate::common::TestStore::postgres().await;
                behaviour(&store).await;
            }
        }
    )*};
}

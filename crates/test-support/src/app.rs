//! One payfac application per test, in-process, on a database of its own:
//! the builder every in-process test starts the service with (the
//! merchant API's, the admin API's, the client's).
//!
//! `TestApp::builder()` takes the store (SQLite unless told), changes to
//! the default `Config` (which listens on port 0), and merchants to
//! register before the first request; `start` builds the `Application`
//! the binary builds and runs it on the test's runtime. A second
//! application on the same database (another instance, or the same after
//! a restart) comes from `TestApp::another`.

use std::sync::Arc;

use payfac_domain::MerchantId;
use payfac_server::{Application, Backlog, Config};
use payfac_store::{Store, StoredKey};

use crate::backend::{Backend, TestBackend};

/// A running application; see the module doc.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` of the public listener.
    pub address: String,
    /// The admin listener's, when the config asked for one.
    pub admin: Option<String>,
    /// The metrics listener's, when the config asked for one.
    pub metrics: Option<String>,
    /// The application's own store.
    pub store: Arc<dyn Store>,
    /// How many requests wait on storage: tests order events by it.
    pub backlog: Backlog,
    /// A client that does not follow redirects.
    pub http: reqwest::Client,
    /// The database, deleted once the last application on it is dropped.
    pub backend: Arc<TestBackend>,
}

type Adjust<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// What to start; see the module doc.
pub struct Builder<'a> {
    backend: Result<Arc<TestBackend>, Backend>,
    adjust: Vec<Adjust<'a>>,
    merchants: Vec<(String, StoredKey)>,
}

impl TestApp {
    /// An application on a new SQLite database, default config, no
    /// merchant.
    pub fn builder<'a>() -> Builder<'a> {
        Builder {
            backend: Err(Backend::Sqlite),
            adjust: Vec::new(),
            merchants: Vec::new(),
        }
    }

    /// Another application on this one's database.
    pub fn another<'a>(&self) -> Builder<'a> {
        Builder {
            backend: Ok(Arc::clone(&self.backend)),
            adjust: Vec::new(),
            merchants: Vec::new(),
        }
    }
}

impl<'a> Builder<'a> {
    /// On a new database of `backend`.
    pub fn on(mut self, backend: Backend) -> Self {
        self.backend = Err(backend);
        self
    }

    /// Changes the config before the application is built.
    pub fn config(mut self, adjust: impl FnOnce(&mut Config) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// Registers merchant `id` with `key` before the start.
    pub fn merchant(mut self, id: &str, key: StoredKey) -> Self {
        self.merchants.push((id.to_owned(), key));
        self
    }

    pub async fn start(self) -> TestApp {
        let backend = match self.backend {
            Ok(shared) => shared,
            Err(kind) => Arc::new(TestBackend::new(kind).await),
        };
        let store = payfac_store::open(&backend.url)
            .await
            .unwrap_or_else(|error| panic!("open the {:?} store: {error}", backend.backend()));
        for (id, key) in self.merchants {
            let id = MerchantId::parse(&id).expect("a valid merchant id");
            store
                .add_merchant(&id, key)
                .await
                .expect("add the merchant");
        }
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("an address"),
            ..Config::default()
        };
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let application = Application::build(config, Arc::clone(&store))
            .await
            .expect("the application builds");
        let local = |port: u16| format!("http://127.0.0.1:{port}");
        let app = TestApp {
            address: local(application.port()),
            admin: application.admin_port().map(local),
            metrics: application.metrics_port().map(local),
            store,
            backlog: application.backlog(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            backend,
        };
        tokio::spawn(application.run_until_stopped());
        app
    }
}

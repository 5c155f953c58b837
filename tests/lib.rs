//! Test harness: spawns the real application (the same `Application::build`
//! as `main`) on port 0 with a fresh database, on SQLite or PostgreSQL, and
//! talks to it over HTTP with the Host header of each tenant.
//!
//! PostgreSQL comes from `DIMOS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its own
//! database. There is no silent skip: if PostgreSQL is unreachable the
//! PostgreSQL half of every test fails and says how to start it.

use dimos_kernel::config::{Config, Secret};
use dimos_server::Application;
use dimos_web::ModuleDescriptor;
use serde_json::{Value, json};
use sqlx::Connection;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend, as two named tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(dimos_it::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(dimos_it::Backend::Postgres).await
            }
        }
    )*};
}

pub fn postgres_admin_url() -> String {
    std::env::var("DIMOS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty PostgreSQL database; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for the tests and is not reachable at {admin}: {e}.\n\
             Start it (infra/test.sh does), or point DIMOS_TEST_POSTGRES_URL at one."
            )
        });
    let name = format!("dimos_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// A database URL for `backend`, fresh for this test.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("dimos.db").display()),
        Backend::Postgres => fresh_postgres_database().await,
    }
}

/// A minimal valid tenant, for the operator API.
pub fn tenant_body(slug: &str, name: &str) -> Value {
    json!({
        "slug": slug,
        "name": { "el": format!("Δήμος {name}"), "en": format!("Municipality of {name}") },
        "branding": { "primary_colour": "#003476" },
    })
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub database_url: String,
    pub data_dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow_result::Result>>,
    _dir: Option<tempfile::TempDir>,
}

mod anyhow_result {
    pub type Result = std::result::Result<(), String>;
}

pub struct Options {
    pub modules: Vec<ModuleDescriptor>,
    pub database_url: Option<String>,
    pub apply_on_start: Option<PathBuf>,
    pub tweak: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            modules: vec![dimos_module_example::descriptor()],
            database_url: None,
            apply_on_start: None,
            tweak: Box::new(|_| {}),
        }
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, opts: Options) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match opts.database_url {
            Some(u) => u,
            None => fresh_database(backend, dir.path()).await,
        };
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.database.url = Some(Secret::new(database_url.clone()));
        config.tenancy.apply_on_start = opts.apply_on_start;
        config.tenancy.refresh_interval_ms = 200;
        (opts.tweak)(&mut config);
        let app = Application::build(config, opts.modules)
            .await
            .expect("application builds");
        let addr = app.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until(async move {
                let _ = rx.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            addr,
            client,
            database_url,
            data_dir: dir.path().to_owned(),
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: Some(dir),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request to `path` as if addressed to `host` (e.g. `alimos.localhost`).
    pub fn req(&self, method: reqwest::Method, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("host", format!("{host}:{}", self.port()))
    }

    pub fn get(&self, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::GET, host, path)
    }

    pub fn post(&self, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::POST, host, path)
    }

    pub fn put(&self, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::PUT, host, path)
    }

    pub fn delete(&self, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::DELETE, host, path)
    }

    /// Creates a tenant through the operator API; panics unless 201.
    pub async fn create_tenant(&self, body: Value) -> Value {
        let res = self
            .post("admin.localhost", "/api/v1/tenants")
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let json: Value = res.json().await.expect("json body");
        assert_eq!(status, 201, "creating tenant failed: {json}");
        json
    }

    /// Enables a module for a tenant through the operator API.
    pub async fn enable_module(&self, slug: &str, module: &str, config: Value) {
        let res = self
            .put(
                "admin.localhost",
                &format!("/api/v1/tenants/{slug}/modules/{module}"),
            )
            .json(&config)
            .send()
            .await
            .expect("request");
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let r = h.await.expect("server task");
            assert!(r.is_ok(), "server failed: {r:?}");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

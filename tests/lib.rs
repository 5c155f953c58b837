//! Test harness: spawns the real application (the same `Application::build`
//! as `main`) on port 0 with a fresh database, on SQLite or PostgreSQL, and
//! talks to it over HTTP with the Host header of each tenant.
//!
//! PostgreSQL comes from `DIMOS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its own
//! database. There is no silent skip: if PostgreSQL is unreachable the
//! PostgreSQL half of every test fails and says how to start it.

// Test support: a failed unwrap is a failed test, the peers' addresses come
// from the environment, and the tests read any tenant's rows as an
// attacker with database access would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

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

/// The headers a current Chromium sends with a page request. With them
/// (and reqwest's gzip, brotli and deflate decoders, which add
/// `Accept-Encoding: gzip, br, deflate`) every test exercises compression
/// and content negotiation as real browsers do. A request may still set
/// its own `Accept` (the JSON API tests do).
pub fn browser_headers() -> reqwest::header::HeaderMap {
    use reqwest::header::{HeaderMap, HeaderValue};
    let mut h = HeaderMap::new();
    for (k, v) in [
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8",
        ),
        ("accept-language", "el-GR,el;q=0.9,en-US;q=0.8,en;q=0.7"),
        ("sec-fetch-dest", "document"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-user", "?1"),
        ("upgrade-insecure-requests", "1"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// `/metrics` on its own listener, when `http.metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub client: reqwest::Client,
    pub database_url: String,
    pub data_dir: PathBuf,
    /// The running application's state (its scheduler, engine, database).
    pub state: dimos_web::AppState,
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
    /// The clock deadlines and timers follow; tests move it forward.
    pub clock: Option<std::sync::Arc<dimos_kernel::ManualClock>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // The server's list, and the reference module the platform's
            // own tests use.
            modules: std::iter::once(dimos_module_example::descriptor())
                .chain(dimos_server::modules())
                .collect(),
            database_url: None,
            apply_on_start: None,
            tweak: Box::new(|_| {}),
            clock: None,
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
    /// The app's database as someone with database access reads it: a pool
    /// of the test's own, not a handle the application lends out.
    pub async fn db(&self) -> dimos_db::Db {
        dimos_db::Db::connect(&self.database_url, &Default::default())
            .await
            .expect("the app's database")
    }

    /// Runs SQL as someone with database access would (DDL, renames).
    pub async fn raw_sql(&self, sql: &str) {
        use sqlx::Connection;
        if self.database_url.starts_with("sqlite") {
            let mut c = sqlx::SqliteConnection::connect(&self.database_url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(&self.database_url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }

    /// One value read with SQL, as someone with database access reads it.
    pub async fn sql_value<T>(&self, sql: &str) -> T
    where
        T: Send
            + Unpin
            + sqlx::Type<sqlx::Sqlite>
            + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Postgres>
            + for<'r> sqlx::Decode<'r, sqlx::Postgres>,
    {
        use sqlx::Connection;
        if self.database_url.starts_with("sqlite") {
            let mut c = sqlx::SqliteConnection::connect(&self.database_url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(&self.database_url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        }
    }

    /// The id of municipality `slug` on this deployment.
    pub fn tenant_uuid(&self, slug: &str) -> uuid::Uuid {
        self.state
            .registry()
            .tenants()
            .into_iter()
            .find(|t| t.slug() == slug)
            .unwrap_or_else(|| panic!("no municipality {slug} here"))
            .id
            .uuid()
    }

    /// One table's rows of municipality `slug` as the database holds
    /// them, read in one snapshot through the test's own pool.
    pub async fn table_rows(
        &self,
        slug: &str,
        table: &str,
    ) -> (
        dimos_db::portable::Columns,
        Vec<Vec<dimos_db::portable::Cell>>,
    ) {
        let db = self.db().await;
        let columns = db.columns(table).await.unwrap();
        let mut tx = db.begin_snapshot().await.unwrap();
        let rows = tx
            .tenant_rows(table, &columns, self.tenant_uuid(slug))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (columns, rows)
    }

    /// One tenant's rows, through the test's own pool.
    pub async fn tenant_db(&self, tenant: dimos_kernel::TenantId) -> dimos_db::TenantDb {
        dimos_db::TenantDb::new(self.db().await, tenant)
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, opts: Options) -> TestApp {
        // `DIMOS_TEST_LOG=debug cargo test …` shows the server's log.
        if let Ok(filter) = std::env::var("DIMOS_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
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
        // Every test is also a search for code that holds a transaction
        // and asks the pool for a second connection (how a pool starves).
        config.database.strict_connections = true;
        // Stopping a test server need not wait for a balancer (the drain
        // itself is tested with a drain period of its own).
        config.http.drain_secs = 0;
        (opts.tweak)(&mut config);
        let clock: dimos_kernel::SharedClock = match opts.clock {
            Some(c) => c,
            None => std::sync::Arc::new(dimos_kernel::SystemClock),
        };
        let app = Application::build_with_clock(config, opts.modules, clock)
            .await
            .expect("application builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until(async move {
                let _ = rx.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        let client = reqwest::Client::builder()
            .default_headers(browser_headers())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            addr,
            metrics_addr,
            client,
            database_url,
            data_dir: dir.path().to_owned(),
            state,
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

    /// Stops the server like `stop`, but keeps its data folder (and so a
    /// SQLite database) for the next process to start on.
    pub async fn stop_keeping_data(mut self) -> Option<tempfile::TempDir> {
        let dir = self._dir.take();
        self.stop().await;
        dir
    }

    /// Asks the server to stop (as SIGTERM does) without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
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

/// A browser for black-box tests: follows redirects across hosts (tenant →
/// identity provider → tenant) and keeps cookies per host name, as a real
/// browser does with host-only cookies.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: std::collections::HashMap<String, std::collections::BTreeMap<String, String>>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: Default::default(),
        }
    }

    /// `url` is absolute (`http://alimos.localhost:PORT/path`) or `host` + `path`.
    fn split(&self, url: &str) -> (String, String) {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (hostport, path) = rest
            .split_once('/')
            .map_or((rest, "".to_owned()), |(h, p)| (h, format!("/{p}")));
        let host = hostport.split(':').next().unwrap_or(hostport).to_owned();
        (host, if path.is_empty() { "/".into() } else { path })
    }

    /// The `Cookie` header this browser sends to `host`, for requests made
    /// outside it (multipart uploads, concurrent posts).
    pub fn cookie_header(&self, host: &str) -> Option<String> {
        let jar = self.cookies.get(host)?;
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn remember(&mut self, host: &str, res: &reqwest::Response) {
        for h in res.headers().get_all("set-cookie") {
            let Ok(s) = h.to_str() else { continue };
            let first = s.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                let jar = self.cookies.entry(host.to_owned()).or_default();
                let expired = s.to_ascii_lowercase().contains("max-age=0");
                if expired {
                    jar.remove(k)
                } else {
                    jar.insert(k.to_owned(), v.to_owned())
                };
            }
        }
    }

    fn is_app(&self, url: &str) -> bool {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let hostport = rest.split('/').next().unwrap_or(rest);
        hostport.rsplit_once(':').map(|(_, p)| p) == Some(self.app.port().to_string().as_str())
    }

    pub async fn request(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> reqwest::Response {
        let (host, path) = self.split(url);
        // Another server (an external identity provider): talk to it directly.
        let mut req = if self.is_app(url) {
            self.app.req(method, &host, &path)
        } else {
            self.app.client.request(method, url)
        };
        if let Some(c) = self.cookie_header(&host) {
            req = req.header("cookie", c);
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let res = req.send().await.expect("request");
        self.remember(&host, &res);
        res
    }

    /// Follows redirects (GET) until a non-redirect; returns it with its URL.
    pub async fn follow(
        &mut self,
        mut res: reqwest::Response,
        mut url: String,
    ) -> (reqwest::Response, String) {
        for _ in 0..10 {
            if !res.status().is_redirection() {
                break;
            }
            let loc = res.headers()["location"].to_str().unwrap().to_owned();
            // Relative redirects resolve against the current URL, as browsers do.
            url = url::Url::parse(&url)
                .and_then(|base| base.join(&loc))
                .map(|u| u.to_string())
                .unwrap_or(loc);
            if std::env::var("DIMOS_TEST_TRACE").is_ok() {
                eprintln!("follow → {url}");
            }
            res = self.request(reqwest::Method::GET, &url, None).await;
        }
        (res, url)
    }

    pub async fn get(&mut self, url: &str) -> (reqwest::Response, String) {
        let res = self.request(reqwest::Method::GET, url, None).await;
        self.follow(res, url.to_owned()).await
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.app.port())
    }

    /// Signs in on `host` as a demo person of the development provider;
    /// returns the page reached afterwards (`next`).
    pub async fn sign_in(
        &mut self,
        host: &str,
        person: &str,
        next: &str,
    ) -> (reqwest::Response, String) {
        let start = self.url(host, &format!("/auth/login?next={next}"));
        let res = self.request(reqwest::Method::GET, &start, None).await;
        assert_eq!(res.status(), 303, "login redirects to the provider");
        let authorize = res.headers()["location"].to_str().unwrap().to_owned();
        let page = self.request(reqwest::Method::GET, &authorize, None).await;
        assert_eq!(page.status(), 200, "the provider shows its page");
        let query = authorize.split_once('?').map(|(_, q)| q).unwrap_or("");
        let mut form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        form.push(("person".into(), person.into()));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let post_url = authorize.split('?').next().unwrap().to_owned();
        let res = self
            .request(reqwest::Method::POST, &post_url, Some(&pairs))
            .await;
        assert_eq!(res.status(), 303, "the provider redirects back");
        self.follow(res, post_url).await
    }
}

/// Demo people and the roles test tenants give them (by tax id).
pub const STAFF: &[(&str, &str)] = &[
    ("kep-officer", "kep-officer"),
    ("technical-employee", "technical-employee"),
    ("council-secretary", "council-secretary"),
    ("mayor", "mayor"),
    ("nursery-manager", "nursery-manager"),
    ("municipal-admin", "municipal-admin"),
];

pub fn tax_id(person: &str) -> &'static str {
    dimos_identity::dev_provider::PEOPLE
        .iter()
        .find(|p| p.key == person)
        .map(|p| p.tax_id)
        .unwrap_or_else(|| panic!("no demo person {person}"))
}

/// A tenant whose demo staff hold the roles in [`STAFF`].
pub async fn tenant_with_staff(app: &TestApp, slug: &str, name: &str) {
    tenant_with_grants(app, slug, name, STAFF).await;
}

/// A tenant with the given (demo person, role) grants.
pub async fn tenant_with_grants(app: &TestApp, slug: &str, name: &str, grants: &[(&str, &str)]) {
    let mut body = tenant_body(slug, name);
    body["grants"] = json!(
        grants
            .iter()
            .map(|(p, r)| json!({"tax_id": tax_id(p), "role": r}))
            .collect::<Vec<_>>()
    );
    app.create_tenant(body).await;
}

/// The CSRF token of the first form on a page.
/// The form's idempotency key (`_submission`), as a browser sends it back;
/// a new one when the page has none (the form is on a later page).
pub fn submission_of(html: &str) -> String {
    html.split("name=\"_submission\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

pub fn csrf_of(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .expect("a form with a CSRF token")
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// An access token of the development provider for a demo person, as a
/// citizen's own app gets one (the code flow, at the provider the
/// municipality's sign-in sends people to), for calling the API.
pub async fn citizen_token(app: &TestApp, host: &str, person: &str) -> String {
    let res = app.get(host, "/auth/login").send().await.unwrap();
    assert_eq!(res.status(), 303, "login redirects to the provider");
    let authorize = res.headers()["location"].to_str().unwrap().to_owned();
    let base = authorize.split("/authorize").next().unwrap().to_owned();
    let redirect = format!("http://{host}:{}/auth/callback", app.port());
    let (h, path) = {
        let rest = base.strip_prefix("http://").unwrap();
        let (hp, p) = rest.split_once('/').unwrap();
        (hp.split(':').next().unwrap().to_owned(), format!("/{p}"))
    };
    let res = app
        .post(&h, &format!("{path}/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", dimos_identity::dev_provider::CLIENT_ID),
            ("redirect_uri", redirect.as_str()),
            ("state", "app"),
            ("person", person),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the provider issues a code");
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let res = app
        .post(&h, &format!("{path}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("client_id", dimos_identity::dev_provider::CLIENT_ID),
            ("client_secret", dimos_identity::dev_provider::CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A private CA and a certificate it signed for `localhost` and
/// 127.0.0.1, made with OpenSSL in `dir`: (ca, cert, key) paths.
pub fn private_ca(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use std::process::{Command, Stdio};
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Dimos test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

//! Assembles Dimos: configuration, database, migrations, tenants, modules
//! and the HTTP server. [`Application::build`] is shared by `main` and the
//! black-box tests.

pub mod cli;

use anyhow::Context;
use dimos_db::migrate;
use dimos_db::{Db, DbOptions};
use dimos_kernel::config::{Config, redact_url};
use dimos_tenancy::{Registry, TenantStore, ValidationContext};
use dimos_web::module::Modules;
use dimos_web::{AppState, ModuleDescriptor};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The modules this server is built with, listed explicitly. Real modules
/// (nurseries, parking permits, bulky waste, documents) join in their issues.
pub fn modules() -> Vec<ModuleDescriptor> {
    vec![]
}

/// A database connection and the platform's schema, up to date.
pub async fn connect_and_migrate(config: &Config, modules: &Modules) -> anyhow::Result<Db> {
    let url = config.database_url();
    let opts = DbOptions {
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
        sqlite_busy_timeout: Duration::from_millis(config.database.sqlite_busy_timeout_ms),
    };
    let db = Db::connect(url.expose(), &opts)
        .await
        .with_context(|| format!("connecting to {}", redact_url(url.expose())))?;
    let applied = migrate::migrate(&db, &modules.migration_sets()).await?;
    if !applied.is_empty() {
        tracing::info!(
            count = applied.len(),
            backend = db.backend().name(),
            "database migrated"
        );
    }
    Ok(db)
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    refresher: tokio::task::JoinHandle<()>,
    access_refresher: tokio::task::JoinHandle<()>,
    session_sweeper: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Connects, migrates, applies tenant files, loads the tenant registry and
    /// binds the listener (port 0 picks a free port: see [`Application::port`]).
    pub async fn build(
        config: Config,
        modules: Vec<ModuleDescriptor>,
    ) -> anyhow::Result<Application> {
        let modules = Arc::new(
            Modules::new(modules)
                .map_err(anyhow::Error::msg)?
                .with_providers(dimos_identity::IdentityService::provider_names(&config)),
        );
        let translator =
            Arc::new(dimos_web::ui::build_translator(&modules).map_err(anyhow::Error::msg)?);
        let templates = dimos_web::ui::build_templates(&modules, translator.clone())
            .map_err(anyhow::Error::msg)?;
        let db = connect_and_migrate(&config, &modules).await?;
        let store = TenantStore::new(db.clone());
        let catalog =
            Arc::new(dimos_web::access::build_catalog(&modules).map_err(anyhow::Error::msg)?);
        let access = Arc::new(dimos_identity::access::Access::load(db.clone(), catalog).await?);

        if let Some(dir) = config
            .tenancy
            .apply_on_start
            .as_ref()
            .filter(|d| !d.as_os_str().is_empty())
            && dir.exists()
        {
            let ctx = ValidationContext {
                catalog: modules.as_ref(),
                base_domain: &config.base_domain,
                file_dir: None,
            };
            let report =
                cli::apply_tenant_files(&store, &access, dir, &ctx, &translator, "tenant-files")
                    .await?;
            for line in report {
                tracing::info!("{line}");
            }
        }

        let registry = Arc::new(Registry::load(store, &config.base_domain).await?);
        let refresher =
            registry.spawn_refresher(Duration::from_millis(config.tenancy.refresh_interval_ms));
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        // Port 0 means "any free port": links must use the one we got.
        let mut config = config;
        config.listen = addr;
        let public_base = config.public_origin(&config.base_domain);
        let identity = Arc::new(
            dimos_identity::IdentityService::from_config(&config, &public_base)
                .map_err(anyhow::Error::msg)?,
        );
        if identity.dev().is_some() {
            tracing::warn!(
                "THE DEVELOPMENT IDENTITY PROVIDER IS ON ({public_base}/dev-idp): anyone can sign in as any demo \
                 person. It is for the demo only; set identity.dev_provider = \"off\" and configure a real provider."
            );
        }
        let access_refresher =
            access.spawn_refresher(Duration::from_millis(config.tenancy.refresh_interval_ms));
        // Expired sessions are never served; deleting them keeps the table
        // small. Every replica may run this: the DELETE is idempotent.
        let sweeper = {
            let store = dimos_identity::DbSessionStore::new(db.clone());
            dimos_db::background::spawn_every(
                Duration::from_secs(900),
                "expired session sweep",
                move || {
                    let store = store.clone();
                    async move {
                        use tower_sessions::session_store::ExpiredDeletion;
                        store.delete_expired().await
                    }
                },
            )
        };
        let state = AppState::new(dimos_web::AppParts {
            config,
            db,
            registry,
            modules,
            translator,
            templates,
            identity,
            access,
        });
        Ok(Application {
            listener,
            addr,
            state,
            refresher,
            access_refresher,
            session_sweeper: sweeper,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// (for at most `http.shutdown_grace_secs`).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config().http.shutdown_grace_secs);
        let router = dimos_web::build_router(self.state.clone());
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = tx.send(true);
        };
        let server = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let deadline = async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            r = server => r.context("HTTP server"),
            () = deadline => {
                tracing::warn!(?grace, "grace period over; closing remaining connections");
                Ok(())
            }
        };
        self.refresher.abort();
        self.access_refresher.abort();
        self.session_sweeper.abort();
        result
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Ctrl-C or SIGTERM (what orchestrators send before killing a replica).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub use cli::apply_tenant_files;

//! Assembles Dimos: configuration, database, migrations, tenants, modules
//! and the HTTP server. [`Application::build`] is shared by `main` and the
//! black-box tests.

pub mod backup;
pub mod cli;
pub mod telemetry;
pub mod transfer;

use anyhow::Context;
use dimos_db::background::Worker;
use dimos_db::migrate;
use dimos_db::{Db, DbOptions};
use dimos_kernel::config::{Config, redact_url};
use dimos_kernel::{SharedClock, SystemClock};
use dimos_tenancy::{Registry, TenantStore, ValidationContext};
use dimos_web::module::Modules;
use dimos_web::{AppState, ModuleDescriptor};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The modules this server is built with: its `dimos-module-*`
/// dependencies, in Cargo.toml's order (build.rs writes the list). Adding a
/// module is one line there; the tests mount the same list.
pub fn modules() -> Vec<ModuleDescriptor> {
    include!(concat!(env!("OUT_DIR"), "/modules.rs"))
}

/// A database connection and the platform's schema, up to date.
pub async fn connect_and_migrate(config: &Config, modules: &Modules) -> anyhow::Result<Db> {
    let url = config.database_url();
    let d = &config.database;
    let opts = DbOptions {
        max_connections: d.pool_size(),
        acquire_timeout: Duration::from_secs(d.acquire_timeout_secs),
        sqlite_busy_timeout: Duration::from_millis(d.sqlite_busy_timeout_ms),
        statement_timeout: Duration::from_secs(d.statement_timeout_secs),
        slow_statement: Duration::from_millis(d.slow_statement_ms),
        strict_connections: d.strict_connections,
        capture: d.capture_statements.clone(),
    };
    let db = Db::connect(url.expose(), &opts)
        .await
        .with_context(|| format!("connecting to {}", redact_url(url.expose())))?;
    let sets = modules.migration_sets();
    let applied = migrate::migrate(&db, &sets).await?;
    if !applied.is_empty() {
        tracing::info!(
            count = applied.len(),
            backend = db.backend().name(),
            "database migrated"
        );
    }
    // Every tenant-owned table declared, each keyed by tenant first: what
    // tenant export, data export, retention and Citus rely on.
    let problems = migrate::check_tenant_tables(&db, &sets).await?;
    if !problems.is_empty() {
        anyhow::bail!("tenant-owned tables:\n  {}", problems.join("\n  "));
    }
    Ok(db)
}

/// The documents a definition's outcomes issue that no module declares.
fn unknown_documents(modules: &Modules, d: &dimos_workflow::Definition) -> Vec<String> {
    d.steps
        .iter()
        .filter_map(|s| match s {
            dimos_workflow::definition::Step::Task(t) => Some(t),
            _ => None,
        })
        .flat_map(|t| t.outcomes.iter().filter_map(|o| o.issues.clone()))
        .filter(|doc| {
            !modules
                .iter()
                .any(|m| m.documents.iter().any(|x| x.id == doc))
        })
        .collect()
}

/// The workflow engine over every module's process definitions; a
/// definition error stops start-up with the path of each problem.
pub fn build_engine(
    clock: SharedClock,
    modules: &Modules,
    catalog: &dimos_identity::access::AccessCatalog,
) -> anyhow::Result<dimos_workflow::Engine> {
    let mut defs = vec![];
    let mut problems = vec![];
    let mut hooks = std::collections::BTreeMap::new();
    for m in modules.iter() {
        for w in m.workflows {
            match dimos_workflow::Definition::parse_toml(w.source) {
                Ok(d) => {
                    problems.extend(unknown_documents(modules, &d).into_iter().map(|doc| {
                        format!(
                            "{}/{}: an outcome issues {doc:?}, which no module declares",
                            m.id, w.id
                        )
                    }));
                    defs.push((m.id.to_owned(), d));
                }
                Err(es) => {
                    problems.extend(es.into_iter().map(|e| format!("{}/{}: {e}", m.id, w.id)));
                }
            }
        }
        for (name, f) in m.hooks {
            hooks.insert((*name).to_owned(), *f);
        }
    }
    let roles = catalog.roles.keys().cloned().collect();
    match dimos_workflow::Engine::new(clock, defs, roles, hooks) {
        Ok(mut e) if problems.is_empty() => {
            for m in modules.iter() {
                for sink in (m.sinks)() {
                    e.add_sink(sink);
                }
            }
            Ok(e)
        }
        Ok(_) => anyhow::bail!("invalid process definitions:\n{}", problems.join("\n")),
        Err(es) => {
            problems.extend(es.iter().map(ToString::to_string));
            anyhow::bail!("invalid process definitions:\n{}", problems.join("\n"))
        }
    }
}

/// Email and SMS as configured: files by default, SMTP and an HTTP gateway
/// in production.
pub fn build_outbox(
    config: &Config,
    db: &Db,
    clock: SharedClock,
) -> anyhow::Result<dimos_notify::Outbox> {
    let mailer = match config.mail.transport.as_str() {
        "smtp" => {
            let ca = if config.mail.smtp_ca_file.as_os_str().is_empty() {
                None
            } else {
                Some(std::fs::read(&config.mail.smtp_ca_file).with_context(|| {
                    format!(
                        "reading mail.smtp_ca_file {}",
                        config.mail.smtp_ca_file.display()
                    )
                })?)
            };
            dimos_notify::Mailer::smtp(
                config
                    .mail
                    .smtp_url
                    .as_ref()
                    .map(dimos_kernel::config::Secret::expose)
                    .unwrap_or_default(),
                ca.as_deref(),
            )
            .map_err(anyhow::Error::msg)?
        }
        _ => dimos_notify::Mailer::file(config.outbox_dir()),
    };
    let sms: Arc<dyn dimos_notify::SmsSender> = match config.sms.transport.as_str() {
        "http" => {
            let g = dimos_notify::sms::HttpSms {
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()?,
                url: config.sms.http_url.clone(),
                method: config.sms.http_method.parse()?,
                auth_header: config
                    .sms
                    .http_auth_header
                    .as_ref()
                    .map(|s| s.expose().to_owned()),
                content_type: config.sms.http_content_type.clone(),
                body: config.sms.http_body.clone(),
            };
            // A body template that cannot render is a configuration error.
            g.render("+306900000000", "Dimos", "test")
                .map_err(anyhow::Error::msg)?;
            Arc::new(g)
        }
        _ => Arc::new(dimos_notify::sms::FileSms {
            dir: config.outbox_dir(),
        }),
    };
    Ok(dimos_notify::Outbox::new(
        db.clone(),
        clock,
        mailer,
        sms,
        dimos_notify::outbox::Defaults {
            from_name: config.mail.from_name.clone(),
            from_address: config.mail.from_address.clone(),
            sms_sender: config.sms.sender.clone(),
            max_attempts: i32::try_from(config.notifications.max_attempts).unwrap_or(8),
            retention_days: i64::from(config.notifications.retention_days),
        },
    ))
}

/// The object store uploads go to: a local folder, or S3.
pub async fn build_object_store(
    config: &Config,
) -> anyhow::Result<Arc<dyn dimos_storage::ObjectStore>> {
    Ok(match config.storage.backend.as_str() {
        "s3" => {
            let s = &config.storage;
            let store = dimos_storage::s3::S3Store::new(&dimos_storage::s3::S3Settings {
                bucket: s.s3_bucket.clone(),
                region: s.s3_region.clone(),
                endpoint: Some(s.s3_endpoint.clone()).filter(|e| !e.is_empty()),
                path_style: s.s3_path_style,
                sse: s.s3_sse.clone(),
                access_key_id: s.s3_access_key_id.as_ref().map(|k| k.expose().to_owned()),
                secret_access_key: s
                    .s3_secret_access_key
                    .as_ref()
                    .map(|k| k.expose().to_owned()),
            })
            .await
            .map_err(anyhow::Error::msg)?;
            Arc::new(store)
        }
        _ => Arc::new(dimos_storage::LocalStore::new(config.storage_dir())),
    })
}

/// The deployment key sealing the signing keys: from the configuration
/// (environment) when set, else from its file, which is created on first
/// start (the demo) with owner-only permissions.
pub fn signing_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    use base64::Engine as _;
    let decode = |text: &str, from: &str| -> anyhow::Result<[u8; 32]> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{from}: the signing key must be 32 bytes in base64 (openssl rand -base64 32)"
                )
            })
    };
    if let Some(k) = &config.signing.key {
        return decode(k.expose(), "signing.key");
    }
    let path = config.signing_key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => decode(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    writeln!(
                        f,
                        "{}",
                        base64::engine::general_purpose::STANDARD.encode(key)
                    )?;
                    tracing::warn!(
                        path = %path.display(),
                        "created a signing key file; back it up, and give replicas the same key (signing.key)"
                    );
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => decode(
                    &std::fs::read_to_string(&path)?,
                    &path.display().to_string(),
                ),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    /// `/metrics` on an address of its own (`http.metrics_listen`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
    /// Jobs, message delivery, sweeps and refreshers: stopped on shutdown
    /// after the run in progress.
    workers: Vec<Worker>,
}

impl Application {
    /// Connects, migrates, applies tenant files, loads the tenant registry and
    /// binds the listener (port 0 picks a free port: see [`Application::port`]).
    pub async fn build(
        config: Config,
        modules: Vec<ModuleDescriptor>,
    ) -> anyhow::Result<Application> {
        Self::build_with_clock(config, modules, Arc::new(SystemClock)).await
    }

    /// As `build`, with the clock timers and deadlines follow (tests move it).
    pub async fn build_with_clock(
        config: Config,
        modules: Vec<ModuleDescriptor>,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        let modules = Arc::new(
            Modules::new(modules)
                .map_err(anyhow::Error::msg)?
                .with_providers(dimos_identity::IdentityService::provider_names(&config)),
        );
        let translator =
            Arc::new(dimos_web::ui::build_translator(&modules).map_err(anyhow::Error::msg)?);
        let templates =
            dimos_web::ui::build_templates(&modules, translator.clone(), dimos_pages::TEMPLATES)
                .map_err(anyhow::Error::msg)?;
        let db = connect_and_migrate(&config, &modules).await?;
        let store = TenantStore::new(db.clone());
        let catalog =
            Arc::new(dimos_web::access::build_catalog(&modules).map_err(anyhow::Error::msg)?);
        let access =
            Arc::new(dimos_identity::access::Access::load(db.clone(), catalog.clone()).await?);

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
        let metrics_listener = match config.http.metrics_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .with_context(|| format!("binding http.metrics_listen {a}"))?,
            ),
            None => None,
        };
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
        let payments: Option<Arc<dyn dimos_payments::Provider>> = if config.dev_payments_enabled() {
            if config.base_domain != "localhost"
                && !config.identity.allow_dev_provider_on_public_domain
            {
                anyhow::bail!(
                    "the development bank takes no money; it is refused on {:?} (set payments.provider = \"off\")",
                    config.base_domain
                );
            }
            tracing::warn!(
                "THE DEVELOPMENT BANK IS ON ({public_base}/dev-pay): fees are \"paid\" without money. Demo only."
            );
            Some(Arc::new(
                dimos_payments::dev::DevBank::new(&format!("{public_base}/dev-pay"))
                    .map_err(anyhow::Error::msg)?,
            ))
        } else {
            None
        };
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
        let clock_for_sweep = clock.clone();
        let mut engine = build_engine(clock.clone(), &modules, &catalog)?;
        let mail_templates = Arc::new(dimos_notify::Templates::builtin().map_err(|es| {
            anyhow::anyhow!(
                "invalid message templates:\n{}",
                es.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?);
        let directory: Arc<dyn dimos_notify::Directory> =
            Arc::new(dimos_pages::notify::WebDirectory {
                registry: registry.clone(),
                config: config.clone(),
                services: engine
                    .processes()
                    .map(|(id, _, d)| (id.to_owned(), d.name.clone()))
                    .collect(),
            });
        engine.add_sink(Arc::new(dimos_notify::NotificationSink {
            templates: mail_templates.clone(),
            directory: directory.clone(),
        }));
        engine.add_sink(Arc::new(dimos_notify::WebhookSink { directory }));
        engine.add_sink(Arc::new(dimos_pages::payments::PaymentsSink));
        let workflow = Arc::new(engine);
        let outbox = Arc::new(build_outbox(&config, &db, clock.clone())?);
        let outbox_task = {
            let outbox = outbox.clone();
            dimos_db::background::spawn_every(
                Duration::from_millis(config.jobs.poll_interval_ms),
                "notification delivery",
                move || {
                    let outbox = outbox.clone();
                    async move { outbox.deliver_due(50).await.map(drop) }
                },
            )
        };
        let webhooks = Arc::new(
            dimos_notify::Webhooks::new(db.clone(), clock.clone(), &config.webhooks)
                .map_err(anyhow::Error::msg)?,
        );
        let webhooks_task = {
            let webhooks = webhooks.clone();
            dimos_db::background::spawn_every(
                Duration::from_millis(config.jobs.poll_interval_ms),
                "webhook delivery",
                move || {
                    let webhooks = webhooks.clone();
                    async move { webhooks.deliver_due(50).await.map(drop) }
                },
            )
        };
        let webhook_log_task = {
            let webhooks = webhooks.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(3600),
                "webhook log retention",
                move || {
                    let webhooks = webhooks.clone();
                    async move { webhooks.purge().await.map(drop) }
                },
            )
        };
        let purge_task = {
            let outbox = outbox.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(3600),
                "notification retention",
                move || {
                    let outbox = outbox.clone();
                    async move { outbox.purge().await.map(drop) }
                },
            )
        };
        let mut scheduler = dimos_workflow::Scheduler::new(db.clone(), clock.clone());
        scheduler.register(dimos_workflow::engine::TIMER_JOB, workflow.timer_handler());
        for m in modules.iter() {
            for (kind, handler) in (m.jobs)(&workflow) {
                scheduler.register(kind, handler);
            }
        }
        let scheduler = Arc::new(scheduler);
        let scheduler_task = scheduler
            .clone()
            .spawn(Duration::from_millis(config.jobs.poll_interval_ms));
        let objects = build_object_store(&config).await?;
        let sweep_task = {
            let (objects, registry, db) = (objects.clone(), registry.clone(), db.clone());
            let clock = clock_for_sweep.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(3600),
                "orphaned object sweep",
                move || {
                    let (objects, registry, db, clock) =
                        (objects.clone(), registry.clone(), db.clone(), clock.clone());
                    async move {
                        for t in registry.tenants() {
                            // Every tenant in turn, from the registry.
                            #[allow(clippy::disallowed_methods)]
                            let tdb = dimos_db::TenantDb::new(db.clone(), t.id);
                            let n =
                                dimos_storage::sweep_orphans(objects.as_ref(), &tdb, clock.now())
                                    .await?;
                            if n > 0 {
                                tracing::info!(tenant = %t.slug(), removed = n, "orphaned objects removed");
                            }
                        }
                        Ok::<(), dimos_storage::StorageError>(())
                    }
                },
            )
        };
        let signing = Arc::new(dimos_signing::service::Signing::new(
            signing_key(&config)?,
            config.signing.certificate_days,
            clock.clone(),
            Arc::new(dimos_signing::service::LocalCa),
        ));
        let state = AppState::new(dimos_web::AppParts {
            config,
            db,
            registry,
            modules,
            translator,
            templates,
            identity,
            access,
            workflow,
            scheduler,
            objects,
            outbox,
            webhooks,
            mail_templates,
            signing,
            payments,
        });
        let digest_task = {
            let state = state.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(600),
                "staff digests",
                move || {
                    let state = state.clone();
                    async move { dimos_pages::notify::send_digests(&state).await.map(drop) }
                },
            )
        };
        // Audit chain heads, published where the database cannot reach
        // (see dimos_pages::audit_heads); idempotent on every replica.
        let heads_task = {
            let state = state.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(3600),
                "audit head publication",
                move || {
                    let state = state.clone();
                    async move { dimos_pages::audit_heads::publish(&state).await.map(drop) }
                },
            )
        };
        // Case files whose service's retention has run out are cleared
        // (dimos_pages::retention); each case claimed by one replica.
        let retention_task = {
            let state = state.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(3600),
                "case retention",
                move || {
                    let state = state.clone();
                    async move { dimos_pages::retention::run(&state).await.map(drop) }
                },
            )
        };
        // Checkouts nobody told us about are asked about (a lost notice, a
        // person who never came back); settling is conditional, so every
        // replica may run it.
        let payments_task = {
            let state = state.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(60),
                "payment reconciliation",
                move || {
                    let state = state.clone();
                    async move { dimos_pages::payments::reconcile(&state).await.map(drop) }
                },
            )
        };
        // Rate-limit state of clients not seen for a while is dropped, so
        // the maps stay as large as the recent traffic.
        let limits_pruner = {
            let state = state.clone();
            dimos_db::background::spawn_every(
                Duration::from_secs(60),
                "rate-limit pruning",
                move || {
                    state.limits().prune();
                    std::future::ready(Ok::<(), std::convert::Infallible>(()))
                },
            )
        };
        // The modules' periodic work (each safe on every replica at once).
        let module_sweeps: Vec<Worker> = state
            .modules()
            .iter()
            .flat_map(|m| m.sweeps.iter().map(move |s| (m.id, *s)))
            .map(|(module, sweep)| {
                let state = state.clone();
                dimos_db::background::spawn_every(sweep.every, sweep.what, move || {
                    let state = state.clone();
                    async move {
                        let n = sweep.run_all(&state, module).await;
                        if n > 0 {
                            tracing::info!(job = sweep.what, done = n, "module sweep");
                        }
                        Ok::<(), std::convert::Infallible>(())
                    }
                })
            })
            .collect();
        let mut workers = vec![
            scheduler_task,
            outbox_task,
            webhooks_task,
            digest_task,
            heads_task,
            retention_task,
            payments_task,
        ];
        workers.extend(module_sweeps);
        workers.extend([
            sweep_task,
            purge_task,
            webhook_log_task,
            sweeper,
            limits_pruner,
            refresher,
            access_refresher,
        ]);
        Ok(Application {
            listener,
            addr,
            metrics_listener,
            state,
            // Writers first, so that they are asked to stop first.
            workers,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served on its own, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains: `/readyz` answers
    /// 503 for `http.drain_secs` while requests are still served (balancers
    /// stop sending new ones), then the listener closes, in-flight requests
    /// and background runs (jobs, messages) finish, for at most
    /// `http.shutdown_grace_secs`.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let drain = Duration::from_secs(self.state.config().http.drain_secs);
        self.run_draining(async move {
            shutdown.await;
            drain
        })
        .await
    }

    /// Serves until SIGTERM (drains as `run_until` does) or Ctrl-C (someone
    /// at a terminal: no wait for balancers, the rest as for SIGTERM).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let drain = Duration::from_secs(self.state.config().http.drain_secs);
        self.run_draining(async move {
            match shutdown_signal().await {
                StopSignal::Terminate => drain,
                StopSignal::Interrupt => Duration::ZERO,
            }
        })
        .await
    }

    /// `shutdown` completes with how long to keep serving while not ready.
    async fn run_draining(
        self,
        shutdown: impl Future<Output = Duration> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config().http.shutdown_grace_secs);
        let router = dimos_pages::build_router(self.state.clone());
        let metrics_server = self.metrics_listener.map(|l| {
            let app = dimos_pages::router::metrics_router(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(l, app).await {
                    tracing::error!(error = %e, "metrics listener stopped");
                }
            })
        });
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let mut listener_closed = rx.clone();
        let state = self.state.clone();
        let signal = async move {
            let drain = shutdown.await;
            state.set_draining();
            tracing::info!(?drain, "shutting down: not ready, still serving");
            tokio::time::sleep(drain).await;
            tracing::info!("shutting down: finishing in-flight requests and background work");
            let _ = tx.send(true);
        };
        let http = &self.state.config().http;
        let server = serve(
            self.listener,
            router,
            self.state.clone(),
            Duration::from_secs(http.header_read_timeout_secs),
            http.max_connections,
            signal,
        );
        let deadline = async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        };
        let workers = self.workers;
        let (result, cut) = tokio::join!(
            async move {
                tokio::select! {
                    r = server => r.context("HTTP server"),
                    () = deadline => {
                        tracing::warn!(?grace, "grace period over; closing remaining connections");
                        Ok(())
                    }
                }
            },
            async {
                // Background work stops with the listener, not before: a
                // request still being answered may rely on it.
                let _ = listener_closed.wait_for(|closed| *closed).await;
                dimos_db::background::stop_all(workers, grace).await
            }
        );
        if let Some(m) = metrics_server {
            m.abort();
        }
        tracing::info!(cut_short = cut, "stopped");
        result
    }
}

/// The accept loop. Unlike `axum::serve`, it bounds how long a client may
/// take to send a request's headers (slow and idle connections cannot hold
/// the server: "slowloris") and how many connections are served at once;
/// then, on `shutdown`, it stops accepting and waits for the connections
/// in flight.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(header_timeout))
        .keep_alive_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let state = state.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let http1 = req.version() <= hyper::Version::HTTP_11;
                let state = state.clone();
                let answer = router.clone().oneshot(req.map(axum::body::Body::new));
                async move {
                    let mut res = answer.await?;
                    // While draining, a kept-alive connection is closed after
                    // its answer, so a balancer's next request goes to a
                    // replica that stays (HTTP/2 is told by GOAWAY instead).
                    if http1 && state.is_draining() {
                        res.headers_mut().insert(
                            axum::http::header::CONNECTION,
                            axum::http::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, std::convert::Infallible>(res)
                }
            });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // hyper's header timeout starts once the protocol is known, that
            // is after the first bytes: a client that connects and says
            // nothing is bounded here.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => {
                    drop(permit);
                    return;
                }
            }
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            // Errors here are a client going away or timing out.
            let _ = watcher.watch(conn).await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// How the process was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM: what orchestrators and systemd send before killing a replica.
    Terminate,
    /// Ctrl-C at a terminal.
    Interrupt,
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() -> StopSignal {
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
        () = ctrl_c => StopSignal::Interrupt,
        () = term => StopSignal::Terminate,
    }
}

pub use cli::apply_tenant_files;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_key_comes_from_config_or_a_private_file_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let first = signing_key(&config).unwrap();
        let path = dir.path().join("signing.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the owner reads the key");
        }
        assert_eq!(
            signing_key(&config).unwrap(),
            first,
            "the same key next time"
        );
        config.signing.key = Some(dimos_kernel::config::Secret::new(
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ));
        let given = signing_key(&config).unwrap();
        assert_eq!(given[31], 31);
        config.signing.key = Some(dimos_kernel::config::Secret::new("too short"));
        let e = signing_key(&config).unwrap_err().to_string();
        assert!(e.contains("32 bytes"), "{e}");
    }
}

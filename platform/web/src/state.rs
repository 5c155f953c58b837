use crate::metrics::Metrics;
use crate::module::Modules;
use dimos_db::{Db, TenantDb};
use dimos_kernel::config::Config;
use dimos_kernel::{TenantId, Translator};
use dimos_tenancy::Registry;
use std::sync::Arc;

/// What the application is assembled from (see `dimos_server::Application::build`).
pub struct AppParts {
    pub config: Config,
    pub db: Db,
    pub registry: Arc<Registry>,
    pub modules: Arc<Modules>,
    pub translator: Arc<Translator>,
    pub templates: minijinja::Environment<'static>,
    pub identity: Arc<dimos_identity::IdentityService>,
    pub access: Arc<dimos_identity::access::Access>,
    pub workflow: Arc<dimos_workflow::Engine>,
    pub scheduler: Arc<dimos_workflow::Scheduler>,
    pub objects: Arc<dyn dimos_storage::ObjectStore>,
    pub outbox: Arc<dimos_notify::Outbox>,
    pub webhooks: Arc<dimos_notify::Webhooks>,
    pub mail_templates: Arc<dimos_notify::Templates>,
    pub signing: Arc<dimos_signing::service::Signing>,
    /// Who takes fees online; none: fees are paid at the desk.
    pub payments: Option<Arc<dyn dimos_payments::Provider>>,
}

/// Everything a handler may need, shared by every request. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    db: Db,
    registry: Arc<Registry>,
    modules: Arc<Modules>,
    translator: Arc<Translator>,
    templates: minijinja::Environment<'static>,
    metrics: Metrics,
    identity: Arc<dimos_identity::IdentityService>,
    csp: axum::http::HeaderValue,
    form_targets: Vec<String>,
    access: Arc<dimos_identity::access::Access>,
    limits: crate::limits::Limits,
    trusted_proxies: Vec<dimos_kernel::config::IpNet>,
    workflow: Arc<dimos_workflow::Engine>,
    scheduler: Arc<dimos_workflow::Scheduler>,
    objects: Arc<dyn dimos_storage::ObjectStore>,
    outbox: Arc<dimos_notify::Outbox>,
    webhooks: Arc<dimos_notify::Webhooks>,
    mail_templates: Arc<dimos_notify::Templates>,
    signing: Arc<dimos_signing::service::Signing>,
    payments: Option<Arc<dyn dimos_payments::Provider>>,
    /// Who the page header shows; installed by the router from the
    /// features that know (the shell only asks).
    header: std::sync::OnceLock<crate::ui::HeaderFn>,
    /// Set on shutdown: readiness answers no while requests still run.
    draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Installs the function that finds who the page header shows (done
    /// once, by `build_router`).
    pub fn set_header(&self, f: crate::ui::HeaderFn) {
        let _ = self.inner.header.set(f);
    }

    pub(crate) fn header(&self) -> Option<crate::ui::HeaderFn> {
        self.inner.header.get().copied()
    }

    pub fn new(p: AppParts) -> Self {
        let mut targets = p.identity.provider_origins();
        // The pay form is answered with a redirect to the checkout.
        targets.extend(p.payments.iter().map(|p| p.checkout_origin()));
        targets.sort();
        targets.dedup();
        let csp = content_security_policy(&targets);
        let form_targets = targets;
        let limits = crate::limits::Limits::new(
            p.config.identity.sign_in_attempts_per_minute,
            p.config.identity.verifications_per_hour,
            p.config.http.api_requests_per_minute,
        );
        let trusted_proxies = p.config.trusted_proxies();
        AppState {
            inner: Arc::new(Inner {
                trusted_proxies,
                config: p.config,
                db: p.db,
                registry: p.registry,
                modules: p.modules,
                translator: p.translator,
                templates: p.templates,
                metrics: Metrics::new(),
                identity: p.identity,
                csp,
                form_targets,
                access: p.access,
                limits,
                workflow: p.workflow,
                scheduler: p.scheduler,
                objects: p.objects,
                outbox: p.outbox,
                webhooks: p.webhooks,
                mail_templates: p.mail_templates,
                signing: p.signing,
                payments: p.payments,
                header: std::sync::OnceLock::new(),
                draining: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// This replica is shutting down: `/readyz` answers 503 so that
    /// balancers send no new requests, while the ones sent are served.
    pub fn set_draining(&self) {
        self.inner
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.inner
            .draining
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The payment provider, if fees are taken online.
    pub fn payments(&self) -> Option<&Arc<dyn dimos_payments::Provider>> {
        self.inner.payments.as_ref()
    }

    pub fn workflow(&self) -> &Arc<dimos_workflow::Engine> {
        &self.inner.workflow
    }

    /// Timers and background jobs (tests drive it with a manual clock).
    pub fn scheduler(&self) -> &Arc<dimos_workflow::Scheduler> {
        &self.inner.scheduler
    }

    /// The webhook delivery worker (tests deliver with it directly).
    pub fn webhooks(&self) -> &Arc<dimos_notify::Webhooks> {
        &self.inner.webhooks
    }

    /// The notification outbox (tests deliver with it directly).
    pub fn outbox(&self) -> &Arc<dimos_notify::Outbox> {
        &self.inner.outbox
    }

    /// The shipped message templates.
    pub fn templates_for_mail(&self) -> &dimos_notify::Templates {
        &self.inner.mail_templates
    }

    /// Signing CAs, certificates and signatures.
    pub fn signing(&self) -> &dimos_signing::service::Signing {
        &self.inner.signing
    }

    /// Where uploaded documents are kept.
    pub fn objects(&self) -> &Arc<dyn dimos_storage::ObjectStore> {
        &self.inner.objects
    }

    pub fn limits(&self) -> &crate::limits::Limits {
        &self.inner.limits
    }

    /// The reverse proxies whose forwarding headers are believed.
    pub fn trusted_proxies(&self) -> &[dimos_kernel::config::IpNet] {
        &self.inner.trusted_proxies
    }

    pub fn access(&self) -> &dimos_identity::access::Access {
        &self.inner.access
    }

    /// The usual policy, with images also from `img_sources` (origins):
    /// for a page that shows a map from a configured tile server.
    pub fn csp_with_images(&self, img_sources: &[String]) -> axum::http::HeaderValue {
        content_security_policy_with(&self.inner.form_targets, img_sources)
    }

    /// The pages' Content-Security-Policy.
    pub fn csp(&self) -> &axum::http::HeaderValue {
        &self.inner.csp
    }

    pub fn identity(&self) -> &dimos_identity::IdentityService {
        &self.inner.identity
    }

    /// A session store over this deployment's database.
    pub fn session_store(&self) -> dimos_identity::DbSessionStore {
        dimos_identity::DbSessionStore::new(self.inner.db.clone())
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    pub fn modules(&self) -> &Modules {
        &self.inner.modules
    }

    pub fn translator(&self) -> &Translator {
        &self.inner.translator
    }

    pub fn templates(&self) -> &minijinja::Environment<'static> {
        &self.inner.templates
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A tenant's handle, for the platform's own pages and jobs (work
    /// over every tenant). Disallowed elsewhere by `clippy.toml`: module
    /// code gets its handle from `CurrentTenant`, so it cannot name another
    /// municipality's data.
    pub fn tenant_db(&self, tenant: TenantId) -> TenantDb {
        self.scoped(tenant)
    }

    /// The same, for this crate's extractors.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn scoped(&self, tenant: TenantId) -> TenantDb {
        TenantDb::new(self.inner.db.clone(), tenant)
    }

    /// Platform-level database access, for the platform's own pages only
    /// (health, the operator's console); disallowed elsewhere by `clippy.toml`.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }
}

/// No inline script or style anywhere; forms post to this origin, or end in a
/// redirect to an identity provider (sign-out), whose origins are listed.
pub fn content_security_policy(form_targets: &[String]) -> axum::http::HeaderValue {
    content_security_policy_with(form_targets, &[])
}

/// The policy with images from `img_sources` too (a map's tile server).
pub fn content_security_policy_with(
    form_targets: &[String],
    img_sources: &[String],
) -> axum::http::HeaderValue {
    let extra: String = form_targets.iter().map(|o| format!(" {o}")).collect();
    let images: String = img_sources.iter().map(|o| format!(" {o}")).collect();
    let csp = format!(
        "default-src 'self'; img-src 'self' data:{images}; style-src 'self'; script-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'{extra}; frame-ancestors 'none'"
    );
    axum::http::HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        axum::http::HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
    })
}

use crate::module::Modules;
use crate::ui::Metrics;
use dimos_db::{Db, TenantDb};
use dimos_kernel::config::Config;
use dimos_kernel::{TenantId, Translator};
use dimos_tenancy::Registry;
use std::sync::Arc;

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
}

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        registry: Arc<Registry>,
        modules: Arc<Modules>,
        translator: Arc<Translator>,
        templates: minijinja::Environment<'static>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                config,
                db,
                registry,
                modules,
                translator,
                templates,
                metrics: Metrics::new(),
            }),
        }
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

    /// Tenant data access: the only database handle modules get.
    pub fn tenant_db(&self, tenant: TenantId) -> TenantDb {
        TenantDb::new(self.inner.db.clone(), tenant)
    }

    /// Platform-level database access, for the platform crates only.
    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }
}

//! The per-replica map from host names to tenants. Each replica keeps a
//! snapshot and reloads it when the registry version in the database moves,
//! so a change made on any replica is served by all of them within one
//! refresh interval, with no restart.

use crate::model::Tenant;
use crate::store::TenantStore;
use arc_swap::ArcSwap;
use dimos_db::DbError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What a request's host name points at.
#[derive(Debug, Clone)]
pub enum HostMatch {
    /// `admin.<base domain>`: the national operator console.
    Operator,
    /// The base domain itself: the directory of municipalities.
    Portal,
    Tenant(Arc<Tenant>),
    Unknown,
}

#[derive(Default)]
struct Snapshot {
    version: i64,
    by_slug: HashMap<String, Arc<Tenant>>,
    by_domain: HashMap<String, Arc<Tenant>>,
    all: Vec<Arc<Tenant>>,
}

pub struct Registry {
    base_domain: String,
    snapshot: ArcSwap<Snapshot>,
    store: TenantStore,
    /// Serialises reloads so two concurrent ones cannot install an older snapshot last.
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("version", &self.version())
            .finish()
    }
}

/// Lowercases and strips the port and a trailing dot: `Alimos.localhost:8080` → `alimos.localhost`.
pub fn normalize_host(host: &str) -> String {
    let h = host.trim();
    let h = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        h.rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(h, |(h, _)| h)
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

impl Registry {
    pub async fn load(store: TenantStore, base_domain: &str) -> Result<Registry, DbError> {
        let r = Registry {
            base_domain: base_domain.to_ascii_lowercase(),
            snapshot: ArcSwap::from_pointee(Snapshot {
                version: -1,
                ..Default::default()
            }),
            store,
            reload_lock: tokio::sync::Mutex::new(()),
        };
        r.reload().await?;
        Ok(r)
    }

    pub fn base_domain(&self) -> &str {
        &self.base_domain
    }

    pub fn version(&self) -> i64 {
        self.snapshot.load().version
    }

    pub fn store(&self) -> &TenantStore {
        &self.store
    }

    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        self.snapshot.load().all.clone()
    }

    pub fn by_slug(&self, slug: &str) -> Option<Arc<Tenant>> {
        self.snapshot.load().by_slug.get(slug).cloned()
    }

    pub fn resolve(&self, host: &str) -> HostMatch {
        let host = normalize_host(host);
        if host == self.base_domain {
            return HostMatch::Portal;
        }
        let snap = self.snapshot.load();
        if let Some(label) = host
            .strip_suffix(&self.base_domain)
            .and_then(|h| h.strip_suffix('.'))
        {
            if label == "admin" {
                return HostMatch::Operator;
            }
            return snap
                .by_slug
                .get(label)
                .cloned()
                .map_or(HostMatch::Unknown, HostMatch::Tenant);
        }
        snap.by_domain
            .get(&host)
            .cloned()
            .map_or(HostMatch::Unknown, HostMatch::Tenant)
    }

    /// Reloads every tenant now.
    pub async fn reload(&self) -> Result<(), DbError> {
        let _guard = self.reload_lock.lock().await;
        // Read the version first: a change landing in between makes the next
        // poll reload again rather than being missed.
        let version = self.store.version().await?;
        let tenants = self.store.list().await?;
        let mut snap = Snapshot {
            version,
            ..Default::default()
        };
        for t in tenants {
            let t = Arc::new(t);
            snap.by_slug.insert(t.slug().to_owned(), t.clone());
            for d in t.spec.primary_domain.iter().chain(t.spec.aliases.iter()) {
                snap.by_domain.insert(d.to_string(), t.clone());
            }
            snap.all.push(t);
        }
        tracing::debug!(version, tenants = snap.all.len(), "tenant registry loaded");
        self.snapshot.store(Arc::new(snap));
        Ok(())
    }

    /// Reloads if another replica (or this one) changed a tenant.
    pub async fn refresh(&self) -> Result<bool, DbError> {
        if self.store.version().await? == self.version() {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Polls for changes until the returned worker is stopped.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> dimos_db::background::Worker {
        let me = Arc::clone(self);
        dimos_db::background::spawn_every(every, "tenant registry refresh", move || {
            let me = Arc::clone(&me);
            async move {
                if me.refresh().await? {
                    tracing::info!(version = me.version(), "tenant changes picked up");
                }
                Ok::<_, DbError>(())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalize_host("Alimos.Localhost:8080"), "alimos.localhost");
        assert_eq!(normalize_host("alimos.gov.gr."), "alimos.gov.gr");
        assert_eq!(normalize_host("[::1]:8080"), "::1");
        assert_eq!(normalize_host("localhost"), "localhost");
    }
}

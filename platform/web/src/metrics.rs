//! Prometheus metrics of this process: requests, latency per route, the
//! database pool, tenants, the registry's version, stray sign-in
//! callbacks. No global registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub status: String,
    /// tenant, operator, portal or other: per-tenant labels would not scale to 332 tenants × routes.
    pub host: String,
}

/// Latency is kept per route template (`/cases/{id}`), a bounded set,
/// never per path or per tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    /// The matched route, or `unmatched`.
    pub route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Prometheus metrics of this process (no global registry).
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    pub requests: Family<HttpLabels, Counter>,
    pub duration: HistogramFamily,
    pub tenants: Gauge,
    pub registry_version: Gauge,
    /// The database pool: connections open, idle, the maximum, and the
    /// times a request holding a transaction asked for another.
    pub db_connections: Gauge,
    pub db_idle: Gauge,
    pub db_max: Gauge,
    pub db_second_connections: Gauge,
    /// Sign-in callbacks refused before any sign-in was found to blame
    /// (replays, forged or stray callbacks): counted, not audited, so
    /// nobody can fill a municipality's audit trail from outside.
    pub stray_callbacks: Family<ReasonLabel, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.002, 2.0, 14))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = prometheus_client::registry::Registry::with_prefix("dimos");
        let requests = Family::<HttpLabels, Counter>::default();
        let duration: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let tenants = Gauge::default();
        let registry_version = Gauge::default();
        let stray_callbacks = Family::<ReasonLabel, Counter>::default();
        let (db_connections, db_idle, db_max, db_second_connections) = (
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections open in this replica's pool",
            db_connections.clone(),
        );
        registry.register(
            "db_pool_idle",
            "Open database connections not in use",
            db_idle.clone(),
        );
        registry.register(
            "db_pool_max",
            "Largest size of this replica's pool",
            db_max.clone(),
        );
        registry.register(
            "db_second_connections",
            "Times a request holding a transaction asked the pool for another connection",
            db_second_connections.clone(),
        );
        registry.register(
            "sign_in_stray_callbacks",
            "Sign-in callbacks refused with no sign-in in progress",
            stray_callbacks.clone(),
        );
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, per route",
            duration.clone(),
        );
        registry.register(
            "tenants",
            "Tenants in this replica's registry",
            tenants.clone(),
        );
        registry.register(
            "tenant_registry_version",
            "Registry version this replica serves",
            registry_version.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            tenants,
            registry_version,
            db_connections,
            db_idle,
            db_max,
            db_second_connections,
            stray_callbacks,
        }
    }

    /// Copies the pool's state into the gauges (before encoding).
    pub fn set_pool(&self, s: dimos_db::PoolStats) {
        self.db_connections.set(i64::from(s.size));
        self.db_idle.set(i64::from(s.idle));
        self.db_max.set(i64::from(s.max));
        self.db_second_connections
            .set(i64::try_from(s.second_connections).unwrap_or(i64::MAX));
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

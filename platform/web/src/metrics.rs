//! Prometheus metrics of this process: requests, durations, tenants, the
//! registry's version, stray sign-in callbacks. No global registry.

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

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

/// Prometheus metrics of this process (no global registry).
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    pub requests: Family<HttpLabels, Counter>,
    pub duration: HistogramFamily,
    pub tenants: Gauge,
    pub registry_version: Gauge,
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
        registry.register(
            "sign_in_stray_callbacks",
            "Sign-in callbacks refused with no sign-in in progress",
            stray_callbacks.clone(),
        );
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests",
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
            stray_callbacks,
        }
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

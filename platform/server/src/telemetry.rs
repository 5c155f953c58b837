//! Logs always; OpenTelemetry traces over OTLP/HTTP when
//! `telemetry.otlp_endpoint` is set. The same `tracing` spans feed both:
//! a request's span (request id, method, path, tenant) and a job's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use dimos_kernel::config::{Config, LogFormat, TelemetryConfig, parse_headers};
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Kept by `main` until the server has stopped: its drop would lose the
/// spans still queued, so [`Telemetry::shutdown`] flushes them first.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends what is queued and stops the exporter. Call while the
    /// runtime is still alive (the exporter's requests run on it).
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("dimos: trace export did not finish: {e}");
        }
    }
}

/// Installs the global subscriber. Errors only for an exporter that
/// cannot be built from the configuration.
pub fn init(config: &Config, runtime: tokio::runtime::Handle) -> Result<Telemetry, String> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log_filter));
    let logs = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let (traces, provider) = match &config.telemetry.otlp_endpoint {
        Some(endpoint) => {
            let provider = provider(&config.telemetry, endpoint, runtime)?;
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("dimos"))
                .boxed();
            // A proxy's or caller's `traceparent` is continued.
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    // A second init (tests running the CLI in-process) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .with(filter)
        .try_init();
    Ok(Telemetry { provider })
}

fn provider(
    cfg: &TelemetryConfig,
    endpoint: &str,
    runtime: tokio::runtime::Handle,
) -> Result<SdkTracerProvider, String> {
    let mut headers = std::collections::HashMap::new();
    if let Some(h) = &cfg.otlp_headers {
        headers.extend(
            parse_headers(h.expose())
                .ok_or("telemetry.otlp_headers must read name=value,name=value")?,
        );
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("telemetry: cannot build the HTTP client: {e}"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_headers(headers)
        .with_timeout(Duration::from_secs(5))
        .with_http_client(OnRuntime {
            http: Arc::new(http),
            runtime,
        })
        .build()
        .map_err(|e| format!("telemetry.otlp_endpoint: {e}"))?;
    let resource = Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::TraceIdRatioBased(cfg.sample_ratio))
        .with_resource(resource)
        .build())
}

/// The exporter's batches are sent from the SDK's own thread, which has
/// no async runtime; each request is run on ours, with the server's
/// reqwest (the exporter's built-in clients would bring another).
#[derive(Debug)]
struct OnRuntime {
    http: Arc<reqwest::Client>,
    runtime: tokio::runtime::Handle,
}

#[async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let res = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut out = http::Response::builder().status(res.status());
            if let Some(h) = out.headers_mut() {
                *h = res.headers().clone();
            }
            let body = res.bytes().await?;
            Ok::<_, HttpError>(out.body(body)?)
        });
        sent.await?
    }
}

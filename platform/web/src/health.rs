//! Liveness, readiness and metrics for load balancers and monitoring.

use crate::state::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dimos_tenancy::HostMatch;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.db().ping().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ready",
            "database": state.db().backend().name(),
            "tenants": state.registry().tenants().len(),
            "registry_version": state.registry().version(),
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text format. Not served on municipalities' public host names:
/// scrapers address the replica directly (by IP) or use the admin host.
pub async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    if matches!(
        req.extensions().get::<HostMatch>(),
        Some(HostMatch::Tenant(_) | HostMatch::Portal)
    ) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let m = state.metrics();
    m.tenants.set(state.registry().tenants().len() as i64);
    m.registry_version.set(state.registry().version());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}

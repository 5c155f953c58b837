//! Liveness, readiness and metrics for load balancers and monitoring.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dimos_web::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database and the object store answer; otherwise 503
/// naming the dependency that is down (what an operator looks at first).
#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (db, objects) = tokio::join!(state.db().ping(), state.objects().ping());
    let mut down = vec![];
    if let Err(e) = &db {
        tracing::warn!(error = %e, "readiness: database down");
        down.push("database");
    }
    if let Err(e) = &objects {
        tracing::warn!(error = %e, "readiness: object store down");
        down.push("object-store");
    }
    if down.is_empty() {
        return Json(serde_json::json!({"status": "ready"})).into_response();
    }
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Json(serde_json::json!({"status": "unavailable", "down": down})),
    )
        .into_response();
    // The answer for balancers and monitors as it is, not an error page.
    res.extensions_mut().insert(dimos_web::error::Rendered);
    res
}

/// Prometheus text format on the public listener: only with the configured
/// bearer token (`http.metrics_token`); without one configured, it is not
/// there (404). The usual place is `http.metrics_listen`.
pub async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let Some(token) = state.config().http.metrics_token.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !dimos_identity::constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    metrics_open(State(state)).await
}

/// The metrics themselves (the separate listener serves them as they are).
#[allow(clippy::disallowed_methods)] // the pool's own state, no tenant's data
pub async fn metrics_open(State(state): State<AppState>) -> Response {
    let m = state.metrics();
    m.tenants
        .set(i64::try_from(state.registry().tenants().len()).unwrap_or(i64::MAX));
    m.registry_version.set(state.registry().version());
    m.set_pool(state.db().stats());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}

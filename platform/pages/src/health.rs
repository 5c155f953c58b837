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
/// naming the dependency that is down (what an operator looks at first),
/// or saying that this replica is shutting down.
#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        return unavailable(serde_json::json!({"status": "draining"}));
    }
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
    unavailable(serde_json::json!({"status": "unavailable", "down": down}))
}

fn unavailable(body: serde_json::Value) -> Response {
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Json(body),
    )
        .into_response();
    // The answer for balancers and monitors as it is, not an error page.
    res.extensions_mut().insert(dimos_web::error::Rendered);
    res
}

#[derive(serde::Deserialize)]
pub struct AskQuery {
    domain: Option<String>,
}

/// Whether a certificate may be obtained for `domain` (Caddy's on-demand
/// TLS `ask`, `docs/operator-guide.md`): 200 for a domain of a municipality
/// (its primary domain, an alias, its name under the base domain), the
/// operator console and the portal; 404 for anything else, so nobody can
/// make the proxy request certificates for names that are not ours.
/// A suspended municipality keeps its certificate: its visitors are shown
/// the notice over HTTPS rather than a certificate warning.
#[allow(clippy::disallowed_methods)] // the platform's own page: across tenants
pub async fn tls_ask(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<AskQuery>,
) -> Response {
    let Some(domain) = q.domain.filter(|d| !d.is_empty()) else {
        let mut res = (
            StatusCode::BAD_REQUEST,
            "the query parameter domain is missing\n",
        )
            .into_response();
        res.extensions_mut().insert(dimos_web::error::Rendered);
        return res;
    };
    // A host name, nothing else: no port, no path, no control characters.
    let plain = domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let found = plain
        && !matches!(
            state.registry().resolve(&domain),
            dimos_tenancy::HostMatch::Unknown
        );
    let mut res = if found {
        (StatusCode::OK, "ours\n").into_response()
    } else {
        (StatusCode::NOT_FOUND, "not a domain of this deployment\n").into_response()
    };
    // The answer for the proxy as it is, not an error page.
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

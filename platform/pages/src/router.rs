//! The application's routes. One router serves every host: the context
//! middleware resolves the host, and requests are dispatched to the tenant,
//! operator or portal routes accordingly.

use crate::{health, operator, pages};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dimos_kernel::Error;
use dimos_tenancy::HostMatch;
use dimos_web::error::AppError;
use dimos_web::state::AppState;
use dimos_web::{assets, middleware};
use std::time::Duration;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn tenant_routes(state: &AppState) -> Router<AppState> {
    let mut r = Router::new()
        .route("/", get(pages::home))
        .route("/lang/{code}", get(pages::switch_lang))
        .route("/branding.css", get(pages::branding_css))
        .route("/branding/logo", get(pages::logo))
        .merge(crate::sign_in::routes())
        .route("/staff", get(crate::cases::staff::hub))
        .merge(crate::cases::citizen::routes())
        .merge(crate::cases::signing::public_routes())
        .merge(crate::payments::routes())
        .merge(crate::staff::routes(state))
        .merge(crate::api::routes());
    for m in state.modules().iter() {
        let id = m.id;
        let gated = (m.routes)().layer(from_fn(move |req: Request, next: Next| {
            module_gate(id, req, next)
        }));
        r = r.nest(&format!("/{id}"), gated);
        let api = (m.api.routes)()
            .layer(from_fn(dimos_web::api_client::rate_limit_headers))
            .layer(from_fn(move |req: Request, next: Next| {
                module_gate(id, req, next)
            }));
        r = r.nest(&format!("/api/v1/{id}"), api);
    }
    let r = r.route_layer(from_fn(middleware::tag_route));
    // Sessions only where people sign in: the tenant hosts.
    with_body_limit(r, state)
        .layer(dimos_web::auth::session_layer(state))
        .layer(from_fn(dimos_web::auth::session_unsaved))
}

/// The body limit inside each host's routes (not around them all), so a
/// refused upload comes back through `header_for_errors` and its page keeps
/// the signed-in header.
fn with_body_limit(r: Router<AppState>, state: &AppState) -> Router<AppState> {
    r.layer(from_fn_with_state(state.clone(), dimos_web::edge::input))
        .layer(RequestBodyLimitLayer::new(
            state.config().http.body_limit_bytes,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::header_for_errors,
        ))
}

/// A module's routes exist only for tenants that enabled it.
async fn module_gate(module: &'static str, req: Request, next: Next) -> Response {
    match req.extensions().get::<HostMatch>() {
        Some(HostMatch::Tenant(t)) if t.module_enabled(module) => next.run(req).await,
        _ => AppError(Error::NotFound).into_response(),
    }
}

/// `/metrics` (and `/healthz`) alone, for `http.metrics_listen`: an address
/// the internet does not reach, so no token is asked.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics_open))
        .route("/healthz", get(health::healthz))
        .with_state(state)
}

fn portal_routes(state: &AppState) -> Router<AppState> {
    let mut portal = Router::new()
        .route("/", get(pages::portal))
        .route("/lang/{code}", get(pages::switch_lang));
    if state.identity().dev().is_some() {
        portal = portal.merge(crate::dev_idp::routes());
    }
    if state.config().dev_payments_enabled() {
        portal = portal.merge(crate::dev_pay::routes());
    }
    portal
}

/// Routes that answer on every host.
fn any_host_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/tls/ask", get(health::tls_ask))
        .route("/metrics", get(health::metrics))
        .route("/static/{name}", get(assets::serve))
}

/// Every path pattern the application routes, by the kind of host that
/// serves it, read from the routers themselves (modules included, as
/// enabled for a tenant), so tests that walk every route (the hostile-input
/// sweep, the cross-tenant probe) pick up new routes with no list to keep.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    pub tenant: Vec<String>,
    pub operator: Vec<String>,
    pub portal: Vec<String>,
    pub any_host: Vec<String>,
}

/// axum keeps its path table private but prints it (`Debug`, stable across
/// 0.8): the paths are read from there. `route_table_is_complete` checks
/// that known routes are found, so a change in that output fails loudly.
fn paths_of(r: &Router<AppState>) -> Vec<String> {
    let text = format!("{r:?}");
    let mut out: Vec<String> = text
        .split("RouteId(")
        .skip(1)
        .filter_map(|chunk| {
            let (_, rest) = chunk.split_once("): \"")?;
            let (path, _) = rest.split_once('"')?;
            (!path.contains("__private__axum")).then(|| path.to_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn route_table(state: &AppState) -> RouteTable {
    RouteTable {
        tenant: paths_of(&tenant_routes(state)),
        operator: paths_of(&operator::routes(state)),
        portal: paths_of(&portal_routes(state)),
        any_host: paths_of(&any_host_routes()),
    }
}

/// Who the page header shows: the signed-in person with the staff pages
/// they may open, or on the admin host the operator.
fn header_user<'a>(
    parts: &'a mut axum::http::request::Parts,
    state: &'a AppState,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<dimos_web::ui::UserView>> + Send + 'a>>
{
    Box::pin(async move {
        match dimos_web::auth::load_user(parts, state).await {
            Ok(Some(u)) => {
                let links = match parts.extensions.get::<HostMatch>() {
                    Some(HostMatch::Tenant(t)) => crate::staff::header_links(state, t, &u).await,
                    _ => vec![],
                };
                Some(dimos_web::ui::UserView {
                    name: u.account.display_name(),
                    assisting: u.assisting.as_ref().map(|a| a.name.clone()),
                    csrf: u.csrf,
                    links,
                })
            }
            _ => match parts.extensions.get::<HostMatch>() {
                Some(HostMatch::Operator) => crate::operator::auth_current(
                    parts.extensions.get::<tower_sessions::Session>(),
                    state,
                )
                .await
                .map(|(op, csrf)| dimos_web::ui::UserView {
                    name: op.name,
                    csrf,
                    links: vec![],
                    assisting: None,
                }),
                _ => None,
            },
        }
    })
}

pub fn build_router(state: AppState) -> Router {
    state.set_header(header_user);
    let tenant = tenant_routes(&state).with_state(state.clone());
    let operator = operator::routes(&state).route_layer(from_fn(middleware::tag_route));
    let operator = with_body_limit(operator, &state)
        .layer(dimos_web::auth::session_layer(&state))
        .layer(from_fn(dimos_web::auth::session_unsaved))
        .with_state(state.clone());
    let portal = portal_routes(&state).route_layer(from_fn(middleware::tag_route));
    let portal = with_body_limit(portal, &state).with_state(state.clone());

    let dispatch = move |req: Request| {
        let target = match req.extensions().get::<HostMatch>() {
            Some(HostMatch::Tenant(_)) => Some(tenant.clone()),
            Some(HostMatch::Operator) => Some(operator.clone()),
            Some(HostMatch::Portal) => Some(portal.clone()),
            _ => None,
        };
        async move {
            match target {
                Some(router) => router.oneshot(req).await.into_response(),
                None => AppError(Error::UnknownTenant).into_response(),
            }
        }
    };

    let cfg = state.config();
    let body_limit = cfg.http.body_limit_bytes;
    let timeout = Duration::from_secs(cfg.http.request_timeout_secs);
    let layers = ServiceBuilder::new()
        .layer(from_fn(dimos_web::edge::request_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path(), tenant = tracing::field::Empty, status = tracing::field::Empty, otel.status_code = tracing::field::Empty);
            dimos_web::edge::continue_trace(&span, req.headers());
            span
        }).on_response(|res: &Response, _: Duration, span: &tracing::Span| {
            span.record("status", i64::from(res.status().as_u16()));
            if res.status().is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(CompressionLayer::new())
        .layer(from_fn_with_state(state.clone(), middleware::metrics))
        .layer(from_fn_with_state(state.clone(), dimos_web::edge::client))
        .layer(from_fn_with_state(state.clone(), middleware::context))
        .layer(from_fn(dimos_web::edge::target))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout));

    any_host_routes()
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(layers)
        .with_state(state)
}

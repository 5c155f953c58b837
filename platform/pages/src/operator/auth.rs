//! Sign-in for the national operators on the admin host: the same OIDC
//! flow as everywhere, then a check that the person's tax id is an
//! operator's. Operators manage tenants; no citizen data is reachable here.

use super::OperatorActor;
use crate::form::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dimos_kernel::Error;
use dimos_web::error::{AppError, Result};
use dimos_web::extract::Peer;
use dimos_web::middleware::host_of;
use dimos_web::state::AppState;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use tower_sessions::Session;

const OPERATOR_KEY: &str = "operator";
const CSRF_KEY: &str = "csrf";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorSession {
    pub tax_id: String,
    pub name: String,
    pub signed_in_at: i64,
    /// Compared with the operator's "sign out everywhere" (0 in sessions
    /// from before it existed: they end at the first such sign-out).
    #[serde(default)]
    pub signed_in_at_ms: i64,
    pub provider: String,
    pub id_token: String,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-everywhere", post(logout_everywhere))
}

fn session_error(e: tower_sessions::session::Error) -> AppError {
    if dimos_identity::sessions::unavailable(&e) {
        tracing::warn!(error = %e, "session store unavailable");
        return AppError(Error::Unavailable);
    }
    AppError(Error::internal(e))
}

#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
pub async fn current(
    session: Option<&Session>,
    state: &AppState,
) -> Option<(OperatorSession, String)> {
    let session = session?;
    let op: OperatorSession = session.get(OPERATOR_KEY).await.ok()??;
    let age = dimos_kernel::clock::wall_now().timestamp() - op.signed_in_at;
    if u64::try_from(age).map_or(true, |a| a > state.identity().session_absolute.as_secs()) {
        return None;
    }
    // Checked on every request: someone removed from the operators (or
    // whose provider is no longer the operators') loses the console at once.
    if !state.identity().is_operator(&op.provider, &op.tax_id) {
        return None;
    }
    // Signed out everywhere after this session began.
    match dimos_identity::operators::signed_out_at(state.db(), &op.tax_id).await {
        Ok(Some(t)) if op.signed_in_at_ms <= t.timestamp_millis() => return None,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "operator sign-out check failed");
            return None;
        }
    }
    let csrf: String = session.get(CSRF_KEY).await.ok()??;
    Some((op, csrf))
}

/// Signed-in operators pass. On loopback, with the development provider on
/// (the demo), everyone passes. Anyone else: the console sends them to sign
/// in, the API answers 401.
#[allow(clippy::disallowed_methods)] // the operator's console: platform-level tokens
pub async fn operator_guard(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // Automation: an API token, for the API only, within its scopes.
    if let Some(presented) = bearer(req.headers()) {
        if !req.uri().path().starts_with("/api/") {
            return AppError(Error::OperatorSignInRequired).into_response();
        }
        let now = dimos_kernel::clock::wall_now();
        let token = match dimos_identity::operator_tokens::authenticate(state.db(), &presented, now)
            .await
        {
            Ok(Some(t)) => t,
            Ok(None) => return AppError(Error::OperatorSignInRequired).into_response(),
            Err(e) => return AppError(e.into()).into_response(),
        };
        let needed = if matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        ) {
            dimos_identity::operator_tokens::Scope::TenantsRead
        } else {
            dimos_identity::operator_tokens::Scope::TenantsWrite
        };
        if !token.allows(needed) {
            return AppError(Error::Forbidden).into_response();
        }
        req.extensions_mut().insert(OperatorActor(token.actor()));
        return next.run(req).await;
    }
    if let Some((op, csrf)) = current(req.extensions().get::<Session>(), &state).await {
        let mut req = match check_form_token(req, &csrf, state.config().http.body_limit_bytes).await
        {
            Ok(r) => r,
            Err(denied) => return denied,
        };
        req.extensions_mut().insert(OperatorActor(format!(
            "operator:{} ({})",
            op.tax_id, op.name
        )));
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // The demo's open console: the development provider on (so the base
    // domain is localhost), the peer on loopback, and no proxy in front (a
    // local proxy would make every visitor "loopback").
    let via_proxy = req
        .extensions()
        .get::<dimos_web::edge::ClientAddr>()
        .is_some_and(|c| c.via_proxy);
    if state.config().dev_provider_enabled()
        && state.trusted_proxies().is_empty()
        && !via_proxy
        && peer.is_some_and(|ip| ip.is_loopback())
    {
        let who = peer.map_or("operator".into(), |ip| format!("operator@{ip}"));
        req.extensions_mut().insert(OperatorActor(who));
        return next.run(req).await;
    }
    if req.uri().path().starts_with("/api/") || req.method() != axum::http::Method::GET {
        return AppError(Error::OperatorSignInRequired).into_response();
    }
    let next_path: String = form_urlencoded::byte_serialize(
        req.uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .as_bytes(),
    )
    .collect();
    Redirect::to(&format!("/auth/login?next={next_path}")).into_response()
}

/// The token of `Authorization: Bearer …`, if the request has one.
fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Every POST a signed-in operator sends must carry the session's token,
/// unless it is JSON: browsers cannot send JSON (nor PUT, PATCH or DELETE)
/// cross-site without a CORS preflight, which we never allow. Whatever the
/// content type says, a body without the token is refused.
async fn check_form_token(req: Request, csrf: &str, limit: usize) -> Result<Request, Response> {
    let is_json = dimos_web::extract::is_json(req.headers());
    if req.method() != axum::http::Method::POST || is_json {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError(Error::PayloadTooLarge).into_response())?;
    let posted = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.into_owned());
    if !posted.is_some_and(|p| dimos_identity::constant_time_eq(p.as_bytes(), csrf.as_bytes())) {
        return Err(AppError(Error::Forbidden).into_response());
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    peer: Peer,
    Query(q): Query<LoginQuery>,
    req: Request,
) -> Result<Response> {
    state.limits().sign_in(peer.ip())?;
    // Operators sign in through the operators' provider only.
    let provider = state
        .identity()
        .operator_provider()
        .ok_or(Error::Unavailable)?;
    crate::sign_in::begin_sign_in(&state, &session, provider, &host_of(&req), q.next).await
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    peer: Peer,
    host: dimos_web::auth::HostHeader,
    Query(q): Query<crate::sign_in::CallbackQuery>,
) -> Result<Response> {
    let operators = [state.config().operator_provider()];
    let (pending, signed_in) =
        crate::sign_in::finish_sign_in(&state, &session, &q, &host.0, &operators)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, reason = e.code(), client = ?peer.ip(), "operator sign-in failed");
                Error::SignInFailed(e.code())
            })?;
    let id = signed_in.identity;
    let tax_id = id.tax_id.clone().unwrap_or_default();
    if !state.identity().is_operator(&pending.provider, &tax_id) {
        tracing::warn!(subject = %id.subject, tax_id = %tax_id, provider = %pending.provider, client = ?peer.ip(), "sign-in to the operator console by someone who is not an operator");
        return Err(Error::Forbidden.into());
    }
    session.cycle_id().await.map_err(session_error)?;
    let name = [id.given_name.as_deref(), id.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let op = OperatorSession {
        tax_id,
        name,
        signed_in_at: dimos_kernel::clock::wall_now().timestamp(),
        signed_in_at_ms: dimos_kernel::clock::wall_now().timestamp_millis(),
        provider: pending.provider.clone(),
        id_token: signed_in.id_token,
    };
    session
        .insert(OPERATOR_KEY, &op)
        .await
        .map_err(session_error)?;
    let csrf = dimos_identity::random_token();
    session
        .insert(CSRF_KEY, csrf)
        .await
        .map_err(session_error)?;
    tracing::info!(operator = %op.tax_id, provider = %op.provider, client = ?peer.ip(), "operator signed in");
    Ok(Redirect::to(&pending.next).into_response())
}

/// The signed-in operator of a sign-out form, its token checked; None when
/// nobody is signed in.
async fn signing_out(
    state: &AppState,
    session: &Session,
    posted: &str,
) -> Result<Option<OperatorSession>> {
    let Some((op, csrf)) = current(Some(session), state).await else {
        return Ok(None);
    };
    if !dimos_identity::constant_time_eq(csrf.as_bytes(), posted.as_bytes()) {
        return Err(Error::Forbidden.into());
    }
    Ok(Some(op))
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<dimos_web::auth::CsrfOnly>,
) -> Result<Response> {
    if signing_out(&state, &session, &form.csrf).await?.is_some() {
        session.flush().await.map_err(session_error)?;
    }
    Ok(Redirect::to("/").into_response())
}

/// Ends every console session of this operator, on every device.
#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
async fn logout_everywhere(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<dimos_web::auth::CsrfOnly>,
) -> Result<Response> {
    if let Some(op) = signing_out(&state, &session, &form.csrf).await? {
        dimos_identity::operators::sign_out_everywhere(
            state.db(),
            &op.tax_id,
            dimos_kernel::clock::wall_now(),
        )
        .await?;
        tracing::info!(operator = %op.tax_id, "operator signed out everywhere");
        session.flush().await.map_err(session_error)?;
    }
    Ok(Redirect::to("/").into_response())
}

//! HTTP face of the development identity provider, on the base domain at
//! `/dev-idp`. Mounted only when the provider is on.

use crate::form::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use dimos_identity::dev_provider::{self, DevProvider, OAuthError, TokenRequest};
use dimos_kernel::Error;
use dimos_tenancy::HostMatch;
use dimos_web::error::{AppError, Rendered, Result};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev-idp/.well-known/openid-configuration", get(discovery))
        .route("/dev-idp/jwks", get(jwks))
        .route("/dev-idp/authorize", get(authorize_page).post(authorize))
        .route("/dev-idp/token", axum::routing::post(token))
        .route("/dev-idp/userinfo", get(userinfo))
        .route("/dev-idp/logout", get(end_session))
}

fn provider(state: &AppState) -> Result<Arc<DevProvider>> {
    state
        .identity()
        .dev()
        .cloned()
        .ok_or_else(|| AppError(Error::NotFound))
}

/// Responses the provider shapes itself (OAuth errors), kept as they are.
fn oauth_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response();
    res.extensions_mut().insert(Rendered);
    res
}

async fn discovery(State(state): State<AppState>) -> Result<Response> {
    let doc = provider(&state)?.discovery().map_err(Error::internal)?;
    Ok(axum::Json(doc).into_response())
}

async fn jwks(State(state): State<AppState>) -> Result<Response> {
    Ok(axum::Json(provider(&state)?.jwks()).into_response())
}

/// Our own address for `url` if it is one: the public scheme, a host that
/// is a registered municipality or the admin host (operators sign in too),
/// and no query or fragment of its own.
pub(crate) fn own_host(state: &AppState, url: &url::Url) -> Option<HostMatch> {
    if url.scheme() != state.config().http.public_scheme
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return None,
    };
    // The port people use: a callback on another port of the same name is
    // not ours.
    if url.port_or_known_default() != Some(state.config().public_port()) {
        return None;
    }
    match state.registry().resolve(&host) {
        m @ (HostMatch::Tenant(_) | HostMatch::Operator) => Some(m),
        _ => None,
    }
}

/// A redirect target is acceptable when it is `/auth/callback` on a
/// municipality's host or the admin host.
fn redirect_allowed(state: &AppState, redirect_uri: &str) -> bool {
    url::Url::parse(redirect_uri)
        .ok()
        .is_some_and(|url| url.path() == "/auth/callback" && own_host(state, &url).is_some())
}

#[derive(Debug, Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    scope: Option<String>,
    /// Only on the POST from the page: who signs in.
    person: Option<String>,
}

fn check(state: &AppState, p: &AuthorizeParams) -> Result<(Arc<DevProvider>, String)> {
    let dev = provider(state)?;
    let redirect = p.redirect_uri.clone().unwrap_or_default();
    dev.check_client(
        p.client_id.as_deref().unwrap_or(""),
        redirect_allowed(state, &redirect),
    )
    .map_err(|e| Error::BadRequest(e.description))?;
    if p.response_type.as_deref() != Some("code") {
        return Err(Error::BadRequest("response_type must be code".into()).into());
    }
    if p.code_challenge.is_some() && p.code_challenge_method.as_deref() != Some("S256") {
        return Err(Error::BadRequest("only S256 PKCE".into()).into());
    }
    Ok((dev, redirect))
}

async fn authorize_page(
    ui: Ui,
    State(state): State<AppState>,
    Query(p): Query<AuthorizeParams>,
) -> Result<Response> {
    let (_, redirect) = check(&state, &p)?;
    let people: Vec<_> = dev_provider::PEOPLE
        .iter()
        .map(|d| {
            context! {
                key => d.key,
                name => format!("{} {}", d.given_name, d.family_name),
                role => if ui.lang == dimos_kernel::Locale::En { d.role_en } else { d.role_el },
                acr => d.acr,
            }
        })
        .collect();
    let families: Vec<_> = dev_provider::FAMILIES
        .iter()
        .map(|d| context! { key => d.key, name => format!("{} {}", d.given_name, d.family_name) })
        .collect();
    let page = ui.render(
        "dev_idp.html",
        context! {
            people, families,
            client_id => p.client_id,
            redirect_uri => p.redirect_uri,
            state_param => p.state,
            nonce => p.nonce,
            code_challenge => p.code_challenge,
            code_challenge_method => p.code_challenge_method,
            scope => p.scope,
            response_type => p.response_type,
        },
    )?;
    // The form's answer is a redirect to the municipality's callback: allow it.
    let origin = url::Url::parse(&redirect)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let csp = dimos_web::state::content_security_policy(&[origin]);
    Ok(([(header::CONTENT_SECURITY_POLICY, csp)], page).into_response())
}

async fn authorize(
    State(state): State<AppState>,
    Form(p): Form<AuthorizeParams>,
) -> Result<Response> {
    let (dev, redirect) = check(&state, &p)?;
    let person = p
        .person
        .as_deref()
        .and_then(dev_provider::person)
        .ok_or_else(|| Error::invalid("person", "invalid"))?;
    let code = dev.issue_code(
        person,
        dev_provider::CLIENT_ID,
        &redirect,
        p.nonce.clone(),
        p.code_challenge.clone(),
    );
    let mut url = url::Url::parse(&redirect).map_err(|e| Error::BadRequest(e.to_string()))?;
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = &p.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    // RFC 9207, as the discovery document says.
    url.query_pairs_mut().append_pair("iss", dev.issuer());
    Ok(Redirect::to(url.as_str()).into_response())
}

/// `client_secret_basic` (the default of most clients) or `client_secret_post`.
fn client_credentials(headers: &HeaderMap, form: &mut TokenRequest) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    if let Some((id, secret)) = basic.as_deref().and_then(|s| s.split_once(':')) {
        let dec = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        form.client_id = dec(id).or(form.client_id.take());
        form.client_secret = dec(secret).or(form.client_secret.take());
    }
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(mut form): Form<TokenRequest>,
) -> Result<Response> {
    let dev = provider(&state)?;
    client_credentials(&headers, &mut form);
    Ok(match dev.token(&form) {
        Ok(body) => oauth_json(StatusCode::OK, body),
        Err(
            e @ OAuthError {
                error: "invalid_client",
                ..
            },
        ) => oauth_json(StatusCode::UNAUTHORIZED, e.to_json()),
        Err(e) => oauth_json(StatusCode::BAD_REQUEST, e.to_json()),
    })
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let dev = provider(&state)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    Ok(match dev.userinfo(bearer.trim()) {
        Ok(body) => oauth_json(StatusCode::OK, body),
        Err(e) => oauth_json(StatusCode::UNAUTHORIZED, e.to_json()),
    })
}

#[derive(Deserialize)]
struct EndSession {
    post_logout_redirect_uri: Option<String>,
}

async fn end_session(
    State(state): State<AppState>,
    Query(q): Query<EndSession>,
) -> Result<Response> {
    provider(&state)?;
    let target = q
        .post_logout_redirect_uri
        .filter(|u| {
            url::Url::parse(u)
                .ok()
                .is_some_and(|url| own_host(&state, &url).is_some())
        })
        .unwrap_or_else(|| "/".into());
    Ok(Redirect::to(&target).into_response())
}

//! Who calls the public API: [`ApiCaller`], a machine client with its
//! bearer token (issued at `/api/v1/oauth/token`), [`ApiScope<P>`] when it
//! must hold permission `P` as a scope; [`ApiUser`], that or a citizen's
//! own app with the person's access token from the municipality's
//! identity provider ([`ApiAccess<P>`], [`ApiCitizen`]). A token is the
//! municipality's own: the same token at another municipality's host is
//! unknown there.

use crate::access::Permission;
use crate::error::AppError;
use crate::extract::CurrentTenant;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use dimos_identity::accounts::{self, Account};
use dimos_identity::api_clients::{self, Caller};
use dimos_kernel::Error;
use std::marker::PhantomData;

/// A client with a valid token for this municipality, calling from an
/// address it may call from, within its rate limit.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Caller);

/// Where the caller stands against its rate limit, for the answer's
/// headers: put in the request by [`rate_limit_headers`], filled in by
/// [`ApiCaller`].
#[derive(Debug, Clone, Default)]
pub struct QuotaSlot(std::sync::Arc<std::sync::Mutex<Option<crate::limits::ApiQuota>>>);

/// Middleware for the API's routes: `RateLimit-Policy` and `RateLimit`
/// (draft-ietf-httpapi-ratelimit-headers) on every answer to a client.
pub async fn rate_limit_headers(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let slot = QuotaSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    let quota = slot.0.lock().ok().and_then(|q| *q);
    if let Some(q) = quota {
        let h = res.headers_mut();
        if let Ok(v) = format!("\"client\";q={};w=60", q.limit).parse() {
            h.insert("ratelimit-policy", v);
        }
        if let Ok(v) = format!("\"client\";r={};t={}", q.remaining, q.reset_secs).parse() {
            h.insert("ratelimit", v);
        }
    }
    res
}

/// `Authorization: Bearer <token>`.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An error with the RFC 6750 challenge that says how to authenticate
/// (and, after a token, what was wrong with it).
fn challenged(error: Error, challenge: &str) -> Response {
    let mut res = AppError(error).into_response();
    if let Ok(v) = challenge.parse() {
        res.headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, v);
    }
    res
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match ApiUser::from_request_parts(parts, state).await? {
            ApiUser::Client(c) => Ok(ApiCaller(c)),
            // A person's token where a client's is needed.
            ApiUser::Citizen(_) => Err(challenged(
                Error::Forbidden,
                "Bearer realm=\"api\", error=\"insufficient_scope\"",
            )),
        }
    }
}

/// Who calls the public API: a registered client, with a token from the
/// token endpoint; or a citizen's own app, with an access token the
/// municipality's identity provider for citizens issued to the person
/// (asked of the provider's userinfo endpoint), who sees only their own
/// cases.
#[derive(Debug, Clone)]
pub enum ApiUser {
    Client(Caller),
    Citizen(Box<Account>),
}

impl ApiUser {
    /// The audit trail's actor.
    pub fn actor(&self) -> String {
        match self {
            ApiUser::Client(c) => c.client.actor(),
            ApiUser::Citizen(a) => format!("account:{}", a.id),
        }
    }

    /// Whom the answer's rate limit counts.
    fn quota_key(&self) -> uuid::Uuid {
        match self {
            ApiUser::Client(c) => c.client.id,
            ApiUser::Citizen(a) => a.id,
        }
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(c) = parts.extensions.get::<ApiUser>() {
            return Ok(c.clone());
        }
        let t = CurrentTenant::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // No token: how to get one, no error named (RFC 6750 §3.1).
        let token = bearer(&parts.headers)
            .ok_or_else(|| challenged(Error::InvalidToken, "Bearer realm=\"api\""))?
            .to_owned();
        let token = token.as_str();
        let crate::extract::Peer(ip) = crate::extract::Peer::from_request_parts(parts, state)
            .await
            .unwrap_or(crate::extract::Peer(None));
        let refused = || {
            challenged(
                Error::InvalidToken,
                "Bearer realm=\"api\", error=\"invalid_token\"",
            )
        };
        let user = if token.starts_with(api_clients::TOKEN_PREFIX) {
            let caller = api_clients::authenticate(&t.db, token, state.workflow().now())
                .await
                .map_err(|e| AppError(e.into()).into_response())?
                .ok_or_else(refused)?;
            if !caller.client.allows_address(ip) {
                return Err(AppError(Error::Forbidden).into_response());
            }
            ApiUser::Client(caller)
        } else {
            let ident = &t.tenant.spec.identity;
            let provider = state
                .identity()
                .provider(crate::auth::citizens_provider(ident, state.config()))
                .ok_or_else(|| AppError(Error::Unavailable).into_response())?;
            let identity = match provider.identity_of_access_token(token).await {
                Ok(i) => i,
                Err(dimos_identity::SignInError::TokenRefused) => {
                    // Guessing tokens costs what guessing passwords does.
                    state
                        .limits()
                        .sign_in(ip)
                        .map_err(|e| AppError(e).into_response())?;
                    return Err(refused());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "an access token could not be checked with the provider");
                    return Err(AppError(Error::Unavailable).into_response());
                }
            };
            let account = accounts::for_access_token(&t.db, &identity)
                .await
                .map_err(|e| AppError(e.into()).into_response())?;
            ApiUser::Citizen(Box::new(account))
        };
        let quota = state.limits().api_call(user.quota_key());
        if let Some(slot) = parts.extensions.get::<QuotaSlot>()
            && let Ok(mut s) = slot.0.lock()
        {
            *s = Some(match &quota {
                Ok(q) => *q,
                Err(e) => crate::limits::ApiQuota {
                    limit: state.config().http.api_requests_per_minute,
                    remaining: 0,
                    // As Retry-After says.
                    reset_secs: match e {
                        Error::RateLimited(secs) => *secs,
                        _ => 60,
                    },
                },
            });
        }
        quota.map_err(|e| AppError(e).into_response())?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// A caller that may read what `P` guards: a client whose token holds `P`
/// (or one of `P::OR`) as a scope, or a citizen (whose own records only
/// the handler then shows).
#[derive(Debug, Clone)]
pub struct ApiAccess<P: Permission>(pub ApiUser, pub PhantomData<P>);

impl<P: Permission> FromRequestParts<AppState> for ApiAccess<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = ApiUser::from_request_parts(parts, state).await?;
        match &user {
            ApiUser::Client(c) if !holds::<P>(c) => Err(insufficient::<P>()),
            _ => Ok(ApiAccess(user, PhantomData)),
        }
    }
}

/// A citizen calling through their own app (a client's token is refused:
/// clients do not apply or withdraw on people's behalf).
#[derive(Debug, Clone)]
pub struct ApiCitizen(pub Box<Account>);

impl FromRequestParts<AppState> for ApiCitizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match ApiUser::from_request_parts(parts, state).await? {
            ApiUser::Citizen(a) => Ok(ApiCitizen(a)),
            ApiUser::Client(_) => Err(challenged(
                Error::Forbidden,
                "Bearer realm=\"api\", error=\"insufficient_scope\"",
            )),
        }
    }
}

fn holds<P: Permission>(c: &Caller) -> bool {
    c.holds(P::ID) || P::OR.iter().any(|p| c.holds(p))
}

fn insufficient<P: Permission>() -> Response {
    challenged(
        Error::Forbidden,
        &format!(
            "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"{}\"",
            P::ID
        ),
    )
}

/// A client whose token holds `P` (or one of `P::OR`) as a scope.
#[derive(Debug, Clone)]
pub struct ApiScope<P: Permission>(pub Caller, pub PhantomData<P>);

impl<P: Permission> FromRequestParts<AppState> for ApiScope<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ApiCaller(caller) = ApiCaller::from_request_parts(parts, state).await?;
        if holds::<P>(&caller) {
            Ok(ApiScope(caller, PhantomData))
        } else {
            Err(insufficient::<P>())
        }
    }
}

/// An error (RFC 9457). `code` is stable and documented; `title` is in the
/// language asked for; `errors` names each refused field.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `/problems/<code>`.
    #[schema(example = "/problems/not_found")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    #[schema(example = "not_found")]
    pub code: String,
    pub detail: Option<String>,
    pub errors: Vec<FieldProblem>,
    /// Quote it when asking the municipality about this answer.
    pub request_id: String,
}

/// One refused field.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The field's path, e.g. `documents[0]`.
    pub field: String,
    pub code: String,
    pub message: String,
    pub label: Option<String>,
}

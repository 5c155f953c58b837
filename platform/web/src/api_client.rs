//! The machine client calling the public API: [`ApiCaller`] from its
//! bearer token (issued at `/api/v1/oauth/token`), [`ApiScope<P>`] when it
//! must hold permission `P` as a scope. A token is the municipality's own:
//! the same token at another municipality's host is unknown there.

use crate::access::Permission;
use crate::error::AppError;
use crate::extract::CurrentTenant;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
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
        if let Some(c) = parts.extensions.get::<ApiCaller>() {
            return Ok(c.clone());
        }
        let t = CurrentTenant::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // No token: how to get one, no error named (RFC 6750 §3.1).
        let token = bearer(&parts.headers)
            .ok_or_else(|| challenged(Error::InvalidToken, "Bearer realm=\"api\""))?;
        let caller = api_clients::authenticate(&t.db, token, state.workflow().now())
            .await
            .map_err(|e| AppError(e.into()).into_response())?
            .ok_or_else(|| {
                challenged(
                    Error::InvalidToken,
                    "Bearer realm=\"api\", error=\"invalid_token\"",
                )
            })?;
        let crate::extract::Peer(ip) = crate::extract::Peer::from_request_parts(parts, state)
            .await
            .unwrap_or(crate::extract::Peer(None));
        if !caller.client.allows_address(ip) {
            return Err(AppError(Error::Forbidden).into_response());
        }
        let quota = state.limits().api_call(caller.client.id);
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
        let c = ApiCaller(caller);
        parts.extensions.insert(c.clone());
        Ok(c)
    }
}

/// A client whose token holds `P` (or one of `P::OR`) as a scope.
#[derive(Debug, Clone)]
pub struct ApiScope<P: Permission>(pub Caller, pub PhantomData<P>);

impl<P: Permission> FromRequestParts<AppState> for ApiScope<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ApiCaller(caller) = ApiCaller::from_request_parts(parts, state).await?;
        if caller.holds(P::ID) || P::OR.iter().any(|p| caller.holds(p)) {
            Ok(ApiScope(caller, PhantomData))
        } else {
            Err(challenged(
                Error::Forbidden,
                &format!(
                    "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"{}\"",
                    P::ID
                ),
            ))
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

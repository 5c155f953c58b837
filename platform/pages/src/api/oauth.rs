//! The token endpoint (RFC 6749 §4.4, client credentials): a client
//! registered by the municipal admin trades its id and secret for an access
//! token valid for minutes. Its answers, errors included, are the RFC's
//! JSON (`{"error": "invalid_client"}`), which OAuth libraries expect, not
//! problem+json.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use dimos_identity::api_clients::{self, Refused};
use dimos_web::error::{AppError, Rendered};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The form a client posts (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `client_credentials`.
    #[schema(pattern = "^client_credentials$")]
    pub grant_type: String,
    /// Space-separated scopes; absent: all the client holds.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_. -]*$")]
    pub scope: Option<String>,
    /// With the secret here instead of HTTP Basic authentication.
    #[serde(default)]
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$")]
    pub client_id: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$")]
    pub client_secret: Option<String>,
}

/// An access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds it is valid for: ten minutes, or less if the client's own
    /// validity ends sooner.
    pub expires_in: i64,
    /// The scopes it holds, space-separated.
    pub scope: String,
}

/// Why no token (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type` or
    /// `invalid_scope`.
    pub error: &'static str,
    pub error_description: &'static str,
}

/// Trade client credentials for an access token.
#[utoipa::path(
    post,
    path = "/api/v1/oauth/token",
    tag = "authentication",
    operation_id = "issueToken",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("clientSecret" = [])),
    responses(
        (status = 200, description = "An access token", body = TokenResponse),
        (status = 400, description = "A malformed request, another grant type, or a scope the client does not hold (`TokenError`); text the edge refuses, e.g. a control character (`Problem`)", content(
            (TokenError = "application/json"),
            (super::Problem = "application/problem+json")
        )),
        (status = 401, description = "Unknown client, wrong secret, revoked, expired, or calling from an address not allowed", body = TokenError),
        (status = 429, description = "Too many attempts from this address: wait `Retry-After` seconds", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality at this host", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    t: CurrentTenant,
    Peer(from): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Secrets are not guessed here: as many tries per address as sign-ins.
    if let Err(e) = state.limits().sign_in(from) {
        return AppError(e).into_response();
    }
    // A machine's form: no session, so no CSRF token to check.
    #[allow(clippy::disallowed_methods)]
    let form: TokenRequest = match dimos_web::extract::parse_form(&body) {
        Ok(f) => f,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the form could not be read",
                false,
            );
        }
    };
    if form.grant_type != "client_credentials" {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
            false,
        );
    }
    let basic = basic_credentials(&headers);
    let (id, secret) = match (&basic, &form.client_id, &form.client_secret) {
        // One way to authenticate (RFC 6749 §2.3); naming oneself in the
        // form too is allowed (§3.2.1), as the same client.
        (Some(_), _, Some(_)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client credentials given twice",
                false,
            );
        }
        (Some((id, _)), Some(named), None) if named != id => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id differs from the authenticated client",
                false,
            );
        }
        (Some((id, secret)), _, None) => (id.clone(), secret.clone()),
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        _ => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
                true,
            );
        }
    };
    let requested: Option<Vec<String>> = form.scope.as_deref().map(|s| {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let now = state.workflow().now();
    match api_clients::issue_token(&t.db, &id, &secret, requested.as_deref(), from, now).await {
        Ok(Ok((token, caller))) => {
            let body = TokenResponse {
                access_token: token.token,
                token_type: "Bearer",
                expires_in: token.expires_in,
                scope: caller.scopes.join(" "),
            };
            let mut res = axum::Json(body).into_response();
            no_store(&mut res);
            res
        }
        Ok(Err(Refused::InvalidClient)) => refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client, wrong secret, revoked or expired",
            basic.is_some(),
        ),
        Ok(Err(Refused::InvalidScope)) => refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "a scope the client does not hold",
            false,
        ),
        Err(e) => AppError(e.into()).into_response(),
    }
}

/// `Authorization: Basic base64(id:secret)`, each part form-encoded as RFC
/// 6749 §2.3.1 says.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn refuse(
    status: StatusCode,
    error: &'static str,
    error_description: &'static str,
    challenge: bool,
) -> Response {
    let mut res = (
        status,
        axum::Json(TokenError {
            error,
            error_description,
        }),
    )
        .into_response();
    no_store(&mut res);
    if challenge {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"api\""),
        );
    }
    // The RFC's format, not problem+json: left as is by the error pages.
    res.extensions_mut().insert(Rendered);
    res
}

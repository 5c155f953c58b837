use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem with one input field, carried to the user as a translated message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Dotted path of the field (`name.el`, `domains[1]`), or a file location.
    pub field: String,
    /// Stable code; `error-field-<code>` is its translation key.
    pub code: &'static str,
    /// Extra detail shown after the translated message (a limit, a parser message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str) -> Self {
        Self {
            field: field.into(),
            code,
            detail: None,
        }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.code)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// The one error type of Dimos. Every variant has a stable `code()` that
/// clients may rely on, an HTTP status, and a translation key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// The address exists, not with this method (the answer's `Allow`
    /// header lists those it has).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A public API call without a valid access token (missing, unknown,
    /// expired, or its client revoked); the answer says how to get one
    /// (`WWW-Authenticate: Bearer`).
    #[error("a valid access token is required")]
    InvalidToken,
    #[error("no municipality is served at this address")]
    UnknownTenant,
    #[error("this municipality is temporarily suspended")]
    TenantSuspended,
    #[error("forbidden")]
    Forbidden,
    #[error("sign in as a national operator to use the operator console")]
    OperatorSignInRequired,
    #[error("invalid input: {}", .0.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request timed out")]
    Timeout,
    #[error("service unavailable")]
    Unavailable,
    /// Too many attempts from one client or person; retry after some seconds.
    #[error("too many requests")]
    RateLimited(u64),
    /// Signing in failed; the reason code is safe to show (no token contents).
    #[error("sign-in failed: {0}")]
    SignInFailed(&'static str),
    /// Anything we did not expect. The source is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Every stable error code, for documentation and completeness tests.
pub const CODES: &[&str] = &[
    "not_found",
    "method_not_allowed",
    "invalid_token",
    "tenant_unknown",
    "tenant_suspended",
    "forbidden",
    "operator_sign_in_required",
    "validation",
    "conflict",
    "bad_request",
    "payload_too_large",
    "unsupported_media_type",
    "timeout",
    "unavailable",
    "rate_limited",
    "sign_in_failed",
    "internal",
];

impl Error {
    /// One error of each kind: what `/problems/<code>` pages describe, and
    /// what a test holds `CODES` to.
    pub fn one_of_each() -> Vec<Error> {
        vec![
            Error::NotFound,
            Error::MethodNotAllowed,
            Error::InvalidToken,
            Error::UnknownTenant,
            Error::TenantSuspended,
            Error::Forbidden,
            Error::OperatorSignInRequired,
            Error::Validation(vec![]),
            Error::Conflict("conflict"),
            Error::BadRequest(String::new()),
            Error::PayloadTooLarge,
            Error::UnsupportedMediaType,
            Error::Timeout,
            Error::Unavailable,
            Error::SignInFailed("state_mismatch"),
            Error::RateLimited(30),
            Error::Internal("example".into()),
        ]
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    pub fn invalid(field: impl Into<String>, code: &'static str) -> Self {
        Self::Validation(vec![FieldError::new(field, code)])
    }

    /// Stable, documented code. Never change one once released.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::InvalidToken => "invalid_token",
            Error::UnknownTenant => "tenant_unknown",
            Error::TenantSuspended => "tenant_suspended",
            Error::Forbidden => "forbidden",
            Error::OperatorSignInRequired => "operator_sign_in_required",
            Error::Validation(_) => "validation",
            Error::Conflict(_) => "conflict",
            Error::BadRequest(_) => "bad_request",
            Error::PayloadTooLarge => "payload_too_large",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::Timeout => "timeout",
            Error::Unavailable => "unavailable",
            Error::SignInFailed(_) => "sign_in_failed",
            Error::RateLimited(_) => "rate_limited",
            Error::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound | Error::UnknownTenant => 404,
            Error::MethodNotAllowed => 405,
            Error::InvalidToken => 401,
            Error::TenantSuspended | Error::Unavailable => 503,
            Error::Forbidden => 403,
            Error::OperatorSignInRequired => 401,
            Error::Validation(_) => 422,
            Error::Conflict(_) => 409,
            Error::BadRequest(_) => 400,
            Error::PayloadTooLarge => 413,
            Error::UnsupportedMediaType => 415,
            Error::Timeout => 408,
            Error::SignInFailed(_) => 401,
            Error::RateLimited(_) => 429,
            Error::Internal(_) => 500,
        }
    }

    /// Translation key of the title shown to people.
    pub fn title_key(&self) -> String {
        format!("error-{}", self.code().replace('_', "-"))
    }

    /// Detail that is safe to show to a client; internal errors have none.
    pub fn public_detail(&self) -> Option<String> {
        match self {
            Error::BadRequest(d) => Some(d.clone()),
            Error::Conflict(what) => Some((*what).to_string()),
            Error::SignInFailed(reason) => Some((*reason).to_string()),
            _ => None,
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Validation(v) => v,
            _ => &[],
        }
    }

    /// Map a status produced outside our handlers (a tower layer, the router)
    /// to the error it stands for.
    pub fn from_status(status: u16) -> Self {
        match status {
            404 => Error::NotFound,
            405 => Error::MethodNotAllowed,
            403 => Error::Forbidden,
            408 => Error::Timeout,
            413 => Error::PayloadTooLarge,
            415 => Error::UnsupportedMediaType,
            400 | 422 => Error::BadRequest(String::from("the request could not be read")),
            503 => Error::Unavailable,
            _ => Error::Internal("unexpected status".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_client_or_server_errors() {
        let all = Error::one_of_each();
        let mut codes: Vec<_> = all.iter().map(Error::code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        let mut listed = CODES.to_vec();
        listed.sort();
        assert_eq!(codes, listed, "CODES lists every variant's code");
        for e in &all {
            assert!((400..600).contains(&e.status()), "{e:?}");
        }
    }

    #[test]
    fn internal_errors_hide_their_source() {
        let e = Error::internal("password=hunter2 at db.internal");
        assert_eq!(e.public_detail(), None);
        assert_eq!(e.to_string(), "internal error");
    }
}

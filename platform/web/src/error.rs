//! Turning the one error type into responses: an HTML page for people, RFC
//! 9457 problem details for API clients, the same stable code in both.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dimos_kernel::{Error, FieldError};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Handler error: wraps [`Error`] so it can be returned from axum handlers.
#[derive(Debug)]
pub struct AppError(pub Error);

impl<E: Into<Error>> From<E> for AppError {
    fn from(e: E) -> Self {
        AppError(e.into())
    }
}

/// What the error-rendering middleware needs to know about an error, carried
/// in the response's extensions (the request's language and the client's
/// preferred format are known only there).
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub status: StatusCode,
    pub title_key: String,
    pub detail: Option<String>,
    pub fields: Vec<FieldError>,
    /// Seconds, for `Retry-After` on 429 and 503.
    pub retry_after: Option<u64>,
}

/// What a 503 tells the client to wait before retrying.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        ErrorInfo {
            code: e.code(),
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            title_key: e.title_key(),
            detail: e.public_detail(),
            fields: e.field_errors().to_vec(),
            retry_after: match e {
                Error::RateLimited(s) => Some(*s),
                // Overload or a dependency down: nothing was done, and a
                // retry in a few seconds usually succeeds.
                Error::Unavailable => Some(UNAVAILABLE_RETRY_SECS),
                _ => None,
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Error::Internal(source) = &self.0 {
            tracing::error!(error = %source, debug = ?source, "internal error");
        }
        let info = ErrorInfo::from(&self.0);
        let mut res = info.status.into_response();
        res.extensions_mut().insert(info);
        res
    }
}

/// Marks a response with an error status that the handler rendered itself
/// (a form shown again with its errors): the error middleware leaves it as is.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// A page the handler rendered with an error status (a form shown again
/// with its errors), left as is by the error middleware.
pub fn rendered_page(
    status: axum::http::StatusCode,
    page: axum::response::Html<String>,
) -> Response {
    let mut res = (status, page).into_response();
    res.extensions_mut().insert(Rendered);
    res
}

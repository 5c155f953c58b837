//! Forms that carry their own proof instead of the session's CSRF token.

use dimos_kernel::Error;
use dimos_web::error::AppError;
use dimos_web::extract::parse_form;

/// URL-encoded form body, with the same error mapping as `dimos_web::extract::Json`. Not
/// for pages of ours: those take [`dimos_web::auth::Posted`], which checks the
/// CSRF token first. Only forms with their own proof use this (the
/// operator console's token, the development provider's protocol posts,
/// signing out without a session).
pub struct Form<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = AppError;

    #[allow(clippy::disallowed_methods)] // the platform's sign-in and desk pages: what these calls are for
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError(Error::from_status(e.status().as_u16())))?;
        parse_form(&bytes).map(Form)
    }
}

//! Extractors: a handler states what it needs (its tenant, the language) in
//! its signature, and gets it already checked.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use dimos_db::TenantDb;
use dimos_kernel::{Error, Locale};
use dimos_tenancy::{HostMatch, Tenant};
use std::sync::Arc;

/// The municipality this request is for, and the only door to its data.
/// Present only on tenant hosts; active tenants only.
#[derive(Clone, Debug)]
pub struct CurrentTenant {
    pub tenant: Arc<Tenant>,
    pub db: TenantDb,
}

impl CurrentTenant {
    /// The operator's configuration of `module` for this municipality, as
    /// the module's type: its defaults when none is set. A configuration
    /// that does not read as that type is an error, never the defaults in
    /// silence (the operator's choices would be ignored unseen).
    pub fn module_config<T: serde::de::DeserializeOwned + Default>(
        &self,
        module: &str,
    ) -> Result<T, dimos_kernel::Error> {
        match self.tenant.module_config(module) {
            None => Ok(T::default()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                dimos_kernel::Error::internal(format!(
                    "{module} configuration of {}: {e}",
                    self.tenant.slug()
                ))
            }),
        }
    }
}

impl<S> FromRequestParts<S> for CurrentTenant
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match parts.extensions.get::<HostMatch>() {
            Some(HostMatch::Tenant(t)) if t.is_active() => {
                let state = AppState::from_ref(state);
                Ok(CurrentTenant {
                    tenant: t.clone(),
                    db: state.scoped(t.id),
                })
            }
            Some(HostMatch::Tenant(_)) => Err(Error::TenantSuspended.into()),
            _ => Err(Error::UnknownTenant.into()),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentTenant
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, AppError> {
        match parts.extensions.get::<HostMatch>() {
            Some(HostMatch::Tenant(_)) => {
                <CurrentTenant as FromRequestParts<S>>::from_request_parts(parts, state)
                    .await
                    .map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The language of this response, chosen by the context middleware.
#[derive(Clone, Copy, Debug)]
pub struct Lang(pub Locale);

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Lang>()
            .copied()
            .unwrap_or(Lang(Locale::El)))
    }
}

/// Whether a request says its body is JSON: exactly `application/json` or
/// `application/<something>+json`, parameters aside. Nothing a browser may
/// send cross-site without a CORS preflight (`text/plain; charset=+json`
/// passed a looser check), so JSON endpoints need no form token.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(v) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/")
            && essence.ends_with("+json")
            && !essence.contains(char::is_whitespace))
}

/// JSON body whose rejections become our validation errors (422 with the
/// field path), never axum's plain-text ones.
pub struct Json<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers()) {
            return Err(Error::UnsupportedMediaType.into());
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError(Error::from_status(e.status().as_u16())))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| AppError(Error::BadRequest(format!("malformed JSON: {e}"))))?;
        // The same rule as forms (see `edge`): no control characters or
        // bidirectional overrides in any string or key.
        if let Some(r) = hostile_string(&value) {
            return Err(AppError(Error::BadRequest(format!(
                "a JSON string is refused: {r:?}"
            ))));
        }
        serde_path_to_error::deserialize(value)
            .map(Json)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let field = if path == "." { "body".to_owned() } else { path };
                AppError(Error::Validation(vec![
                    dimos_kernel::FieldError::new(field, "invalid").with_detail(inner.to_string()),
                ]))
            })
    }
}

fn hostile_string(v: &serde_json::Value) -> Option<crate::edge::Refused> {
    match v {
        serde_json::Value::String(s) => crate::edge::check_text(s, true).err(),
        serde_json::Value::Array(a) => a.iter().find_map(hostile_string),
        serde_json::Value::Object(o) => o.iter().find_map(|(k, v)| {
            crate::edge::check_text(k, false)
                .err()
                .or_else(|| hostile_string(v))
        }),
        _ => None,
    }
}

/// A URL-encoded body as `T`; a field that does not fit is a 422 naming it.
pub fn parse_form<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(bytes));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        AppError(Error::Validation(vec![
            dimos_kernel::FieldError::new(path, "invalid").with_detail(e.into_inner().to_string()),
        ]))
    })
}

fn form_urlencoded_parse(bytes: &[u8]) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(bytes)
}

/// The client's address: the connecting peer, or behind a trusted proxy
/// the address it forwards (see [`crate::edge`]). Rate limits and the
/// audit trail use it.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub Option<std::net::IpAddr>);

impl Peer {
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.0
    }

    /// For the audit trail.
    pub fn address(&self) -> Option<String> {
        self.0.map(|a| a.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<crate::edge::ClientAddr>() {
            return Ok(Peer(c.ip));
        }
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

//! Who is asking, on tenant hosts: server-side sessions bound to the
//! tenant, the signed-in person (`CurrentUser`, `Verified`), desk
//! assistance, session-bound CSRF tokens and the forms that check them
//! (`Posted`), and audit entries. The sign-in pages themselves (the OIDC
//! code flow, logout, the account page) are `dimos_pages::sign_in`.

use crate::error::{AppError, Result};
use crate::extract::{CurrentTenant, Peer};
use crate::state::AppState;
use crate::ui::Ui;
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_identity::accounts::{self, Account, AccountId, Assurance};
use dimos_identity::{AuditEntry, AuditLog, constant_time_eq, random_token};
use dimos_kernel::Error;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use uuid::Uuid;

const AUTH_KEY: &str = "auth";
const CSRF_KEY: &str = "csrf";
const ASSIST_KEY: &str = "assisting";

/// A desk officer acting for a citizen who is present.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assisting {
    pub account: Uuid,
    pub name: String,
    pub since: i64,
}

/// What a signed-in session holds. The tenant is checked on every use, so
/// a session can never act on another municipality's host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionAuth {
    pub tenant: Uuid,
    pub account: Uuid,
    pub provider: String,
    /// Unix seconds; the absolute timeout counts from here.
    pub signed_in_at: i64,
    /// Unix milliseconds, compared with "sign out everywhere".
    pub signed_in_at_ms: i64,
    pub id_token: String,
}

pub fn session_layer(state: &AppState) -> SessionManagerLayer<dimos_identity::DbSessionStore> {
    let idle = i64::try_from(state.identity().session_idle.as_secs()).unwrap_or(i64::MAX);
    SessionManagerLayer::new(state.session_store())
        .with_name("dimos_session")
        .with_secure(state.config().behind_tls())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(idle)))
}

/// Around the session layer: when the session cannot be saved after the
/// handler ran, the layer answers a bare 500 of its own (no body, no
/// content type, no `ErrorInfo`, which all of ours carry). Its store is the
/// database, so this is the database down or overloaded: answer as for any
/// dependency that is unavailable (503, `Retry-After`). What the handler
/// wrote stays written; forms carry idempotency keys, so the retry the
/// answer asks for files nothing twice.
pub async fn session_unsaved(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let res = next.run(req).await;
    // Ours carry their `ErrorInfo` (the error page is drawn further out).
    let bare = res.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR
        && res.extensions().get::<crate::error::ErrorInfo>().is_none()
        && !res.headers().contains_key(axum::http::header::CONTENT_TYPE);
    if bare {
        tracing::warn!("the session could not be saved after the request");
        return axum::response::IntoResponse::into_response(AppError(Error::Unavailable));
    }
    res
}

pub fn session_error(e: tower_sessions::session::Error) -> AppError {
    if dimos_identity::sessions::unavailable(&e) {
        tracing::warn!(error = %e, "session store unavailable");
        return AppError(Error::Unavailable);
    }
    AppError(Error::internal(e))
}

/// The signed-in person on this tenant's host.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub account: Account,
    pub auth: SessionAuth,
    pub csrf: String,
    /// Set while this (staff) person acts for a citizen at the desk.
    pub assisting: Option<Assisting>,
    /// Whether this session's provider is the one the municipality trusts
    /// to assert staff identities: only then do roles granted to a tax id
    /// apply (a citizens' provider could assert any tax id).
    pub staff_trusted: bool,
}

impl CurrentUser {
    pub fn id(&self) -> AccountId {
        self.account.id()
    }

    /// How the person appears in the audit trail.
    pub fn actor(&self) -> String {
        format!("account:{}", self.account.id)
    }

    /// An audit entry for an action of this person: actor, client address,
    /// and, while assisting, the citizen it is done for.
    pub fn audit(&self, peer: Peer, action: &str) -> AuditEntry {
        AuditEntry::new(self.actor(), action)
            .on_behalf_of(self.on_behalf_of())
            .from_address(peer.address())
    }

    /// Whose case an action is for: the citizen being assisted, or oneself.
    /// Applications (workflow engine) are filed for this account.
    pub fn acting_for(&self) -> AccountId {
        self.assisting
            .as_ref()
            .map_or(self.account.id(), |a| AccountId(a.account))
    }

    /// The name of the person an application is for: the citizen being
    /// assisted at the desk, else the person signed in.
    pub fn acting_for_name(&self) -> String {
        match &self.assisting {
            Some(a) => a.name.clone(),
            None => self.account.display_name(),
        }
    }

    /// Who filed an application for someone else: the officer at the desk
    /// while assisting a citizen; None when people file their own.
    pub fn filed_by(&self) -> Option<Uuid> {
        self.assisting.as_ref().map(|_| self.account.id)
    }

    /// For the audit trail: the citizen being assisted, if any.
    pub fn on_behalf_of(&self) -> Option<String> {
        self.assisting
            .as_ref()
            .map(|a| format!("account:{}", a.account))
    }
}

/// The signed-in person, loaded once per request: the handler's extractor
/// and the page shell share it.
#[derive(Clone)]
struct LoadedUser(Option<CurrentUser>);

pub async fn load_user(parts: &mut Parts, state: &AppState) -> Result<Option<CurrentUser>> {
    if let Some(LoadedUser(u)) = parts.extensions.get::<LoadedUser>() {
        return Ok(u.clone());
    }
    let user = load_user_uncached(parts, state).await?;
    parts.extensions.insert(LoadedUser(user.clone()));
    Ok(user)
}

async fn load_user_uncached(parts: &Parts, state: &AppState) -> Result<Option<CurrentUser>> {
    let Some(session) = parts.extensions.get::<Session>() else {
        return Ok(None);
    };
    let Some(dimos_tenancy::HostMatch::Tenant(tenant)) =
        parts.extensions.get::<dimos_tenancy::HostMatch>()
    else {
        return Ok(None);
    };
    let Some(auth) = session
        .get::<SessionAuth>(AUTH_KEY)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    if auth.tenant != tenant.id.uuid() {
        return Ok(None);
    }
    let age = dimos_kernel::clock::wall_now().timestamp() - auth.signed_in_at;
    if u64::try_from(age).map_or(true, |a| a > state.identity().session_absolute.as_secs()) {
        session.flush().await.map_err(session_error)?;
        return Ok(None);
    }
    let db = state.scoped(tenant.id);
    let Some(account) = accounts::get(&db, AccountId(auth.account)).await? else {
        return Ok(None);
    };
    if account
        .signed_out_at
        .is_some_and(|t| auth.signed_in_at_ms <= t.timestamp_millis())
    {
        // Signed out everywhere after this session began.
        session.flush().await.map_err(session_error)?;
        return Ok(None);
    }
    let csrf = match session
        .get::<String>(CSRF_KEY)
        .await
        .map_err(session_error)?
    {
        Some(t) => t,
        None => {
            let t = random_token();
            session.insert(CSRF_KEY, &t).await.map_err(session_error)?;
            t
        }
    };
    let assisting = session
        .get::<Assisting>(ASSIST_KEY)
        .await
        .map_err(session_error)?;
    let staff_trusted = auth.provider == staff_provider(&tenant.spec.identity, state.config());
    let mut user = CurrentUser {
        account,
        auth,
        csrf,
        assisting,
        staff_trusted,
    };
    // Acting for a citizen is bounded in time and re-checked on every
    // request: a revoked officer stops at once.
    if let Some(a) = &user.assisting {
        let limit = i64::try_from(state.config().identity.assist_minutes.saturating_mul(60))
            .unwrap_or(i64::MAX);
        let age = state.workflow().now().timestamp() - a.since;
        let still_allowed = state
            .access()
            .allowed(
                tenant.id,
                &crate::access::subjects(&user),
                <crate::access::AssistCitizens as crate::access::Permission>::ID,
            )
            .await;
        if age < 0 || age > limit || !still_allowed {
            tracing::info!(
                expired = age > limit,
                still_allowed,
                "desk assistance ended"
            );
            session
                .remove::<Assisting>(ASSIST_KEY)
                .await
                .map_err(session_error)?;
            user.assisting = None;
        }
    }
    Ok(Some(user))
}

impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, AppError> {
        load_user(parts, &AppState::from_ref(state)).await
    }
}

/// Requires a signed-in person; anyone else is sent to sign in and back.
impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match load_user(parts, &AppState::from_ref(state)).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) => {
                // The address as the person asked for it: inside a module's
                // router `parts.uri` has lost the module's prefix.
                let asked = parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or(&parts.uri, |o| &o.0);
                let next: String = form_urlencoded::byte_serialize(
                    asked
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .as_bytes(),
                )
                .collect();
                Err(Redirect::to(&format!("/auth/login?next={next}")).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Binds the session to the person who just signed in, with a fresh CSRF
/// token (the sign-in pages' alone: disallowed elsewhere by clippy.toml).
pub async fn establish(session: &Session, auth: &SessionAuth) -> Result<()> {
    session
        .insert(AUTH_KEY, auth)
        .await
        .map_err(session_error)?;
    session
        .insert(CSRF_KEY, random_token())
        .await
        .map_err(session_error)
}

/// Starts acting for a citizen (the caller checked the permission).
pub async fn start_assisting(session: &Session, assisting: &Assisting) -> Result<()> {
    session
        .insert(ASSIST_KEY, assisting)
        .await
        .map_err(session_error)
}

pub async fn stop_assisting(session: &Session) -> Result<Option<Assisting>> {
    session
        .remove::<Assisting>(ASSIST_KEY)
        .await
        .map_err(session_error)
}

/// A form posted by the signed-in person from one of our pages: the only
/// way a handler takes a URL-encoded form (clippy.toml disallows the
/// others). Its `_csrf` field must be the session's token (compared in
/// constant time) before the rest is read as `T`, so a handler cannot
/// forget the check. Not signed in: the sign-in redirect, as for
/// [`CurrentUser`]. Multipart forms check the token as their first field
/// (`cases::documents::receive_form`).
pub struct Posted<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Posted<T>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> std::result::Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user =
            <CurrentUser as FromRequestParts<S>>::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError(Error::from_status(e.status().as_u16())).into_response())?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        check_csrf(&user, &token).map_err(IntoResponse::into_response)?;
        #[allow(clippy::disallowed_methods)] // the token was checked just above
        crate::extract::parse_form(&bytes)
            .map(Posted)
            .map_err(IntoResponse::into_response)
    }
}

/// Checks the session-bound CSRF token of a posted form.
pub fn check_csrf(user: &CurrentUser, posted: &str) -> Result<()> {
    if constant_time_eq(user.csrf.as_bytes(), posted.as_bytes()) {
        Ok(())
    } else {
        Err(Error::Forbidden.into())
    }
}

/// Appends to the tenant's audit trail, in a transaction of its own. Where
/// the action has a transaction, prefer [`record_in`].
pub async fn record(state: &AppState, tenant: &CurrentTenant, entry: AuditEntry) -> Result<()> {
    AuditLog::append(&state.scoped(tenant.tenant.id), &entry).await?;
    Ok(())
}

/// Appends to the tenant's audit trail inside the action's transaction,
/// just before its commit: the action and its entry exist together or not
/// at all.
pub async fn record_in(
    tx: &mut dimos_db::TenantTx<'_>,
    tenant: &CurrentTenant,
    entry: AuditEntry,
) -> Result<()> {
    AuditLog::append_in(tx, &tenant.db, &entry).await?;
    Ok(())
}

/// A sign-in event in the audit trail, in a transaction of its own (it
/// changes no data).
pub async fn audit(
    state: &AppState,
    tenant: &CurrentTenant,
    peer: Peer,
    actor: String,
    action: &str,
    detail: serde_json::Value,
) {
    // Sign-in events: before a session exists the actor is who is signing in.
    let entry = AuditEntry::new(actor, action)
        .from_address(peer.address())
        .detail(detail);
    if let Err(e) = AuditLog::append(&state.scoped(tenant.tenant.id), &entry).await {
        tracing::error!(error = %e, action, "audit append failed");
    }
}

/// The provider a municipality's staff sign in through, and the only one
/// whose tax ids count for the roles granted to tax ids.
pub fn staff_provider<'a>(
    ident: &'a dimos_tenancy::model::TenantIdentity,
    cfg: &'a dimos_kernel::config::Config,
) -> &'a str {
    ident.staff_provider(&cfg.identity.default_provider)
}

/// The provider a municipality's citizens sign in through.
pub fn citizens_provider<'a>(
    ident: &'a dimos_tenancy::model::TenantIdentity,
    cfg: &'a dimos_kernel::config::Config,
) -> &'a str {
    ident.citizens_provider(&cfg.identity.default_provider)
}

/// An action's button: a form with nothing but its token, taken as
/// `_: Posted<Button>`.
#[derive(Deserialize)]
pub struct Button {}

/// A form that carries only the session's CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    pub csrf: String,
}

/// The request's Host header (already resolved to this tenant).
pub struct HostHeader(pub String);

impl<S: Send + Sync> FromRequestParts<S> for HostHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // As the context middleware resolves it.
        let host = crate::middleware::host_from(&parts.headers, &parts.uri);
        Ok(HostHeader(host))
    }
}

/// Minimum assurance for a service: an unverified citizen is told exactly
/// what to do instead of being refused with an error.
pub fn meets(user: &CurrentUser, min: Assurance) -> bool {
    user.account.assurance() >= min
}

/// A signed-in person whose identity was verified (assurance `substantial`
/// or higher): what services handling personal data require. An unverified
/// citizen gets a page that says exactly what to do, not a bare refusal.
#[derive(Debug, Clone)]
pub struct Verified(pub CurrentUser);

impl<S> FromRequestParts<S> for Verified
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let user = <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if meets(&user, Assurance::Substantial) {
            return Ok(Verified(user));
        }
        let Ok(ui) = <Ui as FromRequestParts<S>>::from_request_parts(parts, state).await;
        let tenant = ui.tenant.clone();
        let page = ui.render(
            "verify_needed.html",
            context! {
                municipality_address => tenant.as_ref().and_then(|t| t.spec.contact.address.as_ref().map(|a| a.get(ui.lang).to_owned())),
                municipality_phone => tenant.as_ref().and_then(|t| t.spec.contact.phone.clone()),
            },
        );
        let mut res = match page {
            Ok(html) => (axum::http::StatusCode::FORBIDDEN, html).into_response(),
            Err(e) => e.into_response(),
        };
        res.extensions_mut().insert(crate::error::Rendered);
        Err(res)
    }
}

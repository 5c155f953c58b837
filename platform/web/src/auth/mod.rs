//! Sign-in on tenant hosts: the OIDC code flow through the tenant's provider,
//! server-side sessions bound to the tenant, logout (RP-initiated where the
//! provider supports it), session-bound CSRF tokens, the account page.

pub mod dev_idp;

use crate::error::{AppError, Result};
use crate::extract::{CurrentTenant, Form, Peer};
use crate::middleware::host_of;
use crate::state::AppState;
use crate::ui::Ui;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dimos_identity::accounts::{self, Account, AccountId, Assurance};
use dimos_identity::{AuditEntry, AuditLog, Pending, constant_time_eq, random_token};
use dimos_kernel::Error;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use uuid::Uuid;

const AUTH_KEY: &str = "auth";
const PENDING_KEY: &str = "oidc_pending";
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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-everywhere", post(logout_everywhere))
        .route("/account", get(account))
        .route("/account/export", get(export))
}

fn session_error(e: tower_sessions::session::Error) -> AppError {
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

pub(crate) async fn load_user(parts: &mut Parts, state: &AppState) -> Result<Option<CurrentUser>> {
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
    let db = state.tenant_db(tenant.id);
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
                let next: String = form_urlencoded::byte_serialize(
                    parts
                        .uri
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

/// Checks the session-bound CSRF token of a posted form.
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
        crate::extract::parse_form(&bytes)
            .map(Posted)
            .map_err(IntoResponse::into_response)
    }
}

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
    AuditLog::append(&state.tenant_db(tenant.tenant.id), &entry).await?;
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

async fn audit(
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
    if let Err(e) = AuditLog::append(&state.tenant_db(tenant.tenant.id), &entry).await {
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

/// Foreign text (a provider's `error_description`) in the audit trail:
/// bounded, one line.
fn bounded(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn callback_url(state: &AppState, req_host: &str) -> String {
    format!(
        "{}://{}/auth/callback",
        state.config().http.public_scheme,
        req_host
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    /// `staff` to sign in through the tenant's staff provider.
    #[serde(rename = "as")]
    r#as: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    peer: Peer,
    session: Session,
    Query(q): Query<LoginQuery>,
    req: Request,
) -> Result<Response> {
    state.limits().sign_in(peer.ip())?;
    // Staff may sign in through another provider (or client) than citizens.
    let ident = &tenant.tenant.spec.identity;
    let chosen = if q.r#as.as_deref() == Some("staff") {
        staff_provider(ident, state.config())
    } else {
        citizens_provider(ident, state.config())
    };
    let provider = state
        .identity()
        .provider(chosen)
        .ok_or(Error::Unavailable)?;
    begin_sign_in(&state, &session, provider, &host_of(&req), q.next).await
}

/// Starts the code flow with `provider` and remembers it in the session;
/// the callback comes back to the host the person is on. Shared by tenant
/// hosts and the admin host.
pub(crate) async fn begin_sign_in(
    state: &AppState,
    session: &Session,
    provider: &dimos_identity::OidcProvider,
    host: &str,
    next: Option<String>,
) -> Result<Response> {
    let next = crate::pages::safe_next(next);
    let (url, pending) = provider
        .start(&callback_url(state, host), &next)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "sign-in could not start");
            Error::SignInFailed(e.code())
        })?;
    session
        .insert(PENDING_KEY, &pending)
        .await
        .map_err(session_error)?;
    Ok(Redirect::to(&url).into_response())
}

/// Completes the code flow the session started. The pending sign-in is
/// taken out of the session first, so a replayed callback finds nothing.
/// It must come back to the host that began it (a session cookie copied to
/// another host finishes nothing there) and through a provider in
/// `allowed`.
pub(crate) async fn finish_sign_in(
    state: &AppState,
    session: &Session,
    q: &CallbackQuery,
    host: &str,
    allowed: &[&str],
) -> Result<(Pending, dimos_identity::SignedIn), dimos_identity::SignInError> {
    use dimos_identity::SignInError;
    let pending: Option<Pending> = session
        .remove(PENDING_KEY)
        .await
        .map_err(|e| SignInError::Discovery(format!("session: {e}")))?;
    let pending = pending.ok_or(SignInError::NoPendingSignIn)?;
    if pending.redirect_uri != callback_url(state, host) {
        return Err(SignInError::WrongHost);
    }
    if !allowed.contains(&pending.provider.as_str()) {
        return Err(SignInError::ProviderNotTrusted);
    }
    if let Some(err) = q.error.as_deref() {
        return Err(SignInError::ProviderRefused(bounded(&format!(
            "{err}: {}",
            q.error_description.as_deref().unwrap_or("")
        ))));
    }
    let provider = state
        .identity()
        .provider(&pending.provider)
        .ok_or_else(|| SignInError::Discovery("provider no longer configured".into()))?;
    let code = q
        .code
        .as_deref()
        .ok_or_else(|| SignInError::TokenExchange("no code".into()))?;
    let returned_state = q.state.as_deref().ok_or(SignInError::StateMismatch)?;
    let signed_in = provider
        .finish(&pending, code, returned_state, q.iss.as_deref())
        .await?;
    Ok((pending, signed_in))
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// RFC 9207 issuer identification.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    peer: Peer,
    host: HostHeader,
    Query(q): Query<CallbackQuery>,
) -> Result<Response> {
    let ident = &tenant.tenant.spec.identity;
    let allowed = [
        citizens_provider(ident, state.config()),
        staff_provider(ident, state.config()),
    ];
    let result = finish_sign_in(&state, &session, &q, &host.0, &allowed).await;
    let (pending, signed_in) = match result {
        Ok(v) => v,
        Err(dimos_identity::SignInError::NoPendingSignIn) => {
            // Nobody's sign-in failed: a replay, a forgery or a stray
            // callback. Counted, not written to the audit trail.
            let e = dimos_identity::SignInError::NoPendingSignIn;
            tracing::info!(
                tenant = tenant.tenant.slug(),
                reason = e.code(),
                "stray sign-in callback"
            );
            state
                .metrics()
                .stray_callbacks
                .get_or_create(&crate::metrics::ReasonLabel { reason: e.code() })
                .inc();
            return Err(Error::SignInFailed(e.code()).into());
        }
        Err(e) => {
            tracing::warn!(tenant = tenant.tenant.slug(), reason = e.code(), error = %e, "sign-in failed");
            audit(
                &state,
                &tenant,
                peer,
                "anonymous".into(),
                "sign_in_failed",
                serde_json::json!({ "reason": e.code(), "message": bounded(&e.to_string()) }),
            )
            .await;
            return Err(Error::SignInFailed(e.code()).into());
        }
    };
    let (account, created) = accounts::upsert_on_sign_in(&tenant.db, &signed_in.identity).await?;
    // A new session id at sign-in: a fixated id from before is worthless.
    session.cycle_id().await.map_err(session_error)?;
    let now = dimos_kernel::clock::wall_now();
    let auth = SessionAuth {
        tenant: tenant.tenant.id.uuid(),
        account: account.id,
        provider: pending.provider.clone(),
        signed_in_at: now.timestamp(),
        signed_in_at_ms: now.timestamp_millis(),
        id_token: signed_in.id_token,
    };
    session
        .insert(AUTH_KEY, &auth)
        .await
        .map_err(session_error)?;
    session
        .insert(CSRF_KEY, random_token())
        .await
        .map_err(session_error)?;
    audit(
        &state,
        &tenant,
        peer,
        format!("account:{}", account.id),
        "sign_in",
        serde_json::json!({ "provider": pending.provider, "assurance": account.assurance, "new_account": created }),
    )
    .await;
    Ok(Redirect::to(&pending.next).into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
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

async fn logout(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    peer: Peer,
    user: Option<CurrentUser>,
    req_host: HostHeader,
    Form(form): Form<CsrfForm>,
) -> Result<Response> {
    let Some(user) = user else {
        return Ok(Redirect::to("/").into_response());
    };
    check_csrf(&user, &form.csrf)?;
    audit(
        &state,
        &tenant,
        peer,
        user.actor(),
        "sign_out",
        serde_json::json!({}),
    )
    .await;
    session.flush().await.map_err(session_error)?;
    let home = format!("{}://{}/", state.config().http.public_scheme, req_host.0);
    let target = match state.identity().provider(&user.auth.provider) {
        Some(p) => p
            .end_session_url(&user.auth.id_token, &home)
            .await
            .unwrap_or(home),
        None => home,
    };
    Ok(Redirect::to(&target).into_response())
}

/// Ends this person's sessions on every device, this one included.
async fn logout_everywhere(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    peer: Peer,
    user: CurrentUser,
    _: Posted<Button>,
) -> Result<Response> {
    accounts::sign_out_everywhere(&tenant.db, user.id(), dimos_kernel::clock::wall_now()).await?;
    audit(
        &state,
        &tenant,
        peer,
        user.actor(),
        "sign_out_everywhere",
        serde_json::json!({}),
    )
    .await;
    session.flush().await.map_err(session_error)?;
    Ok(Redirect::to("/").into_response())
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

async fn account(
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    saved: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Html<String>> {
    // An officer assisting a citizen sees the citizen's account.
    let shown = if user.assisting.is_some() {
        accounts::get(&tenant.db, user.acting_for())
            .await?
            .ok_or(Error::NotFound)?
    } else {
        user.account.clone()
    };
    let a = &shown;
    let level = a.assurance();
    let history: Vec<_> = dimos_identity::verifications::history(&tenant.db, a.id())
        .await?
        .iter()
        .map(|v| {
            context! {
                at => v.at.format("%d/%m/%Y %H:%M").to_string(),
                officer => v.officer_name.clone(),
                document => v.document_type.clone(),
                municipality => tenant.tenant.name(ui.lang),
            }
        })
        .collect();
    ui.render(
        "account.html",
        context! {
            name => a.display_name(),
            tax_id => a.tax_id,
            email => a.email,
            phone => a.phone,
            assurance => level.as_str(),
            verified => level.is_verified(),
            since => a.created_at.format("%d/%m/%Y").to_string(),
            municipality_address => tenant.tenant.spec.contact.address.as_ref().map(|x| x.get(ui.lang).to_owned()),
            municipality_phone => tenant.tenant.spec.contact.phone,
            history,
            notifications => crate::notify::prefs_context(&ui.state, &tenant.db, &user).await?,
            saved => saved.0.get("saved").cloned(),
            csrf => user.csrf,
        },
    )
}

/// Everything this municipality holds about the signed-in person (GDPR
/// access and portability), as a JSON download.
async fn export(tenant: CurrentTenant, user: CurrentUser) -> Result<Response> {
    let verifications = dimos_identity::verifications::history(&tenant.db, user.id()).await?;
    let body = serde_json::json!({
        "municipality": tenant.tenant.slug(),
        "exported_at": dimos_kernel::clock::wall_now(),
        "account": user.account,
        "verifications": verifications,
    });
    let disposition = format!(
        "attachment; filename=\"dimos-{}-account.json\"",
        tenant.tenant.slug()
    );
    Ok((
        [
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".into()),
        ],
        axum::Json(body),
    )
        .into_response())
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

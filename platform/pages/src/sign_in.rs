//! Sign-in on tenant hosts: the OIDC code flow through the tenant's
//! provider, logout (RP-initiated where the provider supports it),
//! signing out everywhere, and the account page with its data export.

use crate::form::Form;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dimos_identity::Pending;
use dimos_identity::accounts::{self};
use dimos_kernel::Error;
use dimos_web::auth::*;

/// The sign-in begun, in the session until the provider answers.
const PENDING_KEY: &str = "oidc_pending";
use dimos_web::error::Result;
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::middleware::host_of;
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-everywhere", post(logout_everywhere))
        .route("/account", get(account))
        .route("/account/export", get(export))
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

#[allow(clippy::disallowed_methods)] // the platform's sign-in and desk pages: what these calls are for
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
                .get_or_create(&dimos_web::metrics::ReasonLabel { reason: e.code() })
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
    #[allow(clippy::disallowed_methods)] // this is the sign-in
    establish(&session, &auth).await?;
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

#[allow(clippy::disallowed_methods)] // the platform's sign-in and desk pages: what these calls are for
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
#[allow(clippy::disallowed_methods)] // the platform's sign-in and desk pages: what these calls are for
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
/// access and portability), as a JSON download: every row of every
/// module's personal tables that leads to them (`crate::my_data`).
async fn export(ui: Ui, tenant: CurrentTenant, user: CurrentUser) -> Result<Response> {
    let sets = ui.state.modules().migration_sets();
    let person = crate::my_data::Person {
        account: user.account.id,
        tax_id: user.account.tax_id.as_deref(),
    };
    let tables = crate::my_data::collect(&tenant.db, &sets, &person).await?;
    let body = serde_json::json!({
        "municipality": tenant.tenant.slug(),
        "exported_at": dimos_kernel::clock::wall_now(),
        "account": user.account,
        "tables": tables,
        "not_included": {
            "tables": crate::my_data::unlinked(&sets),
            "why": "rows about people not linked to an account, or about several people at once; the municipality's data protection officer answers requests about them",
        },
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

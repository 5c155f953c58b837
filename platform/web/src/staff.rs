//! Staff and municipal-admin pages on tenant hosts. Every route is declared
//! with its permission in one table (`guarded_routes!`): the table builds
//! the router, puts a permission check in front of each route, and is what
//! the role × route test walks. A route cannot be added without one.

use crate::access::{
    AssistCitizens, Authorized, ManageAccess, Permission, ReadAudit, VerifyAccounts, subjects,
};
use crate::auth::{CurrentUser, check_csrf};
use crate::error::Result;
use crate::extract::{CurrentTenant, Form, Peer};
use crate::state::AppState;
use crate::ui::Ui;
use axum::Router;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_identity::access::{tax_id_subject, valid_tax_id};
use dimos_identity::accounts::{self, AccountId};
use dimos_identity::verifications::{self, DOCUMENT_TYPES};
use dimos_identity::{AuditEntry, AuditLog};
use dimos_kernel::Error;
use minijinja::context;
use serde::Deserialize;

/// Runs before the handler of a guarded route, whatever the handler takes.
async fn require<P: Permission>(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    match Authorized::<P>::from_request_parts(&mut parts, &state).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(denied) => denied,
    }
}

macro_rules! guarded_routes {
    ($( $method:ident $path:literal => $handler:ident requires $perm:ty; )*) => {
        /// (method, path, permission) of every staff and admin route.
        pub const PROTECTED_ROUTES: &[(&str, &str, &str)] = &[
            $( (stringify!($method), $path, <$perm as Permission>::ID), )*
        ];

        pub fn routes(state: &AppState) -> Router<AppState> {
            Router::new()
            $(
                .route(
                    $path,
                    axum::routing::$method($handler)
                        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require::<$perm>)),
                )
            )*
        }
    };
}

guarded_routes! {
    get "/staff/verify" => verify_page requires VerifyAccounts;
    post "/staff/verify/confirm" => verify_confirm requires VerifyAccounts;
    get "/admin/access" => access_page requires ManageAccess;
    post "/admin/access/grant" => access_grant requires ManageAccess;
    post "/admin/access/revoke" => access_revoke requires ManageAccess;
    get "/admin/audit" => audit_json requires ReadAudit;
    post "/staff/assist/start" => assist_start requires AssistCitizens;
    post "/staff/assist/end" => assist_end requires AssistCitizens;
}

async fn audit(
    state: &AppState,
    tenant: &CurrentTenant,
    peer: Peer,
    actor: String,
    action: &str,
    record: Option<String>,
    detail: serde_json::Value,
) -> Result<()> {
    audit_for(state, tenant, peer, actor, None, action, record, detail).await
}

#[allow(clippy::too_many_arguments)] // one audit entry's fields, named at each call
async fn audit_for(
    state: &AppState,
    tenant: &CurrentTenant,
    peer: Peer,
    actor: String,
    on_behalf_of: Option<String>,
    action: &str,
    record: Option<String>,
    detail: serde_json::Value,
) -> Result<()> {
    let entry = AuditEntry {
        actor,
        on_behalf_of,
        action: action.into(),
        record,
        source: peer.0.map(|a| a.ip().to_string()),
        detail,
    };
    AuditLog::append(&state.tenant_db(tenant.tenant.id), &entry).await?;
    Ok(())
}

#[derive(Deserialize)]
struct VerifyQuery {
    tax_id: Option<String>,
    done: Option<String>,
}

async fn verify_page(
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<VerifyAccounts>,
    Query(q): Query<VerifyQuery>,
) -> Result<Html<String>> {
    let tax_id = q
        .tax_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let mut error = None;
    let mut found = vec![];
    if let Some(t) = &tax_id {
        if valid_tax_id(t) {
            for a in accounts::by_tax_id(&tenant.db, t).await? {
                let history = verifications::history(&tenant.db, a.id()).await?;
                found.push(context! {
                    id => a.id.to_string(),
                    name => a.display_name(),
                    assurance => a.assurance,
                    verified => a.assurance().is_verified(),
                    history => history.iter().map(|v| context! {
                        at => v.at.format("%d/%m/%Y %H:%M").to_string(), officer => v.officer_name.clone(), document => v.document_type.clone()
                    }).collect::<Vec<_>>(),
                });
            }
        } else {
            error = Some(ui.t("error-field-tax-id-invalid"));
        }
    }
    ui.render(
        "staff/verify.html",
        context! {
            tax_id, error, found, csrf => who.user.csrf, done => q.done.is_some(),
            documents => DOCUMENT_TYPES,
        },
    )
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    account: uuid::Uuid,
    document_type: String,
}

async fn verify_confirm(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<VerifyAccounts>,
    peer: Peer,
    Form(f): Form<VerifyForm>,
) -> Result<Response> {
    check_csrf(&who.user, &f.csrf)?;
    state.limits().verification(&who.user.actor())?;
    if !DOCUMENT_TYPES.contains(&f.document_type.as_str()) {
        return Err(Error::invalid("document_type", "invalid").into());
    }
    let account = accounts::get(&tenant.db, AccountId(f.account))
        .await?
        .ok_or(Error::NotFound)?;
    verifications::verify_in_person(
        &tenant.db,
        account.id(),
        &who.user.actor(),
        &who.user.account.display_name(),
        &f.document_type,
    )
    .await?;
    audit(
        &state,
        &tenant,
        peer,
        who.user.actor(),
        "account_verified",
        Some(format!("account:{}", account.id)),
        serde_json::json!({ "method": "in-person", "document_type": f.document_type }),
    )
    .await?;
    let tax = account.tax_id.unwrap_or_default();
    Ok(Redirect::to(&format!("/staff/verify?tax_id={tax}&done=1")).into_response())
}

async fn access_page(
    ui: Ui,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
) -> Result<Html<String>> {
    let grants = state.access().grants(&tenant.db).await?;
    let catalog = state.access().catalog();
    let roles: Vec<_> = catalog
        .roles
        .values()
        .map(|r| {
            let perms: Vec<String> = r
                .permissions
                .iter()
                .map(|p| ui.t(&catalog.permissions[p]))
                .collect();
            context! { id => r.id.clone(), label => ui.t(&r.label_key), permissions => perms }
        })
        .collect();
    let grants: Vec<_> = grants
        .iter()
        .map(|g| {
            let label = catalog.roles.get(&g.role).map_or(g.role.clone(), |r| ui.t(&r.label_key));
            context! { subject => g.subject.clone(), who => g.subject.trim_start_matches("taxid:").to_owned(), role => g.role.clone(), role_label => label, by => g.granted_by.clone() }
        })
        .collect();
    ui.render(
        "admin/access.html",
        context! { roles, grants, csrf => who.user.csrf },
    )
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    tax_id: String,
    role: String,
}

async fn access_grant(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Form(f): Form<GrantForm>,
) -> Result<Response> {
    check_csrf(&who.user, &f.csrf)?;
    let tax_id = f.tax_id.trim();
    if !valid_tax_id(tax_id) {
        return Err(Error::invalid("tax_id", "tax-id-invalid").into());
    }
    if !state.access().catalog().is_role(&f.role) {
        return Err(Error::invalid("role", "invalid").into());
    }
    let subject = tax_id_subject(tax_id);
    if state
        .access()
        .grant(&tenant.db, &subject, &f.role, &who.user.actor())
        .await?
    {
        audit(
            &state,
            &tenant,
            peer,
            who.user.actor(),
            "role_granted",
            Some(subject),
            serde_json::json!({ "role": f.role }),
        )
        .await?;
    }
    Ok(Redirect::to("/admin/access").into_response())
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    subject: String,
    role: String,
}

async fn access_revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Form(f): Form<RevokeForm>,
) -> Result<Response> {
    check_csrf(&who.user, &f.csrf)?;
    if state
        .access()
        .revoke(&tenant.db, &f.subject, &f.role)
        .await?
    {
        audit(
            &state,
            &tenant,
            peer,
            who.user.actor(),
            "role_revoked",
            Some(f.subject),
            serde_json::json!({ "role": f.role }),
        )
        .await?;
    }
    Ok(Redirect::to("/admin/access").into_response())
}

/// The audit trail's latest entries and whether the whole chain verifies.
async fn audit_json(
    tenant: CurrentTenant,
    _who: Authorized<ReadAudit>,
) -> Result<axum::Json<serde_json::Value>> {
    let chain = AuditLog::verify(&tenant.db).await?;
    let entries = AuditLog::entries(&tenant.db, 200).await?;
    Ok(axum::Json(
        serde_json::json!({ "chain": chain, "entries": entries }),
    ))
}

/// Roles the signed-in person holds here, for the header's staff links.
pub async fn staff_links(
    state: &AppState,
    tenant: dimos_kernel::TenantId,
    user: &CurrentUser,
) -> Vec<(&'static str, &'static str)> {
    let subj = subjects(user);
    let mut links = vec![];
    if state
        .access()
        .allowed(tenant, &subj, VerifyAccounts::ID)
        .await
    {
        links.push(("/staff/verify", "nav-verify"));
    }
    if state
        .access()
        .allowed(tenant, &subj, ManageAccess::ID)
        .await
    {
        links.push(("/admin/access", "nav-access"));
    }
    links
}

#[derive(Deserialize)]
struct AssistForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    account: uuid::Uuid,
}

/// The officer starts acting for a citizen present at the desk.
async fn assist_start(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<AssistCitizens>,
    session: tower_sessions::Session,
    peer: Peer,
    Form(f): Form<AssistForm>,
) -> Result<Response> {
    check_csrf(&who.user, &f.csrf)?;
    let citizen = accounts::get(&tenant.db, AccountId(f.account))
        .await?
        .ok_or(Error::NotFound)?;
    if citizen.id == who.user.account.id {
        return Err(Error::invalid("account", "invalid").into());
    }
    let assisting = crate::auth::Assisting {
        account: citizen.id,
        name: citizen.display_name(),
        since: chrono::Utc::now().timestamp(),
    };
    crate::auth::start_assisting(&session, &assisting).await?;
    let on_behalf = Some(format!("account:{}", citizen.id));
    audit_for(
        &state,
        &tenant,
        peer,
        who.user.actor(),
        on_behalf,
        "assist_started",
        None,
        serde_json::json!({}),
    )
    .await?;
    Ok(Redirect::to("/account").into_response())
}

async fn assist_end(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<AssistCitizens>,
    session: tower_sessions::Session,
    peer: Peer,
    Form(f): Form<crate::auth::CsrfOnly>,
) -> Result<Response> {
    check_csrf(&who.user, &f.csrf)?;
    if let Some(a) = crate::auth::stop_assisting(&session).await? {
        let on_behalf = Some(format!("account:{}", a.account));
        audit_for(
            &state,
            &tenant,
            peer,
            who.user.actor(),
            on_behalf,
            "assist_ended",
            None,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(Redirect::to("/staff/verify").into_response())
}

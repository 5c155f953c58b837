//! Staff and municipal-admin pages on tenant hosts. Every route is declared
//! with its permission in one table (`guarded_routes!`): the table builds
//! the router, puts a permission check in front of each route, and is what
//! the role × route test walks. A route cannot be added without one.

use crate::cases;
use axum::Router;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_identity::AuditLog;
use dimos_identity::access::{Access, Department, tax_id_subject};
use dimos_identity::accounts::{self, AccountId};
use dimos_identity::verifications::{self, DOCUMENT_TYPES};
use dimos_kernel::{Error, LocalizedText, Slug, TaxId};
use dimos_web::access::{
    AssignTasks, AssistCitizens, Authorized, ConfigureServices, ManageAccess, ManageSigning,
    Permission, ReadAccessLog, ReadAudit, ReadCaseFile, ReadCases, ReadProtocol, ReadReports,
    RegisterProtocol, SignDocuments, VerifyAccounts, WorkTasks, subjects,
};
use dimos_web::auth::{Button, CurrentUser, Posted};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Deserialize;
use uuid::Uuid;

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
    ($( $method:ident $path:literal => $handler:ident $(:: $rest:ident)* requires $perm:ty; )*) => {
        /// (method, path, permission, other permissions that grant it too)
        /// of every staff and admin route.
        pub const PROTECTED_ROUTES: &[(&str, &str, &str, &[&str])] = &[
            $( (stringify!($method), $path, <$perm as Permission>::ID, <$perm as Permission>::OR), )*
        ];

        pub fn routes(state: &AppState) -> Router<AppState> {
            Router::new()
            $(
                .route(
                    $path,
                    axum::routing::$method($handler $(:: $rest)*)
                        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require::<$perm>)),
                )
            )*
        }
    };
}

guarded_routes! {
    get "/staff/agenda" => cases::staff::agenda requires WorkTasks;
    get "/api/staff/agenda" => cases::staff::api_agenda requires WorkTasks;
    post "/staff/tasks/{id}/claim" => cases::staff::claim requires WorkTasks;
    post "/staff/tasks/{id}/release" => cases::staff::release requires WorkTasks;
    post "/staff/tasks/{id}/complete" => cases::staff::complete requires WorkTasks;
    post "/staff/tasks/{id}/assign" => cases::staff::assign requires AssignTasks;
    get "/staff/cases/{id}" => cases::staff::case_file requires ReadCaseFile;
    post "/staff/cases/{id}/comment" => cases::staff::comment requires WorkTasks;
    get "/staff/cases/{id}/documents/{doc}" => cases::documents::staff_download requires ReadCaseFile;
    post "/staff/cases/{id}/documents" => cases::documents::staff_upload requires WorkTasks;
    post "/staff/cases/{id}/documents/{doc}/sign" => cases::signing::sign requires SignDocuments;
    get "/admin/signing" => cases::signing::admin requires ManageSigning;
    post "/admin/signing/issue" => cases::signing::issue requires ManageSigning;
    post "/admin/signing/revoke" => cases::signing::revoke requires ManageSigning;
    get "/staff/cases" => cases::staff::search requires ReadCases;
    get "/staff/team" => cases::staff::team requires AssignTasks;
    get "/staff/protocol" => cases::protocol::list requires ReadProtocol;
    post "/staff/protocol" => cases::protocol::register requires RegisterProtocol;
    get "/staff/reports" => cases::reports::page requires ReadReports;
    get "/staff/reports.csv" => cases::reports::csv requires ReadReports;
    get "/admin/services" => cases::services::list requires ConfigureServices;
    get "/admin/services/{process}" => cases::services::show requires ConfigureServices;
    post "/admin/services/{process}" => cases::services::save requires ConfigureServices;
    get "/admin/notifications" => crate::notify::admin_page requires ConfigureServices;
    post "/admin/notifications/settings" => crate::notify::save_settings requires ConfigureServices;
    post "/admin/notifications/template" => crate::notify::save_template requires ConfigureServices;
    get "/admin/settings" => crate::settings_page::list requires ConfigureServices;
    get "/admin/settings/{id}" => crate::settings_page::show requires ConfigureServices;
    post "/admin/settings/{id}" => crate::settings_page::save requires ConfigureServices;
    get "/staff/verify" => verify_page requires VerifyAccounts;
    post "/staff/verify/confirm" => verify_confirm requires VerifyAccounts;
    get "/admin/access" => access_page requires ManageAccess;
    post "/admin/access/grant" => access_grant requires ManageAccess;
    post "/admin/access/revoke" => access_revoke requires ManageAccess;
    get "/admin/audit" => audit_json requires ReadAudit;
    get "/admin/privacy" => privacy_page requires ReadAccessLog;
    post "/staff/assist/start" => assist_start requires AssistCitizens;
    post "/staff/assist/end" => assist_end requires AssistCitizens;
    get "/admin/api/access" => api_access requires ManageAccess;
    post "/admin/api/grants" => api_grant requires ManageAccess;
    post "/admin/api/grants/revoke" => api_revoke requires ManageAccess;
    put "/admin/api/departments/{slug}" => api_put_department requires ManageAccess;
    post "/admin/api/departments/{slug}/members" => api_add_member requires ManageAccess;
    delete "/admin/api/departments/{slug}/members/{tax_id}" => api_remove_member requires ManageAccess;
    put "/admin/api/roles/{role}/permissions" => api_role_permissions requires ManageAccess;
    post "/admin/access/department" => access_department requires ManageAccess;
    post "/admin/access/member" => access_member requires ManageAccess;
    get "/admin/api-clients" => crate::api::admin::page requires ManageAccess;
    post "/admin/api-clients" => crate::api::admin::create requires ManageAccess;
    post "/admin/api-clients/{id}/revoke" => crate::api::admin::revoke requires ManageAccess;
    get "/admin/webhooks" => crate::api::webhooks::page requires ManageAccess;
    post "/admin/webhooks" => crate::api::webhooks::create requires ManageAccess;
    get "/admin/webhooks/{id}" => crate::api::webhooks::log requires ManageAccess;
    post "/admin/webhooks/{id}/disable" => crate::api::webhooks::disable requires ManageAccess;
    post "/admin/webhooks/{id}/deliveries/{delivery}/replay" => crate::api::webhooks::replay requires ManageAccess;
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
        if t.parse::<TaxId>().is_ok() {
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
    account: uuid::Uuid,
    document_type: String,
}

async fn verify_confirm(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<VerifyAccounts>,
    peer: Peer,
    Posted(f): Posted<VerifyForm>,
) -> Result<Response> {
    state.limits().verification(&who.user.actor())?;
    if !DOCUMENT_TYPES.contains(&f.document_type.as_str()) {
        return Err(Error::invalid("document_type", "invalid").into());
    }
    let account = accounts::get(&tenant.db, AccountId(f.account))
        .await?
        .ok_or(Error::NotFound)?;
    // Nobody vouches for themselves.
    if account.id == who.user.account.id {
        return Err(Error::invalid("account", "self").into());
    }
    // The verification, the raised assurance and the audit entry: one
    // transaction.
    let mut tx = tenant.db.begin().await?;
    verifications::verify_in_person(
        &mut tx,
        &tenant.db,
        account.id(),
        &who.user.actor(),
        &who.user.account.display_name(),
        &f.document_type,
    )
    .await?;
    dimos_web::auth::record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "account_verified")
            .record(format!("account:{}", account.id))
            .detail(serde_json::json!({ "method": "in-person", "document_type": f.document_type })),
    )
    .await?;
    tx.commit().await?;
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
    let departments: Vec<_> = state
        .access()
        .departments(&tenant.db)
        .await?
        .into_iter()
        .map(|(d, members)| {
            let name = if ui.lang == dimos_kernel::Locale::En {
                d.name_en
            } else {
                d.name_el
            };
            let members: Vec<String> = members
                .iter()
                .map(|m| m.trim_start_matches("taxid:").to_owned())
                .collect();
            context! { slug => d.slug, name, members }
        })
        .collect();
    ui.render(
        "admin/access.html",
        context! { roles, grants, departments, csrf => who.user.csrf },
    )
}

#[derive(Deserialize)]
struct GrantForm {
    tax_id: String,
    role: String,
}

async fn access_grant(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Posted(f): Posted<GrantForm>,
) -> Result<Response> {
    let tax: TaxId = f.tax_id.trim().parse()?;
    AccessChange::new(&state, &tenant, &who.user, peer)
        .grant(tax_id_subject(tax.as_str()), &f.role)
        .await?;
    Ok(Redirect::to("/admin/access").into_response())
}

#[derive(Deserialize)]
struct RevokeForm {
    subject: String,
    role: String,
}

async fn access_revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Posted(f): Posted<RevokeForm>,
) -> Result<Response> {
    AccessChange::new(&state, &tenant, &who.user, peer)
        .revoke(&f.subject, &f.role)
        .await?;
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

#[derive(Debug, serde::Deserialize)]
struct PrivacyQuery {
    case: Option<String>,
    tax_id: Option<String>,
    before: Option<i64>,
}

/// The data protection officer's log: who opened sensitive personal data
/// (a case file, a document, a citizen's account at the desk), when and
/// from where; by case or by member of staff, newest first, a page at a
/// time.
async fn privacy_page(
    ui: Ui,
    tenant: CurrentTenant,
    _who: Authorized<ReadAccessLog>,
    Query(q): Query<PrivacyQuery>,
) -> Result<Html<String>> {
    const PAGE: u64 = 50;
    let case = q
        .case
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            Uuid::try_parse(c).map_err(|_| Error::BadRequest("case: not a case number".into()))
        })
        .transpose()?;
    let tax_id = q.tax_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
    // Staff are named by account in the trail: one tax id, maybe several
    // accounts (one per provider); none means nobody by that tax id.
    let actors: Option<Vec<String>> = match tax_id {
        Some(t) => Some(
            dimos_identity::accounts::by_tax_id(&tenant.db, t)
                .await?
                .iter()
                .map(|a| format!("account:{}", a.id))
                .collect(),
        ),
        None => None,
    };
    let record = case.map(|c| format!("case:{c}"));
    let mut entries = vec![];
    match &actors {
        Some(list) if list.is_empty() => {}
        Some(list) => {
            for a in list {
                entries.extend(
                    AuditLog::sensitive_access(
                        &tenant.db,
                        Some(a),
                        record.as_deref(),
                        q.before,
                        PAGE,
                    )
                    .await?,
                );
            }
            entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
            entries.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
        }
        None => {
            entries =
                AuditLog::sensitive_access(&tenant.db, None, record.as_deref(), q.before, PAGE)
                    .await?;
        }
    }
    let ids: Vec<AccountId> = entries
        .iter()
        .filter_map(|e| e.actor.strip_prefix("account:"))
        .filter_map(|id| Uuid::try_parse(id).ok())
        .map(AccountId)
        .collect();
    let people = dimos_identity::accounts::get_many(&tenant.db, &ids).await?;
    let name_of = |actor: &str| {
        people
            .iter()
            .find(|a| actor.strip_prefix("account:") == Some(a.id.to_string().as_str()))
            .map(|a| (a.display_name(), a.tax_id.clone().unwrap_or_default()))
            .unwrap_or_else(|| (actor.to_owned(), String::new()))
    };
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            let (name, tax) = name_of(&e.actor);
            let case = e
                .record
                .as_deref()
                .and_then(|r| r.strip_prefix("case:"))
                .map(str::to_owned);
            context! {
                when => dimos_kernel::clock::local_datetime(e.at).format("%d/%m/%Y %H:%M:%S").to_string(),
                who => name,
                tax_id => tax,
                what => e.action.clone(),
                case => case,
                for_whom => e.on_behalf_of.clone(),
                from => e.source.clone(),
            }
        })
        .collect();
    let older = (entries.len() == usize::try_from(PAGE).unwrap_or(usize::MAX))
        .then(|| entries.last().map(|e| e.seq))
        .flatten()
        .map(|seq| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(c) = case {
                query.append_pair("case", &c.to_string());
            }
            if let Some(t) = tax_id {
                query.append_pair("tax_id", t);
            }
            query.append_pair("before", &seq.to_string());
            query.finish()
        });
    ui.render(
        "admin/privacy.html",
        context! {
            rows,
            case => case.map(|c| c.to_string()).unwrap_or_default(),
            tax_id => tax_id.unwrap_or_default(),
            older,
        },
    )
}

/// Roles the signed-in person holds here, for the header's staff links.
pub async fn staff_links(
    state: &AppState,
    tenant: &dimos_tenancy::Tenant,
    user: &CurrentUser,
) -> Vec<(&'static str, &'static str)> {
    let subj = subjects(user);
    // Permissions come only through roles: without one (every citizen) no
    // link is allowed, and the dozen policy checks below (each a pass over
    // the policy) were most of a signed-in page's cost.
    if state.access().roles_of(tenant.id, &subj).await.is_empty() {
        return vec![];
    }
    let pages: [(&str, &str, &str); 14] = [
        ("/staff/agenda", "nav-agenda", WorkTasks::ID),
        ("/staff/cases", "nav-cases", ReadCases::ID),
        ("/staff/team", "nav-team", AssignTasks::ID),
        ("/staff/protocol", "nav-protocol", ReadProtocol::ID),
        ("/staff/reports", "nav-reports", ReadReports::ID),
        ("/staff/verify", "nav-verify", VerifyAccounts::ID),
        ("/admin/services", "nav-services", ConfigureServices::ID),
        (
            "/admin/notifications",
            "nav-notifications",
            ConfigureServices::ID,
        ),
        (
            "/admin/settings",
            "nav-module-settings",
            ConfigureServices::ID,
        ),
        ("/admin/access", "nav-access", ManageAccess::ID),
        ("/admin/api-clients", "nav-api-clients", ManageAccess::ID),
        ("/admin/webhooks", "nav-webhooks", ManageAccess::ID),
        ("/admin/signing", "nav-signing", ManageSigning::ID),
        ("/admin/privacy", "nav-privacy", ReadAccessLog::ID),
    ];
    let mut links = vec![];
    for (href, key, perm) in pages {
        if state.access().allowed(tenant.id, &subj, perm).await {
            links.push((href, key));
        }
    }
    for m in state.modules().iter() {
        if !tenant.module_enabled(m.id) {
            continue;
        }
        for p in m.staff_pages {
            if state.access().allowed(tenant.id, &subj, p.permission).await {
                links.push((p.path, p.label_key));
            }
        }
    }
    links
}

/// The header's links: one's own applications, and the staff area for staff.
pub async fn header_links(
    state: &AppState,
    tenant: &dimos_tenancy::Tenant,
    user: &CurrentUser,
) -> Vec<(&'static str, &'static str)> {
    let mut links = vec![("/cases", "nav-my-cases")];
    if !staff_links(state, tenant, user).await.is_empty() {
        links.push(("/staff", "nav-staff"));
    }
    links
}

#[derive(Deserialize)]
struct AssistForm {
    account: uuid::Uuid,
}

/// The officer starts acting for a citizen present at the desk.
#[allow(clippy::disallowed_methods)] // the platform's sign-in and desk pages: what these calls are for
async fn assist_start(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<AssistCitizens>,
    session: tower_sessions::Session,
    peer: Peer,
    Posted(f): Posted<AssistForm>,
) -> Result<Response> {
    let citizen = accounts::get(&tenant.db, AccountId(f.account))
        .await?
        .ok_or(Error::NotFound)?;
    if citizen.id == who.user.account.id {
        return Err(Error::invalid("account", "self").into());
    }
    // The desk acts for citizens, never for another member of staff.
    let mut subjects = vec![format!("account:{}", citizen.id)];
    if let Some(t) = &citizen.tax_id {
        subjects.push(dimos_identity::access::tax_id_subject(t));
    }
    if !state
        .access()
        .roles_of(tenant.tenant.id, &subjects)
        .await
        .is_empty()
    {
        return Err(Error::invalid("account", "staff").into());
    }
    let assisting = dimos_web::auth::Assisting {
        account: citizen.id,
        name: citizen.display_name(),
        // The workflow's clock: what the time limit is measured with.
        since: state.workflow().now().timestamp(),
    };
    // The entry first: no assistance the trail does not show (the session
    // is not in the database, so there is no one transaction to share).
    let on_behalf = Some(format!("account:{}", citizen.id));
    dimos_web::auth::record(
        &state,
        &tenant,
        who.user
            .audit(peer, "assist_started")
            .on_behalf_of(on_behalf),
    )
    .await?;
    dimos_web::auth::start_assisting(&session, &assisting).await?;
    Ok(Redirect::to("/account").into_response())
}

async fn assist_end(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<AssistCitizens>,
    session: tower_sessions::Session,
    peer: Peer,
    _: Posted<Button>,
) -> Result<Response> {
    if let Some(a) = dimos_web::auth::stop_assisting(&session).await? {
        let on_behalf = Some(format!("account:{}", a.account));
        dimos_web::auth::record(
            &state,
            &tenant,
            who.user.audit(peer, "assist_ended").on_behalf_of(on_behalf),
        )
        .await?;
    }
    Ok(Redirect::to("/staff/verify").into_response())
}

// ---- JSON API for municipal admins (same permission, same audit) ----

/// Roles with their permissions, grants, departments with members.
async fn api_access(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    _who: Authorized<ManageAccess>,
) -> Result<axum::Json<serde_json::Value>> {
    let grants = state.access().grants(&tenant.db).await?;
    let departments: Vec<_> = state
        .access()
        .departments(&tenant.db)
        .await?
        .into_iter()
        .map(|(d, members)| serde_json::json!({ "slug": d.slug, "name": { "el": d.name_el, "en": d.name_en }, "members": members }))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "roles": state.access().catalog().roles.values().collect::<Vec<_>>(),
        "permissions": state.access().catalog().permissions.keys().collect::<Vec<_>>(),
        "grants": grants,
        "departments": departments,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiGrant {
    /// A person (by ΑΦΜ) or a department (by slug): exactly one.
    tax_id: Option<dimos_kernel::TaxId>,
    department: Option<dimos_kernel::Slug>,
    role: String,
}

async fn api_grant(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    dimos_web::extract::Json(b): dimos_web::extract::Json<ApiGrant>,
) -> Result<Response> {
    let change = AccessChange::new(&state, &tenant, &who.user, peer);
    let subject = match (&b.tax_id, &b.department) {
        (Some(t), None) => tax_id_subject(t.as_str()),
        (None, Some(d)) => change.department_subject(d.as_str()).await?,
        _ => return Err(Error::invalid("tax_id", "required").into()),
    };
    let added = change.grant(subject.clone(), &b.role).await?;
    let status = if added {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        axum::Json(serde_json::json!({ "subject": subject, "role": b.role, "added": added })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiRevoke {
    subject: String,
    role: String,
}

async fn api_revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    dimos_web::extract::Json(b): dimos_web::extract::Json<ApiRevoke>,
) -> Result<axum::Json<serde_json::Value>> {
    if !AccessChange::new(&state, &tenant, &who.user, peer)
        .revoke(&b.subject, &b.role)
        .await?
    {
        return Err(Error::NotFound.into());
    }
    Ok(axum::Json(serde_json::json!({ "revoked": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiDepartment {
    name: dimos_kernel::LocalizedText,
}

async fn api_put_department(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    axum::extract::Path(slug): axum::extract::Path<String>,
    dimos_web::extract::Json(b): dimos_web::extract::Json<ApiDepartment>,
) -> Result<axum::Json<serde_json::Value>> {
    let d = AccessChange::new(&state, &tenant, &who.user, peer)
        .save_department(&slug, b.name)
        .await?;
    Ok(axum::Json(
        serde_json::json!({ "slug": d.slug, "name": { "el": d.name_el, "en": d.name_en } }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiMember {
    tax_id: dimos_kernel::TaxId,
}

async fn api_add_member(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    axum::extract::Path(slug): axum::extract::Path<String>,
    dimos_web::extract::Json(b): dimos_web::extract::Json<ApiMember>,
) -> Result<Response> {
    let change = AccessChange::new(&state, &tenant, &who.user, peer);
    // An unknown department in the path is a missing resource.
    change
        .department_subject(&slug)
        .await
        .map_err(|_| AppError(Error::NotFound))?;
    let added = change.add_member(&slug, &b.tax_id).await?;
    let status = if added {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        axum::Json(
            serde_json::json!({ "department": slug, "member": tax_id_subject(b.tax_id.as_str()) }),
        ),
    )
        .into_response())
}

async fn api_remove_member(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    axum::extract::Path((slug, tax_id)): axum::extract::Path<(String, String)>,
) -> Result<axum::Json<serde_json::Value>> {
    if !AccessChange::new(&state, &tenant, &who.user, peer)
        .remove_member(&slug, &tax_id_subject(&tax_id))
        .await?
    {
        return Err(Error::NotFound.into());
    }
    Ok(axum::Json(serde_json::json!({ "removed": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiRolePermissions {
    /// Added to the role's defaults in this municipality (replaces earlier additions).
    permissions: Vec<String>,
}

async fn api_role_permissions(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    axum::extract::Path(role): axum::extract::Path<String>,
    dimos_web::extract::Json(b): dimos_web::extract::Json<ApiRolePermissions>,
) -> Result<axum::Json<serde_json::Value>> {
    let catalog = state.access().catalog();
    if !catalog.is_role(&role) {
        return Err(Error::NotFound.into());
    }
    let unknown: Vec<_> = b
        .permissions
        .iter()
        .enumerate()
        .filter(|(_, p)| !catalog.permissions.contains_key(*p))
        .map(|(i, p)| {
            dimos_kernel::FieldError::new(format!("permissions[{i}]"), "invalid")
                .with_detail(p.clone())
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Validation(unknown).into());
    }
    AccessChange::new(&state, &tenant, &who.user, peer)
        .set_role_permissions(&role, &b.permissions)
        .await?;
    Ok(axum::Json(
        serde_json::json!({ "role": role, "added_permissions": b.permissions }),
    ))
}

#[derive(Deserialize)]
struct DepartmentForm {
    slug: String,
    name_el: String,
    name_en: String,
}

async fn access_department(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Posted(f): Posted<DepartmentForm>,
) -> Result<Response> {
    let name = LocalizedText {
        el: f.name_el,
        en: f.name_en,
    };
    AccessChange::new(&state, &tenant, &who.user, peer)
        .save_department(&f.slug, name)
        .await?;
    Ok(Redirect::to("/admin/access").into_response())
}

#[derive(Deserialize)]
struct MemberForm {
    department: String,
    tax_id: String,
}

async fn access_member(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Posted(f): Posted<MemberForm>,
) -> Result<Response> {
    let tax: TaxId = f.tax_id.trim().parse()?;
    let change = AccessChange::new(&state, &tenant, &who.user, peer);
    change.department_subject(&f.department).await?;
    change.add_member(&f.department, &tax).await?;
    Ok(Redirect::to("/admin/access").into_response())
}

/// The access changes the console and the API both make: validated,
/// applied, audited in one place.
struct AccessChange<'a> {
    state: &'a AppState,
    tenant: &'a CurrentTenant,
    who: &'a CurrentUser,
    peer: Peer,
}

impl<'a> AccessChange<'a> {
    fn new(
        state: &'a AppState,
        tenant: &'a CurrentTenant,
        who: &'a CurrentUser,
        peer: Peer,
    ) -> Self {
        AccessChange {
            state,
            tenant,
            who,
            peer,
        }
    }

    /// Writes the change's audit entry in its transaction, commits, and
    /// (when policy changed) has every replica rebuild its enforcer.
    async fn commit(
        &self,
        mut tx: dimos_db::TenantTx<'_>,
        policy_changed: bool,
        action: &str,
        record: String,
        detail: serde_json::Value,
    ) -> Result<()> {
        dimos_web::auth::record_in(
            &mut tx,
            self.tenant,
            self.who
                .audit(self.peer, action)
                .record(record)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        if policy_changed {
            self.state.access().changed().await?;
        }
        Ok(())
    }

    /// `dept:<slug>` of an existing department, else a 422 on `department`.
    async fn department_subject(&self, slug: &str) -> Result<String> {
        if self
            .state
            .access()
            .department_exists(&self.tenant.db, slug)
            .await?
        {
            Ok(format!("dept:{slug}"))
        } else {
            Err(Error::invalid("department", "department-unknown").into())
        }
    }

    async fn grant(&self, subject: String, role: &str) -> Result<bool> {
        if !self.state.access().catalog().is_role(role) {
            return Err(Error::invalid("role", "role-unknown").into());
        }
        let db = &self.tenant.db;
        let mut tx = db.begin().await?;
        let added = Access::grant_in(&mut tx, db, &subject, role, &self.who.actor()).await?;
        if added {
            let detail = serde_json::json!({ "role": role });
            self.commit(tx, true, "role_granted", subject, detail)
                .await?;
        }
        Ok(added)
    }

    async fn revoke(&self, subject: &str, role: &str) -> Result<bool> {
        let db = &self.tenant.db;
        let mut tx = db.begin().await?;
        let removed = Access::revoke_in(&mut tx, db, subject, role).await?;
        if removed {
            let detail = serde_json::json!({ "role": role });
            self.commit(tx, true, "role_revoked", subject.to_owned(), detail)
                .await?;
        }
        Ok(removed)
    }

    async fn remove_member(&self, department: &str, subject: &str) -> Result<bool> {
        let db = &self.tenant.db;
        let mut tx = db.begin().await?;
        let removed = Access::remove_member_in(&mut tx, db, department, subject).await?;
        if removed {
            let detail = serde_json::json!({ "department": department });
            let action = "department_member_removed";
            self.commit(tx, true, action, subject.to_owned(), detail)
                .await?;
        }
        Ok(removed)
    }

    async fn set_role_permissions(&self, role: &str, permissions: &[String]) -> Result<()> {
        let db = &self.tenant.db;
        let mut tx = db.begin().await?;
        Access::set_extra_permissions_in(&mut tx, db, role, permissions).await?;
        let detail = serde_json::json!({ "permissions": permissions });
        self.commit(
            tx,
            true,
            "role_permissions_set",
            format!("role:{role}"),
            detail,
        )
        .await
    }

    async fn save_department(&self, slug: &str, name: LocalizedText) -> Result<Department> {
        let slug: Slug = slug.trim().parse()?;
        let mut errs = vec![];
        name.validate("name", 120, &mut errs);
        if !errs.is_empty() {
            return Err(Error::Validation(errs).into());
        }
        let d = Department {
            slug: slug.to_string(),
            name_el: name.el.trim().into(),
            name_en: name.en.trim().into(),
        };
        let db = &self.tenant.db;
        let mut tx = db.begin().await?;
        Access::put_department_in(&mut tx, db, &d).await?;
        let detail = serde_json::json!({ "name": name });
        self.commit(
            tx,
            false,
            "department_saved",
            format!("dept:{slug}"),
            detail,
        )
        .await?;
        Ok(d)
    }

    async fn add_member(&self, department: &str, tax: &TaxId) -> Result<bool> {
        let subject = tax_id_subject(tax.as_str());
        let db = &self.tenant.db;
        let mut tx = db.begin().await?;
        let added = Access::add_member_in(&mut tx, db, department, &subject).await?;
        if added {
            let detail = serde_json::json!({ "department": department });
            self.commit(tx, true, "department_member_added", subject, detail)
                .await?;
        }
        Ok(added)
    }
}

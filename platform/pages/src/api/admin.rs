//! `/admin/api-clients`: the municipal admin registers the public API's
//! machine clients (name, scopes, expiry, optional addresses), sees each
//! secret once, and revokes clients. A client may hold only permissions
//! the admin holds. Every change is in the audit trail.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use dimos_identity::api_clients::{self, NewClient};
use dimos_identity::audit::AuditEntry;
use dimos_kernel::config::parse_cidr;
use dimos_kernel::{Error, FieldError};
use dimos_web::access::{Authorized, ManageAccess, subjects};
use dimos_web::auth::{Posted, record_in};
use dimos_web::error::{AppError, Result, rendered_page};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use uuid::Uuid;

const MAX_NAME: usize = 80;
const MAX_DAYS: i64 = 730;

/// The permissions the admin holds: what they may give a client.
async fn grantable(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &Authorized<ManageAccess>,
) -> Vec<(String, String)> {
    let subj = subjects(&who.user);
    let mut out = vec![];
    for (id, label) in &state.access().catalog().permissions {
        if state.access().allowed(tenant.tenant.id, &subj, id).await {
            out.push((id.clone(), label.clone()));
        }
    }
    out
}

async fn render(
    ui: &Ui,
    state: &AppState,
    tenant: &CurrentTenant,
    who: &Authorized<ManageAccess>,
    created: Option<minijinja::Value>,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response> {
    let now = state.workflow().now();
    let clients: Vec<_> = api_clients::list(&tenant.db)
        .await?
        .into_iter()
        .map(|c| {
            let usable = c.usable(now);
            context! {
                id => c.id.to_string(), name => c.name, scopes => c.scopes, roles => c.roles,
                allowed_ips => c.allowed_ips.join(", "),
                created_at => c.created_at.format("%Y-%m-%d").to_string(),
                expires_at => c.expires_at.format("%Y-%m-%d").to_string(),
                last_used_at => c.last_used_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
                revoked => c.revoked_at.is_some(), usable,
            }
        })
        .collect();
    let scopes: Vec<_> = grantable(state, tenant, who)
        .await
        .into_iter()
        .map(|(id, label)| context! { id => id, label => ui.t(&label) })
        .collect();
    let roles: Vec<_> = state
        .access()
        .catalog()
        .roles
        .values()
        .map(|r| context! { id => r.id.clone(), label => ui.t(&r.label_key) })
        .collect();
    let html = ui.render(
        "admin/api_clients.html",
        context! {
            clients, scopes, roles, created, csrf => who.user.csrf.clone(),
            errors => ui.error_list(errors), max_days => MAX_DAYS,
        },
    )?;
    let mut res = rendered_page(status, html);
    // A secret is on this page once: never from a cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub async fn page(
    ui: Ui,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
) -> Result<Response> {
    render(&ui, &state, &tenant, &who, None, &[], StatusCode::OK).await
}

pub async fn create(
    ui: Ui,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    let value = |k: &str| super::form_value(&form, k);
    let mut errors = vec![];
    let name = value("name");
    if name.is_empty() {
        errors.push(FieldError::new("name", "required"));
    } else if name.chars().count() > MAX_NAME {
        errors.push(FieldError::new("name", "too-long").with_detail(MAX_NAME.to_string()));
    }
    let held: Vec<String> = grantable(&state, &tenant, &who)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let scopes: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let roles: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "role")
        .map(|(_, v)| v.clone())
        .collect();
    if roles
        .iter()
        .any(|r| !state.access().catalog().roles.contains_key(r))
    {
        errors.push(FieldError::new("role", "invalid"));
    }
    if scopes.is_empty() {
        errors.push(FieldError::new("scope", "required"));
    } else if scopes.iter().any(|s| !held.contains(s)) {
        // Not one the admin could tick: a doctored form.
        errors.push(FieldError::new("scope", "invalid"));
    }
    let days = match value("days").as_str() {
        "" => Some(365),
        d => d.parse::<i64>().ok().filter(|d| (1..=MAX_DAYS).contains(d)),
    };
    if days.is_none() {
        errors.push(FieldError::new("days", "invalid"));
    }
    let allowed_ips: Vec<String> = value("allowed_ips")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if allowed_ips.iter().any(|c| parse_cidr(c).is_none()) {
        errors.push(FieldError::new("allowed_ips", "invalid"));
    }
    let (Some(days), true) = (days, errors.is_empty()) else {
        return render(
            &ui,
            &state,
            &tenant,
            &who,
            None,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let now = state.workflow().now();
    let mut tx = tenant.db.begin().await?;
    let made = api_clients::create(
        &mut tx,
        NewClient {
            name,
            scopes,
            roles,
            allowed_ips,
            expires_at: now + Duration::days(days),
        },
        &who.user.actor(),
        now,
    )
    .await;
    let (secret, client) = match made {
        Ok(m) => m,
        Err(e) if e.is_unique_on("name") => {
            drop(tx);
            return render(
                &ui,
                &state,
                &tenant,
                &who,
                None,
                &[FieldError::new("name", "taken")],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(AppError(e.into())),
    };
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "api_client_created")
            .record(api_clients::actor(client.id))
            .detail(serde_json::json!({ "name": client.name, "scopes": client.scopes, "roles": client.roles })),
    )
    .await?;
    tx.commit().await?;
    let created = context! { id => client.id.to_string(), name => client.name, secret };
    render(
        &ui,
        &state,
        &tenant,
        &who,
        Some(created),
        &[],
        StatusCode::OK,
    )
    .await
}

pub async fn revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Path(id): Path<String>,
    Posted(_): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    let id = Uuid::try_parse(&id).map_err(|_| AppError(Error::NotFound))?;
    let mut tx = tenant.db.begin().await?;
    if !api_clients::revoke(&mut tx, id, &who.user.actor(), state.workflow().now()).await? {
        return Err(AppError(Error::NotFound));
    }
    record_in(
        &mut tx,
        &tenant,
        AuditEntry::new(who.user.actor(), "api_client_revoked")
            .on_behalf_of(who.user.on_behalf_of())
            .from_address(peer.address())
            .record(api_clients::actor(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/api-clients").into_response())
}

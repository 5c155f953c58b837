use super::OperatorActor;
use super::{public_url, validation_ctx};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use dimos_kernel::{DomainName, Error, FieldError};
use dimos_tenancy::store::ApplyMode;
use dimos_tenancy::{ApplyOutcome, ModuleSettings, RawTenant, Tenant, TenantStatus};
use dimos_web::error::Result;
use dimos_web::extract::Json;
use dimos_web::state::AppState;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants", get(list).post(create))
        .route("/api/v1/tenants/{slug}", get(show).put(update))
        .route("/api/v1/tenants/{slug}/suspend", post(suspend))
        .route("/api/v1/tenants/{slug}/resume", post(resume))
        .route("/api/v1/tenants/{slug}/domains", post(add_domain))
        .route(
            "/api/v1/tenants/{slug}/domains/{domain}",
            delete(remove_domain),
        )
        .route(
            "/api/v1/tenants/{slug}/modules/{module}",
            put(set_module).delete(remove_module),
        )
        .route("/api/v1/tenants/{slug}/history", get(history))
        .route("/api/v1/modules", get(modules))
}

fn tenant_json(state: &AppState, t: &Tenant) -> Value {
    let mut v = serde_json::to_value(t.spec.to_raw()).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("id".into(), json!(t.id));
        o.insert("url".into(), json!(public_url(state, t)));
        o.insert(
            "has_logo".into(),
            json!(t.has_logo || t.spec.logo.is_some()),
        );
        o.insert("updated_at".into(), json!(t.updated_at));
    }
    v
}

async fn changed(state: &AppState, slug: &str, outcome: ApplyOutcome) -> Result<Response> {
    state.registry().reload().await?;
    let t = state.registry().store().require(slug).await?;
    let status = if outcome == ApplyOutcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = json!({ "tenant": tenant_json(state, &t), "result": outcome });
    let mut res = (status, axum::Json(body)).into_response();
    if status == StatusCode::CREATED
        && let Ok(loc) = format!("/api/v1/tenants/{slug}").parse()
    {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

async fn list(State(state): State<AppState>) -> axum::Json<Value> {
    let tenants: Vec<Value> = state
        .registry()
        .tenants()
        .iter()
        .map(|t| tenant_json(&state, t))
        .collect();
    axum::Json(json!({ "tenants": tenants }))
}

async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<axum::Json<Value>> {
    let t = state.registry().store().require(&slug).await?;
    Ok(axum::Json(tenant_json(&state, &t)))
}

async fn create(
    State(state): State<AppState>,
    op: OperatorActor,
    Json(raw): Json<RawTenant>,
) -> Result<Response> {
    let spec = raw.validate(&validation_ctx(&state))?;
    let outcome = state
        .registry()
        .store()
        .apply(&spec, &op.0, ApplyMode::CreateOnly)
        .await?;
    apply_grants(&state, &spec, &op.0).await?;
    super::onboarded(&state, spec.slug.as_str()).await?;
    changed(&state, spec.slug.as_str(), outcome).await
}

/// Grants and departments listed in a tenant definition (e.g. its first
/// administrator).
#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
async fn apply_grants(
    state: &AppState,
    spec: &dimos_tenancy::TenantSpec,
    actor: &str,
) -> Result<()> {
    if spec.grants.is_empty() && spec.departments.is_empty() {
        return Ok(());
    }
    let t = state.registry().store().require(spec.slug.as_str()).await?;
    state
        .access()
        .ensure_departments(
            &state.tenant_db(t.id),
            &dimos_web::access::department_rows(&spec.departments),
        )
        .await?;
    let grants: Vec<(String, String)> = spec
        .grants
        .iter()
        .map(|g| {
            (
                dimos_identity::access::tax_id_subject(g.tax_id.as_str()),
                g.role.clone(),
            )
        })
        .collect();
    state
        .access()
        .ensure_grants(&state.tenant_db(t.id), &grants, actor)
        .await?;
    Ok(())
}

async fn update(
    State(state): State<AppState>,
    op: OperatorActor,
    Path(slug): Path<String>,
    Json(raw): Json<RawTenant>,
) -> Result<Response> {
    if raw.slug.as_str() != slug {
        return Err(Error::Validation(vec![
            FieldError::new("slug", "invalid").with_detail("slug cannot change"),
        ])
        .into());
    }
    let spec = raw.validate(&validation_ctx(&state))?;
    let outcome = state
        .registry()
        .store()
        .apply(&spec, &op.0, ApplyMode::UpdateOnly)
        .await?;
    apply_grants(&state, &spec, &op.0).await?;
    changed(&state, &slug, outcome).await
}

async fn set_status(
    state: AppState,
    op: OperatorActor,
    slug: String,
    status: TenantStatus,
) -> Result<Response> {
    let outcome = state
        .registry()
        .store()
        .set_status(&slug, status, &op.0)
        .await?;
    changed(&state, &slug, outcome).await
}

async fn suspend(
    State(state): State<AppState>,
    op: OperatorActor,
    Path(slug): Path<String>,
) -> Result<Response> {
    set_status(state, op, slug, TenantStatus::Suspended).await
}

async fn resume(
    State(state): State<AppState>,
    op: OperatorActor,
    Path(slug): Path<String>,
) -> Result<Response> {
    set_status(state, op, slug, TenantStatus::Active).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainBody {
    domain: DomainName,
    #[serde(default)]
    primary: bool,
}

async fn add_domain(
    State(state): State<AppState>,
    op: OperatorActor,
    Path(slug): Path<String>,
    Json(body): Json<DomainBody>,
) -> Result<Response> {
    let ctx = validation_ctx(&state);
    let outcome = state
        .registry()
        .store()
        .modify(&slug, &op.0, |spec| {
            let mut raw = spec.to_raw();
            if body.primary {
                if let Some(old) = raw.domains.primary.replace(body.domain.clone()) {
                    raw.domains.aliases.push(old);
                }
                raw.domains.aliases.retain(|d| d != &body.domain);
            } else if !raw.domains.aliases.contains(&body.domain)
                && raw.domains.primary.as_ref() != Some(&body.domain)
            {
                raw.domains.aliases.push(body.domain.clone());
            }
            *spec = raw.validate(&ctx)?;
            Ok(())
        })
        .await?;
    changed(&state, &slug, outcome).await
}

async fn remove_domain(
    State(state): State<AppState>,
    op: OperatorActor,
    Path((slug, domain)): Path<(String, String)>,
) -> Result<Response> {
    let domain: DomainName = domain.parse()?;
    let outcome = state
        .registry()
        .store()
        .modify(&slug, &op.0, |spec| {
            let before = spec.aliases.len() + usize::from(spec.primary_domain.is_some());
            spec.aliases.retain(|d| d != &domain);
            if spec.primary_domain.as_ref() == Some(&domain) {
                spec.primary_domain = None;
            }
            if before == spec.aliases.len() + usize::from(spec.primary_domain.is_some()) {
                return Err(Error::NotFound);
            }
            Ok(())
        })
        .await?;
    changed(&state, &slug, outcome).await
}

/// Body: `{"enabled": true, ...configuration}`; `enabled` defaults to true.
async fn set_module(
    State(state): State<AppState>,
    op: OperatorActor,
    Path((slug, module)): Path<(String, String)>,
    Json(mut body): Json<Map<String, Value>>,
) -> Result<Response> {
    let enabled = match body.remove("enabled") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(Error::invalid("enabled", "invalid").into()),
    };
    if state.modules().get(&module).is_none() {
        return Err(Error::invalid(format!("modules.{module}"), "module-unknown").into());
    }
    let config = state
        .modules()
        .get(&module)
        .map(|m| m.config.validate(&body))
        .unwrap_or(Ok(Value::Null))
        .map_err(|errs| {
            Error::Validation(
                errs.into_iter()
                    .map(|mut f| {
                        f.field = format!("modules.{module}.{}", f.field);
                        f
                    })
                    .collect(),
            )
        })?;
    let settings = ModuleSettings { enabled, config };
    let outcome = state
        .registry()
        .store()
        .set_module(&slug, &module, Some(settings), &op.0)
        .await?;
    changed(&state, &slug, outcome).await
}

async fn remove_module(
    State(state): State<AppState>,
    op: OperatorActor,
    Path((slug, module)): Path<(String, String)>,
) -> Result<Response> {
    let outcome = state
        .registry()
        .store()
        .set_module(&slug, &module, None, &op.0)
        .await?;
    changed(&state, &slug, outcome).await
}

async fn history(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<axum::Json<Value>> {
    state.registry().store().require(&slug).await?;
    let entries = state.registry().store().history(&slug).await?;
    Ok(axum::Json(json!({ "history": entries })))
}

async fn modules(State(state): State<AppState>) -> axum::Json<Value> {
    let list: Vec<Value> = state
        .modules()
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "name": { "el": state.translator().t(dimos_kernel::Locale::El, m.name_key, &[]),
                          "en": state.translator().t(dimos_kernel::Locale::En, m.name_key, &[]) },
                "permissions": m.permissions,
                "config_schema": m.config.json_schema(),
            })
        })
        .collect();
    axum::Json(json!({ "modules": list }))
}

//! The reference module: a municipal notice board. It is small on purpose:
//! it shows the shape every module has (one descriptor; routes; migrations;
//! permissions; typed configuration; translations; templates) and that all
//! its data goes through the tenant-scoped `CurrentTenant::db`.
//!
//! It is not part of the `dimos` server's module list; the platform's tests
//! mount it to prove the module framework. See docs/module-author-guide.md.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use dimos_db::migrate::TenantTable;
use dimos_kernel::{Error, FieldError};
use dimos_web::auth::{CurrentUser, Posted};
use dimos_web::extract::Json;
use dimos_web::module::ConfigSchema;
use dimos_web::{AppState, CurrentTenant, ModuleConfig, ModuleDescriptor, Result, Ui};
use dimos_workflow::{HookInput, NewCase};
use minijinja::context;
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub const ID: &str = "example";

dimos_web::permissions! {
    /// Publish notices on the board.
    Publish = "example.publish", label "example-permission-publish",
        granted to ["municipal-admin"];
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExampleConfig {
    /// Shown above the notices.
    pub greeting: String,
    /// How many notices the board shows (1–1000).
    pub max_notices: u32,
}

impl Default for ExampleConfig {
    fn default() -> Self {
        ExampleConfig {
            greeting: "Καλώς ήρθατε".into(),
            max_notices: 50,
        }
    }
}

impl ModuleConfig for ExampleConfig {
    fn check(&self) -> Vec<FieldError> {
        let mut e = vec![];
        if !(1..=1000).contains(&self.max_notices) {
            e.push(FieldError::new("max_notices", "invalid").with_detail("1–1000"));
        }
        if self.greeting.chars().count() > 200 {
            e.push(FieldError::new("greeting", "too-long").with_detail("200"));
        }
        e
    }
}

/// The tenant-owned tables this module's migrations create.
const TENANT_TABLES: &[TenantTable] = &[TenantTable::municipal("example_notices")];

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        routes,
        tenant_tables: TENANT_TABLES,
        permissions: PERMISSIONS,
        default_grants: DEFAULT_GRANTS,
        hooks: &[("example.publish", publish_hook)],
        config: ConfigSchema::of::<ExampleConfig>(),
        ..dimos_web::module_files!()
    }
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/notices", get(list).post(create))
        .route("/notices/{id}", get(show))
        .route("/requests/new", get(request_form))
        .route("/requests", post(submit_request))
}

#[derive(Iden, Clone, Copy)]
enum ExampleNotices {
    Table,
    Id,
    Title,
    CreatedAt,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct Notice {
    id: Uuid,
    title: String,
    created_at: DateTime<Utc>,
}

fn config(t: &CurrentTenant) -> Result<ExampleConfig, Error> {
    t.module_config(ID)
}

async fn notices(t: &CurrentTenant) -> Result<Vec<Notice>> {
    let mut q = t.db.select(ExampleNotices::Table);
    q.columns([
        ExampleNotices::Id,
        ExampleNotices::Title,
        ExampleNotices::CreatedAt,
    ])
    .order_by(ExampleNotices::CreatedAt, Order::Desc)
    .limit(u64::from(config(t)?.max_notices));
    Ok(t.db.fetch_all(&q).await?)
}

async fn index(ui: Ui, t: CurrentTenant) -> Result<Html<String>> {
    let notices = notices(&t).await?;
    ui.render(
        "example/index.html",
        context! { greeting => config(&t)?.greeting, notices },
    )
}

async fn list(t: CurrentTenant) -> Result<axum::Json<Vec<Notice>>> {
    Ok(axum::Json(notices(&t).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNotice {
    title: String,
}

/// Staff with `example.publish` post notices (JSON: a browser cannot send
/// it cross-site without a preflight, and the edge refuses cross-site
/// writes).
async fn create(
    State(state): State<AppState>,
    t: CurrentTenant,
    _may: dimos_web::access::Authorized<Publish>,
    Json(body): Json<NewNotice>,
) -> Result<Response> {
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Error::invalid(
            "title",
            if title.is_empty() {
                "required"
            } else {
                "too-long"
            },
        )
        .into());
    }
    let notice = Notice {
        id: Uuid::now_v7(),
        title,
        created_at: state.workflow().now(),
    };
    let mut q = t.db.insert(
        ExampleNotices::Table,
        [
            ExampleNotices::Id,
            ExampleNotices::Title,
            ExampleNotices::CreatedAt,
        ],
    );
    q.values([
        notice.id.into(),
        notice.title.clone().into(),
        notice.created_at.into(),
    ]);
    t.db.insert_rows(&q).await?;
    Ok((StatusCode::CREATED, axum::Json(notice)).into_response())
}

/// Another municipality's notice id answers 404, exactly like a missing one.
async fn show(t: CurrentTenant, Path(id): Path<Uuid>) -> Result<axum::Json<Notice>> {
    let mut q = t.db.select(ExampleNotices::Table);
    q.columns([
        ExampleNotices::Id,
        ExampleNotices::Title,
        ExampleNotices::CreatedAt,
    ])
    .and_where(Expr::col((ExampleNotices::Table, ExampleNotices::Id)).eq(id));
    let n = t.db.fetch_optional(&q).await?.ok_or(Error::NotFound)?;
    Ok(axum::Json(n))
}

pub const PROCESS: &str = "example.request";

/// The process's hook: gives the approved notice its board reference.
fn publish_hook(input: &HookInput<'_>) -> std::result::Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let reference = format!(
        "ΑΝ-{}",
        input
            .protocol
            .clone()
            .unwrap_or_else(|| input.case_id.to_string())
    );
    out.insert("notice_reference".into(), Value::String(reference));
    Ok(out)
}

async fn request_form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    user: CurrentUser,
) -> Result<Html<String>> {
    let lead = state
        .workflow()
        .effective(&t.db, PROCESS)
        .await?
        .lead_time_days;
    ui.render(
        "example/request.html",
        context! { csrf => user.csrf, lead, title => "", text => "", errors => Vec::<Value>::new() },
    )
}

#[derive(Deserialize)]
struct RequestForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

/// Files the request as a case for the signed-in person (or the citizen an
/// officer is assisting) and shows it with its protocol number.
async fn submit_request(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    user: CurrentUser,
    Posted(f): Posted<RequestForm>,
) -> Result<Response> {
    let (title, text) = (f.title.trim(), f.text.trim());
    let mut errors = vec![];
    for (field, v, max) in [("title", title, 200), ("text", text, 5000)] {
        if v.is_empty() {
            errors.push(FieldError::new(field, "required"));
        } else if v.chars().count() > max {
            errors.push(FieldError::new(field, "too-long").with_detail(max.to_string()));
        }
    }
    if !errors.is_empty() {
        let lead = state
            .workflow()
            .effective(&t.db, PROCESS)
            .await?
            .lead_time_days;
        let errors = ui.error_list(&errors);
        let page = ui.render(
            "example/request.html",
            context! { csrf => user.csrf, lead, title, text, errors },
        )?;
        return Ok(dimos_web::error::rendered_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            page,
        ));
    }
    let applicant = user.acting_for();
    let applicant_name = user.acting_for_name();
    let mut data = Map::new();
    data.insert("title".into(), title.into());
    data.insert("text".into(), text.into());
    let started = state
        .workflow()
        .start(
            &t.db,
            NewCase {
                process: PROCESS.into(),
                applicant: applicant.0,
                applicant_name,
                filed_by: user.filed_by(),
                subject: title.to_owned(),
                data,
                attachments: 0,
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{}?done=submitted", started.case_id)).into_response())
}

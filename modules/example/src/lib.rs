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
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use dimos_db::migrate::Migration;
use dimos_kernel::i18n::FtlSource;
use dimos_kernel::{Error, FieldError, Locale};
use dimos_web::extract::Json;
use dimos_web::module::ConfigSchema;
use dimos_web::{
    AppState, CurrentTenant, ModuleConfig, ModuleDescriptor, NavEntry, Permission, Result, Ui,
};
use minijinja::context;
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ID: &str = "example";

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

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        id: ID,
        name_key: "example-name",
        description_key: "example-description",
        routes,
        migrations: &[Migration {
            version: 1,
            name: "notices",
            postgres: include_str!("../migrations/postgres/0001_notices.sql"),
            sqlite: include_str!("../migrations/sqlite/0001_notices.sql"),
        }],
        permissions: &[Permission {
            id: "example.publish",
            label_key: "example-permission-publish",
        }],
        default_grants: &[("municipal-admin", "example.publish")],
        workflows: &[],
        config: ConfigSchema::of::<ExampleConfig>(),
        navigation: &[NavEntry {
            path: "",
            label_key: "example-name",
            description_key: "example-description",
        }],
        translations: &[
            FtlSource {
                locale: Locale::El,
                name: "modules/example/locales/el/example.ftl",
                text: include_str!("../locales/el/example.ftl"),
            },
            FtlSource {
                locale: Locale::En,
                name: "modules/example/locales/en/example.ftl",
                text: include_str!("../locales/en/example.ftl"),
            },
        ],
        templates: &[(
            "example/index.html",
            include_str!("../templates/index.html"),
        )],
    }
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/notices", get(list).post(create))
        .route("/notices/{id}", get(show))
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

fn config(t: &CurrentTenant) -> ExampleConfig {
    t.tenant
        .module_config(ID)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

async fn notices(t: &CurrentTenant) -> Result<Vec<Notice>> {
    let mut q = t.db.select(ExampleNotices::Table);
    q.columns([
        ExampleNotices::Id,
        ExampleNotices::Title,
        ExampleNotices::CreatedAt,
    ])
    .order_by(ExampleNotices::CreatedAt, Order::Desc)
    .limit(u64::from(config(t).max_notices));
    Ok(t.db.fetch_all(&q).await?)
}

async fn index(ui: Ui, t: CurrentTenant) -> Result<Html<String>> {
    let notices = notices(&t).await?;
    ui.render(
        "example/index.html",
        context! { greeting => config(&t).greeting, notices },
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

async fn create(
    State(_): State<AppState>,
    t: CurrentTenant,
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
        created_at: Utc::now(),
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

//! The catalogue: the services a municipality offers, each with what an
//! application needs (its form as JSON Schema, its documents). Public, as
//! the home page's service cards are.

use super::Text;
use axum::Json;
use axum::extract::{Path, State};
use dimos_kernel::Error;
use dimos_web::error::{AppError, Result};
use dimos_web::extract::CurrentTenant;
use dimos_web::state::AppState;
use dimos_workflow::definition::{Definition, FieldKind, Form};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// A service: one process of a module the municipality has enabled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    /// `<module>.<process>`, e.g. `parking.permit`.
    #[schema(example = "parking.permit")]
    pub id: String,
    /// The module that offers it.
    #[schema(example = "parking")]
    pub module: String,
    pub name: Text,
    /// Expected handling time, in calendar days.
    pub lead_time_days: u32,
    /// Documents the applicant is asked for.
    pub documents: Vec<DocumentRequirement>,
    /// The application form as a JSON Schema (2020-12) object: each field a
    /// property with its type, limits and choices, the required ones listed.
    /// Absent for a service whose module has a form of its own.
    #[schema(value_type = Option<Object>)]
    pub form: Option<Value>,
}

/// A document the applicant uploads.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentRequirement {
    #[schema(example = "medical-opinion")]
    pub id: String,
    pub label: Text,
    pub required: bool,
}

/// The services of this municipality, in a stable order (by id).
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "services",
    operation_id = "listServices",
    responses(
        (status = 200, description = "The municipality's services", body = [Service]),
        (status = 404, description = "No municipality at this host", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, t: CurrentTenant) -> Result<Json<Vec<Service>>> {
    let mut out = vec![];
    for (id, module, _) in state.workflow().processes() {
        if t.tenant.module_enabled(module) {
            let def = state.workflow().effective(&t.db, id).await?;
            out.push(service(module, &def));
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(out))
}

/// One service.
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}",
    tag = "services",
    operation_id = "getService",
    params(("id" = String, Path, description = "The service's id, e.g. `parking.permit`", pattern = "^[a-z][a-z0-9-]*\\.[a-z][a-z0-9-]*$")),
    responses(
        (status = 200, description = "The service", body = Service),
        (status = 400, description = "An address the edge refuses (a control character)", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service here", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    t: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<Service>> {
    let module = state
        .workflow()
        .processes()
        .find(|(p, _, _)| *p == id)
        .map(|(_, m, _)| m.to_owned())
        .filter(|m| t.tenant.module_enabled(m))
        .ok_or(AppError(Error::NotFound))?;
    let def = state.workflow().effective(&t.db, &id).await?;
    Ok(Json(service(&module, &def)))
}

fn service(module: &str, def: &Definition) -> Service {
    Service {
        id: def.process.clone(),
        module: module.to_owned(),
        name: Text::from(&def.name),
        lead_time_days: def.lead_time_days,
        documents: def
            .documents
            .iter()
            .map(|d| DocumentRequirement {
                id: d.id.clone(),
                label: Text::from(&d.label),
                required: d.required,
            })
            .collect(),
        form: def.form(dimos_web::apply::FORM).map(json_schema),
    }
}

/// A process form as JSON Schema: what `dimos_workflow::forms` accepts.
pub fn json_schema(form: &Form) -> Value {
    let mut properties = Map::new();
    for f in &form.fields {
        let mut p = Map::new();
        p.insert("title".into(), json!(f.label.el));
        p.insert("x-title-en".into(), json!(f.label.en));
        match f.kind {
            FieldKind::Text | FieldKind::Textarea => {
                p.insert("type".into(), json!("string"));
                if let Some(n) = f.max_length {
                    p.insert("maxLength".into(), json!(n));
                }
                if let Some(re) = &f.pattern {
                    p.insert("pattern".into(), json!(format!("^(?:{re})$")));
                }
                if let Some(e) = &f.example {
                    p.insert("examples".into(), json!([e]));
                }
            }
            FieldKind::Number => {
                p.insert("type".into(), json!("number"));
                if let Some(n) = f.min {
                    p.insert("minimum".into(), json!(n));
                }
                if let Some(n) = f.max {
                    p.insert("maximum".into(), json!(n));
                }
            }
            FieldKind::Date => {
                p.insert("type".into(), json!("string"));
                p.insert("format".into(), json!("date"));
            }
            FieldKind::Boolean => {
                p.insert("type".into(), json!("boolean"));
            }
            FieldKind::Choice => {
                p.insert("type".into(), json!("string"));
                p.insert(
                    "enum".into(),
                    json!(f.options.iter().map(|o| o.id.clone()).collect::<Vec<_>>()),
                );
            }
        }
        properties.insert(f.id.clone(), Value::Object(p));
    }
    let required: Vec<&str> = form
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.id.as_str())
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

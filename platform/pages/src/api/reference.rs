//! The API's reference page, rendered here from the OpenAPI document (no
//! script, no CDN): each operation with its parameters and answers, each
//! schema with its fields.

use axum::response::Html;
use dimos_web::error::Result;
use dimos_web::extract::CurrentTenant;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Operation {
    id: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    tag: String,
    params: Vec<Field>,
    responses: Vec<Answer>,
}

#[derive(Serialize)]
struct Field {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

#[derive(Serialize)]
struct Answer {
    status: String,
    description: String,
    body: String,
}

#[derive(Serialize)]
struct Schema {
    name: String,
    description: String,
    fields: Vec<Field>,
}

pub async fn page(ui: Ui, t: CurrentTenant) -> Result<Html<String>> {
    let doc = serde_json::to_value(super::document(ui.state.modules()))
        .map_err(|e| dimos_kernel::Error::internal(e.to_string()))?;
    let base = ui
        .state
        .config()
        .public_origin(&t.tenant.canonical_host(ui.state.registry().base_domain()));
    ui.render(
        "api/reference.html",
        context! {
            description => text(&doc["info"]["description"]),
            version => text(&doc["info"]["version"]),
            base => format!("{base}{}", super::PREFIX),
            operations => operations(&doc),
            schemas => schemas(&doc),
            webhook_types => dimos_notify::webhooks::TYPES
                .iter()
                .map(|(id, el, en)| context! { id => id, label => if ui.lang == dimos_kernel::Locale::En { en } else { el } })
                .collect::<Vec<_>>(),
            problems => dimos_kernel::Error::one_of_each()
                .iter()
                .map(|e| context! { code => e.code(), status => e.status(), title => ui.t(&e.title_key()) })
                .collect::<Vec<_>>(),
        },
    )
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = vec![];
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let responses = op["responses"]
                .as_object()
                .map(|r| {
                    r.iter()
                        .map(|(status, a)| Answer {
                            status: status.clone(),
                            description: text(&a["description"]),
                            body: a["content"]
                                .as_object()
                                .and_then(|c| c.values().next())
                                .map(|m| kind(&m["schema"]))
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation {
                id: text(&op["operationId"]),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                tag: op["tags"][0].as_str().unwrap_or_default().to_owned(),
                params: op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| Field {
                                name: format!("{} ({})", text(&p["name"]), text(&p["in"])),
                                kind: kind(&p["schema"]),
                                required: p["required"].as_bool().unwrap_or(false),
                                description: text(&p["description"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                responses,
            });
        }
    }
    out
}

fn schemas(doc: &Value) -> Vec<Schema> {
    let Some(all) = doc["components"]["schemas"].as_object() else {
        return vec![];
    };
    all.iter()
        .map(|(name, s)| {
            // `allOf`: another schema's fields (named by it) and its own.
            let parts: Vec<&Value> = match s["allOf"].as_array() {
                Some(parts) => parts.iter().collect(),
                None => vec![s],
            };
            let mut fields = vec![];
            for part in parts {
                if part.get("$ref").is_some() {
                    fields.push(Field {
                        name: "…".into(),
                        kind: kind(part),
                        required: true,
                        description: format!("every field of {}", kind(part)),
                    });
                    continue;
                }
                let required: Vec<&str> = part["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(ps) = part["properties"].as_object() {
                    fields.extend(ps.iter().map(|(n, p)| Field {
                        name: n.clone(),
                        kind: kind(p),
                        required: required.contains(&n.as_str()),
                        description: text(&p["description"]),
                    }));
                }
            }
            Schema {
                name: name.clone(),
                description: text(&s["description"]),
                fields,
            }
        })
        .collect()
}

/// A schema in a few words: `Service`, `array of Service`, `string | null`.
fn kind(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(any) = s["oneOf"].as_array().or_else(|| s["anyOf"].as_array()) {
        return any.iter().map(kind).collect::<Vec<_>>().join(" | ");
    }
    match &s["type"] {
        Value::String(t) if t == "array" => format!("array of {}", kind(&s["items"])),
        Value::String(t) => match s["format"].as_str() {
            Some(f) => format!("{t} ({f})"),
            None => t.clone(),
        },
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => String::new(),
    }
}

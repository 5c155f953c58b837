//! The municipal admin's settings of the services: `/admin/settings` lists
//! the enabled modules that have settings; `/admin/settings/<id>` is a page
//! generated from the module's schema (one input per setting, empty meaning
//! "the default"), unless the module has its own page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::access::Authorized;
use dimos_web::access::ConfigureServices;
use dimos_web::auth::Posted;
use dimos_web::error::{Result, rendered_page};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::module::{ModuleDescriptor, SchemaField, SettingsPage};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The enabled modules with settings, and where each is changed.
pub async fn list(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<ConfigureServices>,
) -> Result<Html<String>> {
    let modules: Vec<_> = state
        .modules()
        .iter()
        .filter(|m| t.tenant.module_enabled(m.id))
        .filter_map(|m| {
            let href = match m.settings_page {
                SettingsPage::Own(path) => path.to_owned(),
                SettingsPage::Generated if !m.config.simple_fields().is_empty() => {
                    format!("/admin/settings/{}", m.id)
                }
                SettingsPage::Generated => return None,
            };
            Some(context! { href, name => ui.t(m.name_key) })
        })
        .collect();
    ui.render("admin/settings.html", context! { modules })
}

fn generated<'a>(state: &'a AppState, t: &CurrentTenant, id: &str) -> Result<&'a ModuleDescriptor> {
    match state.modules().get(id) {
        Some(m) if t.tenant.module_enabled(m.id) && m.settings_page == SettingsPage::Generated => {
            Ok(m)
        }
        _ => Err(Error::NotFound.into()),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn page(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    m: &ModuleDescriptor,
    csrf: &str,
    posted: Option<&BTreeMap<String, String>>,
    errors: &[FieldError],
    saved: bool,
) -> Result<Html<String>> {
    let overrides = dimos_web::settings::overrides(&t.db, m.id).await?;
    let defaults = m
        .config
        .validate(&dimos_web::settings::operator_defaults(t, m.id))
        .unwrap_or(Value::Null);
    let by_field = ui.error_map(errors);
    let fields: Vec<_> = m
        .config
        .simple_fields()
        .into_iter()
        .map(|f| {
            let key = format!("{}-setting-{}", m.id, f.name);
            let label = if state.translator().has(&key) {
                ui.t(&key)
            } else {
                f.description.clone().unwrap_or_else(|| f.name.clone())
            };
            let value = match posted {
                Some(p) => p.get(&f.name).cloned().unwrap_or_default(),
                None => overrides.get(&f.name).map(shown).unwrap_or_default(),
            };
            context! {
                id => f.name.clone(), kind => f.kind, label, value,
                choices => f.choices.clone(),
                default => defaults.get(&f.name).map(shown).unwrap_or_default(),
                error => by_field.get(&f.name).cloned(),
            }
        })
        .collect();
    ui.render(
        "admin/module_settings.html",
        context! {
            id => m.id, name => ui.t(m.name_key), fields, csrf, saved,
            errors => ui.error_list(errors),
        },
    )
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    may: Authorized<ConfigureServices>,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Html<String>> {
    let m = generated(&state, &t, &id)?;
    let saved = q.done.as_deref() == Some("saved");
    page(&state, &ui, &t, m, &may.user.csrf, None, &[], saved).await
}

/// One input's text as the setting's JSON value; empty is "no override".
fn parse(f: &SchemaField, text: &str) -> std::result::Result<Option<Value>, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || FieldError::new(f.name.clone(), "invalid");
    Ok(Some(match f.kind {
        "integer" => Value::from(text.parse::<i64>().map_err(|_| bad())?),
        "number" => text
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad)?,
        "boolean" => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        "choice" if !f.choices.iter().any(|c| c == text) => return Err(bad()),
        // A setting is one line (a title, a note), never a block.
        "string" if text.contains(['\n', '\r']) => return Err(bad()),
        _ => Value::String(text.to_owned()),
    }))
}

pub async fn save(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    may: Authorized<ConfigureServices>,
    peer: Peer,
    Path(id): Path<String>,
    Posted(posted): Posted<BTreeMap<String, String>>,
) -> Result<Response> {
    let m = generated(&state, &t, &id)?;
    let defaults = m
        .config
        .validate(&dimos_web::settings::operator_defaults(&t, m.id))
        .unwrap_or(Value::Null);
    let mut overrides = Map::new();
    let mut errors = vec![];
    for f in m.config.simple_fields() {
        match parse(&f, posted.get(&f.name).map_or("", String::as_str)) {
            // The default typed again is no override: a later change of
            // the default still reaches this municipality.
            Ok(Some(v)) if defaults.get(&f.name) == Some(&v) => {}
            Ok(Some(v)) => {
                overrides.insert(f.name.clone(), v);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    // Settings a form cannot show (lists, tables) keep their overrides.
    let simple: Vec<String> = m
        .config
        .simple_fields()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for (k, v) in dimos_web::settings::overrides(&t.db, m.id).await? {
        if !simple.contains(&k) {
            overrides.insert(k, v);
        }
    }
    if errors.is_empty() {
        let mut tx = t.db.begin().await?;
        let by = may.user.account.id;
        let now = state.workflow().now();
        match dimos_web::settings::save_overrides(
            &mut tx,
            &t,
            m.id,
            &m.config,
            overrides.clone(),
            by,
            now,
        )
        .await
        {
            Ok(()) => {
                dimos_web::auth::record_in(
                    &mut tx,
                    &t,
                    may.user
                        .audit(peer, "module_settings_changed")
                        .record(format!("module:{}", m.id))
                        .detail(Value::Object(overrides)),
                )
                .await?;
                tx.commit().await?;
                return Ok(
                    Redirect::to(&format!("/admin/settings/{}?done=saved", m.id)).into_response(),
                );
            }
            Err(Error::Validation(es)) => errors = es,
            Err(e) => return Err(e.into()),
        }
    }
    let html = page(
        &state,
        &ui,
        &t,
        m,
        &may.user.csrf,
        Some(&posted),
        &errors,
        false,
    )
    .await?;
    Ok(rendered_page(StatusCode::UNPROCESSABLE_ENTITY, html))
}

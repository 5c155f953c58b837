use super::OperatorActor;
use super::{public_url, validation_ctx};
use crate::form::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dimos_kernel::{Error, FieldError, LocalizedText};
use dimos_tenancy::model::{RawBranding, RawDomains, RawModule};
use dimos_tenancy::store::ApplyMode;
use dimos_tenancy::{ApplyOutcome, Contact, RawTenant, TenantSpec, TenantStatus};
use dimos_web::error::{AppError, Result};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/tenants", post(create))
        .route("/tenants/new", get(new_form))
        .route("/tenants/{slug}", get(show).post(update))
        .route("/tenants/{slug}/edit", get(edit_form))
        .route("/tenants/{slug}/status", post(set_status))
}

async fn index(ui: Ui, State(state): State<AppState>) -> Result<Html<String>> {
    let tenants: Vec<_> = state
        .registry()
        .tenants()
        .iter()
        .map(|t| {
            let modules: Vec<&str> = t
                .spec
                .modules
                .iter()
                .filter(|(_, m)| m.enabled)
                .map(|(id, _)| id.as_str())
                .collect();
            context! {
                slug => t.slug(),
                name => t.name(ui.lang),
                host => t.canonical_host(state.registry().base_domain()),
                url => public_url(&state, t),
                status => t.spec.status.as_str(),
                modules => modules,
            }
        })
        .collect();
    ui.render("operator/list.html", context! { tenants })
}

/// The form's fields as text, so what the person typed is shown back as typed.
#[derive(Debug, Default, Serialize)]
struct Values {
    slug: String,
    name_el: String,
    name_en: String,
    primary_domain: String,
    aliases: String,
    primary_colour: String,
    contact_email: String,
    contact_phone: String,
    address_el: String,
    address_en: String,
    website: String,
}

#[derive(Debug, Serialize)]
struct ModuleView {
    id: String,
    name: String,
    enabled: bool,
    /// The settings asked one by one.
    fields: Vec<FieldView>,
    /// The nested settings (lists, tables), as TOML.
    config: String,
}

#[derive(Debug, Serialize, Clone)]
struct FieldView {
    /// The setting's name in the module's configuration.
    key: String,
    /// The input's id and name.
    id: String,
    name: String,
    label: String,
    hint: Option<String>,
    kind: &'static str,
    choices: Vec<String>,
    value: String,
}

/// The module's simple settings as inputs, with `values` (a config's JSON
/// or what was posted).
fn field_views(
    ui: &Ui,
    m: &dimos_web::ModuleDescriptor,
    value: impl Fn(&str) -> String,
) -> Vec<FieldView> {
    m.config
        .simple_fields()
        .into_iter()
        .map(|f| {
            let key = format!("{}-config-{}", m.id, f.name.replace('_', "-"));
            let label = if ui.state.translator().has(&key) {
                ui.t(&key)
            } else {
                f.description.clone().unwrap_or_else(|| f.name.clone())
            };
            FieldView {
                key: f.name.clone(),
                id: format!("module-{}-field-{}", m.id, f.name),
                name: format!("module.{}.field.{}", m.id, f.name),
                value: value(&f.name),
                label,
                hint: None,
                kind: f.kind,
                choices: f.choices,
            }
        })
        .collect()
}

/// A JSON value as a form shows it.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "on".into(),
        serde_json::Value::Bool(false) | serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Anchor (input id) and label key of each field path prefix.
const FIELDS: &[(&str, &str, &str)] = &[
    ("slug", "slug", "op-field-slug"),
    ("name.el", "name-el", "op-field-name-el"),
    ("name.en", "name-en", "op-field-name-en"),
    (
        "domains.primary",
        "primary-domain",
        "op-field-primary-domain",
    ),
    ("domains", "aliases", "op-field-aliases"),
    (
        "branding.primary_colour",
        "primary-colour",
        "op-field-colour",
    ),
    ("branding.logo", "primary-colour", "op-field-colour"),
    ("contact.email", "contact-email", "op-field-email"),
    ("contact.phone", "contact-phone", "op-field-phone"),
    ("contact.address.el", "address-el", "op-field-address-el"),
    ("contact.address.en", "address-en", "op-field-address-en"),
    ("contact.website", "website", "op-field-website"),
];

fn error_views(ui: &Ui, errors: &[FieldError]) -> Vec<minijinja::Value> {
    errors
        .iter()
        .map(|e| {
            let (anchor, label) = if let Some(rest) = e.field.strip_prefix("modules.") {
                let module = rest.split('.').next().unwrap_or(rest);
                let setting = rest
                    .strip_prefix(module)
                    .and_then(|r| r.strip_prefix('.'))
                    .map(|r| {
                        r.trim_start_matches("config.")
                            .split(['.', '['])
                            .next()
                            .unwrap_or(r)
                    });
                let descriptor = ui.state.modules().get(module);
                let name = descriptor.map_or(module.to_owned(), |m| ui.t(m.name_key));
                match (descriptor, setting) {
                    (Some(m), Some(s)) if m.config.simple_fields().iter().any(|f| f.name == s) => {
                        (format!("module-{module}-field-{s}"), name)
                    }
                    _ => (format!("module-{module}-config"), name),
                }
            } else {
                FIELDS
                    .iter()
                    .find(|(prefix, _, _)| {
                        e.field == *prefix
                            || e.field.starts_with(&format!("{prefix}."))
                            || e.field.starts_with(&format!("{prefix}["))
                    })
                    .map_or(("slug".to_owned(), e.field.clone()), |(_, a, l)| {
                        ((*a).to_owned(), ui.t(l))
                    })
            };
            let message = ui.state.translator().field_message(ui.lang, e);
            context! { anchor, label, message }
        })
        .collect()
}

fn module_views(ui: &Ui, spec: Option<&TenantSpec>) -> Vec<ModuleView> {
    ui.state
        .modules()
        .iter()
        .map(|m| {
            let current = spec.and_then(|s| s.modules.get(m.id));
            let simple: Vec<String> = m
                .config
                .simple_fields()
                .into_iter()
                .map(|f| f.name)
                .collect();
            let nested: serde_json::Map<String, serde_json::Value> = current
                .map(|c| {
                    c.config
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| !simple.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            ModuleView {
                id: m.id.to_owned(),
                name: ui.t(m.name_key),
                enabled: current.is_some_and(|c| c.enabled),
                fields: field_views(ui, m, |name| {
                    current
                        .and_then(|c| c.config.get(name))
                        .map(json_text)
                        .unwrap_or_default()
                }),
                config: if nested.is_empty() {
                    String::new()
                } else {
                    // A value TOML cannot write is shown as JSON, not lost.
                    toml::to_string(&nested).unwrap_or_else(|_| {
                        serde_json::to_string_pretty(&nested).unwrap_or_else(|e| e.to_string())
                    })
                },
            }
        })
        .collect()
}

fn values_of(spec: &TenantSpec) -> Values {
    let c = &spec.contact;
    Values {
        slug: spec.slug.to_string(),
        name_el: spec.name.el.clone(),
        name_en: spec.name.en.clone(),
        primary_domain: spec
            .primary_domain
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        aliases: spec
            .aliases
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        primary_colour: spec.primary_colour.to_string(),
        contact_email: c.email.clone().unwrap_or_default(),
        contact_phone: c.phone.clone().unwrap_or_default(),
        address_el: c.address.as_ref().map(|a| a.el.clone()).unwrap_or_default(),
        address_en: c.address.as_ref().map(|a| a.en.clone()).unwrap_or_default(),
        website: c.website.clone().unwrap_or_default(),
    }
}

fn render_form(
    ui: &Ui,
    creating: bool,
    v: &Values,
    modules: Vec<ModuleView>,
    errors: &[FieldError],
) -> Result<Response> {
    let action = if creating {
        "/tenants".to_owned()
    } else {
        format!("/tenants/{}", v.slug)
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ui.render(
        "operator/form.html",
        context! {
            creating, action, v, modules,
            errors => error_views(ui, errors),
            base_domain => ui.state.registry().base_domain(),
        },
    )?;
    let mut res = (status, page).into_response();
    res.extensions_mut().insert(dimos_web::error::Rendered);
    Ok(res)
}

async fn new_form(ui: Ui) -> Result<Response> {
    let v = Values {
        primary_colour: "#003476".into(),
        ..Values::default()
    };
    render_form(&ui, true, &v, module_views(&ui, None), &[])
}

async fn edit_form(
    ui: Ui,
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response> {
    let t = state.registry().store().require(&slug).await?;
    render_form(
        &ui,
        false,
        &values_of(&t.spec),
        module_views(&ui, Some(&t.spec)),
        &[],
    )
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Reads the posted form into a tenant definition, collecting every problem.
/// The form's values, its modules, and the tenant it describes; or the
/// errors found while reading it, with the tenant as far as it could be
/// read (to check the rest).
type Parsed = Result<RawTenant, (Vec<FieldError>, Option<RawTenant>)>;

fn parse_form(
    ui: &Ui,
    form: &HashMap<String, String>,
    current: Option<&TenantSpec>,
) -> (Values, Vec<ModuleView>, Parsed) {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let v = Values {
        slug: get("slug").trim().to_owned(),
        name_el: get("name_el"),
        name_en: get("name_en"),
        primary_domain: get("primary_domain").trim().to_owned(),
        aliases: get("aliases"),
        primary_colour: get("primary_colour").trim().to_owned(),
        contact_email: get("contact_email").trim().to_owned(),
        contact_phone: get("contact_phone").trim().to_owned(),
        address_el: get("address_el"),
        address_en: get("address_en"),
        website: get("website").trim().to_owned(),
    };
    let mut errs = vec![];
    let mut field_err = |field: &str, e: Error| {
        for mut f in e.field_errors().to_vec() {
            f.field = field.to_owned();
            errs.push(f);
        }
    };
    let slug = v.slug.parse().map_err(|e| field_err("slug", e)).ok();
    let primary = match opt(&v.primary_domain) {
        None => None,
        Some(d) => d.parse().map_err(|e| field_err("domains.primary", e)).ok(),
    };
    let mut aliases = vec![];
    for (i, line) in v
        .aliases
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        if let Ok(d) = line
            .parse()
            .map_err(|e| field_err(&format!("domains.aliases[{i}]"), e))
        {
            aliases.push(d);
        }
    }
    let colour = v
        .primary_colour
        .parse()
        .map_err(|e| field_err("branding.primary_colour", e))
        .ok();

    let mut modules = BTreeMap::new();
    let mut views = vec![];
    for m in ui.state.modules().iter() {
        let enabled = form
            .get(&format!("module.{}.enabled", m.id))
            .is_some_and(|v| v == "on");
        let text = form
            .get(&format!("module.{}.config", m.id))
            .cloned()
            .unwrap_or_default();
        let existed = current.is_some_and(|c| c.modules.contains_key(m.id));
        let posted = |name: &str| {
            form.get(&format!("module.{}.field.{name}", m.id))
                .cloned()
                .unwrap_or_default()
        };
        let fields = field_views(ui, m, posted);
        let any_field = fields.iter().any(|f| !f.value.trim().is_empty());
        views.push(ModuleView {
            id: m.id.into(),
            name: ui.t(m.name_key),
            enabled,
            fields: fields.clone(),
            config: text.clone(),
        });
        if !(enabled || existed || any_field || !text.trim().is_empty()) {
            continue;
        }
        match toml::from_str::<toml::Table>(&text) {
            Ok(table) => {
                let mut config = match serde_json::to_value(table) {
                    Ok(serde_json::Value::Object(o)) => o,
                    _ => serde_json::Map::new(),
                };
                // Each setting asked one by one, typed as the schema says;
                // an empty one keeps the default.
                for f in &fields {
                    let v = f.value.trim();
                    let typed = match f.kind {
                        "boolean" => Some(serde_json::Value::Bool(v == "on")),
                        _ if v.is_empty() => None,
                        "integer" => match v.parse::<i64>() {
                            Ok(n) => Some(n.into()),
                            Err(_) => {
                                errs.push(FieldError::new(
                                    format!("modules.{}.{}", m.id, f.key),
                                    "number-invalid",
                                ));
                                None
                            }
                        },
                        "number" => match v.replace(',', ".").parse::<f64>() {
                            Ok(n) => Some(n.into()),
                            Err(_) => {
                                errs.push(FieldError::new(
                                    format!("modules.{}.{}", m.id, f.key),
                                    "number-invalid",
                                ));
                                None
                            }
                        },
                        _ => Some(v.into()),
                    };
                    if let Some(t) = typed {
                        config.insert(f.key.clone(), t);
                    }
                }
                modules.insert(m.id.to_owned(), RawModule { enabled, config });
            }
            Err(e) => errs.push(
                FieldError::new(format!("modules.{}", m.id), "config-syntax")
                    .with_detail(e.message().to_owned()),
            ),
        }
    }
    let address =
        (opt(&v.address_el).is_some() || opt(&v.address_en).is_some()).then(|| LocalizedText {
            el: v.address_el.trim().to_owned(),
            en: v.address_en.trim().to_owned(),
        });
    // A value that did not parse is stood in for, so that the rest of the
    // form is still checked and every error is shown at once; the stand-in's
    // own findings are dropped in `save`.
    let slug = slug.or_else(|| "placeholder".parse().ok());
    let colour = colour.or_else(|| "#003476".parse().ok());
    let raw: std::result::Result<RawTenant, ()> = match (slug, colour) {
        (Some(slug), Some(primary_colour)) => Ok(RawTenant {
            slug,
            name: LocalizedText {
                el: v.name_el.clone(),
                en: v.name_en.clone(),
            },
            status: current.map_or(TenantStatus::Active, |c| c.status),
            domains: RawDomains { primary, aliases },
            branding: RawBranding {
                primary_colour,
                // The form does not edit the logo; keep the current one.
                logo: current.and_then(|c| c.to_raw().branding.logo),
            },
            contact: Contact {
                email: opt(&v.contact_email),
                phone: opt(&v.contact_phone),
                address,
                website: opt(&v.website),
            },
            modules,
            // The form does not edit providers; keep the tenant's choice.
            identity: current.map(|c| c.identity.clone()).unwrap_or_default(),
            grants: vec![],
            departments: vec![],
        }),
        _ => Err(()),
    };
    let raw = match raw {
        Ok(r) if errs.is_empty() => Ok(r),
        Ok(r) => Err((errs, Some(r))),
        Err(_) => Err((errs, None)),
    };
    (v, views, raw)
}

async fn save(
    ui: Ui,
    state: AppState,
    op: OperatorActor,
    form: HashMap<String, String>,
    slug: Option<String>,
) -> Result<Response> {
    let creating = slug.is_none();
    let current = match &slug {
        Some(s) => Some(state.registry().store().require(s).await?.spec),
        None => None,
    };
    let (values, views, raw) = parse_form(&ui, &form, current.as_ref());
    let fail = |errors: Vec<FieldError>| {
        render_form(&ui, creating, &values, module_views_or(&views), &errors)
    };
    let raw = match raw {
        Ok(r) => r,
        Err((mut errors, partial)) => {
            // Everything else the form gets wrong, in the same answer.
            if let Some(r) = partial
                && let Err(Error::Validation(more)) = r.validate(&validation_ctx(&state))
            {
                let unread: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
                errors.extend(more.into_iter().filter(|e| !unread.contains(&e.field)));
            }
            return fail(errors);
        }
    };
    if let Some(s) = &slug
        && raw.slug.as_str() != s
    {
        return Err(Error::BadRequest("slug cannot change".into()).into());
    }
    let spec = match raw.validate(&validation_ctx(&state)) {
        Ok(s) => s,
        Err(Error::Validation(errors)) => return fail(errors),
        Err(e) => return Err(e.into()),
    };
    let mode = if creating {
        ApplyMode::CreateOnly
    } else {
        ApplyMode::UpdateOnly
    };
    let outcome = match state.registry().store().apply(&spec, &op.0, mode).await {
        Ok(o) => o,
        Err(Error::Validation(errors)) => return fail(errors),
        Err(e) => return Err(AppError(e)),
    };
    state.registry().reload().await?;
    if outcome == ApplyOutcome::Created {
        super::onboarded(&state, spec.slug.as_str()).await?;
    }
    let flash = match outcome {
        ApplyOutcome::Created => "created",
        ApplyOutcome::Updated(_) => "saved",
        ApplyOutcome::Unchanged => "unchanged",
    };
    Ok(Redirect::to(&format!("/tenants/{}?flash={flash}", spec.slug)).into_response())
}

fn module_views_or(views: &[ModuleView]) -> Vec<ModuleView> {
    views
        .iter()
        .map(|v| ModuleView {
            id: v.id.clone(),
            name: v.name.clone(),
            enabled: v.enabled,
            fields: v.fields.clone(),
            config: v.config.clone(),
        })
        .collect()
}

async fn create(
    ui: Ui,
    State(state): State<AppState>,
    op: OperatorActor,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response> {
    save(ui, state, op, form, None).await
}

async fn update(
    ui: Ui,
    State(state): State<AppState>,
    op: OperatorActor,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response> {
    save(ui, state, op, form, Some(slug)).await
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    op: OperatorActor,
    Path(slug): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response> {
    let status =
        TenantStatus::parse(&form.status).ok_or_else(|| Error::invalid("status", "invalid"))?;
    state
        .registry()
        .store()
        .set_status(&slug, status, &op.0)
        .await?;
    state.registry().reload().await?;
    Ok(Redirect::to(&format!("/tenants/{slug}?flash=saved")).into_response())
}

#[derive(Deserialize)]
struct ShowQuery {
    flash: Option<String>,
}

async fn show(
    ui: Ui,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>> {
    let t = state.registry().store().require(&slug).await?;
    let history = state.registry().store().history(&slug).await?;
    let s = &t.spec;
    let mut details = vec![
        context! { label => ui.t("op-field-slug"), value => s.slug.as_str() },
        context! { label => ui.t("op-field-name-el"), value => s.name.el.clone() },
        context! { label => ui.t("op-field-name-en"), value => s.name.en.clone() },
        context! { label => ui.t("op-col-address"), value => t.canonical_host(state.registry().base_domain()) },
    ];
    if !s.aliases.is_empty() {
        let list: Vec<String> = s.aliases.iter().map(ToString::to_string).collect();
        details.push(context! { label => ui.t("op-field-aliases"), value => list.join(", ") });
    }
    details.push(context! { label => ui.t("op-field-colour"), value => s.primary_colour.as_str() });
    for (key, value) in [
        ("op-field-email", &s.contact.email),
        ("op-field-phone", &s.contact.phone),
        ("op-field-website", &s.contact.website),
    ] {
        if let Some(v) = value {
            details.push(context! { label => ui.t(key), value => v.clone() });
        }
    }
    let enabled: Vec<String> = s
        .modules
        .iter()
        .filter(|(_, m)| m.enabled)
        .map(|(id, _)| id.clone())
        .collect();
    details.push(context! { label => ui.t("op-modules"), value => if enabled.is_empty() { "—".to_owned() } else { enabled.join(", ") } });
    let flash = q.flash.as_deref().and_then(|f| match f {
        "created" => Some("op-created"),
        "saved" => Some("op-saved"),
        "unchanged" => Some("op-unchanged"),
        _ => None,
    });
    let history: Vec<_> = history
        .iter()
        .map(|h| context! { at => crate::cases::datetime(h.at), actor => h.actor.clone(), changes => h.changes.clone() })
        .collect();
    ui.render(
        "operator/show.html",
        context! {
            slug => s.slug.as_str(),
            name => s.name.get(ui.lang),
            status => s.status.as_str(),
            url => public_url(&state, &t),
            details, history, flash,
        },
    )
}

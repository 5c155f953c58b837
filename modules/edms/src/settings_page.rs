//! The municipality's settings of document management, for its admin
//! (`services.configure`): the deadline a charge gets, the document types
//! with how long each is kept and what happens then, and the approval
//! chain of each kind of outgoing document (roles in order). One form,
//! parsed field by field, checked as a whole (`EdmsConfig::check`), every
//! problem shown on its input; saved with an audit entry.

use crate::config::{Chain, Disposal, EdmsConfig, Kind};
use crate::outgoing::{MAX_APPROVERS, TEMPLATES, role_labels};
use crate::web::settings;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::FieldError;
use dimos_web::access::{Authorized, ConfigureServices};
use dimos_web::auth::Posted;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Empty rows offered for adding a type.
const SPARE_ROWS: usize = 2;
use crate::config::MAX_KINDS;

#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<String>,
}

fn get<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
        .trim()
}

/// The row a `kind-<n>-…` field belongs to.
fn kind_index(name: &str) -> Option<usize> {
    name.strip_prefix("kind-")?.split('-').next()?.parse().ok()
}

/// How many rows of types a form has: one past the highest row within
/// the page's limit (rows beyond it are refused, never read).
fn rows_of<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .filter_map(kind_index)
        .filter(|n| *n < MAX_KINDS + SPARE_ROWS)
        .max()
        .map_or(0, |m| m + 1)
}

/// The form read into settings, or each field's problem.
fn parse(
    form: &[(String, String)],
    roles: &BTreeMap<String, String>,
) -> std::result::Result<EdmsConfig, Vec<FieldError>> {
    let mut errors = vec![];
    let deadline_days = match get(form, "deadline_days").parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(FieldError::new("deadline_days", "invalid"));
            // Checked already: the whole's check says nothing more of it.
            EdmsConfig::default().deadline_days
        }
    };
    let rows = rows_of(form.iter().map(|(k, _)| k.as_str()));
    if form
        .iter()
        .any(|(k, _)| kind_index(k).is_some_and(|n| n >= MAX_KINDS + SPARE_ROWS))
    {
        errors.push(FieldError::new("kinds", "too-long").with_detail(MAX_KINDS.to_string()));
    }
    let mut kinds = vec![];
    for i in 0..rows {
        let f = |name: &str| get(form, &format!("kind-{i}-{name}")).to_owned();
        let (id, el, en, years) = (f("id"), f("el"), f("en"), f("years"));
        if id.is_empty() && el.is_empty() && en.is_empty() && years.is_empty() {
            // An empty row: a spare, or a type removed.
            continue;
        }
        let retention_years = if years.is_empty() {
            None
        } else if let Ok(y) = years.parse::<u32>() {
            Some(y)
        } else {
            errors.push(FieldError::new(format!("kind-{i}-years"), "invalid"));
            None
        };
        let disposal = match f("disposal").as_str() {
            "archive" => Disposal::Archive,
            _ => Disposal::Destroy,
        };
        kinds.push((
            i,
            Kind {
                id,
                el,
                en,
                retention_years,
                disposal,
            },
        ));
    }
    let mut chains = vec![];
    for template in TEMPLATES {
        let mut picked: Vec<String> = vec![];
        let mut gap = false;
        for step in 1..=MAX_APPROVERS {
            let name = format!("chain-{template}-{step}");
            let role = get(form, &name);
            if role.is_empty() {
                gap = true;
                continue;
            }
            if gap {
                // A step after an empty one: the chain has a hole.
                errors.push(FieldError::new(name, "edms-chain-gap"));
            } else if !roles.contains_key(role) {
                errors.push(FieldError::new(name, "invalid"));
            } else if picked.iter().any(|r| r == role) {
                errors.push(FieldError::new(name, "duplicate"));
            } else {
                picked.push(role.to_owned());
            }
        }
        if !picked.is_empty() {
            chains.push(Chain {
                template: template.to_owned(),
                roles: picked,
            });
        }
    }
    let c = EdmsConfig {
        deadline_days,
        kinds: kinds.iter().map(|(_, k)| k.clone()).collect(),
        chains,
    };
    // The whole's problems, on the row's inputs (`kinds[2].el` is the
    // third listed row, whatever its index in the form).
    for e in dimos_web::ModuleConfig::check(&c) {
        let field = match e.field.strip_prefix("kinds[") {
            Some(rest) => {
                let (n, col) = rest.split_once("].").unwrap_or((rest, "id"));
                let col = if col == "retention_years" {
                    "years"
                } else {
                    col
                };
                match n.parse::<usize>().ok().and_then(|n| kinds.get(n)) {
                    Some((i, _)) => format!("kind-{i}-{col}"),
                    None => "kinds".to_owned(),
                }
            }
            None => e.field.clone(),
        };
        errors.push(FieldError { field, ..e });
    }
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

/// The form's values from settings (for the first showing).
fn values_of(c: &EdmsConfig) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("deadline_days".to_owned(), c.deadline_days.to_string());
    for (i, k) in c.kinds.iter().enumerate() {
        v.insert(format!("kind-{i}-id"), k.id.clone());
        v.insert(format!("kind-{i}-el"), k.el.clone());
        v.insert(format!("kind-{i}-en"), k.en.clone());
        v.insert(
            format!("kind-{i}-years"),
            k.retention_years.map(|y| y.to_string()).unwrap_or_default(),
        );
        v.insert(format!("kind-{i}-disposal"), k.disposal.id().to_owned());
    }
    for c in &c.chains {
        for (step, role) in c.roles.iter().enumerate() {
            v.insert(format!("chain-{}-{}", c.template, step + 1), role.clone());
        }
    }
    v
}

/// Every input of the page has a value (a strict template reads each).
fn complete(values: &mut BTreeMap<String, String>, rows: usize) {
    values.entry("deadline_days".into()).or_default();
    for i in 0..rows {
        for col in ["id", "el", "en", "years"] {
            values.entry(format!("kind-{i}-{col}")).or_default();
        }
        values
            .entry(format!("kind-{i}-disposal"))
            .or_insert_with(|| "destroy".into());
    }
    for template in TEMPLATES {
        for step in 1..=MAX_APPROVERS {
            values
                .entry(format!("chain-{template}-{step}"))
                .or_default();
        }
    }
}

#[allow(clippy::too_many_arguments)] // the page's parts
fn render(
    state: &AppState,
    ui: &Ui,
    csrf: &str,
    values: &BTreeMap<String, String>,
    rows: usize,
    errors: &[FieldError],
    saved: bool,
) -> Result<Response> {
    let roles = role_labels(state, ui);
    let mut values = values.clone();
    complete(&mut values, rows);
    let mut em: BTreeMap<String, String> =
        values.keys().map(|k| (k.clone(), String::new())).collect();
    em.insert("kinds".into(), String::new());
    em.extend(ui.error_map(errors));
    let page = ui.render(
        "edms/settings.html",
        context! {
            v => values,
            rows => (0..rows).collect::<Vec<_>>(),
            errors => em,
            summary => ui.error_list(errors),
            templates => TEMPLATES,
            steps => (1..=MAX_APPROVERS).collect::<Vec<_>>(),
            roles => roles.iter().map(|(id, label)| context! { id, label }).collect::<Vec<_>>(),
            csrf,
            saved,
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, page))
}

pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    Query(q): Query<Saved>,
) -> Result<Response> {
    let c = settings(&t).await?;
    let values = values_of(&c);
    let rows = c.kinds.len() + SPARE_ROWS;
    render(
        &state,
        &ui,
        &who.user.csrf,
        &values,
        rows,
        &[],
        q.saved.is_some(),
    )
}

pub async fn save(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    match parse(&form, &role_labels(&state, &ui)) {
        Ok(c) => {
            dimos_web::settings::save_audited(
                &t,
                &who.user,
                peer,
                crate::ID,
                &c,
                "edms_settings_changed",
                state.workflow().now(),
            )
            .await?;
            Ok(Redirect::to("/edms/settings?saved=1").into_response())
        }
        Err(errors) => {
            let values: BTreeMap<String, String> =
                form.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let rows = rows_of(values.keys().map(String::as_str)).max(SPARE_ROWS);
            render(&state, &ui, &who.user.csrf, &values, rows, &errors, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> BTreeMap<String, String> {
        [("mayor", "Δήμαρχος"), ("department-head", "Προϊστάμενος")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_shown_settings_read_back_as_they_were() {
        let mut c = EdmsConfig::default();
        c.kinds[0].retention_years = None;
        c.chains = vec![Chain {
            template: "decision".into(),
            roles: vec!["department-head".into(), "mayor".into()],
        }];
        let v: Vec<(String, String)> = values_of(&c).into_iter().collect();
        let back = parse(&v, &roles()).unwrap();
        assert_eq!(back.kinds.len(), c.kinds.len());
        assert_eq!(back.kinds[0].retention_years, None);
        assert_eq!(back.kinds[3].disposal, Disposal::Archive);
        assert_eq!(back.chains, c.chains);
    }

    #[test]
    fn each_mistake_is_named_on_its_input() {
        let errors = parse(
            &form(&[
                ("deadline_days", "x"),
                ("kind-0-id", "letter"),
                ("kind-0-el", "Έγγραφο"),
                ("kind-0-en", "Letter"),
                ("kind-0-years", "ten"),
                ("kind-3-id", "letter"),
                ("kind-3-el", "Άλλο"),
                ("kind-3-en", "Other"),
                ("kind-3-years", "500"),
                ("chain-decision-1", "emperor"),
            ]),
            &roles(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"deadline_days"), "{fields:?}");
        assert!(fields.contains(&"kind-0-years"), "{fields:?}");
        assert!(fields.contains(&"chain-decision-1"), "{fields:?}");
        assert!(fields.contains(&"kind-3-id"), "a second letter: {fields:?}");
        assert!(fields.contains(&"kind-3-years"), "{fields:?}");
        let errors = parse(
            &form(&[
                ("deadline_days", "30"),
                ("kind-18446744073709551615-id", "x"),
                ("chain-letter-2", "mayor"),
                ("chain-decision-1", "mayor"),
                ("chain-decision-2", "mayor"),
            ]),
            &roles(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"kinds"),
            "a row beyond the page: {fields:?}"
        );
        assert!(fields.contains(&"chain-letter-2"), "a hole: {fields:?}");
        assert!(fields.contains(&"chain-decision-2"), "twice: {fields:?}");
    }
}

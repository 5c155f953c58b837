//! The municipal admin's service settings: per process, the expected
//! handling time, each step's deadline and handling departments, the
//! citizen's answer deadline, which documents are asked for, and optional
//! steps switched off. Saved only if the resulting definition validates;
//! cases already running keep the definition they started with.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::access::{Authorized, ConfigureServices};
use dimos_web::auth::{Posted, record_in};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use dimos_workflow::definition::{Definition, DocumentSpec, Overrides, Step, StepOverride};
use minijinja::context;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

fn enabled_processes<'a>(state: &'a AppState, ui: &Ui) -> Vec<(&'a str, &'a Definition)> {
    state
        .workflow()
        .processes()
        .filter(|(_, module, _)| ui.tenant.as_ref().is_some_and(|t| t.module_enabled(module)))
        .map(|(id, _, d)| (id, d))
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    _who: Authorized<ConfigureServices>,
) -> Result<Html<String>> {
    let mut services = vec![];
    for (id, d) in enabled_processes(&state, &ui) {
        let o = state.workflow().overrides(&tenant.db, id).await?;
        services.push(context! {
            id, name => d.name.get(ui.lang), lead => d.lead_time_days,
            customised => !o.is_empty(),
        });
    }
    ui.render("admin/services.html", context! { services })
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    saved: Option<String>,
}

fn shipped_for<'a>(state: &'a AppState, ui: &Ui, process: &str) -> Result<&'a Definition> {
    enabled_processes(state, ui)
        .into_iter()
        .find(|(id, _)| *id == process)
        .map(|(_, d)| d)
        .ok_or_else(|| AppError(Error::NotFound))
}

pub async fn show(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ConfigureServices>,
    Path(process): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>> {
    let shipped = shipped_for(&state, &ui, &process)?;
    let effective = state.workflow().effective(&tenant.db, &process).await?;
    let o = state.workflow().overrides(&tenant.db, &process).await?;
    render(
        &state,
        &ui,
        &tenant,
        &who,
        shipped,
        &effective,
        &o,
        &[],
        q.saved.is_some(),
    )
    .await
    .map(|(_, h)| h)
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    who: &Authorized<ConfigureServices>,
    shipped: &Definition,
    effective: &Definition,
    o: &Overrides,
    errors: &[FieldError],
    saved: bool,
) -> Result<(StatusCode, Html<String>)> {
    let departments = state.access().departments(&tenant.db).await?;
    let tasks: Vec<_> = shipped
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Task(t) => {
                let now = match effective.step(&t.id) {
                    Some(Step::Task(e)) => Some(e),
                    _ => None,
                };
                let chosen: BTreeSet<&str> = now
                    .map(|e| e.departments.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                Some(context! {
                    id => t.id.clone(), name => t.name.get(ui.lang),
                    roles => t.roles.iter().map(|r| ui.t(&format!("role-{r}"))).collect::<Vec<_>>(),
                    due => now.and_then(|e| e.due_days).or(t.due_days),
                    shipped_due => t.due_days,
                    optional => t.optional,
                    skipped => o.steps.get(&t.id).and_then(|s| s.skip).unwrap_or(false),
                    departments => departments.iter().map(|(d, _)| context! {
                        slug => d.slug.clone(), name => if ui.lang == dimos_kernel::Locale::El { d.name_el.clone() } else { d.name_en.clone() }, checked => chosen.contains(d.slug.as_str()),
                    }).collect::<Vec<_>>(),
                })
            }
            _ => None,
        })
        .collect();
    let waits: Vec<_> = shipped
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Wait(w) => Some(context! {
                id => w.id.clone(), name => w.stage.get(ui.lang),
                deadline => match effective.step(&w.id) { Some(Step::Wait(e)) => e.deadline_days, _ => w.deadline_days },
                shipped => w.deadline_days,
            }),
            _ => None,
        })
        .collect();
    let docs: Vec<_> = shipped
        .documents
        .iter()
        .map(|d| {
            let now = effective.documents.iter().find(|e| e.id == d.id);
            context! {
                id => d.id.clone(), label => d.label.get(ui.lang),
                state => match now { None => "off", Some(e) if e.required => "required", Some(_) => "optional" },
            }
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let html = ui.render(
        "admin/service.html",
        context! {
            process => shipped.process.clone(), name => shipped.name.get(ui.lang),
            lead => effective.lead_time_days, shipped_lead => shipped.lead_time_days,
            retention => effective.retention_years, shipped_retention => shipped.retention_years,
            tasks, waits, docs, saved, errors => ui.error_list(errors),
            process_svg => {
                let stages = dimos_web::diagram::stages(shipped, ui.lang);
                let (changed, skipped) = dimos_web::diagram::overridden(o);
                dimos_web::diagram::render(&stages, &dimos_web::diagram::override_marks(&stages, &changed, &skipped), &ui.t("diagram-admin-title"), ui.state.translator(), ui.lang)
            },
            csrf => who.user.csrf.clone(),
        },
    )?;
    Ok((status, html))
}

fn number(posted: &BTreeMap<String, String>, key: &str, errs: &mut Vec<FieldError>) -> Option<u32> {
    let v = posted.get(key).map(|s| s.trim()).unwrap_or("");
    if v.is_empty() {
        return None;
    }
    match v.parse::<u32>() {
        Ok(n) if (1..=3650).contains(&n) => Some(n),
        _ => {
            errs.push(FieldError::new(key, "out-of-range").with_detail("1–3650"));
            None
        }
    }
}

/// The form, as the smallest set of overrides: only what differs from the
/// module's definition is stored.
fn overrides_from(
    shipped: &Definition,
    posted: &BTreeMap<String, String>,
) -> std::result::Result<Overrides, Vec<FieldError>> {
    let mut errs = vec![];
    let mut o = Overrides::default();
    if let Some(n) = number(posted, "lead_time_days", &mut errs)
        && n != shipped.lead_time_days
    {
        o.lead_time_days = Some(n);
    }
    if let Some(n) = number(posted, "retention_years", &mut errs)
        && n != shipped.retention_years
    {
        o.retention_years = Some(n);
    }
    for s in &shipped.steps {
        let mut so = StepOverride::default();
        match s {
            Step::Task(t) => {
                if let Some(n) = number(posted, &format!("due.{}", t.id), &mut errs)
                    && Some(n) != t.due_days
                {
                    so.due_days = Some(n);
                }
                let prefix = format!("dept.{}.", t.id);
                let chosen: Vec<String> = posted
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
                    .collect();
                let shipped_set: BTreeSet<&String> = t.departments.iter().collect();
                if chosen.iter().collect::<BTreeSet<_>>() != shipped_set {
                    so.departments = Some(chosen);
                }
                if t.optional && posted.contains_key(&format!("skip.{}", t.id)) {
                    so.skip = Some(true);
                }
            }
            Step::Wait(w) => {
                if let Some(n) = number(posted, &format!("deadline.{}", w.id), &mut errs)
                    && n != w.deadline_days
                {
                    so.deadline_days = Some(n);
                }
            }
            _ => {}
        }
        if so != StepOverride::default() {
            o.steps.insert(s.id().to_owned(), so);
        }
    }
    let docs: Vec<DocumentSpec> = shipped
        .documents
        .iter()
        .filter_map(
            |d| match posted.get(&format!("doc.{}", d.id)).map(String::as_str) {
                Some("off") => None,
                Some("optional") => Some(DocumentSpec {
                    required: false,
                    ..d.clone()
                }),
                Some("required") => Some(DocumentSpec {
                    required: true,
                    ..d.clone()
                }),
                _ => Some(d.clone()),
            },
        )
        .collect();
    if docs != shipped.documents {
        o.documents = Some(docs);
    }
    if errs.is_empty() { Ok(o) } else { Err(errs) }
}

pub async fn save(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Path(process): Path<String>,
    Posted(posted): Posted<BTreeMap<String, String>>,
) -> Result<Response> {
    let shipped = shipped_for(&state, &ui, &process)?;
    let departments: BTreeSet<String> = state
        .access()
        .departments(&tenant.db)
        .await?
        .into_iter()
        .map(|(d, _)| d.slug)
        .collect();
    // The service's new settings and their audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    let result = match overrides_from(shipped, &posted) {
        Ok(o) => state
            .workflow()
            .save_overrides(
                &mut tx,
                &tenant.db,
                &process,
                &o,
                departments,
                &who.user.actor(),
            )
            .await
            .map(|_| o),
        Err(e) => Err(Error::Validation(e)),
    };
    match result {
        Ok(o) => {
            record_in(
                &mut tx,
                &tenant,
                who.user
                    .audit(peer, "service_configured")
                    .record(format!("process:{process}"))
                    .detail(serde_json::to_value(&o).map_err(Error::internal)?),
            )
            .await?;
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/services/{process}?saved=1")).into_response())
        }
        Err(Error::Validation(errs)) => {
            drop(tx);
            let effective = state.workflow().effective(&tenant.db, &process).await?;
            let o = state.workflow().overrides(&tenant.db, &process).await?;
            let (s, h) = render(
                &state, &ui, &tenant, &who, shipped, &effective, &o, &errs, false,
            )
            .await?;
            Ok(dimos_web::error::rendered_page(s, h))
        }
        Err(e) => Err(AppError(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_become_overrides() {
        let d = Definition::parse_toml(include_str!(
            "../../../workflow/src/definition/fixture.toml"
        ))
        .unwrap();
        let mut posted: BTreeMap<String, String> = [
            ("lead_time_days", "20"),
            ("due.review", "5"),
            ("deadline.wait-info", "10"),
            ("doc.id-card", "required"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(overrides_from(&d, &posted).unwrap().is_empty());
        posted.insert("due.review".into(), "3".into());
        posted.insert("dept.review.technical".into(), "on".into());
        posted.insert("skip.approve".into(), "on".into());
        posted.insert("doc.id-card".into(), "off".into());
        let o = overrides_from(&d, &posted).unwrap();
        assert_eq!(o.steps["review"].due_days, Some(3));
        assert_eq!(
            o.steps["review"].departments,
            Some(vec!["technical".to_owned()])
        );
        assert_eq!(o.steps["approve"].skip, Some(true));
        assert_eq!(o.documents, Some(vec![]));
        posted.insert("lead_time_days".into(), "0".into());
        let e = overrides_from(&d, &posted).unwrap_err();
        assert_eq!(
            (e[0].field.as_str(), e[0].code),
            ("lead_time_days", "out-of-range")
        );
    }
}

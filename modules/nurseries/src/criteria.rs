//! The points table as a list: each criterion on a page of its own to add,
//! change or remove (with a confirmation), in words, never by its internal
//! id or by blanking fields of one long form. The whole table in one form
//! stays at `/nurseries/settings/all` for the rest of the settings.

use crate::NurseriesConfig;
use crate::scoring::Criterion;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError, LocalizedText};
use dimos_web::access::{Authorized, ConfigureServices};
use dimos_web::auth::{Button, Posted};
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use std::collections::BTreeMap;

/// The overview: the criteria with their points and documents, and the
/// rest of the table in words.
pub(crate) async fn overview(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    _who: Authorized<ConfigureServices>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let c = crate::config(&t).await?;
    let def = state.workflow().effective(&t.db, crate::PROCESS).await?;
    let doc_label = |id: &str| {
        def.documents
            .iter()
            .find(|d| d.id == id)
            .map_or(id.to_owned(), |d| d.label.get(ui.lang).to_owned())
    };
    let html = ui.render(
        "nurseries/settings_overview.html",
        context! {
            done => q.get("done").filter(|d| ["added", "changed", "removed", "saved"].contains(&d.as_str())).cloned(),
            criteria => c.rules.criteria.iter().map(|x| context! {
                id => x.id.clone(), label => x.label.get(ui.lang), points => x.points,
                documents => x.documents.iter().map(|d| doc_label(d)).collect::<Vec<_>>(),
                together => together(&c, x, &ui),
            }).collect::<Vec<_>>(),
            large_family => context! { min => c.rules.large_family.min_children, points => c.rules.large_family.points_per_child },
            bands => {
                let mut from = 0u64;
                c.rules.income_bands.iter().map(|b| {
                    let v = context! { from, up_to => b.up_to_euros, points => b.points };
                    from = b.up_to_euros.map_or(from, |u| u + 1);
                    v
                }).collect::<Vec<_>>()
            },
            lottery_only => matches!(c.rules.tie_break, crate::scoring::TieBreak::Lottery),
            groups => c.age_groups.iter().map(|g| context! { label => g.label.get(ui.lang), from => g.from_months, to => g.to_months }).collect::<Vec<_>>(),
        },
    )?;
    Ok(html.into_response())
}

/// The other criteria of `x`'s group, by name: only the one with the most
/// points counts among them.
fn together(c: &NurseriesConfig, x: &Criterion, ui: &Ui) -> Vec<String> {
    match &x.group {
        Some(g) => c
            .rules
            .criteria
            .iter()
            .filter(|o| o.id != x.id && o.group.as_deref() == Some(g))
            .map(|o| o.label.get(ui.lang).to_owned())
            .collect(),
        None => vec![],
    }
}

/// A new criterion's id, from its English (else Greek) name; unique.
fn new_id(c: &NurseriesConfig, label: &LocalizedText) -> String {
    let source = if label.en.trim().is_empty() {
        &label.el
    } else {
        &label.en
    };
    let mut base: String = source
        .to_lowercase()
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    base = base
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if base.is_empty() {
        base = "criterion".into();
    }
    let mut id = base.clone();
    let mut n = 2;
    while c.rules.criteria.iter().any(|x| x.id == id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    c: &NurseriesConfig,
    editing: Option<&str>,
    v: &BTreeMap<String, Vec<String>>,
    errors: &[FieldError],
) -> Result<Response> {
    let def = state.workflow().effective(&t.db, crate::PROCESS).await?;
    let one = |k: &str| {
        v.get(k)
            .and_then(|x| x.first())
            .cloned()
            .unwrap_or_default()
    };
    let (summary, messages) = crate::messages(ui, errors, &["el", "en", "points", "group"]);
    // The groups a criterion may join, named by their members.
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for x in &c.rules.criteria {
        if let Some(g) = &x.group
            && Some(x.id.as_str()) != editing
        {
            groups
                .entry(g.clone())
                .or_default()
                .push(x.label.get(ui.lang).to_owned());
        }
    }
    let html = ui.render(
        "nurseries/criterion.html",
        context! {
            csrf, summary, errors => messages, editing,
            el => one("el"), en => one("en"), points => one("points"), group => one("group"),
            chosen => v.get("docs").cloned().unwrap_or_default(),
            docs => def.documents.iter().map(|d| context! { id => d.id.clone(), label => d.label.get(ui.lang) }).collect::<Vec<_>>(),
            groups => groups.into_iter().map(|(id, members)| context! { id, members => members.join(", ") }).collect::<Vec<_>>(),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

fn values_of(x: &Criterion) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        ("el".to_owned(), vec![x.label.el.clone()]),
        ("en".to_owned(), vec![x.label.en.clone()]),
        ("points".to_owned(), vec![x.points.to_string()]),
        ("group".to_owned(), x.group.clone().into_iter().collect()),
        ("docs".to_owned(), x.documents.clone()),
    ])
}

pub(crate) async fn new_form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
) -> Result<Response> {
    let c = crate::config(&t).await?;
    render_form(
        &state,
        &ui,
        &t,
        &who.user.csrf,
        &c,
        None,
        &BTreeMap::new(),
        &[],
    )
    .await
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    Path(id): Path<String>,
) -> Result<Response> {
    let c = crate::config(&t).await?;
    let x = c
        .rules
        .criteria
        .iter()
        .find(|x| x.id == id)
        .ok_or(Error::NotFound)?;
    let v = values_of(x);
    render_form(&state, &ui, &t, &who.user.csrf, &c, Some(&id), &v, &[]).await
}

/// The posted form as name → values (checkboxes repeat their name).
fn posted(f: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut v: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, x) in f {
        v.entry(k).or_default().push(x);
    }
    v
}

/// The criterion the form describes, or its problems.
fn criterion_of(
    v: &BTreeMap<String, Vec<String>>,
    id: String,
    kinds: &[String],
) -> std::result::Result<Criterion, Vec<FieldError>> {
    let one = |k: &str| {
        v.get(k)
            .and_then(|x| x.first())
            .map_or("", String::as_str)
            .trim()
            .to_owned()
    };
    let mut errors = vec![];
    let (el, en) = (one("el"), one("en"));
    if el.is_empty() {
        errors.push(FieldError::new("el", "required"));
    }
    if en.is_empty() {
        errors.push(FieldError::new("en", "required"));
    }
    let points = match one("points").parse::<u32>() {
        Ok(p) if p <= 1000 => Some(p),
        Ok(_) => {
            errors.push(FieldError::new("points", "out-of-range").with_detail("0–1000"));
            None
        }
        Err(_) if one("points").is_empty() => {
            errors.push(FieldError::new("points", "required"));
            None
        }
        Err(_) => {
            errors.push(FieldError::new("points", "number-invalid"));
            None
        }
    };
    let documents: Vec<String> = v
        .get("docs")
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| kinds.contains(d))
        .collect();
    let group = Some(one("group")).filter(|g| !g.is_empty());
    match points {
        Some(points) if errors.is_empty() => Ok(Criterion {
            id,
            label: LocalizedText { el, en },
            points,
            group,
            documents,
        }),
        _ => Err(errors),
    }
}

async fn store(
    state: &AppState,
    t: &CurrentTenant,
    who: &Authorized<ConfigureServices>,
    peer: Peer,
    c: &NurseriesConfig,
    what: &str,
) -> Result<Response> {
    crate::settings::save_audited(state, t, &who.user, peer, c).await?;
    Ok(Redirect::to(&format!("/nurseries/settings?done={what}")).into_response())
}

/// Adds (no `id`) or changes a criterion; the whole table is checked again.
async fn upsert(
    state: AppState,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    id: Option<String>,
    f: Vec<(String, String)>,
) -> Result<Response> {
    let v = posted(f);
    let mut c = crate::config(&t).await?;
    let def = state.workflow().effective(&t.db, crate::PROCESS).await?;
    let kinds: Vec<String> = def.documents.iter().map(|d| d.id.clone()).collect();
    let index = match &id {
        Some(id) => Some(
            c.rules
                .criteria
                .iter()
                .position(|x| x.id == *id)
                .ok_or(Error::NotFound)?,
        ),
        None => None,
    };
    let label = LocalizedText {
        el: v
            .get("el")
            .and_then(|x| x.first())
            .cloned()
            .unwrap_or_default(),
        en: v
            .get("en")
            .and_then(|x| x.first())
            .cloned()
            .unwrap_or_default(),
    };
    let new_id = id.clone().unwrap_or_else(|| new_id(&c, &label));
    let result = criterion_of(&v, new_id, &kinds).and_then(|x| {
        match index {
            Some(i) => c.rules.criteria[i] = x,
            None => c.rules.criteria.push(x),
        }
        // The table as a whole (groups, duplicates) holds, or the problem
        // is told on this page.
        let whole = crate::ModuleConfig::check(&c);
        if whole.is_empty() {
            Ok(())
        } else {
            Err(whole
                .into_iter()
                .map(|mut e| {
                    e.field = "points".into();
                    e
                })
                .collect())
        }
    });
    match result {
        Ok(()) => {
            store(
                &state,
                &t,
                &who,
                peer,
                &c,
                if id.is_some() { "changed" } else { "added" },
            )
            .await
        }
        Err(errors) => {
            let c = crate::config(&t).await?;
            render_form(
                &state,
                &ui,
                &t,
                &who.user.csrf,
                &c,
                id.as_deref(),
                &v,
                &errors,
            )
            .await
        }
    }
}

pub(crate) async fn add(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Posted(f): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    upsert(state, ui, t, who, peer, None, f).await
}

pub(crate) async fn change(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Path(id): Path<String>,
    Posted(f): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    upsert(state, ui, t, who, peer, Some(id), f).await
}

/// "Remove this criterion?" with what it is worth, before it goes.
pub(crate) async fn remove_form(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    Path(id): Path<String>,
) -> Result<Response> {
    let c = crate::config(&t).await?;
    let x = c
        .rules
        .criteria
        .iter()
        .find(|x| x.id == id)
        .ok_or(Error::NotFound)?;
    let html = ui.render(
        "nurseries/criterion_remove.html",
        context! { csrf => who.user.csrf.clone(), id, label => x.label.get(ui.lang), points => x.points },
    )?;
    Ok(html.into_response())
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Path(id): Path<String>,
    _: Posted<Button>,
) -> Result<Response> {
    let mut c = crate::config(&t).await?;
    let before = c.rules.criteria.len();
    c.rules.criteria.retain(|x| x.id != id);
    if c.rules.criteria.len() == before {
        return Err(Error::NotFound.into());
    }
    store(&state, &t, &who, peer, &c, "removed").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_criteria_get_readable_unique_ids() {
        let c = NurseriesConfig::default();
        let label = |el: &str, en: &str| LocalizedText {
            el: el.into(),
            en: en.into(),
        };
        assert_eq!(new_id(&c, &label("Ορφανό", "Orphan child")), "orphan-child");
        assert_eq!(new_id(&c, &label("Ορφανό", "")), "criterion");
        let taken = c.rules.criteria[0].id.clone();
        let same = new_id(&c, &label("x", &taken.replace('-', " ")));
        assert_ne!(same, taken);
        assert!(same.starts_with(&taken), "{same}");
    }

    #[test]
    fn a_criterion_needs_both_names_and_whole_points() {
        let v = |pairs: &[(&str, &str)]| {
            posted(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            )
        };
        let kinds = vec!["birth".to_owned()];
        let err =
            criterion_of(&v(&[("el", "Α"), ("points", "δέκα")]), "a".into(), &kinds).unwrap_err();
        let fields: Vec<_> = err.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(fields, [("en", "required"), ("points", "number-invalid")]);
        let ok = criterion_of(
            &v(&[
                ("el", "Α"),
                ("en", "A"),
                ("points", "20"),
                ("docs", "birth"),
                ("docs", "made-up"),
            ]),
            "a".into(),
            &kinds,
        )
        .unwrap();
        assert_eq!(ok.points, 20);
        assert_eq!(
            ok.documents,
            ["birth"],
            "unknown document kinds are dropped"
        );
        assert_eq!(ok.group, None);
    }
}

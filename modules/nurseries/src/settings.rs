//! The municipal admin's settings: age groups, the points table, the
//! income bands, the tie-break and the documents each line needs, over the
//! operator's defaults in the tenant definition (`[modules.nurseries]`).
//! The form is parsed field by field and checked as a whole
//! (`NurseriesConfig::check`); every problem is shown on its input.

use crate::scoring::{Criterion, IncomeBand, LargeFamily, Rules, TieBreak};
use crate::{AgeGroup, NurseriesConfig};
use dimos_kernel::{FieldError, LocalizedText};
use std::collections::BTreeMap;

/// Saves the settings and their audit entry in one transaction: they exist
/// together or not at all.
pub(crate) async fn save_audited(
    state: &dimos_web::AppState,
    t: &dimos_web::CurrentTenant,
    user: &dimos_web::auth::CurrentUser,
    peer: dimos_web::extract::Peer,
    c: &NurseriesConfig,
) -> dimos_web::Result<()> {
    dimos_web::settings::save_audited(
        t,
        user,
        peer,
        crate::ID,
        c,
        "nursery_settings_changed",
        state.workflow().now(),
    )
    .await?;
    Ok(())
}

/// Extra empty rows the form offers for adding.
pub const SPARE_ROWS: usize = 2;

/// The form's fields, as posted (checkbox groups repeat their name).
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
            .trim()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    fn rows(&self, prefix: &str) -> usize {
        self.0
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(prefix))
            .filter_map(|rest| rest.split('-').next()?.parse::<usize>().ok())
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }
}

fn number<T: std::str::FromStr>(errors: &mut Vec<FieldError>, field: String, v: &str) -> Option<T> {
    match v.parse::<T>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                if v.is_empty() {
                    "required"
                } else {
                    "number-invalid"
                },
            ));
            None
        }
    }
}

/// The form field a configuration path is shown on.
pub fn field_of(path: &str) -> String {
    // `rules.criteria[2].points` → `c-2-points`; `age_groups[0].to_months` → `g-0-to`.
    let index = |p: &str| {
        p.split('[')
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or("0")
            .to_owned()
    };
    let last = path.rsplit('.').next().unwrap_or("");
    if path.starts_with("rules.criteria[") {
        let f = match last {
            "label" => "el",
            "id" | "points" | "group" => last,
            _ => "id",
        };
        format!("c-{}-{f}", index(path))
    } else if path.starts_with("rules.income_bands[") {
        let f = if last == "points" { "points" } else { "up" };
        format!("b-{}-{f}", index(path))
    } else if path.starts_with("rules.income_bands") {
        "b-0-up".into()
    } else if path.starts_with("rules.large_family") {
        "lf-min".into()
    } else if path.starts_with("age_groups[") {
        let f = match last {
            "from_months" => "from",
            "to_months" => "to",
            "label" => "el",
            _ => "id",
        };
        format!("g-{}-{f}", index(path))
    } else if path.starts_with("age_groups") {
        "g-0-id".into()
    } else {
        "tie_break".into()
    }
}

impl Posted {
    /// The configuration the form describes, or every problem on its field.
    pub fn parse(&self, documents: &[String]) -> Result<NurseriesConfig, Vec<FieldError>> {
        let mut errors = vec![];
        let docs = |errors: &mut Vec<FieldError>, name: &str| -> Vec<String> {
            let chosen = self.all(name);
            for d in &chosen {
                if !documents.contains(d) {
                    errors.push(FieldError::new(name, "invalid"));
                }
            }
            chosen
        };
        let mut age_groups = vec![];
        for i in 0..self.rows("g-") {
            let f = |x: &str| format!("g-{i}-{x}");
            let id = self.get(&f("id"));
            if id.is_empty() && self.get(&f("el")).is_empty() {
                continue;
            }
            let from = number::<u32>(&mut errors, f("from"), self.get(&f("from")));
            let to = number::<u32>(&mut errors, f("to"), self.get(&f("to")));
            for l in ["el", "en"] {
                if self.get(&f(l)).is_empty() {
                    errors.push(FieldError::new(f(l), "required"));
                }
            }
            age_groups.push(AgeGroup {
                id: id.to_owned(),
                label: LocalizedText {
                    el: self.get(&f("el")).to_owned(),
                    en: self.get(&f("en")).to_owned(),
                },
                from_months: from.unwrap_or(0),
                to_months: to.unwrap_or(0),
            });
        }
        let mut criteria = vec![];
        for i in 0..self.rows("c-") {
            let f = |x: &str| format!("c-{i}-{x}");
            let id = self.get(&f("id"));
            if id.is_empty() && self.get(&f("el")).is_empty() {
                continue;
            }
            let points = number::<u32>(&mut errors, f("points"), self.get(&f("points")));
            let group = self.get(&f("group"));
            criteria.push(Criterion {
                id: id.to_owned(),
                label: LocalizedText {
                    el: self.get(&f("el")).to_owned(),
                    en: self.get(&f("en")).to_owned(),
                },
                points: points.unwrap_or(0),
                group: (!group.is_empty()).then(|| group.to_owned()),
                documents: docs(&mut errors, &f("docs")),
            });
        }
        let mut income_bands = vec![];
        for i in 0..self.rows("b-") {
            let f = |x: &str| format!("b-{i}-{x}");
            let (up, points) = (self.get(&f("up")), self.get(&f("points")));
            if up.is_empty() && points.is_empty() {
                continue;
            }
            income_bands.push(IncomeBand {
                up_to_euros: if up.is_empty() {
                    None
                } else {
                    number::<u64>(&mut errors, f("up"), &up.replace('.', ""))
                },
                points: number::<u32>(&mut errors, f("points"), points).unwrap_or(0),
            });
        }
        let large_family = LargeFamily {
            min_children: number::<u32>(&mut errors, "lf-min".into(), self.get("lf-min"))
                .unwrap_or(0),
            points_per_child: number::<u32>(&mut errors, "lf-points".into(), self.get("lf-points"))
                .unwrap_or(0),
            documents: docs(&mut errors, "lf-docs"),
        };
        let tie_break = match self.get("tie_break") {
            "lottery" => TieBreak::Lottery,
            _ => TieBreak::LowerIncome,
        };
        let config = NurseriesConfig {
            age_groups,
            rules: Rules {
                criteria,
                large_family,
                income_bands,
                income_documents: docs(&mut errors, "inc-docs"),
                tie_break,
            },
        };
        // Problems of the whole, each on the input it comes from, unless
        // that input already has one.
        for mut e in crate::ModuleConfig::check(&config) {
            e.field = field_of(&e.field);
            if !errors.iter().any(|x| x.field == e.field) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }
}

/// The form's values for a configuration (and spare rows), by field name.
pub fn values_of(c: &NurseriesConfig) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    for (i, g) in c.age_groups.iter().enumerate() {
        v.insert(format!("g-{i}-id"), g.id.clone());
        v.insert(format!("g-{i}-el"), g.label.el.clone());
        v.insert(format!("g-{i}-en"), g.label.en.clone());
        v.insert(format!("g-{i}-from"), g.from_months.to_string());
        v.insert(format!("g-{i}-to"), g.to_months.to_string());
    }
    for (i, x) in c.rules.criteria.iter().enumerate() {
        v.insert(format!("c-{i}-id"), x.id.clone());
        v.insert(format!("c-{i}-el"), x.label.el.clone());
        v.insert(format!("c-{i}-en"), x.label.en.clone());
        v.insert(format!("c-{i}-points"), x.points.to_string());
        v.insert(format!("c-{i}-group"), x.group.clone().unwrap_or_default());
    }
    for (i, b) in c.rules.income_bands.iter().enumerate() {
        v.insert(
            format!("b-{i}-up"),
            b.up_to_euros.map(|u| u.to_string()).unwrap_or_default(),
        );
        v.insert(format!("b-{i}-points"), b.points.to_string());
    }
    v.insert(
        "lf-min".into(),
        c.rules.large_family.min_children.to_string(),
    );
    v.insert(
        "lf-points".into(),
        c.rules.large_family.points_per_child.to_string(),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted_of(c: &NurseriesConfig) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = values_of(c).into_iter().collect();
        for (i, x) in c.rules.criteria.iter().enumerate() {
            for d in &x.documents {
                p.push((format!("c-{i}-docs"), d.clone()));
            }
        }
        for d in &c.rules.large_family.documents {
            p.push(("lf-docs".into(), d.clone()));
        }
        for d in &c.rules.income_documents {
            p.push(("inc-docs".into(), d.clone()));
        }
        p.push(("tie_break".into(), "lower-income".into()));
        p
    }

    fn kinds() -> Vec<String> {
        [
            "family-status",
            "residence",
            "employment",
            "kepa",
            "student-or-service",
            "social-report",
            "tax-clearance",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn the_form_round_trips_the_defaults() {
        let c = NurseriesConfig::default();
        let parsed = Posted(posted_of(&c)).parse(&kinds()).unwrap();
        assert_eq!(parsed.rules, c.rules);
        assert_eq!(parsed.age_groups, c.age_groups);
    }

    #[test]
    fn problems_land_on_their_inputs() {
        let c = NurseriesConfig::default();
        let mut p = posted_of(&c);
        let set = |p: &mut Vec<(String, String)>, k: &str, v: &str| {
            for (key, val) in p.iter_mut() {
                if key == k {
                    *val = v.into();
                }
            }
        };
        set(&mut p, "c-1-id", "resident");
        set(&mut p, "c-2-points", "πενήντα");
        set(&mut p, "b-4-up", "50000");
        set(&mut p, "g-1-from", "20");
        p.push(("c-0-docs".into(), "made-up".into()));
        let fields: Vec<String> = Posted(p)
            .parse(&kinds())
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}:{}", e.field, e.code))
            .collect();
        for want in [
            "c-2-points:number-invalid",
            "c-0-docs:invalid",
            "c-1-id:duplicate-or-invalid",
            "b-0-up:invalid",
            "g-0-id:invalid",
        ] {
            assert!(fields.contains(&want.to_owned()), "{want} in {fields:?}");
        }
    }
}

// ---------------------------------------------------------------------
// The page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_web::access::{Authorized, ConfigureServices};
use dimos_web::auth::Posted as PostedForm;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use serde::Deserialize;

async fn render(
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    c: &NurseriesConfig,
    posted: Option<&Posted>,
    errors: &[FieldError],
    saved: bool,
) -> Result<Response> {
    let def = ui.state.workflow().effective(&t.db, crate::PROCESS).await?;
    let docs: Vec<_> = def
        .documents
        .iter()
        .map(|d| context! { id => d.id.clone(), label => d.label.get(ui.lang) })
        .collect();
    // What the form shows: what was posted (when it failed), else the
    // configuration.
    let mut values = values_of(c);
    let mut chosen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, x) in c.rules.criteria.iter().enumerate() {
        chosen.insert(format!("c-{i}-docs"), x.documents.clone());
    }
    chosen.insert("lf-docs".into(), c.rules.large_family.documents.clone());
    chosen.insert("inc-docs".into(), c.rules.income_documents.clone());
    let mut tie = match c.rules.tie_break {
        TieBreak::Lottery => "lottery",
        TieBreak::LowerIncome => "lower-income",
    }
    .to_owned();
    let (mut groups, mut criteria, mut bands) = (
        c.age_groups.len() + 1,
        c.rules.criteria.len() + SPARE_ROWS,
        c.rules.income_bands.len() + SPARE_ROWS,
    );
    if let Some(p) = posted {
        values =
            p.0.iter()
                .filter(|(k, _)| !k.ends_with("-docs") && k != "_csrf")
                .cloned()
                .collect();
        chosen.clear();
        for (k, v) in p.0.iter().filter(|(k, _)| k.ends_with("-docs")) {
            chosen.entry(k.clone()).or_default().push(v.clone());
        }
        tie = p.get("tie_break").to_owned();
        groups = p.rows("g-").max(groups);
        criteria = p.rows("c-").max(criteria);
        bands = p.rows("b-").max(bands);
    }
    let (summary, messages) = crate::messages(ui, errors, &[]);
    let v = |k: String| values.get(&k).cloned().unwrap_or_default();
    let e = |k: &str| messages.get(k).cloned();
    let docs_of = |k: &str| chosen.get(k).cloned().unwrap_or_default();
    let html = ui.render(
        "nurseries/settings.html",
        context! {
            csrf, saved, summary, docs, tie,
            groups => (0..groups).map(|i| context! {
                i, id => v(format!("g-{i}-id")), el => v(format!("g-{i}-el")), en => v(format!("g-{i}-en")),
                from => v(format!("g-{i}-from")), to => v(format!("g-{i}-to")),
                error => ["id", "el", "en", "from", "to"].iter().find_map(|f| e(&format!("g-{i}-{f}"))),
            }).collect::<Vec<_>>(),
            criteria => (0..criteria).map(|i| context! {
                i, id => v(format!("c-{i}-id")), el => v(format!("c-{i}-el")), en => v(format!("c-{i}-en")),
                points => v(format!("c-{i}-points")), group => v(format!("c-{i}-group")),
                docs => docs_of(&format!("c-{i}-docs")),
                error => ["id", "el", "en", "points", "group", "docs"].iter().find_map(|f| e(&format!("c-{i}-{f}"))),
            }).collect::<Vec<_>>(),
            bands => (0..bands).map(|i| context! {
                i, up => v(format!("b-{i}-up")), points => v(format!("b-{i}-points")),
                error => ["up", "points"].iter().find_map(|f| e(&format!("b-{i}-{f}"))),
            }).collect::<Vec<_>>(),
            lf => context! {
                min => v("lf-min".into()), points => v("lf-points".into()), docs => docs_of("lf-docs"),
                error => ["lf-min", "lf-points", "lf-docs"].iter().find_map(|f| e(f)),
            },
            income_docs => docs_of("inc-docs"),
            income_error => e("inc-docs"),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

#[derive(Deserialize)]
pub(crate) struct Saved {
    saved: Option<String>,
}

pub(crate) async fn page(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    Query(q): Query<Saved>,
) -> Result<Response> {
    let c = crate::config(&t).await?;
    render(&ui, &t, &who.user.csrf, &c, None, &[], q.saved.is_some()).await
}

pub(crate) async fn save_page(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    PostedForm(f): PostedForm<Vec<(String, String)>>,
) -> Result<Response> {
    let posted = Posted(f);
    let def = state.workflow().effective(&t.db, crate::PROCESS).await?;
    let kinds: Vec<String> = def.documents.iter().map(|d| d.id.clone()).collect();
    match posted.parse(&kinds) {
        Ok(c) => {
            save_audited(&state, &t, &who.user, peer, &c).await?;
            Ok(Redirect::to("/nurseries/settings/all?saved=1").into_response())
        }
        Err(errors) => {
            let c = crate::config(&t).await?;
            render(&ui, &t, &who.user.csrf, &c, Some(&posted), &errors, false).await
        }
    }
}

//! The committee's placement page: run the placement (with a recorded
//! lottery seed), read the ranking per station and age group, publish;
//! the exports (CSV for the council decision, a printable notice by
//! protocol number for the notice board); and the explanation each family
//! reads for each child.

use crate::placement::{self, Priority, RefusalReason};
use crate::results::{self, ResultRow, Run, Snapshot};
use crate::review::ReviewApplications;
use crate::{applications, catalogue, config};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::access::Authorized;
use dimos_web::auth::{Button, Posted, record_in};
use dimos_web::extract::Peer;
use dimos_web::people::StaffMember;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use dimos_workflow::{CaseId, TaskId, query};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The year whose placement is run now: the current one, once its window
/// has closed.
async fn closed_year(state: &AppState, t: &CurrentTenant) -> Result<catalogue::Year> {
    let today = crate::today(state);
    let y = catalogue::current_year(&t.db, today)
        .await?
        .ok_or(Error::NotFound)?;
    if matches!(y.phase(today), "upcoming" | "open") {
        return Err(Error::Conflict("nursery-window-open").into());
    }
    Ok(y)
}

pub(crate) fn station_names(stations: &[catalogue::Station], snap: &Snapshot) -> Vec<String> {
    snap.stations
        .iter()
        .map(|id| {
            stations
                .iter()
                .find(|s| s.id == *id)
                .map_or_else(|| id.to_string(), |s| s.name.clone())
        })
        .collect()
}

fn group_labels(ui: &Ui, cfg: &crate::NurseriesConfig, snap: &Snapshot) -> Vec<String> {
    snap.groups
        .iter()
        .map(|g| {
            cfg.age_groups
                .iter()
                .find(|x| &x.id == g)
                .map_or_else(|| g.clone(), |x| x.label.get(ui.lang).to_owned())
        })
        .collect()
}

/// One station's list for one age group: who holds a place and the
/// waiting list, best first, by protocol number with points.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct List {
    pub station_id: Uuid,
    pub station: String,
    pub group_id: String,
    pub group: String,
    pub places: u32,
    pub admitted: Vec<Admitted>,
    pub waiting: Vec<Waiting>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Admitted {
    pub protocol: String,
    pub points: u32,
    /// The family's alone: not on the public notice.
    pub children: usize,
    pub reenrolment: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Waiting {
    pub position: usize,
    pub protocol: String,
    pub points: u32,
}

/// The lists of every station and age group with anyone or any place in
/// them; `names` and `groups` are how the stations and groups are called.
pub(crate) fn lists(
    snap: &Snapshot,
    rows: &[ResultRow],
    names: &[String],
    groups: &[String],
) -> Vec<List> {
    let (out, out_of_play) = results::current(snap, rows);
    let waiting = placement::waiting_lists(&snap.instance, &out);
    let inst = &snap.instance;
    let order = placement::served_order(inst);
    let mut tables = vec![];
    for (s, (station_id, name)) in snap.stations.iter().zip(names).enumerate() {
        for (g, (group_id, group)) in snap.groups.iter().zip(groups).enumerate() {
            let cap = inst
                .capacity
                .get(s)
                .and_then(|c| c.get(g))
                .copied()
                .unwrap_or(0);
            let admitted: Vec<Admitted> = order
                .iter()
                .filter(|&&u| out.station[u] == Some(s) && inst.units[u].children.contains(&g))
                .map(|&u| Admitted {
                    protocol: snap.units[u].protocol.clone(),
                    points: inst.units[u].priority.points,
                    children: inst.units[u].children.iter().filter(|&&x| x == g).count(),
                    reenrolment: inst.units[u].priority.reenrolment,
                })
                .collect();
            let list: Vec<Waiting> = waiting[s][g]
                .iter()
                .filter(|&&u| !out_of_play[u])
                .enumerate()
                .map(|(i, &u)| Waiting {
                    position: i + 1,
                    protocol: snap.units[u].protocol.clone(),
                    points: inst.units[u].priority.points,
                })
                .collect();
            if cap == 0 && admitted.is_empty() && list.is_empty() {
                continue;
            }
            tables.push(List {
                station_id: *station_id,
                station: name.clone(),
                group_id: group_id.clone(),
                group: group.clone(),
                places: cap,
                admitted,
                waiting: list,
            });
        }
    }
    tables
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
    run: Option<Uuid>,
}

async fn render_page(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    done: Option<String>,
    chosen: Option<Uuid>,
    errors: &[FieldError],
) -> Result<Response> {
    let year = closed_year(state, t).await?;
    let apps = applications::in_play(&t.db, year.id).await?;
    let unchecked = apps.iter().filter(|a| a.decisions.0.is_empty()).count();
    let runs = results::runs(&t.db, year.id).await?;
    let stations = catalogue::stations(&t.db).await?;
    let shown = match chosen {
        Some(id) => runs.iter().find(|r| r.id == id),
        None => runs.first(),
    };
    let detail = match shown {
        Some(run) => {
            let rows = results::results(&t.db, run.id).await?;
            let snap = &run.snapshot.0;
            let names = station_names(&stations, snap);
            let groups = group_labels(ui, &config(t).await?, snap);
            Some(context! {
                id => run.id, seed => run.seed.clone(),
                ran => run.ran_at.format("%d/%m/%Y %H:%M").to_string(),
                published => run.published_at.map(|p| p.format("%d/%m/%Y %H:%M").to_string()),
                tables => lists(snap, &rows, &names, &groups),
                children => rows.len(),
                placed => rows.iter().filter(|r| r.holds()).count(),
            })
        }
        None => None,
    };
    let (summary, messages) = crate::messages(ui, errors, &["seed"]);
    let html = ui.render(
        "nurseries/placement.html",
        context! {
            csrf, summary, errors => messages,
            done => done.filter(|d| ["ran", "published", "list-closed"].contains(&d.as_str())),
            year => year.label.clone(), applications => apps.len(), unchecked,
            runs => runs.iter().map(|r| context! {
                id => r.id, ran => r.ran_at.format("%d/%m/%Y %H:%M").to_string(),
                published => r.published_at.is_some(), seed => r.seed.clone(),
            }).collect::<Vec<_>>(),
            run => detail,
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

pub(crate) async fn page(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ReviewApplications>,
    Query(q): Query<Done>,
) -> Result<Response> {
    // The staff hub links here all year: before applications close the page
    // says when placement can run, instead of an error.
    let today = crate::today(&state);
    let year = catalogue::current_year(&t.db, today).await?;
    if year
        .as_ref()
        .is_none_or(|y| matches!(y.phase(today), "upcoming" | "open"))
    {
        let html = ui.render(
            "nurseries/placement_wait.html",
            context! {
                year => year.as_ref().map(|y| context! {
                    label => y.label.clone(),
                    closes => y.closes_on.format("%d/%m/%Y").to_string(),
                }),
                may_manage => state
                    .access()
                    .allowed(t.tenant.id, &dimos_web::access::subjects(&who.user), "nurseries.manage")
                    .await,
            },
        )?;
        return Ok(html.into_response());
    }
    render_page(&state, &ui, &t, &who.user.csrf, q.done, q.run, &[]).await
}

#[derive(Deserialize)]
pub(crate) struct RunForm {
    #[serde(default)]
    seed: String,
}

/// Runs the placement over every submitted application, with the points
/// as checked so far, and records it unpublished.
pub(crate) async fn run(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ReviewApplications>,
    peer: Peer,
    Posted(f): Posted<RunForm>,
) -> Result<Response> {
    let year = closed_year(&state, &t).await?;
    let seed = f.seed.trim().to_owned();
    if seed.chars().count() > 64 {
        let e = [FieldError::new("seed", "too-long").with_detail("64")];
        return render_page(&state, &ui, &t, &who.user.csrf, None, None, &e).await;
    }
    // No seed given: a fresh random one, recorded with the run.
    let seed = if seed.is_empty() {
        Uuid::new_v4().simple().to_string()
    } else {
        seed
    };
    let cfg = config(&t).await?;
    let apps = applications::in_play(&t.db, year.id).await?;
    let stations = catalogue::stations(&t.db).await?;
    let places = catalogue::places(&t.db, year.id).await?;
    let snap = results::snapshot(
        &apps,
        &stations,
        &places,
        &cfg.age_groups,
        &cfg.rules,
        &seed,
    );
    let out = placement::place(&snap.instance);
    if !out.settled || placement::stability(&snap.instance, &out).is_err() {
        return Err(Error::internal("placement did not settle to a stable result").into());
    }
    let now = state.workflow().now();
    // The run, its results and its audit entry: one transaction.
    let mut tx = t.db.begin().await?;
    let by = who.user.account.id;
    let id = results::record(&mut tx, &t.db, year.id, &seed, &snap, &out, by, now).await?;
    let placed = out.station.iter().filter(|s| s.is_some()).count();
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_placement_run")
            .record(format!("nursery-run:{id}"))
            .detail(json!({"year": year.label, "seed": seed, "units": snap.units.len(), "placed_units": placed})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/nurseries/admin/placement?done=ran&run={id}")).into_response())
}

/// Per child: where the run put them (station id or none).
fn placements(rows: &[ResultRow]) -> BTreeMap<(Uuid, i32), Option<Uuid>> {
    rows.iter()
        .map(|r| {
            (
                (r.application_id, r.child),
                r.station_id.filter(|_| r.holds()),
            )
        })
        .collect()
}

/// Publishes a run: offers open for the year's days to accept; every case
/// waiting for results is closed as placed or wait-listed (the family is
/// told); after an earlier publication, what changed is recorded and the
/// families concerned are told.
pub(crate) async fn publish(
    State(state): State<AppState>,
    t: CurrentTenant,
    _may: Authorized<ReviewApplications>,
    who: StaffMember,
    peer: Peer,
    Path(id): Path<Uuid>,
    _: Posted<Button>,
) -> Result<Response> {
    let year = closed_year(&state, &t).await?;
    let run = results::run(&t.db, id)
        .await?
        .filter(|r| r.year_id == year.id)
        .ok_or(Error::NotFound)?;
    let before = match results::published(&t.db, year.id).await? {
        Some(p) => Some(results::results(&t.db, p.id).await?),
        None => None,
    };
    let snap = &run.snapshot.0;
    let cases: BTreeMap<Uuid, Uuid> = snap.units.iter().map(|u| (u.application, u.case)).collect();
    let now = state.workflow().now();
    let deadline = crate::today(&state) + chrono::Duration::days(i64::from(year.accept_days));
    // The publication is one action: the run published, every case moved
    // on, every family told, and the audit entry, or none of it.
    let mut tx = t.db.begin().await?;
    // The cases waiting for the results: one read for them all.
    let app_of: BTreeMap<Uuid, Uuid> = cases.iter().map(|(a, c)| (*c, *a)).collect();
    let ids: Vec<CaseId> = cases.values().map(|c| CaseId(*c)).collect();
    let mut waiting: Vec<(Uuid, query::TaskRow)> =
        query::open_tasks_in(&mut tx, &t.db, &ids, "results")
            .await?
            .into_iter()
            .filter_map(|task| app_of.get(&task.case_id).map(|a| (*a, task)))
            .collect();
    waiting.sort_by_key(|(a, _)| *a);
    if !results::publish(&mut tx, &t.db, run.id, who.user.account.id, deadline, now).await? {
        return Err(Error::Conflict("nursery-run-published").into());
    }
    let rows = results::results_tx(&mut tx, &t.db, run.id).await?;
    let after = placements(&rows);
    let mut changed = vec![];
    if let Some(before) = &before {
        let old = placements(before);
        for (k, v) in &after {
            if old.get(k) != Some(v) {
                changed.push(json!({"application": k.0, "child": k.1, "from": old.get(k).cloned().flatten(), "to": v}));
            }
        }
    }
    let changed_apps: BTreeSet<String> = changed
        .iter()
        .filter_map(|c| c["application"].as_str().map(str::to_owned))
        .collect();
    let actor = who.staff.actor();
    let holding: BTreeSet<Uuid> = rows
        .iter()
        .filter(|r| r.holds())
        .map(|r| r.application_id)
        .collect();
    // Every waiting case moved on together: a few statements per
    // thousand cases rather than a dozen per case.
    let done = waiting
        .into_iter()
        .map(|(app, task)| {
            let outcome = if holding.contains(&app) {
                "placed"
            } else {
                "waiting"
            };
            (task, outcome.to_owned())
        })
        .collect();
    state
        .workflow()
        .complete_open_actions_tx(&mut tx, &t.db, done, &actor)
        .await?;
    // Published before: tell those whose result changed; a family that
    // waited and now has a place, its case ends with it.
    for (app, case) in &cases {
        if !changed_apps.contains(&app.to_string()) {
            continue;
        }
        if holding.contains(app)
            && let Some(task) =
                query::open_task_in(&mut tx, &t.db, CaseId(*case), "waiting-list").await?
        {
            state
                .workflow()
                .complete_action_tx(&mut tx, &t.db, TaskId(task.id), &actor, "offered", "")
                .await?;
        }
        state
            .workflow()
            .record_event_tx(
                &mut tx,
                &t.db,
                CaseId(*case),
                "notify.progress",
                &actor,
                true,
                json!({
                    "message": {
                        "el": "Τα αποτελέσματα των παιδικών σταθμών αναθεωρήθηκαν και το αποτέλεσμά σας άλλαξε.",
                        "en": "The nursery results were revised and your result changed.",
                    },
                    "path": format!("/nurseries/applications/{case}"),
                }),
            )
            .await?;
    }
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_placement_published")
            .record(format!("nursery-run:{}", run.id))
            .detail(json!({"year": year.label, "seed": run.seed, "deadline": deadline, "changed": changed})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/nurseries/admin/placement?done=published&run={}",
        run.id
    ))
    .into_response())
}

fn csv_response(name: &str, rows: Vec<Vec<String>>) -> Result<Response> {
    let mut w = csv::Writer::from_writer(vec![]);
    for row in rows {
        w.write_record(&row).map_err(Error::internal)?;
    }
    let body = w.into_inner().map_err(|e| Error::internal(e.to_string()))?;
    // A byte-order mark so spreadsheet programs read the Greek as UTF-8.
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(body);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}

async fn staff_run(t: &CurrentTenant, id: Uuid) -> Result<Run> {
    Ok(results::run(&t.db, id).await?.ok_or(Error::NotFound)?)
}

/// Every unit in priority order, with what decided it: a header row, then
/// one row per unit.
async fn ranking_rows(ui: &Ui, t: &CurrentTenant, run: &Run) -> Result<Vec<Vec<String>>> {
    let snap = &run.snapshot.0;
    let stations = catalogue::stations(&t.db).await?;
    let names = station_names(&stations, snap);
    let groups = group_labels(ui, &config(t).await?, snap);
    let inst = &snap.instance;
    let order = placement::served_order(inst);
    let mut rows = vec![
        [
            "nurseries-csv-rank",
            "nurseries-csv-protocol",
            "nurseries-csv-children",
            "nurseries-csv-reenrolment",
            "nurseries-points-column",
            "nurseries-csv-income",
            "nurseries-csv-lottery",
            "nurseries-csv-preferences",
        ]
        .map(|k| ui.t(k))
        .to_vec(),
    ];
    for (rank, &u) in order.iter().enumerate() {
        let unit = &inst.units[u];
        rows.push(vec![
            (rank + 1).to_string(),
            snap.units[u].protocol.clone(),
            unit.children
                .iter()
                .map(|&g| groups[g].clone())
                .collect::<Vec<_>>()
                .join(" + "),
            if unit.priority.reenrolment {
                ui.t("nurseries-yes")
            } else {
                String::new()
            },
            unit.priority.points.to_string(),
            unit.priority
                .income
                .map(|i| i.to_string())
                .unwrap_or_default(),
            format!("{:016x}", unit.priority.lottery),
            unit.preferences
                .iter()
                .map(|&s| names[s].clone())
                .collect::<Vec<_>>()
                .join(" → "),
        ]);
    }
    Ok(rows)
}

/// The ranking as CSV, for the council decision.
pub(crate) async fn ranking_csv(
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<ReviewApplications>,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let run = staff_run(&t, id).await?;
    csv_response("ranking.csv", ranking_rows(&ui, &t, &run).await?)
}

/// The ranking as a printable page, for the council decision.
pub(crate) async fn ranking_page(
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<ReviewApplications>,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let run = staff_run(&t, id).await?;
    let mut rows = ranking_rows(&ui, &t, &run).await?;
    let header = if rows.is_empty() {
        vec![]
    } else {
        rows.remove(0)
    };
    let html = ui.render(
        "nurseries/ranking.html",
        context! {
            header, rows, seed => run.seed.clone(), id => run.id,
            ran => run.ran_at.format("%d/%m/%Y %H:%M").to_string(),
        },
    )?;
    Ok(dimos_web::error::rendered_page(StatusCode::OK, html))
}

/// Every child's result, by protocol number.
pub(crate) async fn results_csv(
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<ReviewApplications>,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let run = staff_run(&t, id).await?;
    let snap = &run.snapshot.0;
    let stations = catalogue::stations(&t.db).await?;
    let names = station_names(&stations, snap);
    let groups = group_labels(&ui, &config(&t).await?, snap);
    let rows_db = results::results(&t.db, run.id).await?;
    let mut rows = vec![
        [
            "nurseries-csv-protocol",
            "nurseries-csv-child",
            "nurseries-csv-group",
            "nurseries-points-column",
            "nurseries-csv-result",
            "nurseries-station",
            "nurseries-csv-choice",
        ]
        .map(|k| ui.t(k))
        .to_vec(),
    ];
    for r in &rows_db {
        let Some((u, g)) = snap.unit_and_group(r) else {
            continue;
        };
        let unit = &snap.instance.units[u];
        rows.push(vec![
            snap.units[u].protocol.clone(),
            (r.child + 1).to_string(),
            groups.get(g).cloned().unwrap_or_default(),
            unit.priority.points.to_string(),
            ui.t(&format!("nurseries-status-{}", r.status)),
            r.station_id
                .and_then(|s| snap.station_index(s))
                .map(|s| names[s].clone())
                .unwrap_or_default(),
            r.choice.map(|c| (c + 1).to_string()).unwrap_or_default(),
        ]);
    }
    csv_response("results.csv", rows)
}

/// The notice board: the published results by protocol number, never by
/// name, with the lottery seed anyone can check them against.
pub(crate) async fn notice(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
) -> Result<Response> {
    let today = crate::today(&state);
    let year = catalogue::current_year(&t.db, today)
        .await?
        .ok_or(Error::NotFound)?;
    let run = results::published(&t.db, year.id)
        .await?
        .ok_or(Error::NotFound)?;
    // Public only as long as it serves objections and enrolment (data
    // minimisation): then families read their own result in their
    // application, and the public page says so.
    let until = public_until(&year);
    if today > until {
        let html = ui.render(
            "nurseries/notice.html",
            context! {
                year => year.label.clone(), withdrawn => true, until => crate::date(until),
            },
        )?;
        return Ok(dimos_web::error::rendered_page(StatusCode::OK, html));
    }
    let rows = results::results(&t.db, run.id).await?;
    let stations = catalogue::stations(&t.db).await?;
    let snap = &run.snapshot.0;
    let names = station_names(&stations, snap);
    let groups = group_labels(&ui, &config(&t).await?, snap);
    let html = ui.render(
        "nurseries/notice.html",
        context! {
            year => year.label.clone(), seed => run.seed.clone(),
            published => run.published_at.map(|p| p.format("%d/%m/%Y").to_string()),
            objections => crate::date(year.objections_until),
            until => crate::date(until),
            withdrawn => false,
            // What Greek practice publishes: protocol number, result,
            // position and total points. How many children, re-enrolment
            // and the criteria behind the points are the family's alone.
            public => true,
            tables => lists(snap, &rows, &names, &groups),
            lottery_only => snap.tie_break == crate::scoring::TieBreak::Lottery,
        },
    )?;
    Ok(dimos_web::error::rendered_page(StatusCode::OK, html))
}

/// The last day the results are public: a month into the school year,
/// when enrolment is over.
pub(crate) fn public_until(year: &catalogue::Year) -> chrono::NaiveDate {
    year.starts_on + chrono::Duration::days(30)
}

/// One child's result, as the family reads it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ChildResult {
    pub child: i32,
    pub unit: i32,
    pub status: String,
    pub group: String,
    pub station: Option<String>,
    pub choice: Option<i32>,
    pub deadline: Option<String>,
    pub lines: Vec<String>,
    /// Whether the family may accept or decline here (once per unit).
    pub answer: bool,
}

/// What a family reads for each child: where they were placed and, for each
/// station they preferred, why not, with their place on its waiting list.
pub(crate) fn explain(
    ui: &Ui,
    cfg: &crate::NurseriesConfig,
    stations: &[catalogue::Station],
    run: &Run,
    rows: &[ResultRow],
    application: Uuid,
) -> Vec<ChildResult> {
    let snap = &run.snapshot.0;
    let names = station_names(stations, snap);
    let groups = group_labels(ui, cfg, snap);
    let (out, _) = results::current(snap, rows);
    let waiting = placement::waiting_lists(&snap.instance, &out);
    let tr = |key: &str, args: &[(&str, String)]| ui.state.translator().t(ui.lang, key, args);
    let mut children = vec![];
    for r in rows.iter().filter(|r| r.application_id == application) {
        let Some((u, g)) = snap.unit_and_group(r) else {
            continue;
        };
        let unit = &snap.instance.units[u];
        let mine = unit.priority.points;
        let mut lines = vec![];
        for refusal in placement::refusals(&snap.instance, &out, &waiting, u)
            .into_iter()
            .filter(|x| x.group == g)
        {
            let station = names[refusal.station].clone();
            let group = groups[g].clone();
            let line = match refusal.reason {
                RefusalReason::NoPlaces => tr(
                    "nurseries-why-no-places",
                    &[("station", station), ("group", group)],
                ),
                RefusalReason::SiblingsTogether => tr(
                    "nurseries-why-together",
                    &[
                        ("station", station),
                        ("position", refusal.position.to_string()),
                    ],
                ),
                RefusalReason::Full => match refusal.last_admitted {
                    Some(l) => {
                        let theirs: Priority = snap.instance.units[l].priority;
                        let mut s = tr(
                            "nurseries-why-full",
                            &[
                                ("position", refusal.position.to_string()),
                                ("group", group),
                                ("station", station),
                                ("last", theirs.points.to_string()),
                                ("mine", mine.to_string()),
                            ],
                        );
                        if theirs.reenrolment && !unit.priority.reenrolment {
                            s.push(' ');
                            s.push_str(&tr("nurseries-why-reenrolment", &[]));
                        } else if let Some(by) = theirs.tie_decided_by(&unit.priority) {
                            s.push(' ');
                            s.push_str(&tr(
                                match by {
                                    placement::TieDecider::Income => "nurseries-why-tie-income",
                                    placement::TieDecider::Lottery => "nurseries-why-tie-lottery",
                                },
                                &[],
                            ));
                        }
                        s
                    }
                    None => tr(
                        "nurseries-why-no-places",
                        &[("station", station), ("group", group)],
                    ),
                },
            };
            lines.push(line);
        }
        let station = r
            .station_id
            .and_then(|s| snap.station_index(s))
            .map(|s| names[s].clone());
        children.push(ChildResult {
            child: r.child,
            unit: r.unit,
            status: r.status.clone(),
            group: groups[g].clone(),
            station,
            choice: r.choice.map(|c| c + 1),
            deadline: r.deadline.map(crate::date),
            lines,
            answer: false,
        });
    }
    children
}

/// Closes the waiting list of the year (when the year is under way and no
/// more places will be offered from it): every family still waiting is told
/// its application ends without a place.
pub(crate) async fn close_list(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<ReviewApplications>,
    staff: StaffMember,
    peer: Peer,
    _: Posted<Button>,
) -> Result<Response> {
    let year = closed_year(&state, &t).await?;
    let mut closed = 0;
    // Every waiting family's case and the audit entry: one transaction.
    let rows = applications::in_play(&t.db, year.id).await?;
    let mut tx = t.db.begin().await?;
    for row in rows {
        let Some(case) = row.case_id else { continue };
        if let Some(task) =
            query::open_task_in(&mut tx, &t.db, CaseId(case), "waiting-list").await?
        {
            state
                .workflow()
                .complete_action_tx(
                    &mut tx,
                    &t.db,
                    TaskId(task.id),
                    &staff.staff.actor(),
                    "closed",
                    "Η λίστα αναμονής της σχολικής χρονιάς έκλεισε· δεν διατέθηκε θέση για την αίτησή σας. / The waiting list of the school year was closed; no place could be offered to your application.",
                )
                .await?;
            closed += 1;
        }
    }
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_waiting_list_closed")
            .record(format!("nursery-year:{}", year.id))
            .detail(json!({"year": year.label, "closed": closed})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/nurseries/admin/placement?done=list-closed").into_response())
}

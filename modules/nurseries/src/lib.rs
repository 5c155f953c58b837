//! Municipal nurseries (issue 8): the scoring engine (pure, driven by each
//! municipality's table, explaining every point), placement (deferred
//! acceptance with siblings kept together, explained), and the catalogue
//! the nursery department keeps: stations, school years and their dates,
//! places per age group. See README.md.

pub mod api;
pub mod application;
pub mod applications;
mod apply;
pub mod catalogue;
mod criteria;
pub mod emergency;
pub mod fees;
pub mod generate;
mod objection;
pub mod placement;
mod publish;
pub mod results;
mod review;
pub mod scoring;
pub mod settings;
pub mod values;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use catalogue::{Places, Year};
use dimos_db::DbError;
use dimos_db::migrate::{TenantTable, account, row_of};
use dimos_kernel::{Error, FieldError, LocalizedText};
use dimos_web::access::Authorized;
use dimos_web::auth::{Posted, record_in};
use dimos_web::extract::Peer;
use dimos_web::module::{ConfigSchema, SettingsPage, StaffPage};
use dimos_web::{AppState, CurrentTenant, ModuleConfig, ModuleDescriptor, Result, Ui};
use minijinja::{Value as Ctx, context};
use scoring::Rules;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;
use values::{StationForm, YearForm};

pub const ID: &str = "nurseries";
pub const PROCESS: &str = "nurseries.registration";

dimos_web::permissions! {
    /// Keep the stations, school years and places.
    ManageNurseries = "nurseries.manage", label "nurseries-permission-manage",
        granted to ["municipal-admin", "nursery-manager"];
    /// Review nursery applications and run the placement.
    ReviewApplications = "nurseries.review", label "nurseries-permission-review",
        granted to ["nursery-manager"];
}

/// An age group, by the child's age in whole months on the first day of
/// the school year: `from_months` inclusive, `to_months` exclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeGroup {
    pub id: String,
    pub label: LocalizedText,
    pub from_months: u32,
    pub to_months: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NurseriesConfig {
    pub age_groups: Vec<AgeGroup>,
    /// The points table, income bands, tie-break and documents.
    pub rules: Rules,
}

impl Default for NurseriesConfig {
    fn default() -> Self {
        let group = |id: &str, el: &str, en: &str, from, to| AgeGroup {
            id: id.into(),
            label: LocalizedText {
                el: el.into(),
                en: en.into(),
            },
            from_months: from,
            to_months: to,
        };
        NurseriesConfig {
            age_groups: vec![
                group(
                    "infants",
                    "Βρεφικό (6 μηνών – 2,5 ετών)",
                    "Infants (6 months – 2½ years)",
                    6,
                    30,
                ),
                group(
                    "preschool",
                    "Προνηπιακό (2,5 – 4 ετών)",
                    "Preschool (2½ – 4 years)",
                    30,
                    48,
                ),
            ],
            rules: Rules::alimos(),
        }
    }
}

impl ModuleConfig for NurseriesConfig {
    fn check(&self) -> Vec<FieldError> {
        let mut e = vec![];
        if self.age_groups.is_empty() {
            e.push(FieldError::new("age_groups", "required"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, g) in self.age_groups.iter().enumerate() {
            let ok = !g.id.is_empty()
                && g.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok || !seen.insert(g.id.as_str()) {
                e.push(FieldError::new(
                    format!("age_groups[{i}].id"),
                    "duplicate-or-invalid",
                ));
            }
            if g.from_months >= g.to_months || g.to_months > 84 {
                e.push(
                    FieldError::new(format!("age_groups[{i}].to_months"), "out-of-range")
                        .with_detail("from_months < to_months ≤ 84"),
                );
            }
        }
        // Groups do not overlap: each child belongs to at most one.
        let mut sorted: Vec<&AgeGroup> = self.age_groups.iter().collect();
        sorted.sort_by_key(|g| g.from_months);
        for w in sorted.windows(2) {
            if w[1].from_months < w[0].to_months {
                e.push(FieldError::new("age_groups", "invalid").with_detail("age groups overlap"));
            }
        }
        for mut x in self.rules.check() {
            x.field = format!("rules.{}", x.field);
            e.push(x);
        }
        e
    }
}

/// The operator's `[modules.nurseries]` for this municipality, over the
/// shipped defaults.
pub fn defaults(t: &CurrentTenant) -> Result<NurseriesConfig, Error> {
    t.module_config(ID)
}

/// What applies now: the municipal admin's settings, else the defaults.
pub async fn config(t: &CurrentTenant) -> Result<NurseriesConfig> {
    Ok(dimos_web::settings::effective(t, ID).await?)
}

/// The tenant-owned tables this module's migrations create.
const TENANT_TABLES: &[TenantTable] = &[
    TenantTable::municipal("nursery_stations"),
    TenantTable::municipal("nursery_years"),
    TenantTable::municipal("nursery_places"),
    TenantTable::personal("nursery_applications")
        .about(&[account("applicant"), row_of("case_id", "cases")]),
    // A run's snapshot holds every applicant of the year.
    TenantTable::personal("nursery_runs").about_unlinked(),
    TenantTable::personal("nursery_results")
        .about(&[row_of("application_id", "nursery_applications")]),
    // A child placed by staff in an emergency has no account here.
    TenantTable::personal("nursery_emergency").about_unlinked(),
];

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        routes,
        tenant_tables: TENANT_TABLES,
        permissions: PERMISSIONS,
        default_grants: DEFAULT_GRANTS,
        config: ConfigSchema::of::<NurseriesConfig>(),
        settings_page: SettingsPage::Own("/nurseries/settings"),
        jobs,
        staff_pages: &[
            StaffPage {
                path: "/nurseries/admin",
                label_key: "nurseries-admin-title",
                permission: "nurseries.manage",
            },
            StaffPage {
                path: "/nurseries/admin/placement",
                label_key: "nurseries-placement-title",
                permission: "nurseries.review",
            },
            StaffPage {
                path: "/nurseries/settings",
                label_key: "nurseries-settings-title",
                permission: "services.configure",
            },
        ],
        api: dimos_web::module::ModuleApi {
            routes: api::routes,
            doc: api::doc,
        },
        ..dimos_web::module_files!()
    }
}

fn jobs(engine: &std::sync::Arc<dimos_workflow::Engine>) -> Vec<dimos_web::module::ModuleJob> {
    vec![(
        results::EXPIRY,
        std::sync::Arc::new(results::OfferExpiry {
            engine: engine.clone(),
        }),
    )]
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/admin", get(admin))
        .route("/admin/stations", post(add_station))
        .route("/admin/stations/{id}", post(update_station))
        .route("/admin/years", post(add_year))
        .route("/admin/years/new", get(new_year))
        .route("/admin/years/{id}", get(year_page).post(update_year))
        .route("/admin/years/{id}/places", post(save_places))
        .route(
            "/admin/years/{id}/emergency",
            get(emergency::page).post(emergency::add),
        )
        .route(
            "/admin/years/{id}/emergency/{case}/release",
            post(emergency::release_case),
        )
        .route("/apply", get(apply::apply_form).post(apply::apply))
        .route("/applications/{case}", get(apply::application_page))
        .route("/applications/{case}/answer", post(apply::answer))
        .route("/admin/placement", get(publish::page))
        .route("/admin/placement/run", post(publish::run))
        .route("/admin/placement/close-list", post(publish::close_list))
        .route("/admin/placement/{run}/publish", post(publish::publish))
        .route(
            "/admin/placement/{run}/ranking.csv",
            get(publish::ranking_csv),
        )
        .route(
            "/admin/placement/{run}/results.csv",
            get(publish::results_csv),
        )
        .route("/results", get(publish::notice))
        .route("/applications/{case}/objection", post(objection::object))
        .route(
            "/settings",
            get(criteria::overview).post(settings::save_page),
        )
        .route(
            "/settings/all",
            get(settings::page).post(settings::save_page),
        )
        .route(
            "/settings/criteria/new",
            get(criteria::new_form).post(criteria::add),
        )
        .route(
            "/settings/criteria/{id}",
            get(criteria::edit_form).post(criteria::change),
        )
        .route(
            "/settings/criteria/{id}/remove",
            get(criteria::remove_form).post(criteria::remove),
        )
        .route("/admin/placement/{run}/ranking", get(publish::ranking_page))
        .route(
            "/applications/{case}/review",
            get(review::review_page).post(review::review),
        )
}

fn today(state: &AppState) -> chrono::NaiveDate {
    dimos_kernel::clock::local_date(state.workflow().now())
}

fn date(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Field errors as the templates show them: a summary and one message per
/// field (every field a template asks for has an entry).
fn messages(
    ui: &Ui,
    errors: &[FieldError],
    fields: &[&str],
) -> (Vec<Ctx>, BTreeMap<String, String>) {
    let mut map: BTreeMap<String, String> = fields
        .iter()
        .map(|f| ((*f).to_owned(), String::new()))
        .collect();
    map.extend(ui.error_map(errors));
    (ui.error_list(errors), map)
}

/// The public service page: the school year's dates, the stations and the
/// places they offer, and the points table every application is scored by.
async fn index(State(state): State<AppState>, ui: Ui, t: CurrentTenant) -> Result<Response> {
    let cfg = config(&t).await?;
    let year = catalogue::current_year(&t.db, today(&state)).await?;
    let stations = catalogue::stations(&t.db).await?;
    let places = match &year {
        Some(y) => catalogue::places(&t.db, y.id).await?,
        None => vec![],
    };
    let rules = &cfg.rules;
    let bands = {
        let mut from = 0u64;
        rules
            .income_bands
            .iter()
            .map(|b| {
                let c = context! { from => from, up_to => b.up_to_euros, points => b.points };
                from = b.up_to_euros.map_or(from, |u| u + 1);
                c
            })
            .collect::<Vec<_>>()
    };
    let html = ui.render(
        "nurseries/index.html",
        context! {
            process_svg => dimos_web::diagram::for_service(&state, &t.db, PROCESS, ui.lang).await?,
            year => year.as_ref().map(|y| context! {
                label => y.label.clone(), phase => y.phase(today(&state)),
                opens => date(y.opens_on), closes => date(y.closes_on),
                results => date(y.results_on), objections => date(y.objections_until),
                starts => date(y.starts_on),
            }),
            groups => cfg.age_groups.iter().map(|g| context! { id => g.id.clone(), label => g.label.get(ui.lang) }).collect::<Vec<_>>(),
            stations => stations.iter().filter(|s| s.active).map(|s| context! {
                name => s.name.clone(), address => s.address.clone(),
                places => cfg.age_groups.iter().map(|g| places.iter()
                    .find(|p| p.station_id == s.id && p.age_group == g.id)
                    .map_or(0, |p| p.places - p.reserved)).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            criteria => rules.criteria.iter().map(|c| context! { label => c.label.get(ui.lang), points => c.points, group => c.group.is_some() }).collect::<Vec<_>>(),
            large_family => context! { min => rules.large_family.min_children, points => rules.large_family.points_per_child },
            bands,
            lottery_only => rules.tie_break == scoring::TieBreak::Lottery,
        },
    )?;
    Ok(dimos_web::error::rendered_page(StatusCode::OK, html))
}

const STATION_FIELDS: [&str; 2] = ["name", "address"];
const YEAR_FIELDS: [&str; 7] = [
    "label",
    "starts_on",
    "opens_on",
    "closes_on",
    "results_on",
    "objections_until",
    "accept_days",
];

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

/// What the admin page shows next to a form that failed.
#[derive(Default)]
struct Failed {
    station: Option<(StationForm, Vec<FieldError>)>,
}

async fn admin_page(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    done: Option<String>,
    failed: Failed,
) -> Result<Response> {
    let stations = catalogue::stations(&t.db).await?;
    let years = catalogue::years(&t.db).await?;
    let today = today(state);
    let status = if failed.station.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (station_form, station_errors) = failed.station.unwrap_or_default();
    let (summary, station_messages) = messages(ui, &station_errors, &STATION_FIELDS);
    let html = ui.render(
        "nurseries/admin.html",
        context! {
            csrf, summary,
            done => done.filter(|d| ["station-added", "station-saved", "year-added"].contains(&d.as_str())),
            stations => stations.iter().map(|s| context! { id => s.id, name => s.name.clone(), address => s.address.clone(), active => s.active }).collect::<Vec<_>>(),
            years => years.iter().map(|y| context! {
                id => y.id, label => y.label.clone(), phase => y.phase(today),
                opens => date(y.opens_on), closes => date(y.closes_on),
            }).collect::<Vec<_>>(),
            station => context! { name => station_form.name, address => station_form.address },
            station_errors => station_messages,
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, html))
}

async fn admin(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    Query(q): Query<Done>,
) -> Result<Response> {
    admin_page(&state, &ui, &t, &who.user.csrf, q.done, Failed::default()).await
}

fn taken(e: DbError, field: &str, code: &'static str) -> Result<Vec<FieldError>> {
    match e {
        DbError::Unique(_) => Ok(vec![FieldError::new(field, code)]),
        other => Err(Error::from(other).into()),
    }
}

async fn add_station(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Posted(f): Posted<StationForm>,
) -> Result<Response> {
    save_station(&state, &ui, &t, &who, peer, None, f).await
}

/// Renames, moves or closes a station. Another municipality's station is
/// not found.
async fn update_station(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<StationForm>,
) -> Result<Response> {
    catalogue::station(&t.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    save_station(&state, &ui, &t, &who, peer, Some(id), f).await
}

/// Adds a station (`id` none) or saves one; a name already taken in the
/// municipality is refused on its field.
async fn save_station(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    who: &Authorized<ManageNurseries>,
    peer: Peer,
    id: Option<Uuid>,
    f: StationForm,
) -> Result<Response> {
    let errors = match f.validate() {
        Ok((name, address)) => {
            let active = id.is_none() || f.active.is_some();
            // The station and its audit entry: one transaction.
            let mut tx = t.db.begin().await?;
            let now = state.workflow().now();
            let saved = match id {
                None => catalogue::add_station(&mut tx, &t.db, &name, &address, now).await,
                Some(id) => catalogue::update_station(&mut tx, &t.db, id, &name, &address, active)
                    .await
                    .map(|_| id),
            };
            match saved {
                Ok(saved) => {
                    let (action, done) = match id {
                        None => ("nursery_station_added", "station-added"),
                        Some(_) => ("nursery_station_changed", "station-saved"),
                    };
                    record_in(
                        &mut tx,
                        t,
                        who.user
                            .audit(peer, action)
                            .record(format!("nursery-station:{saved}"))
                            .detail(json!({"name": name, "address": address, "active": active})),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(
                        Redirect::to(&format!("/nurseries/admin?done={done}")).into_response()
                    );
                }
                Err(e) => taken(e, "name", "nursery-station-taken")?,
            }
        }
        Err(errors) => errors,
    };
    let failed = Failed {
        station: Some((f, errors)),
    };
    admin_page(state, ui, t, &who.user.csrf, None, failed).await
}

async fn add_year(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Posted(mut f): Posted<YearForm>,
) -> Result<Response> {
    f.join_date_parts();
    let errors = match f.validate(Uuid::now_v7()) {
        Ok(y) => {
            // The year and its audit entry: one transaction.
            let mut tx = t.db.begin().await?;
            match catalogue::add_year(&mut tx, &t.db, &y, state.workflow().now()).await {
                Ok(()) => {
                    record_in(
                        &mut tx,
                        &t,
                        who.user
                            .audit(peer, "nursery_year_added")
                            .record(format!("nursery-year:{}", y.id))
                            .detail(json!(YearForm::of(&y))),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Redirect::to(&format!(
                        "/nurseries/admin/years/{}?done=year-added",
                        y.id
                    ))
                    .into_response());
                }
                Err(e) => taken(e, "label", "nursery-year-taken")?,
            }
        }
        Err(errors) => errors,
    };
    new_year_page(&ui, &who.user.csrf, &f, &errors)
}

/// The form for a new school year, on a page of its own.
fn new_year_page(ui: &Ui, csrf: &str, f: &YearForm, errors: &[FieldError]) -> Result<Response> {
    let (summary, messages) = messages(ui, errors, &YEAR_FIELDS);
    let html = ui.render(
        "nurseries/year_new.html",
        context! { csrf, summary, year => f, year_errors => messages },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

async fn new_year(ui: Ui, who: Authorized<ManageNurseries>) -> Result<Response> {
    new_year_page(&ui, &who.user.csrf, &YearForm::default(), &[])
}

/// The places grid's field for a station and an age group.
fn place_field(station: Uuid, group: &str, reserved: bool) -> String {
    format!(
        "{}-{}-{}",
        if reserved { "reserved" } else { "places" },
        station.simple(),
        group
    )
}

#[allow(clippy::too_many_arguments)]
async fn year_render(
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    year: &Year,
    form: &YearForm,
    year_errors: &[FieldError],
    grid: &HashMap<String, String>,
    grid_errors: &[FieldError],
    done: Option<String>,
) -> Result<Response> {
    let cfg = config(t).await?;
    let stations = catalogue::stations(&t.db).await?;
    let (mut summary, year_messages) = messages(ui, year_errors, &YEAR_FIELDS);
    let (grid_summary, grid_messages) = messages(ui, grid_errors, &[]);
    summary.extend(grid_summary);
    let cell = |s: Uuid, g: &str, reserved: bool| {
        let id = place_field(s, g, reserved);
        context! {
            id => id.clone(),
            value => grid.get(&id).cloned().unwrap_or_default(),
            error => grid_messages.get(&id).cloned(),
        }
    };
    let html = ui.render(
        "nurseries/year.html",
        context! {
            csrf, summary, id => year.id, label => year.label.clone(),
            done => done.filter(|d| ["year-added", "year-saved", "places-saved"].contains(&d.as_str())),
            year => form, year_errors => year_messages,
            groups => cfg.age_groups.iter().map(|g| context! { id => g.id.clone(), label => g.label.get(ui.lang) }).collect::<Vec<_>>(),
            stations => stations.iter().map(|s| context! {
                name => s.name.clone(), active => s.active,
                cells => cfg.age_groups.iter().map(|g| context! {
                    group => g.label.get(ui.lang),
                    places => cell(s.id, &g.id, false),
                    reserved => cell(s.id, &g.id, true),
                }).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
        },
    )?;
    let status = if summary_is_empty(year_errors, grid_errors) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

fn summary_is_empty(a: &[FieldError], b: &[FieldError]) -> bool {
    a.is_empty() && b.is_empty()
}

async fn load_year(t: &CurrentTenant, id: Uuid) -> Result<Year> {
    Ok(catalogue::year(&t.db, id).await?.ok_or(Error::NotFound)?)
}

fn grid_of(places: &[Places]) -> HashMap<String, String> {
    let mut grid = HashMap::new();
    for p in places {
        grid.insert(
            place_field(p.station_id, &p.age_group, false),
            p.places.to_string(),
        );
        grid.insert(
            place_field(p.station_id, &p.age_group, true),
            p.reserved.to_string(),
        );
    }
    grid
}

async fn year_page(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    Path(id): Path<Uuid>,
    Query(q): Query<Done>,
) -> Result<Response> {
    let year = load_year(&t, id).await?;
    let grid = grid_of(&catalogue::places(&t.db, id).await?);
    year_render(
        &ui,
        &t,
        &who.user.csrf,
        &year,
        &YearForm::of(&year),
        &[],
        &grid,
        &[],
        q.done,
    )
    .await
}

async fn update_year(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(mut f): Posted<YearForm>,
) -> Result<Response> {
    f.join_date_parts();
    let year = load_year(&t, id).await?;
    // The label names the year; it is not changed here.
    f.label = year.label.clone();
    match f.validate(id) {
        Ok(y) => {
            // The year and its audit entry: one transaction.
            let mut tx = t.db.begin().await?;
            catalogue::update_year(&mut tx, &t.db, &y).await?;
            record_in(
                &mut tx,
                &t,
                who.user
                    .audit(peer, "nursery_year_changed")
                    .record(format!("nursery-year:{id}"))
                    .detail(json!(YearForm::of(&y))),
            )
            .await?;
            tx.commit().await?;
            Ok(
                Redirect::to(&format!("/nurseries/admin/years/{id}?done=year-saved"))
                    .into_response(),
            )
        }
        Err(errors) => {
            let grid = grid_of(&catalogue::places(&t.db, id).await?);
            year_render(
                &ui,
                &t,
                &who.user.csrf,
                &year,
                &f,
                &errors,
                &grid,
                &[],
                None,
            )
            .await
        }
    }
}

/// Saves the whole grid: places and reserved places per station and age
/// group, each 0–999, reserved no more than the places.
async fn save_places(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<HashMap<String, String>>,
) -> Result<Response> {
    let year = load_year(&t, id).await?;
    let cfg = config(&t).await?;
    let stations = catalogue::stations(&t.db).await?;
    let mut errors = vec![];
    let mut rows = vec![];
    for s in &stations {
        for g in &cfg.age_groups {
            let pf = place_field(s.id, &g.id, false);
            let rf = place_field(s.id, &g.id, true);
            let places = values::places(&mut errors, &pf, f.get(&pf).map_or("", String::as_str));
            let reserved = values::places(&mut errors, &rf, f.get(&rf).map_or("", String::as_str));
            if reserved > places {
                errors.push(FieldError::new(rf, "nursery-reserved-over"));
            }
            rows.push(Places {
                station_id: s.id,
                age_group: g.id.clone(),
                places,
                reserved,
            });
        }
    }
    if !errors.is_empty() {
        return year_render(
            &ui,
            &t,
            &who.user.csrf,
            &year,
            &YearForm::of(&year),
            &[],
            &f,
            &errors,
            None,
        )
        .await;
    }
    // The grid and its audit entry: one transaction.
    let mut tx = t.db.begin().await?;
    catalogue::set_places(&mut tx, &t.db, id, &rows).await?;
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_places_set")
            .record(format!("nursery-year:{id}"))
            .detail(json!(rows.iter().map(|p| json!({"station": p.station_id, "group": p.age_group, "places": p.places, "reserved": p.reserved})).collect::<Vec<_>>())),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/nurseries/admin/years/{id}?done=places-saved")).into_response())
}

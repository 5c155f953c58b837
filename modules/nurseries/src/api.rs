//! The nurseries' public facts in the public API, for the municipality's
//! website and open-data portals: the stations, the school years with
//! their dates and phase today, and each year's places per station and age
//! group. What the public pages show, so anyone may read them (no token).

use crate::catalogue::{self, Places, Station, Year};
use crate::publish;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::routing::get;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use dimos_kernel::Error;
use dimos_web::api_client::Problem;
use dimos_web::error::{AppError, Result};
use dimos_web::extract::CurrentTenant;
use dimos_web::state::AppState;
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stations", get(stations))
        .route("/years", get(years))
        .route("/years/{id}/places", get(places))
        .route("/years/{id}/results", get(results))
        // Public facts: any web page's script may read them.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
}

pub fn doc() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(stations, years, places, results),
    components(schemas(NurseryStation, SchoolYear, NurseryPlaces, PublishedResults, ResultList, Admission, WaitingPlace)),
    tags((name = "nurseries", description = "Municipal nurseries (module `nurseries`): stations, school years and places."))
)]
struct Doc;

/// A nursery station.
#[derive(Debug, Serialize, ToSchema)]
pub struct NurseryStation {
    pub id: Uuid,
    pub name: String,
    pub address: String,
}

/// A school year's registration, from application to enrolment.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolYear {
    pub id: Uuid,
    #[schema(example = "2026-2027")]
    pub label: String,
    pub starts_on: NaiveDate,
    /// Applications are taken from this day…
    pub opens_on: NaiveDate,
    /// …to this day, inclusive.
    pub closes_on: NaiveDate,
    /// The results are published.
    pub results_on: NaiveDate,
    /// Objections are taken until this day.
    pub objections_until: NaiveDate,
    /// `upcoming`, `open`, `closed`, `objections` or `enrolment`, today.
    pub phase: String,
}

/// Places of a station for an age group in a school year.
#[derive(Debug, Serialize, ToSchema)]
pub struct NurseryPlaces {
    pub station_id: Uuid,
    /// The age group's id in the municipality's settings.
    pub age_group: String,
    pub places: i32,
    /// Of them, kept for emergencies (not offered in the placement).
    pub reserved: i32,
}

/// The active stations, by name.
#[utoipa::path(
    get,
    path = "/api/v1/nurseries/stations",
    tag = "nurseries",
    operation_id = "listNurseryStations",
    responses(
        (status = 200, description = "The stations", body = [NurseryStation]),
        (status = 404, description = "No municipality at this host, or the module is not enabled there", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stations(t: CurrentTenant) -> Result<Json<Vec<NurseryStation>>> {
    let all = catalogue::stations(&t.db).await?;
    Ok(Json(
        all.into_iter()
            .filter(|s| s.active)
            .map(|s: Station| NurseryStation {
                id: s.id,
                name: s.name,
                address: s.address,
            })
            .collect(),
    ))
}

/// The school years, the latest first.
#[utoipa::path(
    get,
    path = "/api/v1/nurseries/years",
    tag = "nurseries",
    operation_id = "listSchoolYears",
    responses(
        (status = 200, description = "The school years", body = [SchoolYear], links(
            ("getLatestYearPlaces" = (operation_id = "listNurseryPlaces", parameters(("id" = "$response.body#/0/id")))),
        )),
        (status = 404, description = "No municipality at this host, or the module is not enabled there", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn years(
    State(state): State<AppState>,
    t: CurrentTenant,
) -> Result<Json<Vec<SchoolYear>>> {
    let today = crate::today(&state);
    Ok(Json(
        catalogue::years(&t.db)
            .await?
            .into_iter()
            .map(|y: Year| SchoolYear {
                phase: y.phase(today).to_owned(),
                id: y.id,
                label: y.label,
                starts_on: y.starts_on,
                opens_on: y.opens_on,
                closes_on: y.closes_on,
                results_on: y.results_on,
                objections_until: y.objections_until,
            })
            .collect(),
    ))
}

/// A school year's places per station and age group.
#[utoipa::path(
    get,
    path = "/api/v1/nurseries/years/{id}/places",
    tag = "nurseries",
    operation_id = "listNurseryPlaces",
    params(("id" = Uuid, Path, description = "The school year's id")),
    responses(
        (status = 200, description = "The places", body = [NurseryPlaces]),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school year in this municipality", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn places(t: CurrentTenant, Path(id): Path<String>) -> Result<Json<Vec<NurseryPlaces>>> {
    let id = Uuid::try_parse(&id).map_err(|_| AppError(Error::NotFound))?;
    let year = catalogue::year(&t.db, id)
        .await?
        .ok_or(AppError(Error::NotFound))?;
    let mut all: Vec<NurseryPlaces> = catalogue::places(&t.db, year.id)
        .await?
        .into_iter()
        .map(|p: Places| NurseryPlaces {
            station_id: p.station_id,
            age_group: p.age_group,
            places: p.places,
            reserved: p.reserved,
        })
        .collect();
    all.sort_by(|a, b| (a.station_id, &a.age_group).cmp(&(b.station_id, &b.age_group)));
    Ok(Json(all))
}

/// A school year's published placement, as the notice board shows it:
/// by protocol number, with points; public until a month into the year.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedResults {
    pub year_id: Uuid,
    pub published_at: Option<DateTime<Utc>>,
    /// The lottery's recorded seed, for anyone to re-run the ties.
    pub seed: String,
    pub objections_until: NaiveDate,
    /// After this day the results are no longer public.
    pub public_until: NaiveDate,
    pub lists: Vec<ResultList>,
}

/// One station's list for one age group.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultList {
    pub station_id: Uuid,
    pub station: String,
    pub age_group: String,
    pub places: u32,
    /// Who holds a place, best first.
    pub admitted: Vec<Admission>,
    pub waiting: Vec<WaitingPlace>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Admission {
    /// The application's protocol number.
    pub protocol: String,
    pub points: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingPlace {
    pub position: usize,
    pub protocol: String,
    pub points: u32,
}

/// A school year's published results, while they are public.
#[utoipa::path(
    get,
    path = "/api/v1/nurseries/years/{id}/results",
    tag = "nurseries",
    operation_id = "getNurseryResults",
    params(("id" = Uuid, Path, description = "The school year's id")),
    responses(
        (status = 200, description = "The published lists", body = PublishedResults),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school year here, nothing published yet, or no longer public", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn results(
    State(state): State<AppState>,
    t: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<PublishedResults>> {
    let id = Uuid::try_parse(&id).map_err(|_| AppError(Error::NotFound))?;
    let year = catalogue::year(&t.db, id)
        .await?
        .ok_or(AppError(Error::NotFound))?;
    let run = crate::results::published(&t.db, year.id)
        .await?
        .ok_or(AppError(Error::NotFound))?;
    // Public only while it serves objections and enrolment, as the notice.
    let until = publish::public_until(&year);
    if crate::today(&state) > until {
        return Err(AppError(Error::NotFound));
    }
    let rows = crate::results::results(&t.db, run.id).await?;
    let stations = catalogue::stations(&t.db).await?;
    let snap = &run.snapshot.0;
    let names = publish::station_names(&stations, snap);
    let lists = publish::lists(snap, &rows, &names, &snap.groups)
        .into_iter()
        .map(|l| ResultList {
            station_id: l.station_id,
            station: l.station,
            age_group: l.group_id,
            places: l.places,
            // What Greek practice publishes: protocol number and points.
            admitted: l
                .admitted
                .into_iter()
                .map(|a| Admission {
                    protocol: a.protocol,
                    points: a.points,
                })
                .collect(),
            waiting: l
                .waiting
                .into_iter()
                .map(|w| WaitingPlace {
                    position: w.position,
                    protocol: w.protocol,
                    points: w.points,
                })
                .collect(),
        })
        .collect();
    Ok(Json(PublishedResults {
        year_id: year.id,
        published_at: run.published_at,
        seed: run.seed.clone(),
        objections_until: year.objections_until,
        public_until: until,
        lists,
    }))
}

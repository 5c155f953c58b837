//! The nurseries' public facts in the public API, for the municipality's
//! website and open-data portals: the stations, the school years with
//! their dates and phase today, and each year's places per station and age
//! group. What the public pages show, so anyone may read them (no token).

use crate::catalogue::{self, Places, Station, Year};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::routing::get;
use chrono::NaiveDate;
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
    paths(stations, years, places),
    components(schemas(NurseryStation, SchoolYear, NurseryPlaces)),
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

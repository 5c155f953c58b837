//! The register of permits in the public API, for the municipality's other
//! systems (its enforcement officers' devices, its website's "is this card
//! valid" check): scope `parking.register`, as the register page.

use crate::ReadRegister;
use crate::register::{self, Permit};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use dimos_kernel::Error;
use dimos_web::api_client::ApiScope;
use dimos_web::error::{AppError, Result};
use dimos_web::extract::CurrentTenant;
use dimos_web::state::AppState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/permits", get(list))
        .route("/permits/{id}", get(one))
}

pub fn doc() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(list, one),
    components(schemas(ParkingPermit)),
    tags((name = "parking", description = "Parking permits for persons with disabilities: the register (module `parking`)."))
)]
struct Doc;

/// A permit in the register.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParkingPermit {
    pub id: Uuid,
    /// The application it was issued on.
    pub case_id: Uuid,
    pub holder_name: String,
    /// Where the reserved space is.
    pub location: String,
    pub plate: String,
    pub card_number: String,
    /// The council's decision, e.g. `300/2026`.
    pub decision: String,
    pub issued_at: DateTime<Utc>,
    pub valid_until: NaiveDate,
    /// `active`, `expired` or `revoked`, today.
    pub status: String,
    pub renewed_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
}

fn permit(p: Permit, today: NaiveDate) -> ParkingPermit {
    ParkingPermit {
        status: p.status(today).to_owned(),
        id: p.id,
        case_id: p.case_id,
        holder_name: p.holder_name,
        location: p.location,
        plate: p.plate,
        card_number: p.card_number,
        decision: p.decision,
        issued_at: p.issued_at,
        valid_until: p.valid_until,
        renewed_at: p.renewed_at,
        revoked_at: p.revoked_at,
        revocation_reason: p.revocation_reason,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PermitQuery {
    /// Words of the holder's name or the location, or a plate or card
    /// number (Latin look-alike letters read as Greek).
    #[param(
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$",
        max_length = 100
    )]
    pub q: Option<String>,
}

/// Permits, the latest issued first (at most 500; search to narrow).
#[utoipa::path(
    get,
    path = "/api/v1/parking/permits",
    tag = "parking",
    operation_id = "listParkingPermits",
    params(PermitQuery),
    security(("clientCredentials" = ["parking.register"])),
    responses(
        (status = 200, description = "Permits", body = [ParkingPermit], links(
            ("getFirstPermit" = (operation_id = "getParkingPermit", parameters(("id" = "$response.body#/0/id")))),
        )),
        (status = 400, description = "A parameter that is not understood", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `parking.register` scope, or the client calls from an address not allowed", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality at this host, or the module is not enabled there", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit: wait `Retry-After` seconds", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _client: ApiScope<ReadRegister>,
    t: CurrentTenant,
    Query(p): Query<PermitQuery>,
) -> Result<Json<Vec<ParkingPermit>>> {
    let q = p.q.unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(AppError(Error::BadRequest(
            "q is longer than 100 characters".into(),
        )));
    }
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    let found = register::search(&t.db, q.trim()).await?;
    Ok(Json(found.into_iter().map(|p| permit(p, today)).collect()))
}

/// One permit.
#[utoipa::path(
    get,
    path = "/api/v1/parking/permits/{id}",
    tag = "parking",
    operation_id = "getParkingPermit",
    params(("id" = Uuid, Path, description = "The permit's id")),
    security(("clientCredentials" = ["parking.register"])),
    responses(
        (status = 200, description = "The permit", body = ParkingPermit),
        (status = 400, description = "An address the edge refuses (a control character)", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `parking.register` scope, or the client calls from an address not allowed", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such permit in this municipality", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit: wait `Retry-After` seconds", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    _client: ApiScope<ReadRegister>,
    t: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<ParkingPermit>> {
    let id = Uuid::try_parse(&id).map_err(|_| AppError(Error::NotFound))?;
    let p = register::get(&t.db, id)
        .await?
        .ok_or(AppError(Error::NotFound))?;
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    Ok(Json(permit(p, today)))
}

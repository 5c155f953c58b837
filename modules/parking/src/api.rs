//! The module in the public API: the register of permits, for the
//! municipality's other systems (its enforcement officers' devices, its
//! website's "is this card valid" check): scope `parking.register`, as the
//! register page; and applications from a person's own app, with the
//! same checks as the web form.

use crate::ReadRegister;
use crate::register::{self, Permit};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use dimos_kernel::Error;
use dimos_web::api_client::{ApiCitizen, ApiScope};
use dimos_web::api_filing;
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
        .route("/applications", axum::routing::post(apply))
}

pub fn doc() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(list, one, apply),
    components(schemas(ParkingPermit, ParkingApplication, FiledApplication)),
    tags((name = "parking", description = "Parking permits for persons with disabilities: the register (module `parking`)."))
)]
struct Doc;

/// An application for a permit, as the web form asks it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParkingApplication {
    /// The holder's name, as on the card.
    #[schema(example = "Μαρία Παπαδοπούλου", max_length = 200)]
    pub full_name: String,
    #[schema(example = "maria@example.gr", max_length = 254)]
    pub email: String,
    /// A Greek mobile number (`69…`, with or without `+30`).
    #[schema(example = "6912345678")]
    pub mobile: String,
    /// Where the reserved space is asked for.
    #[schema(example = "Λεωφ. Ποσειδώνος 10", max_length = 200)]
    pub location: String,
    /// The vehicle's plate, Greek or Latin letters.
    #[schema(example = "ΙΚΥ1234")]
    pub plate: String,
    /// `pickup` (at the desk) or `post` (to `delivery_address`).
    #[schema(pattern = "^(pickup|post)$")]
    pub delivery: String,
    #[schema(max_length = 300)]
    pub delivery_address: Option<String>,
    /// Documents uploaded for it (`POST /api/v1/documents`, kinds of the
    /// `parking.permit` service), by id.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub documents: Vec<Uuid>,
}

/// An application filed: its case (`GET /api/v1/cases/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct FiledApplication {
    pub id: Uuid,
    /// The protocol number, `123/2026`.
    pub protocol: Option<String>,
    pub registered_at: DateTime<Utc>,
}

impl From<dimos_workflow::Started> for FiledApplication {
    fn from(s: dimos_workflow::Started) -> Self {
        FiledApplication {
            id: s.case_id.0,
            protocol: s.protocol,
            registered_at: s.registered_at,
        }
    }
}

/// Applies for a permit for the person whose token it is: the case, its
/// documents and its protocol number together, or nothing.
#[utoipa::path(
    post,
    path = "/api/v1/parking/applications",
    tag = "parking",
    operation_id = "applyForParkingPermit",
    params(("Idempotency-Key" = Option<String>, Header, description = "Sent again, the case the first request filed is answered (`200`), never a second one", pattern = "^[\\x21-\\x7e]{1,255}$")),
    request_body(content = ParkingApplication, content_type = "application/json"),
    security(("citizenToken" = [])),
    responses(
        (status = 201, description = "Filed", body = FiledApplication, headers(("Location" = String, description = "The case"))),
        (status = 200, description = "Filed before with this `Idempotency-Key`", body = FiledApplication),
        (status = 400, description = "Malformed JSON, or a bad `Idempotency-Key`", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A client's token (only a person applies), or the person's identity is not verified", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The municipality does not offer the service", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The `Idempotency-Key` was used for another service", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 422, description = "What the application or its documents lack, field by field", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the rate limit: wait `Retry-After` seconds", body = dimos_web::api_client::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn apply(
    State(state): State<AppState>,
    ApiCitizen(account): ApiCitizen,
    t: CurrentTenant,
    headers: axum::http::HeaderMap,
    dimos_web::extract::Json(a): dimos_web::extract::Json<ParkingApplication>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let key = api_filing::idempotency_key(&headers)?;
    api_filing::verified(&account)?;
    let submission = api_filing::submission(account.id, key.as_deref());
    if let Some(s) = state
        .workflow()
        .submitted_with(&t.db, submission, account.id, crate::PROCESS)
        .await?
    {
        return Ok(Json(FiledApplication::from(s)).into_response());
    }
    let raw = crate::values::RawApplication {
        full_name: a.full_name,
        email: a.email,
        mobile: a.mobile,
        location: a.location,
        plate: a.plate,
        delivery: a.delivery,
        delivery_address: a.delivery_address.unwrap_or_default(),
    };
    let def = state.workflow().effective(&t.db, crate::PROCESS).await?;
    let checked = raw.validate();
    let (kept, mut errors) =
        api_filing::uploaded(&state, &t, account.id, &a.documents, &def).await?;
    let app = match checked {
        Ok(app) if errors.is_empty() => app,
        Ok(_) => return Err(AppError(Error::Validation(errors))),
        Err(mut es) => {
            es.append(&mut errors);
            return Err(AppError(Error::Validation(es)));
        }
    };
    let mobile = app.mobile.as_str().to_owned();
    let filed = dimos_web::uploads::file_case(
        &state,
        &t,
        &api_filing::actor(&account),
        dimos_web::uploads::Submission {
            new: crate::new_case(&app, account.id, None, None),
            key: Some(submission),
            files: vec![],
            kept,
            mobile: Some(mobile),
        },
    )
    .await?;
    Ok(match filed {
        dimos_web::uploads::Filed::New(p) => {
            let s = p.commit().await?;
            api_filing::created(
                format!("/api/v1/cases/{}", s.case_id.0),
                FiledApplication::from(s),
            )
        }
        dimos_web::uploads::Filed::Earlier(s) => Json(FiledApplication::from(s)).into_response(),
    })
}

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

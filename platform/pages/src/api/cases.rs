//! Cases for a municipality's other systems: list and search with keyset
//! pagination, one case, its timeline. A client needs the `cases.read`
//! scope; reading a case file is in the audit trail with the client as
//! the actor, as a person's opening is.

use super::Problem;
use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use dimos_kernel::Error;
use dimos_web::access::ReadCases;
use dimos_web::api_client::{ApiAccess, ApiUser};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_workflow::CaseId;
use dimos_workflow::query::{self, CaseKey, CaseRow, EventRow, ListKey, Position};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A case (an application and its handling): what lists show, and the
/// application's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Case {
    #[serde(flatten)]
    pub summary: CaseSummary,
    /// The application's data, by the service's field ids. A person's own
    /// app gets the application form's fields only (none for a service
    /// whose module has a form of its own).
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl From<CaseRow> for Case {
    fn from(mut c: CaseRow) -> Self {
        let data = std::mem::take(&mut c.data.0);
        Case {
            summary: CaseSummary::from(c),
            data,
        }
    }
}

/// A case as lists show it: what the staff search shows, not the
/// application's data (reading that is opening the case file, which is
/// audited: `GET /api/v1/cases/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: Uuid,
    /// The service, e.g. `parking.permit`.
    pub service: String,
    pub subject: String,
    pub applicant_name: String,
    /// `open`, `waiting` or `closed`.
    pub status: String,
    /// The step it is at (the process definition's step id).
    pub step: String,
    /// How it ended, once closed (`approved`, `rejected`, `withdrawn`, …).
    pub result: Option<String>,
    /// The protocol number the applicant quotes, `123/2026`.
    pub protocol: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<CaseRow> for CaseSummary {
    fn from(c: CaseRow) -> Self {
        let protocol = c.protocol_label();
        CaseSummary {
            id: c.id,
            service: c.process,
            subject: c.subject,
            applicant_name: c.applicant_name,
            status: c.status,
            step: c.step,
            result: c.result,
            protocol,
            submitted_at: c.submitted_at,
            due_at: c.due_at,
            closed_at: c.closed_at,
            updated_at: c.updated_at,
        }
    }
}

/// A page of cases, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    pub items: Vec<CaseSummary>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<Uuid>,
    /// Pass as `before` for the previous page; absent on the first.
    pub previous: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Words of the subject or the applicant's name, or a protocol number.
    #[param(
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$",
        max_length = 200
    )]
    pub q: Option<String>,
    /// Only this service's cases.
    #[param(
        pattern = "^([a-z][a-z0-9-]*\\.[a-z][a-z0-9-]*)?$",
        example = "parking.permit"
    )]
    pub service: Option<String>,
    /// The page after this case (a previous answer's `next`).
    pub after: Option<Uuid>,
    /// The page before this case (a previous answer's `previous`); ignored
    /// with `after`.
    pub before: Option<Uuid>,
    /// Cases per page, 1–100 (25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// One entry of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub seq: i32,
    /// `submitted`, `document-added`, `registered`, `stage`, `task-completed`, …
    pub kind: String,
    pub step: String,
    pub at: DateTime<Utc>,
    /// Who did it, as shown to people.
    pub actor_name: Option<String>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    /// Shown to the applicant too.
    pub public: bool,
}

impl From<EventRow> for Event {
    fn from(e: EventRow) -> Self {
        Event {
            seq: e.seq,
            kind: e.kind,
            step: e.step,
            at: e.at,
            actor_name: e.actor_name,
            outcome: e.outcome,
            comment: e.comment,
            public: e.public,
        }
    }
}

/// Cases of the municipality, newest first, searched and filtered.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    operation_id = "listCases",
    params(CaseQuery),
    security(("clientCredentials" = ["cases.read"]), ("citizenToken" = [])),
    responses(
        (status = 200, description = "A page of cases", body = CaseList, links(
            ("getFirstCase" = (operation_id = "getCase", parameters(("id" = "$response.body#/items/0/id")))),
            ("getFirstCaseTimeline" = (operation_id = "getCaseTimeline", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = 400, description = "A parameter that is not understood", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `cases.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client\'s rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality at this host, or no case `after` or `before` names", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    ApiAccess(user, _): ApiAccess<ReadCases>,
    t: CurrentTenant,
    Query(p): Query<CaseQuery>,
) -> Result<Json<CaseList>> {
    let limit = p.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(AppError(Error::BadRequest("limit must be 1-100".into())));
    }
    if p.service
        .as_deref()
        .is_some_and(|s| !s.is_empty() && !is_service_id(s))
    {
        return Err(AppError(Error::BadRequest(
            "service is not a service id".into(),
        )));
    }
    if p.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(AppError(Error::BadRequest(
            "q is longer than 200 characters".into(),
        )));
    }
    // The cursor is a case of the list: the page starts after (or ends
    // before) it.
    let at = match (p.after, p.before) {
        (None, None) => Position::First,
        (Some(a), _) => Position::After(CaseKey::of(&find_id(&t, &user, a).await?)),
        (None, Some(b)) => Position::Before(CaseKey::of(&find_id(&t, &user, b).await?)),
    };
    let page = query::search(
        &t.db,
        applicant(&user),
        p.q.as_deref().unwrap_or(""),
        p.service.as_deref(),
        &at,
        1,
        limit,
    )
    .await?;
    let next = page.next.and_then(|_| page.items.last().map(|c| c.id));
    let previous = page.prev.and_then(|_| page.items.first().map(|c| c.id));
    Ok(Json(CaseList {
        next,
        previous,
        items: page.items.into_iter().map(CaseSummary::from).collect(),
    }))
}

/// Whose cases the caller sees: a citizen only their own.
pub(crate) fn applicant(user: &ApiUser) -> Option<Uuid> {
    match user {
        ApiUser::Client(_) => None,
        ApiUser::Citizen(a) => Some(a.id),
    }
}

/// As on the staff case page: no trail, no case file. A person reading
/// their own case is not recorded (as on their own pages).
async fn viewed(
    state: &AppState,
    t: &CurrentTenant,
    user: &ApiUser,
    peer: Peer,
    case: &CaseRow,
    part: &str,
) -> Result<()> {
    let ApiUser::Client(client) = user else {
        return Ok(());
    };
    let client = &client.client;
    dimos_web::auth::record(
        state,
        t,
        dimos_identity::audit::AuditEntry::new(client.actor(), "case_viewed")
            .from_address(peer.address())
            .record(format!("case:{}", case.id))
            .detail(serde_json::json!({ "via": "api", "part": part })),
    )
    .await
}

/// `<module>.<process>`: lowercase letters, digits and hyphens, each part
/// starting with a letter (the parameter's documented pattern).
fn is_service_id(s: &str) -> bool {
    let part = |p: &str| {
        p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    s.split_once('.').is_some_and(|(m, p)| part(m) && part(p))
}

/// The case, if the caller may see it (a citizen's own only: another's is
/// not found).
async fn find_id(t: &CurrentTenant, user: &ApiUser, id: Uuid) -> Result<CaseRow> {
    query::case(&t.db, CaseId(id))
        .await?
        .filter(|c| applicant(user).is_none_or(|a| a == c.applicant))
        .ok_or(AppError(Error::NotFound))
}

pub(crate) async fn find(t: &CurrentTenant, user: &ApiUser, id: &str) -> Result<CaseRow> {
    let id = Uuid::try_parse(id).map_err(|_| AppError(Error::NotFound))?;
    find_id(t, user, id).await
}

/// One case. Opening it is recorded in the audit trail.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    tag = "cases",
    operation_id = "getCase",
    params(("id" = Uuid, Path, description = "The case's id")),
    security(("clientCredentials" = ["cases.read"]), ("citizenToken" = [])),
    responses(
        (status = 200, description = "The case", body = Case),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `cases.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client\'s rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case in this municipality", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    ApiAccess(user, _): ApiAccess<ReadCases>,
    t: CurrentTenant,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Json<Case>> {
    let case = find(&t, &user, &id).await?;
    viewed(&state, &t, &user, peer, &case, "case").await?;
    let snapshot = case.snapshot_id;
    let mut out = Case::from(case);
    if applicant(&user).is_some() {
        // What the person applied with, not what staff's steps added to
        // the case's data (notes, findings, recommendations): the fields
        // of the application form, when the service has the generic one.
        let def = state.workflow().snapshot(&t.db, snapshot).await?;
        let asked: Vec<&str> = def
            .form(dimos_web::apply::FORM)
            .map(|f| f.fields.iter().map(|x| x.id.as_str()).collect())
            .unwrap_or_default();
        out.data.retain(|k, _| asked.contains(&k.as_str()));
    }
    Ok(Json(out))
}

/// A case's history, oldest first, internal entries included. Reading it
/// is opening the case file: recorded in the audit trail.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/timeline",
    tag = "cases",
    operation_id = "getCaseTimeline",
    params(("id" = Uuid, Path, description = "The case's id")),
    security(("clientCredentials" = ["cases.read"]), ("citizenToken" = [])),
    responses(
        (status = 200, description = "The case's events", body = [Event]),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `cases.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client\'s rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case in this municipality", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn timeline(
    State(state): State<AppState>,
    ApiAccess(user, _): ApiAccess<ReadCases>,
    t: CurrentTenant,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Json<Vec<Event>>> {
    let case = find(&t, &user, &id).await?;
    viewed(&state, &t, &user, peer, &case, "timeline").await?;
    // The applicant sees what their own pages show.
    let public_only = applicant(&user).is_some();
    let events = query::events(&t.db, case.case_id(), public_only).await?;
    Ok(Json(
        events
            .into_iter()
            .map(Event::from)
            .map(|mut e| {
                // As on the person's own pages: staff are not named.
                if public_only {
                    e.actor_name = None;
                }
                e
            })
            .collect(),
    ))
}

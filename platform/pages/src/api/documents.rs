//! A case's documents for the municipality's other systems (scope
//! `cases.read`): the list with each file's hash and signatures, and the
//! file itself, verified against its hash as it streams. Downloading a
//! document holding personal data is in the audit trail, as a person's is.

use super::Problem;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use dimos_kernel::Error;
use dimos_storage::documents::{self, Document as Stored};
use dimos_web::access::ReadCases;
use dimos_web::api_client::{ApiAccess, ApiUser};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A file of a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    pub id: Uuid,
    /// Which of the service's documents it is (`DocumentRequirement.id`),
    /// if any.
    pub kind: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the content: what a download must hash to.
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
    /// Added by staff for the file only; the applicant does not see it.
    pub internal: bool,
    pub personal_data: bool,
    /// A newer version sent instead of this one.
    pub replaced_by: Option<Uuid>,
    /// Its signatures, oldest first.
    pub signatures: Vec<Signature>,
}

/// A signature of a document by a member of staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct Signature {
    /// Anyone checks it at the municipality's `/verify` page.
    pub reference: String,
    pub signer_name: String,
    pub certificate_serial: String,
    pub signed_at: DateTime<Utc>,
    /// The hash of what was signed; equal to the document's unless it was
    /// replaced since.
    pub content_sha256: String,
}

impl Document {
    /// A document as stored, before anyone signs it.
    pub fn unsigned(d: Stored) -> Self {
        Document {
            signatures: vec![],
            id: d.id,
            kind: d.kind,
            name: d.original_name,
            content_type: d.content_type,
            size: d.size,
            sha256: d.sha256,
            uploaded_at: d.uploaded_at,
            internal: d.internal,
            personal_data: d.personal_data,
            replaced_by: d.replaced_by,
        }
    }
}

async fn case_of(t: &CurrentTenant, user: &ApiUser, id: &str) -> Result<Uuid> {
    super::cases::find(t, user, id).await.map(|c| c.id)
}

/// What the applicant sees of their case file: not what staff keep
/// internal.
fn visible(user: &ApiUser, d: &Stored) -> bool {
    matches!(user, ApiUser::Client(_)) || !d.internal
}

/// The case's documents, oldest first, with their signatures.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/documents",
    tag = "cases",
    operation_id = "listCaseDocuments",
    params(("id" = Uuid, Path, description = "The case's id")),
    security(("clientCredentials" = ["cases.read"]), ("citizenToken" = [])),
    responses(
        (status = 200, description = "The case's documents", body = [Document], links(
            ("downloadFirstDocument" = (operation_id = "downloadCaseDocument", parameters(("id" = "$request.path.id"), ("doc" = "$response.body#/0/id")))),
        )),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `cases.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case in this municipality", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiAccess(user, _): ApiAccess<ReadCases>,
    t: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<Vec<Document>>> {
    let case = case_of(&t, &user, &id).await?;
    let mut docs = documents::of_case(&t.db, case).await?;
    docs.retain(|d| visible(&user, d));
    let ids: Vec<Uuid> = docs.iter().map(|d| d.id).collect();
    let signatures = state
        .signing()
        .signatures_of(&t.db, &ids)
        .await
        .map_err(|e| AppError(e.into()))?;
    Ok(Json(
        docs.into_iter()
            .map(|d: Stored| Document {
                signatures: signatures
                    .iter()
                    .filter(|s| s.document_id == d.id)
                    .map(|s| Signature {
                        reference: s.reference.clone(),
                        signer_name: s.signer_name.clone(),
                        certificate_serial: s.cert_serial.clone(),
                        signed_at: s.signed_at,
                        content_sha256: s.content_sha256.clone(),
                    })
                    .collect(),
                ..Document::unsigned(d)
            })
            .collect(),
    ))
}

/// The file, as stored (or a redirect to a short-lived address of the
/// object store, where the deployment allows it).
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/documents/{doc}",
    tag = "cases",
    operation_id = "downloadCaseDocument",
    params(
        ("id" = Uuid, Path, description = "The case's id"),
        ("doc" = Uuid, Path, description = "The document's id"),
    ),
    security(("clientCredentials" = ["cases.read"]), ("citizenToken" = [])),
    responses(
        (status = 200, description = "The file, with its own content type (PDF, JPEG, PNG, …); its SHA-256 is the listed `sha256`", content_type = "*/*", body = Vec<u8>),
        (status = 303, description = "Fetch it from this short-lived address of the object store"),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `cases.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case or document in this municipality", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    ApiAccess(user, _): ApiAccess<ReadCases>,
    t: CurrentTenant,
    peer: Peer,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response> {
    let case = case_of(&t, &user, &id).await?;
    let doc = Uuid::try_parse(&doc).map_err(|_| AppError(Error::NotFound))?;
    let d = match documents::get(&t.db, doc).await? {
        Some(d) if d.case_id == Some(case) && visible(&user, &d) => d,
        _ => return Err(AppError(Error::NotFound)),
    };
    if let ApiUser::Client(client) = &user
        && d.personal_data
    {
        dimos_web::auth::record(
            &state,
            &t,
            dimos_identity::audit::AuditEntry::new(client.client.actor(), "document_viewed")
                .from_address(peer.address())
                .record(format!("case:{case}"))
                .detail(serde_json::json!({ "document": d.id, "via": "api" })),
        )
        .await?;
    }
    crate::cases::documents::send(&state, &d).await
}

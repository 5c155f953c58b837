//! Applying through the API, as a citizen's own app does for the person
//! signed in to it: the documents are uploaded first, then the case is
//! filed with them (the service's form as JSON), and it can be withdrawn
//! while undecided. The same checks as the web form; the person must be
//! verified, as there. Each POST with an `Idempotency-Key` is done once
//! per key and person: the key names what it creates (the upload's id, the
//! case's submission key), so a retry meets the first one in the
//! database's unique keys, on any replica.

use super::Problem;
use super::cases::Case;
use super::documents::Document;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dimos_kernel::{Error, FieldError, Locale};
use dimos_storage::documents::{self, Document as Stored};
use dimos_web::api_client::ApiCitizen;
use dimos_web::api_filing::{self, actor, created, idempotency_key, verified};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Json};
use dimos_web::state::AppState;
use dimos_web::uploads::{Filed, Submission};
use dimos_workflow::{CaseId, NewCase};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A document as sent: the file and which of a service's documents it is.
/// (The schema of the multipart body, which the handler reads part by
/// part; no other parts.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Upload {
    /// Which document of the service it is (a `DocumentRequirement.id`).
    #[schema(example = "residence-proof", pattern = "^[a-z0-9][a-z0-9-]{0,63}$")]
    kind: String,
    /// The file: PDF, JPEG or PNG (office formats where the deployment
    /// allows them), up to the deployment's size limit.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a document for an application to come. It waits for a day to
/// be named in `POST /api/v1/cases`; one never named is deleted then.
#[utoipa::path(
    post,
    path = "/api/v1/documents",
    tag = "applying",
    operation_id = "uploadDocument",
    params(("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same file, the same document is answered (`200`), not a second one stored", pattern = "^[\\x21-\\x7e]{1,255}$")),
    request_body(content = Upload, content_type = "multipart/form-data"),
    security(("citizenToken" = [])),
    responses(
        (status = 201, description = "Stored; name its `id` in the application", body = Document),
        (status = 200, description = "Stored before with this `Idempotency-Key`", body = Document),
        (status = 400, description = "Not a multipart form, or a bad `Idempotency-Key`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A client's token (only a person applies), or the person's identity is not verified", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the deployment allows", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a multipart form", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The `Idempotency-Key` was used for another file", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No file, a kind that is not one, a type that is not accepted, or a part the form does not have", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    ApiCitizen(account): ApiCitizen,
    t: CurrentTenant,
    headers: HeaderMap,
    form: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    verified(&account)?;
    let mut form = form.map_err(|_| AppError(Error::UnsupportedMediaType))?;
    let (policy, tmp) = dimos_web::uploads::upload_policy(&state);
    let bad =
        |e: axum::extract::multipart::MultipartError| AppError(Error::BadRequest(e.body_text()));
    let (mut kind, mut file, mut unknown) = (None, None, vec![]);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "kind" => kind = Some(field.text().await.map_err(bad)?),
            "file" => {
                let name: String = field
                    .file_name()
                    .unwrap_or("document")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                let received = dimos_storage::receive(&tmp, Box::pin(field), &policy)
                    .await
                    .map_err(|e| AppError(e.into()))?;
                file = Some((name, received));
            }
            // Only the two parts the form has.
            other => unknown.push(other.chars().filter(|c| !c.is_control()).take(64).collect()),
        }
    }
    let mut errors: Vec<FieldError> = unknown
        .into_iter()
        .map(|f: String| FieldError::new(f, "unknown-field"))
        .collect();
    let kind = kind.filter(|k| is_kind(k));
    if kind.is_none() {
        errors.push(FieldError::new("kind", "required"));
    }
    if file.is_none() {
        errors.push(FieldError::new("file", "required"));
    }
    let (Some(kind), Some((name, received)), true) = (kind, file, errors.is_empty()) else {
        return Err(AppError(Error::Validation(errors)));
    };
    let id = match &key {
        Some(k) => api_filing::keyed_id(account.id, "document", k),
        None => Uuid::now_v7(),
    };
    if let Some(earlier) = documents::get(&t.db, id).await? {
        return same_upload(earlier, &kind, &received.sha256)
            .map(|d| axum::Json(d).into_response());
    }
    // Each attempt stores under a key of its own: two retries racing for
    // the same document id never overwrite or remove each other's file.
    let object_key = documents::new_key(&t.db, Uuid::now_v7());
    state
        .objects()
        .put_file(&object_key, received.temp.path())
        .await
        .map_err(|e| AppError(e.into()))?;
    let doc = Stored {
        id,
        case_id: None,
        kind: Some(kind.clone()),
        original_name: if name.trim().is_empty() {
            "document".into()
        } else {
            name
        },
        content_type: received.content_type.to_owned(),
        size: i64::try_from(received.size).unwrap_or(i64::MAX),
        sha256: received.sha256.clone(),
        object_key: object_key.clone(),
        personal_data: true,
        uploaded_by: account.id,
        uploaded_at: state.workflow().now(),
        internal: false,
        replaced_by: None,
    };
    if let Err(e) = documents::insert(&t.db, &doc).await {
        let _ = state.objects().delete(&object_key).await;
        // The same key sent twice at once: the other one stored it.
        if let Some(earlier) = documents::get(&t.db, id).await? {
            return same_upload(earlier, &kind, &received.sha256)
                .map(|d| axum::Json(d).into_response());
        }
        return Err(AppError(e.into()));
    }
    Ok((StatusCode::CREATED, axum::Json(Document::unsigned(doc))).into_response())
}

/// The document a repeated key stored: the same file of the same kind, or
/// a refusal (the key was used for something else).
fn same_upload(earlier: Stored, kind: &str, sha256: &str) -> Result<Document> {
    if earlier.kind.as_deref() == Some(kind) && earlier.sha256 == sha256 {
        Ok(Document::unsigned(earlier))
    } else {
        Err(AppError(Error::Conflict("idempotency-key-reused")))
    }
}

/// A form's answers sent as JSON, as the form's parser takes them (the
/// text a browser would post), with what cannot be: fields the form does
/// not have, and arrays or objects, each named `data.<field>`.
pub(crate) fn form_answers(
    data: &Map<String, Value>,
    form: &dimos_workflow::definition::Form,
) -> (BTreeMap<String, String>, Vec<FieldError>) {
    let mut errors = vec![];
    let mut answers = BTreeMap::new();
    for (k, v) in data {
        if !form.fields.iter().any(|f| &f.id == k) {
            errors.push(FieldError::new(format!("data.{k}"), "unknown-field"));
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => {
                errors.push(FieldError::new(format!("data.{k}"), "invalid"));
                continue;
            }
        };
        answers.insert(k.clone(), text);
    }
    (answers, errors)
}

/// A document kind as services name them.
fn is_kind(k: &str) -> bool {
    (1..=64).contains(&k.len())
        && k.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// An application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// The service: one whose catalogue entry has a `form`.
    #[schema(
        example = "certificates.request",
        pattern = "^[a-z][a-z0-9-]*\\.[a-z][a-z0-9-]*$"
    )]
    pub service: String,
    /// The answers, by the form's field ids, as its JSON Schema says.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    /// Documents uploaded for it (`POST /api/v1/documents`), by id.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub documents: Vec<Uuid>,
}

/// Files an application for the person whose token it is: the case, its
/// documents and its protocol number commit together or not at all.
#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "applying",
    operation_id = "createCase",
    params(("Idempotency-Key" = Option<String>, Header, description = "Sent again, the case the first request filed is answered (`200`), never a second one", pattern = "^[\\x21-\\x7e]{1,255}$")),
    request_body(content = NewApplication, content_type = "application/json"),
    security(("citizenToken" = [])),
    responses(
        (status = 201, description = "Filed", body = Case, headers(("Location" = String, description = "The case")), links(
            ("getFiledCase" = (operation_id = "getCase", parameters(("id" = "$response.body#/id")))),
            ("getFiledCaseTimeline" = (operation_id = "getCaseTimeline", parameters(("id" = "$response.body#/id")))),
            ("listFiledCaseDocuments" = (operation_id = "listCaseDocuments", parameters(("id" = "$response.body#/id")))),
            ("withdrawFiledCase" = (operation_id = "withdrawCase", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 200, description = "Filed before with this `Idempotency-Key`", body = Case),
        (status = 400, description = "Malformed JSON, or a bad `Idempotency-Key`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A client's token (only a person applies), or the person's identity is not verified", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The `Idempotency-Key` was used for another service", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "What the form or the documents lack, field by field (`data.<field>`, `documents[i]`, `documents`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiCitizen(account): ApiCitizen,
    t: CurrentTenant,
    headers: HeaderMap,
    Json(app): Json<NewApplication>,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    verified(&account)?;
    let submission = api_filing::submission(account.id, key.as_deref());
    // A retry: its documents are the case's by now, so it is answered
    // before they are checked.
    if let Some(s) = state
        .workflow()
        .submitted_with(&t.db, submission, account.id, &app.service)
        .await?
    {
        return Ok(axum::Json(case_by_id(&t, s.case_id).await?).into_response());
    }
    let service_error =
        |code: &'static str| AppError(Error::Validation(vec![FieldError::new("service", code)]));
    let offered = state
        .workflow()
        .processes()
        .any(|(p, m, _)| p == app.service && t.tenant.module_enabled(m));
    if !offered {
        return Err(service_error("not-offered"));
    }
    let def = state.workflow().effective(&t.db, &app.service).await?;
    // A module with a form of its own takes applications on its pages.
    let form = def
        .form(dimos_web::apply::FORM)
        .ok_or_else(|| service_error("no-api-form"))?;
    let (answers, mut errors) = form_answers(&app.data, form);
    let data = match form.parse(&answers) {
        Ok(d) => d,
        Err(es) => {
            errors.extend(es.into_iter().map(|mut e| {
                e.field = format!("data.{}", e.field);
                e
            }));
            Map::new()
        }
    };
    let (kept, doc_errors) =
        api_filing::uploaded(&state, &t, account.id, &app.documents, &def).await?;
    errors.extend(doc_errors);
    if !errors.is_empty() {
        return Err(AppError(Error::Validation(errors)));
    }
    let filed = dimos_web::uploads::file_case(
        &state,
        &t,
        &actor(&account),
        Submission {
            new: NewCase {
                process: app.service.clone(),
                applicant: account.id,
                applicant_name: account.display_name(),
                filed_by: None,
                subject: def.name.get(Locale::El).to_owned(),
                data,
                attachments: 0,
            },
            key: Some(submission),
            files: vec![],
            kept,
            mobile: None,
        },
    )
    .await?;
    Ok(match filed {
        Filed::New(p) => {
            let case = case_by_id(&t, p.commit().await?.case_id).await?;
            created(format!("/api/v1/cases/{}", case.summary.id), case)
        }
        // The same key sent twice at once: the other one filed it.
        Filed::Earlier(s) => axum::Json(case_by_id(&t, s.case_id).await?).into_response(),
    })
}

async fn case_row(t: &CurrentTenant, id: Uuid) -> Result<dimos_workflow::query::CaseRow> {
    dimos_workflow::query::case(&t.db, CaseId(id))
        .await?
        .ok_or(AppError(Error::NotFound))
}

async fn case_by_id(t: &CurrentTenant, id: CaseId) -> Result<Case> {
    dimos_workflow::query::case(&t.db, id)
        .await?
        .map(Case::from)
        .ok_or(AppError(Error::NotFound))
}

/// Why the applicant withdraws, if they say.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    #[schema(
        max_length = 1000,
        pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub reason: Option<String>,
}

/// The applicant withdraws a case not yet decided. Withdrawing a case
/// already withdrawn answers it as it is.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/withdraw",
    tag = "applying",
    operation_id = "withdrawCase",
    params(
        ("id" = Uuid, Path, description = "The case's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Accepted; withdrawing is done once whatever the key", pattern = "^[\\x21-\\x7e]{1,255}$"),
    ),
    request_body(content = Withdrawal, content_type = "application/json"),
    security(("citizenToken" = [])),
    responses(
        (status = 200, description = "Withdrawn", body = Case),
        (status = 400, description = "Malformed JSON, an address the edge refuses, or a bad `Idempotency-Key`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A client's token (only the applicant withdraws)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "None of the person's cases", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason longer than 1000 characters", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn withdraw(
    State(state): State<AppState>,
    ApiCitizen(account): ApiCitizen,
    t: CurrentTenant,
    peer: dimos_web::extract::Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(w): Json<Withdrawal>,
) -> Result<axum::Json<Case>> {
    idempotency_key(&headers)?;
    let id = Uuid::try_parse(&id).map_err(|_| AppError(Error::NotFound))?;
    let reason = w.reason.unwrap_or_default();
    if reason.chars().count() > 1000 {
        return Err(AppError(Error::Validation(vec![
            FieldError::new("reason", "too-long").with_detail("1000"),
        ])));
    }
    let case = case_row(&t, id).await?;
    if case.applicant != account.id {
        return Err(AppError(Error::NotFound));
    }
    let withdrawn = |c: &dimos_workflow::query::CaseRow| {
        c.status == "closed" && c.result.as_deref() == Some("withdrawn")
    };
    if !withdrawn(&case) {
        let mut tx = t.db.begin().await?;
        let done = state
            .workflow()
            .withdraw_tx(
                &mut tx,
                &t.db,
                CaseId(id),
                &actor(&account),
                account.id,
                &reason,
            )
            .await;
        match done {
            Ok(()) => {
                dimos_web::auth::record_in(
                    &mut tx,
                    &t,
                    dimos_identity::audit::AuditEntry::new(
                        format!("account:{}", account.id),
                        "case_withdrawn",
                    )
                    .from_address(peer.address())
                    .record(format!("case:{id}"))
                    .detail(serde_json::json!({ "via": "api" })),
                )
                .await?;
                tx.commit().await?;
            }
            // Withdrawn meanwhile by the same person (a retry racing the
            // first): answered as it is.
            Err(Error::Conflict(_)) => {
                drop(tx);
                let now = case_row(&t, id).await?;
                if !withdrawn(&now) {
                    return Err(AppError(Error::Conflict("case-closed")));
                }
            }
            Err(e) => return Err(AppError(e)),
        }
    }
    Ok(axum::Json(case_by_id(&t, CaseId(id)).await?))
}

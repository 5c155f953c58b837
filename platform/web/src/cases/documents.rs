//! Documents on a case: the citizen uploads them (a plain file input, no
//! JavaScript needed), citizen and staff download them. The type is what
//! the content is, the name we send back is tamed, and the browser is told
//! to download, never to render: an upload can never run as a page here.

use super::citizen::own_case;
use crate::auth::{CurrentUser, check_csrf, record};
use crate::error::{AppError, Result};
use crate::extract::{CurrentTenant, Peer};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_storage::documents::{self, Document};
use dimos_workflow::{Actor, CaseId};
use serde_json::json;
use uuid::Uuid;

/// What a multipart upload carried besides the file.
struct Upload {
    kind: Option<String>,
    received: dimos_storage::Received,
    name: String,
}

async fn read_upload(
    state: &AppState,
    user: &CurrentUser,
    mut form: Multipart,
) -> std::result::Result<Upload, Error> {
    let s = &state.config().storage;
    let policy = dimos_storage::Policy {
        limit: s.max_upload_bytes,
        allow_office: s.allow_office,
        scan_command: Some(s.scan_command.clone()).filter(|c| !c.trim().is_empty()),
    };
    let tmp = state.config().storage_dir().join("tmp");
    let mut csrf_ok = false;
    let mut kind = None;
    let mut file = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Error::BadRequest(e.body_text()))?
    {
        match field.name().unwrap_or("") {
            "_csrf" => {
                let v = field
                    .text()
                    .await
                    .map_err(|e| Error::BadRequest(e.body_text()))?;
                check_csrf(user, &v).map_err(|e| e.0)?;
                csrf_ok = true;
            }
            "kind" => {
                let v = field
                    .text()
                    .await
                    .map_err(|e| Error::BadRequest(e.body_text()))?;
                kind = Some(v).filter(|v| !v.is_empty() && v.len() <= 64);
            }
            "file" => {
                // The token comes first in our forms; nothing is stored for
                // a request that has not shown it.
                if !csrf_ok {
                    return Err(Error::Forbidden);
                }
                let name = field
                    .file_name()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect::<String>();
                let received = dimos_storage::receive(&tmp, Box::pin(field), &policy).await?;
                file = Some((received, name));
            }
            _ => {}
        }
    }
    let Some((received, name)) = file else {
        return Err(Error::Validation(vec![FieldError::new("file", "required")]));
    };
    Ok(Upload {
        kind,
        received,
        name,
    })
}

/// Stores a checked upload for a case and records it in the case history.
async fn store(
    state: &AppState,
    tenant: &CurrentTenant,
    case: Uuid,
    upload: Upload,
    by: &Actor,
) -> std::result::Result<Document, Error> {
    let max_case = state.config().storage.max_case_bytes;
    if documents::case_bytes(&tenant.db, case).await? + upload.received.size > max_case {
        return Err(dimos_storage::StorageError::TooLarge(max_case).into());
    }
    let id = Uuid::now_v7();
    let key = documents::new_key(&tenant.db, id);
    state
        .objects()
        .put_file(&key, upload.received.temp.path())
        .await?;
    let doc = Document {
        id,
        case_id: Some(case),
        kind: upload.kind,
        original_name: upload.name,
        content_type: upload.received.content_type.to_owned(),
        size: i64::try_from(upload.received.size).unwrap_or(i64::MAX),
        sha256: upload.received.sha256.clone(),
        object_key: key.clone(),
        personal_data: true,
        uploaded_by: by.account.unwrap_or_default(),
        uploaded_at: state.workflow().now(),
    };
    if let Err(e) = documents::insert(&tenant.db, &doc).await {
        // No row, no object: do not leave an orphan behind.
        let _ = state.objects().delete(&key).await;
        return Err(e.into());
    }
    state
        .workflow()
        .record_event(
            &tenant.db,
            CaseId(case),
            "document-added",
            by,
            true,
            json!({"document": id, "name": doc.original_name, "kind": doc.kind}),
        )
        .await?;
    Ok(doc)
}

pub async fn citizen_upload(
    State(state): State<AppState>,
    ui: crate::ui::Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    peer: Peer,
    Path(id): Path<Uuid>,
    form: Multipart,
) -> Result<Response> {
    let c = own_case(&tenant, &user, id).await?;
    if c.status == "closed" {
        return Err(Error::Conflict("case-closed").into());
    }
    let actor = super::citizen::actor(&user);
    let result = match read_upload(&state, &user, form).await {
        Ok(upload) => store(&state, &tenant, c.id, upload, &actor).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(doc) => {
            record(
                &state,
                &tenant,
                user.audit(peer, "document_uploaded")
                    .record(format!("case:{id}"))
                    .detail(json!({"document": doc.id, "sha256": doc.sha256, "size": doc.size})),
            )
            .await?;
            Ok(Redirect::to(&format!("/cases/{id}?done=uploaded#documents")).into_response())
        }
        Err(Error::Validation(errs)) => {
            super::citizen::error_page(&state, &ui, &tenant, &user, id, errs).await
        }
        Err(e) => Err(AppError(e)),
    }
}

/// Streams a stored document as a download.
pub async fn send(state: &AppState, doc: &Document) -> Result<Response> {
    let reader = state
        .objects()
        .get(&doc.object_key)
        .await
        .map_err(Error::from)?;
    let name = dimos_storage::download_name(&doc.original_name, &doc.content_type);
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let mut res = Body::from_stream(dimos_storage::verified_stream(reader, doc.sha256.clone()))
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&doc.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"document\"; filename*=UTF-8''{}",
        encoded.replace('+', "%20")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // No Content-Length: the body is chunked, so a hash mismatch found at
    // the end aborts the download instead of completing a damaged file.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    // Even if a browser tried to render it, it would have no powers.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(res)
}

async fn case_document(tenant: &CurrentTenant, case: Uuid, doc: Uuid) -> Result<Document> {
    match documents::get(&tenant.db, doc).await? {
        Some(d) if d.case_id == Some(case) => Ok(d),
        _ => Err(Error::NotFound.into()),
    }
}

pub async fn citizen_download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    Path((id, doc)): Path<(Uuid, Uuid)>,
) -> Result<Response> {
    own_case(&tenant, &user, id).await?;
    let d = case_document(&tenant, id, doc).await?;
    send(&state, &d).await
}

/// Staff who may see the case file download its documents; every such
/// access to personal data is in the audit trail.
pub async fn staff_download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: super::StaffMember,
    peer: Peer,
    Path((id, doc)): Path<(Uuid, Uuid)>,
) -> Result<Response> {
    super::staff::visible_case(&state, &tenant, &who, id).await?;
    let d = case_document(&tenant, id, doc).await?;
    if d.personal_data {
        record(
            &state,
            &tenant,
            who.user
                .audit(peer, "document_viewed")
                .record(format!("case:{id}"))
                .detail(json!({"document": d.id})),
        )
        .await?;
    }
    send(&state, &d).await
}

/// The case's documents as pages list them.
pub async fn list(
    tenant: &CurrentTenant,
    case: Uuid,
    href: &str,
    def: &dimos_workflow::Definition,
    lang: dimos_kernel::Locale,
) -> Result<Vec<minijinja::Value>> {
    Ok(documents::of_case(&tenant.db, case)
        .await?
        .into_iter()
        .map(|d| {
            let kind = d
                .kind
                .as_deref()
                .and_then(|k| def.documents.iter().find(|s| s.id == k))
                .map(|s| s.label.get(lang).to_owned());
            minijinja::context! {
                href => format!("{href}/{}", d.id),
                name => d.original_name,
                kind,
                size_kb => (d.size + 1023) / 1024,
                at => super::datetime(d.uploaded_at),
                kind_of_file => match d.content_type.as_str() {
                    "application/pdf" => "PDF",
                    "image/png" => "PNG",
                    "image/jpeg" => "JPEG",
                    "application/vnd.oasis.opendocument.text" => "ODT",
                    _ => "DOCX",
                },
            }
        })
        .collect())
}

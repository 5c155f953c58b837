//! Documents on a case: the citizen uploads them (a plain file input, no
//! JavaScript needed), citizen and staff download them. The type is what
//! the content is, the name we send back is tamed, and the browser is told
//! to download, never to render: an upload can never run as a page here.

use super::citizen::own_case;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::Error;
use dimos_storage::documents::{self, Document};
use dimos_web::auth::{CurrentUser, record};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_workflow::query::CaseRow;
use serde_json::json;
use uuid::Uuid;

pub use dimos_web::uploads::{FormWithDocuments, Kept, attach, receive_form, upload_policy};
use dimos_web::uploads::{Upload, read_upload, store};

pub async fn citizen_upload(
    State(state): State<AppState>,
    ui: dimos_web::ui::Ui,
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
        Ok(upload) => {
            let upload = Upload {
                internal: false,
                ..upload
            };
            store(&state, &tenant, c.id, upload, &actor, None, |doc| {
                Some(
                    user.audit(peer, "document_uploaded")
                        .record(format!("case:{id}"))
                        .detail(
                            json!({"document": doc.id, "sha256": doc.sha256, "size": doc.size}),
                        ),
                )
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}?done=uploaded#documents")).into_response()),
        Err(Error::Validation(errs)) => {
            super::citizen::error_page(&state, &ui, &tenant, &user, id, errs).await
        }
        Err(e) => Err(AppError(e)),
    }
}

pub use dimos_web::uploads::send;

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
    if d.internal {
        return Err(Error::NotFound.into());
    }
    send(&state, &d).await
}

/// A citizen sends a new version of a document of theirs while the case is
/// open and nobody has signed it; the old one stays in the file.
pub async fn citizen_replace(
    State(state): State<AppState>,
    ui: dimos_web::ui::Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    peer: Peer,
    Path((id, doc)): Path<(Uuid, Uuid)>,
    form: Multipart,
) -> Result<Response> {
    let c = own_case(&tenant, &user, id).await?;
    let old = case_document(&tenant, id, doc).await?;
    if !replaceable(&state, &tenant, &c, &user, &old).await? {
        return Err(Error::NotFound.into());
    }
    if c.status == "closed" {
        return Err(Error::Conflict("case-closed").into());
    }
    let actor = super::citizen::actor(&user);
    let result = match read_upload(&state, &user, form).await {
        Ok(upload) => {
            let upload = Upload {
                internal: false,
                ..upload
            };
            store(&state, &tenant, c.id, upload, &actor, Some(&old), |new| {
                Some(
                    user.audit(peer, "document_replaced")
                        .record(format!("case:{id}"))
                        .detail(
                            json!({"document": new.id, "replaces": old.id, "sha256": new.sha256}),
                        ),
                )
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}?done=uploaded#documents")).into_response()),
        Err(Error::Validation(errs)) => {
            super::citizen::error_page(&state, &ui, &tenant, &user, id, errs).await
        }
        Err(e) => Err(AppError(e)),
    }
}

/// Whether the citizen may send a new version of `d`: theirs (or sent at
/// the desk for them), current, and not signed by anyone.
fn citizen_may_replace(c: &CaseRow, user: &CurrentUser, d: &Document, signed: bool) -> bool {
    let theirs = d.uploaded_by == c.applicant || d.uploaded_by == user.account.id;
    theirs && !d.internal && d.replaced_by.is_none() && !signed
}

async fn replaceable(
    state: &AppState,
    tenant: &CurrentTenant,
    c: &CaseRow,
    user: &CurrentUser,
    d: &Document,
) -> Result<bool> {
    let signed = !state
        .signing()
        .signatures_of(&tenant.db, &[d.id])
        .await?
        .is_empty();
    Ok(citizen_may_replace(c, user, d, signed))
}

/// Staff add a document to a case they may see: a draft decision to sign,
/// a certificate to hand out, or (marked internal) a note for the file.
pub async fn staff_upload(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: super::StaffMember,
    peer: Peer,
    Path(id): Path<Uuid>,
    form: Multipart,
) -> Result<Response> {
    let c = super::staff::visible_case(&state, &tenant, &who, id).await?;
    let actor = who.staff.actor();
    let upload = read_upload(&state, &who.user, form).await?;
    store(&state, &tenant, c.id, upload, &actor, None, |doc| {
        Some(
            who.user
                .audit(peer, "document_uploaded")
                .record(format!("case:{id}"))
                .detail(
                    json!({"document": doc.id, "sha256": doc.sha256, "internal": doc.internal}),
                ),
        )
    })
    .await?;
    Ok(Redirect::to(&format!("/staff/cases/{id}?done=uploaded#documents")).into_response())
}

/// Staff who may see the case file download its documents; every such
/// access to personal data is in the audit trail.
pub async fn staff_download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    super::CaseFileReader(who): super::CaseFileReader,
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

/// Who is looking at a case's documents.
pub enum Viewer<'a> {
    Citizen(&'a CurrentUser),
    Staff,
}

/// Where one of the service's documents stands in a case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Held {
    Missing,
    Uploaded,
    /// Sent again in a newer version (the old one stays in the file).
    Replaced,
}

/// The service's documents against the files of a case: each required or
/// optional document with its state, matched by kind. Internal staff
/// documents never count for the applicant's list. Pure.
pub fn checklist(
    specs: &[dimos_workflow::definition::DocumentSpec],
    docs: &[Document],
) -> Vec<(String, Held)> {
    specs
        .iter()
        .map(|spec| {
            let of_kind: Vec<&Document> = docs
                .iter()
                .filter(|d| !d.internal && d.kind.as_deref() == Some(spec.id.as_str()))
                .collect();
            let held = if !of_kind.iter().any(|d| d.replaced_by.is_none()) {
                Held::Missing
            } else if of_kind.iter().any(|d| d.replaced_by.is_some()) {
                Held::Replaced
            } else {
                Held::Uploaded
            };
            (spec.id.clone(), held)
        })
        .collect()
}

/// The checklist as pages show it.
pub async fn checklist_view(
    tenant: &CurrentTenant,
    case: &CaseRow,
    def: &dimos_workflow::Definition,
    lang: dimos_kernel::Locale,
) -> Result<Vec<minijinja::Value>> {
    let docs = documents::of_case(&tenant.db, case.id).await?;
    Ok(checklist(&def.documents, &docs)
        .into_iter()
        .zip(&def.documents)
        .map(|((id, held), spec)| {
            minijinja::context! { id, label => spec.label.get(lang), required => spec.required, held }
        })
        .collect())
}

/// The case's documents as pages list them, with their signatures: the
/// applicant sees the current versions of what is not internal, staff see
/// everything.
pub async fn list(
    state: &AppState,
    tenant: &CurrentTenant,
    case: &CaseRow,
    href: &str,
    def: &dimos_workflow::Definition,
    lang: dimos_kernel::Locale,
    viewer: Viewer<'_>,
) -> Result<Vec<minijinja::Value>> {
    let docs = documents::of_case(&tenant.db, case.id).await?;
    let ids: Vec<Uuid> = docs.iter().map(|d| d.id).collect();
    let mut signatures = super::signing::signatures_by_document(state, tenant, &ids).await?;
    Ok(docs
        .into_iter()
        .filter(|d| matches!(viewer, Viewer::Staff) || (!d.internal && d.replaced_by.is_none()))
        .map(|d| {
            let signatures = signatures.remove(&d.id).unwrap_or_default();
            let replaceable = match viewer {
                Viewer::Citizen(user) => {
                    case.status != "closed"
                        && citizen_may_replace(case, user, &d, !signatures.is_empty())
                }
                Viewer::Staff => false,
            };
            let kind = d
                .kind
                .as_deref()
                .and_then(|k| def.documents.iter().find(|s| s.id == k))
                .map(|s| s.label.get(lang).to_owned());
            minijinja::context! {
                id => d.id,
                href => format!("{href}/{}", d.id),
                internal => d.internal,
                replaced => d.replaced_by.is_some(),
                current => d.replaced_by.is_none(),
                // Only what the municipality wrote is signed in its name.
                signable => d.uploaded_by != case.applicant,
                signatures,
                replaceable,
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

#[cfg(test)]
mod checklist_tests {
    use super::*;
    use dimos_workflow::definition::DocumentSpec;

    fn spec(id: &str, required: bool) -> DocumentSpec {
        serde_json::from_value(serde_json::json!({
            "id": id, "required": required, "label": {"el": id, "en": id}
        }))
        .unwrap()
    }

    fn doc(kind: Option<&str>, internal: bool, replaced: bool) -> Document {
        Document {
            id: Uuid::now_v7(),
            case_id: None,
            kind: kind.map(str::to_owned),
            original_name: "a.pdf".into(),
            content_type: "application/pdf".into(),
            size: 1,
            sha256: String::new(),
            object_key: String::new(),
            personal_data: false,
            uploaded_by: Uuid::nil(),
            uploaded_at: chrono::DateTime::UNIX_EPOCH,
            internal,
            replaced_by: replaced.then(Uuid::nil),
        }
    }

    #[test]
    fn each_document_of_the_service_is_missing_uploaded_or_replaced() {
        let specs = [
            spec("kepa", true),
            spec("residence", true),
            spec("licence", false),
            spec("other", true),
        ];
        let docs = [
            doc(Some("kepa"), false, false),
            doc(Some("residence"), false, true),
            doc(Some("residence"), false, false),
            // Staff's internal copy and an unlabelled file count for nothing.
            doc(Some("other"), true, false),
            doc(None, false, false),
        ];
        assert_eq!(
            checklist(&specs, &docs),
            [
                ("kepa".to_owned(), Held::Uploaded),
                ("residence".to_owned(), Held::Replaced),
                ("licence".to_owned(), Held::Missing),
                ("other".to_owned(), Held::Missing),
            ]
        );
        // Only an old version left (replaced, its successor gone): missing.
        assert_eq!(
            checklist(&specs[..1], &[doc(Some("kepa"), false, true)])[0].1,
            Held::Missing
        );
    }
}

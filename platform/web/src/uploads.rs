//! Files people send: the deployment's upload policy (size, type, virus
//! scan), a module's form with its documents, files kept across a form's
//! errors, and a checked upload stored on a case with its history and
//! audit entry in one transaction.

use crate::auth::{CurrentUser, check_csrf};
use crate::error::Result;
use crate::extract::CurrentTenant;
use crate::state::AppState;
use axum::extract::Multipart;
use dimos_db::TenantTx;
use dimos_identity::{AuditEntry, AuditLog};
use dimos_kernel::{Error, FieldError};
use dimos_storage::documents::{self, Document};
use dimos_workflow::{Actor, CaseId, NewCase, Started};
use serde_json::json;
use uuid::Uuid;

/// What a multipart upload carried besides the file.
pub struct Upload {
    pub kind: Option<String>,
    /// Staff only: kept out of the applicant's view.
    pub internal: bool,
    pub received: dimos_storage::Received,
    pub name: String,
}

/// This deployment's rules for uploads, and where they wait meanwhile.
pub fn upload_policy(state: &AppState) -> (dimos_storage::Policy, std::path::PathBuf) {
    let s = &state.config().storage;
    (
        dimos_storage::Policy {
            limit: s.max_upload_bytes,
            allow_office: s.allow_office,
            scan_command: Some(s.scan_command.clone()).filter(|c| !c.trim().is_empty()),
        },
        state.config().storage_dir().join("tmp"),
    )
}

/// A file a module received with its own form (an application with its
/// documents), stored on the case like any upload of the applicant's.
pub async fn attach(
    state: &AppState,
    tenant: &CurrentTenant,
    case: Uuid,
    kind: Option<String>,
    name: String,
    received: dimos_storage::Received,
    by: &Actor,
) -> std::result::Result<Document, Error> {
    let upload = Upload {
        kind,
        internal: false,
        received,
        name,
    };
    store(state, tenant, case, upload, by, None, |_| None).await
}

/// A module's file for a case, to be recorded in the module's own
/// transaction (with the change it documents, e.g. a crew's photo with the
/// stop it closes): the size is checked and the object written now;
/// [`record_in`] writes its row and history entry in the transaction.
/// Should that transaction not commit, the caller deletes the object
/// (`state.objects().delete(&doc.object_key)`); after a crash the orphan
/// sweep does.
pub async fn prepare(
    state: &AppState,
    tenant: &CurrentTenant,
    case: Uuid,
    kind: Option<String>,
    name: String,
    received: dimos_storage::Received,
    by: &Actor,
) -> std::result::Result<Document, Error> {
    let max_case = state.config().storage.max_case_bytes;
    if documents::case_bytes(&tenant.db, case).await? + received.size > max_case {
        return Err(dimos_storage::StorageError::TooLarge(max_case).into());
    }
    let id = Uuid::now_v7();
    let key = documents::new_key(&tenant.db, id);
    state.objects().put_file(&key, received.temp.path()).await?;
    Ok(Document {
        id,
        case_id: Some(case),
        kind,
        original_name: name,
        content_type: received.content_type.to_owned(),
        size: i64::try_from(received.size).unwrap_or(i64::MAX),
        sha256: received.sha256.clone(),
        object_key: key,
        personal_data: true,
        uploaded_by: by.account.unwrap_or_default(),
        uploaded_at: state.workflow().now(),
        internal: false,
        replaced_by: None,
    })
}

/// The row and history entry of a [`prepare`]d document, in the caller's
/// transaction.
pub async fn record_in(
    state: &AppState,
    tx: &mut TenantTx<'_>,
    tenant: &CurrentTenant,
    doc: &Document,
    by: &Actor,
) -> std::result::Result<(), Error> {
    let case = doc.case_id.ok_or(Error::NotFound)?;
    documents::insert_in(tx, &tenant.db, doc).await?;
    state
        .workflow()
        .record_event_tx(
            tx,
            &tenant.db,
            CaseId(case),
            "document-added",
            by,
            !doc.internal,
            json!({"document": doc.id, "name": doc.original_name, "kind": doc.kind}),
        )
        .await?;
    Ok(())
}

/// A module's form sent with its documents: text fields, and files in
/// inputs named `doc-<kind>`. The CSRF token must come first (our forms
/// put it there): nothing is stored for a request that has not shown it.
pub struct FormWithDocuments {
    /// Text fields in order (repeated names repeat).
    pub fields: Vec<(String, String)>,
    /// (kind, file name, the received file) for each file chosen.
    pub files: Vec<(String, String, dimos_storage::Received)>,
    /// A file refused (too large, wrong type), on its input.
    pub errors: Vec<FieldError>,
}

/// A file of a form that came back with errors, stored so that the person
/// need not choose it again: given to the case when the form is sent
/// ([`file_case`]), swept a day later otherwise.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Kept {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
}

impl FormWithDocuments {
    /// The files kept from earlier tries (`kept-<kind>` fields), those
    /// that are still this person's and unclaimed.
    pub async fn kept(
        &self,
        tenant: &CurrentTenant,
        by: &Actor,
    ) -> std::result::Result<Vec<Kept>, Error> {
        let mut out = vec![];
        for (name, value) in &self.fields {
            let (Some(kind), Ok(id)) = (name.strip_prefix("kept-"), value.parse::<Uuid>()) else {
                continue;
            };
            let Some(owner) = by.account else {
                continue;
            };
            if out.iter().any(|k: &Kept| k.id == id) {
                // Named twice: one file.
                continue;
            }
            if let Some(d) = documents::kept_of(&tenant.db, id, owner).await?
                && d.kind.as_deref() == Some(kind)
            {
                out.push(Kept {
                    id,
                    kind: kind.to_owned(),
                    name: d.original_name,
                });
            }
        }
        Ok(out)
    }

    /// Stores the files received now as kept ones, with the earlier kept
    /// ones of other kinds: what the form shows again.
    pub async fn keep_files(
        self,
        state: &AppState,
        tenant: &CurrentTenant,
        by: &Actor,
        earlier: Vec<Kept>,
    ) -> std::result::Result<Vec<Kept>, Error> {
        let mut out: Vec<Kept> = vec![];
        for (kind, name, received) in self.files {
            let id = Uuid::now_v7();
            let key = documents::new_key(&tenant.db, id);
            state.objects().put_file(&key, received.temp.path()).await?;
            let doc = Document {
                id,
                case_id: None,
                kind: Some(kind.clone()),
                original_name: name.clone(),
                content_type: received.content_type.to_owned(),
                size: i64::try_from(received.size).unwrap_or(i64::MAX),
                sha256: received.sha256.clone(),
                object_key: key.clone(),
                personal_data: true,
                uploaded_by: by.account.unwrap_or_default(),
                uploaded_at: state.workflow().now(),
                internal: false,
                replaced_by: None,
            };
            if let Err(e) = documents::insert(&tenant.db, &doc).await {
                let _ = state.objects().delete(&key).await;
                return Err(e.into());
            }
            out.push(Kept { id, kind, name });
        }
        for k in earlier {
            if !out.iter().any(|o| o.kind == k.kind) {
                out.push(k);
            }
        }
        Ok(out)
    }

    /// The form's idempotency key (`_submission`), if it carries one.
    pub fn submission_key(&self) -> Option<Uuid> {
        self.get("_submission")
            .and_then(|k| Uuid::parse_str(k).ok())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a form with documents; only `kinds` are accepted (an input left
/// empty, or of another kind, is skipped).
pub async fn receive_form(
    state: &AppState,
    user: &CurrentUser,
    mut form: Multipart,
    kinds: &[&str],
) -> Result<FormWithDocuments> {
    let (policy, tmp) = upload_policy(state);
    let bad = |e: axum::extract::multipart::MultipartError| Error::BadRequest(e.body_text());
    let mut csrf_ok = false;
    let mut out = FormWithDocuments {
        fields: vec![],
        files: vec![],
        errors: vec![],
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "_csrf" {
            check_csrf(user, &field.text().await.map_err(bad)?)?;
            csrf_ok = true;
            continue;
        }
        if let Some(kind) = name.strip_prefix("doc-") {
            if !csrf_ok {
                return Err(Error::Forbidden.into());
            }
            let file_name: String = field.file_name().unwrap_or("").chars().take(200).collect();
            if file_name.is_empty() || !kinds.contains(&kind) {
                continue;
            }
            let kind = kind.to_owned();
            match dimos_storage::receive(&tmp, Box::pin(field), &policy).await {
                Ok(r) => out.files.push((kind, file_name, r)),
                Err(e) => match Error::from(e) {
                    Error::Validation(errs) => out.errors.extend(errs.into_iter().map(|mut e| {
                        e.field = name.clone();
                        e
                    })),
                    other => return Err(other.into()),
                },
            }
            continue;
        }
        let value = field.text().await.map_err(bad)?;
        out.fields.push((name, value));
    }
    if !csrf_ok {
        return Err(Error::Forbidden.into());
    }
    Ok(out)
}

pub async fn read_upload(
    state: &AppState,
    user: &CurrentUser,
    mut form: Multipart,
) -> std::result::Result<Upload, Error> {
    let (policy, tmp) = upload_policy(state);
    let mut csrf_ok = false;
    let mut kind = None;
    let mut internal = false;
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
            "internal" => {
                let v = field
                    .text()
                    .await
                    .map_err(|e| Error::BadRequest(e.body_text()))?;
                internal = v == "on";
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
        internal,
        received,
        name,
    })
}

/// Stores a checked upload for a case (as the new version of `replaces`,
/// if given) and records it in the case history.
pub async fn store(
    state: &AppState,
    tenant: &CurrentTenant,
    case: Uuid,
    upload: Upload,
    by: &Actor,
    replaces: Option<&Document>,
    audit: impl FnOnce(&Document) -> Option<AuditEntry>,
) -> std::result::Result<Document, Error> {
    let kind = match replaces {
        Some(old) => old.kind.clone(),
        None => upload.kind,
    };
    let mut doc = prepare(state, tenant, case, kind, upload.name, upload.received, by).await?;
    doc.internal = upload.internal;
    let key = doc.object_key.clone();
    // The row, the case event and the audit entry: one transaction. The
    // object is already stored; without its row it is removed again.
    let saved = save_row(state, tenant, case, &doc, by, replaces, audit(&doc)).await;
    if !matches!(saved, Ok(true)) {
        // No row, no object: do not leave an orphan behind.
        let _ = state.objects().delete(&key).await;
        return Err(match saved {
            Err(e) => e,
            _ => Error::Conflict("document-replaced"),
        });
    }
    Ok(doc)
}

/// The document's row (replacing `replaces`), its case event and audit
/// entry, committed together. False when `replaces` was replaced meanwhile.
pub async fn save_row(
    state: &AppState,
    tenant: &CurrentTenant,
    case: Uuid,
    doc: &Document,
    by: &Actor,
    replaces: Option<&Document>,
    audit: Option<AuditEntry>,
) -> std::result::Result<bool, Error> {
    let mut tx = tenant.db.begin().await?;
    match replaces {
        Some(old) => {
            if !documents::replace_in(&mut tx, &tenant.db, old.id, doc).await? {
                return Ok(false);
            }
            state
                .workflow()
                .record_event_tx(
                    &mut tx,
                    &tenant.db,
                    CaseId(case),
                    "document-replaced",
                    by,
                    !doc.internal,
                    json!({"document": doc.id, "replaces": old.id, "name": old.original_name, "new_name": doc.original_name}),
                )
                .await?;
        }
        None => record_in(state, &mut tx, tenant, doc, by).await?,
    }
    if let Some(entry) = audit {
        AuditLog::append_in(&mut tx, &tenant.db, &entry).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// A case to file with the documents of its form ([`file_case`]).
pub struct Submission {
    /// The case; its `attachments` is set here (the files sent and kept).
    pub new: NewCase,
    /// The form's idempotency key: a retry with it gets the same case.
    pub key: Option<Uuid>,
    /// The form's files, as [`receive_form`] read them.
    pub files: Vec<(String, String, dimos_storage::Received)>,
    /// Files kept from earlier tries of the form (kinds not sent again).
    pub kept: Vec<Kept>,
    /// The mobile typed in the form: messages about the case go there,
    /// unless the applicant chose another.
    pub mobile: Option<String>,
}

/// What [`file_case`] did.
pub enum Filed {
    /// Written, not yet committed: the module adds its own rows through
    /// [`Pending::tx`], then [`Pending::commit`].
    New(Pending),
    /// An earlier submission with the same key started this case; nothing
    /// was written now.
    Earlier(Started),
}

/// A filed case whose transaction is still open.
pub struct Pending {
    tx: TenantTx<'static>,
    pub started: Started,
    objects: Vec<String>,
    state: AppState,
}

impl Pending {
    pub fn tx(&mut self) -> &mut TenantTx<'static> {
        &mut self.tx
    }

    /// Commits the case with everything written with it. If the commit
    /// fails the stored objects are removed (after a crash, the orphan
    /// sweep removes them).
    pub async fn commit(self) -> std::result::Result<Started, Error> {
        match self.tx.commit().await {
            Ok(()) => Ok(self.started),
            Err(e) => {
                remove_objects(&self.state, &self.objects).await;
                Err(e.into())
            }
        }
    }

    /// Gives up: nothing of the case is kept.
    pub async fn abandon(self) {
        drop(self.tx);
        remove_objects(&self.state, &self.objects).await;
    }
}

async fn remove_objects(state: &AppState, keys: &[String]) {
    for key in keys {
        if let Err(e) = state.objects().delete(key).await {
            tracing::warn!(error = %e, key, "object of an uncommitted case left for the orphan sweep");
        }
    }
}

/// Files a case with its documents as one action, so that it exists whole
/// or not at all: the files are stored first (for the case's id, chosen
/// beforehand), then one transaction writes the case, each document's row
/// and history entry, the files kept from earlier tries, the mobile for
/// messages, and last the protocol number. Nothing needs a second
/// connection. If anything fails, nothing is left: the transaction rolls
/// back and the stored objects are removed. A repeated `key` returns the
/// earlier case and stores nothing new.
pub async fn file_case(
    state: &AppState,
    tenant: &CurrentTenant,
    by: &Actor,
    s: Submission,
) -> std::result::Result<Filed, Error> {
    let engine = state.workflow();
    let tdb = &tenant.db;
    let mut new = s.new;
    new.attachments = u32::try_from(s.files.len() + s.kept.len()).unwrap_or(u32::MAX);
    let mut filing = engine.prepare(tdb, new).await?;
    let case = filing.case_id.0;
    let owner = by.account.unwrap_or_default();
    let total: u64 = s.files.iter().map(|(_, _, r)| r.size).sum();
    let max_case = state.config().storage.max_case_bytes;
    if total > max_case {
        return Err(dimos_storage::StorageError::TooLarge(max_case).into());
    }
    // The objects first: a store that is down refuses the submission
    // before anything is written.
    let mut docs = vec![];
    let mut objects = vec![];
    for (kind, name, received) in s.files {
        let id = Uuid::now_v7();
        let key = documents::new_key(tdb, id);
        if let Err(e) = state.objects().put_file(&key, received.temp.path()).await {
            remove_objects(state, &objects).await;
            return Err(e.into());
        }
        objects.push(key.clone());
        docs.push(Document {
            id,
            case_id: Some(case),
            kind: Some(kind),
            original_name: name,
            content_type: received.content_type.to_owned(),
            size: i64::try_from(received.size).unwrap_or(i64::MAX),
            sha256: received.sha256.clone(),
            object_key: key,
            personal_data: true,
            uploaded_by: owner,
            uploaded_at: filing.now(),
            internal: false,
            replaced_by: None,
        });
    }
    let written = async {
        let mut tx = tdb.begin().await?;
        if let Some(earlier) = engine.open(&mut tx, tdb, &mut filing, s.key).await? {
            return Ok(Filed::Earlier(earlier));
        }
        // Each document in the case file, with its entry in the history:
        // the ones sent now, and those kept from earlier tries for the
        // kinds not sent again.
        let mut added = vec![];
        for doc in &docs {
            documents::insert_in(&mut tx, tdb, doc).await?;
            added.push(json!({"document": doc.id, "name": doc.original_name, "kind": doc.kind}));
        }
        let sent_again = |k: &Kept| docs.iter().any(|d| d.kind.as_deref() == Some(&k.kind));
        for k in s.kept.iter().filter(|k| !sent_again(k)) {
            if documents::adopt_in(&mut tx, k.id, owner, &k.kind, case).await? {
                added.push(json!({"document": k.id, "name": k.name, "kind": k.kind}));
            }
        }
        for payload in added {
            engine
                .record_filing_event(&mut tx, tdb, &filing, "document-added", by, payload)
                .await?;
        }
        if let Some(m) = &s.mobile {
            crate::contact::remember_mobile(&mut tx, tdb, filing.applicant(), m).await?;
        }
        let started = engine.register(&mut tx, tdb, filing).await?;
        Ok::<_, Error>(Filed::New(Pending {
            tx,
            started,
            objects: objects.clone(),
            state: state.clone(),
        }))
    }
    .await;
    match written {
        Ok(Filed::New(p)) => Ok(Filed::New(p)),
        other => {
            // An earlier submission, or a failure: the objects stored now
            // belong to no case.
            remove_objects(state, &objects).await;
            other
        }
    }
}

/// Files a case with its documents and commits it ([`file_case`] for a
/// module with no rows of its own).
pub async fn file_and_commit(
    state: &AppState,
    tenant: &CurrentTenant,
    by: &Actor,
    s: Submission,
) -> std::result::Result<Started, Error> {
    match file_case(state, tenant, by, s).await? {
        Filed::New(p) => p.commit().await,
        Filed::Earlier(started) => Ok(started),
    }
}

/// Streams a stored document as a download, or, where the deployment
/// allows it, redirects to a short-lived pre-signed URL of the object
/// store (the authorization and the audit have happened by then).
pub async fn send(state: &AppState, doc: &Document) -> Result<axum::response::Response> {
    use axum::body::Body;
    use axum::http::{HeaderValue, header};
    use axum::response::{IntoResponse, Redirect};
    let name = dimos_storage::download_name(&doc.original_name, &doc.content_type);
    let presign = state.config().storage.s3_presign_seconds;
    if presign > 0 {
        let url = state
            .objects()
            .presign_get(
                &doc.object_key,
                &name,
                &doc.content_type,
                std::time::Duration::from_secs(presign),
            )
            .await
            .map_err(Error::from)?;
        if let Some(url) = url {
            let mut res = Redirect::to(&url).into_response();
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            return Ok(res);
        }
    }
    let reader = state
        .objects()
        .get(&doc.object_key)
        .await
        .map_err(Error::from)?;
    let mut res = Body::from_stream(dimos_storage::verified_stream(reader, doc.sha256.clone()))
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&doc.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&dimos_storage::attachment_header(&name)) {
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

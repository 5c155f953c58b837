//! Documents a municipality issues: a PDF stored, signed by the member of
//! staff who issues it, and put in the case file (its row, its signature
//! and the case event) in the caller's transaction.
//!
//! A module either calls [`store_and_sign`] then [`save`] from its own page
//! (parking's permit), or names an [`IssuedDocument`] in its descriptor and
//! lets a task outcome issue it (`issues = "<module>.<name>"`): the
//! platform's task page then renders, signs and files it as the task
//! completes, all or nothing.

use crate::extract::CurrentTenant;
use crate::state::AppState;
use dimos_db::TenantTx;
use dimos_kernel::Error;
use dimos_signing::service::SignatureRecord;
use dimos_storage::documents::{self, Document};
use dimos_workflow::{Actor, CaseId};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A document a module issues at a task's outcome.
#[derive(Debug, Clone, Copy)]
pub struct IssuedDocument {
    /// `<module>.<name>`, as an outcome's `issues` names it.
    pub id: &'static str,
    /// Pure: the document from the case (no I/O, so it is tested alone).
    pub render: fn(&IssueInput<'_>) -> Result<Issued, Error>,
}

/// What a document is made from.
#[derive(Debug)]
pub struct IssueInput<'a> {
    /// The municipality's name, in Greek (the language of the administration).
    pub municipality: &'a str,
    pub applicant_name: &'a str,
    /// `book/year/number` once registered.
    pub protocol: Option<String>,
    /// The case's data with the issuing task's form on top.
    pub data: &'a Map<String, Value>,
    /// The module's settings for this municipality.
    pub settings: &'a Value,
    pub signer_name: &'a str,
    pub issued_on: chrono::NaiveDate,
    /// The code the signature is verified by, and where.
    pub reference: &'a str,
    pub verify_url: &'a str,
}

impl IssueInput<'_> {
    /// A data field as text (empty when absent).
    pub fn text(&self, field: &str) -> String {
        match self.data.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }

    /// A setting as text (empty when absent).
    pub fn setting(&self, name: &str) -> String {
        match self.settings.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }
}

/// A rendered document: its bytes and the name the citizen downloads it as.
#[derive(Debug)]
pub struct Issued {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A document stored as an object and signed, not yet in the case file:
/// [`save`] puts it there in the caller's transaction.
#[derive(Debug)]
pub struct Signed {
    pub document: Document,
    pub signature: SignatureRecord,
}

/// A new verification code, to print on the document before it is signed
/// under it.
pub fn new_reference() -> String {
    dimos_signing::service::new_reference()
}

/// Where anyone checks a document of this municipality by its code.
pub fn verify_url(state: &AppState, t: &CurrentTenant, reference: &str) -> String {
    let host = t.tenant.canonical_host(state.registry().base_domain());
    format!("{}/verify/{reference}", state.config().public_origin(&host))
}

/// Signs the PDF as `signer` under `reference` and stores it (the slow
/// work, before any transaction begins). On error nothing is left behind.
pub async fn store_and_sign(
    state: &AppState,
    t: &CurrentTenant,
    case: CaseId,
    kind: &str,
    doc: Issued,
    signer: &Actor,
    reference: String,
) -> Result<Signed, Error> {
    store_signed(state, t, Some(case.0), kind, doc, signer, reference).await
}

/// The same for a document that belongs to a module's own record, not to
/// a case (an outgoing letter of `edms`): the module files its row with
/// `documents::hold_in` and its signature with `record_signature`.
pub async fn store_and_sign_held(
    state: &AppState,
    t: &CurrentTenant,
    kind: &str,
    doc: Issued,
    signer: &Actor,
    reference: String,
) -> Result<Signed, Error> {
    store_signed(state, t, None, kind, doc, signer, reference).await
}

async fn store_signed(
    state: &AppState,
    t: &CurrentTenant,
    case: Option<Uuid>,
    kind: &str,
    doc: Issued,
    signer: &Actor,
    reference: String,
) -> Result<Signed, Error> {
    let account = signer
        .account
        .ok_or_else(|| Error::internal("a document signed by nobody"))?;
    let size = i64::try_from(doc.bytes.len()).map_err(Error::internal)?;
    let id = Uuid::now_v7();
    let key = documents::new_key(&t.db, id);
    let document = Document {
        id,
        case_id: case,
        kind: Some(kind.to_owned()),
        original_name: doc.file_name,
        content_type: "application/pdf".into(),
        size,
        sha256: hex::encode(Sha256::digest(&doc.bytes)),
        object_key: key.clone(),
        personal_data: true,
        uploaded_by: account,
        uploaded_at: state.workflow().now(),
        internal: false,
        replaced_by: None,
    };
    // The signature first (it writes nothing), then the object: a refusal
    // to sign leaves nothing to clean up.
    let signature = state
        .signing()
        .sign_under(
            &t.db,
            reference,
            document.id,
            case,
            account,
            &signer.name,
            &document.sha256,
        )
        .await?;
    let tmp = state.config().storage_dir().join("tmp");
    tokio::fs::create_dir_all(&tmp)
        .await
        .map_err(Error::internal)?;
    let path = tmp.join(format!("issued-{}", id.simple()));
    tokio::fs::write(&path, &doc.bytes)
        .await
        .map_err(Error::internal)?;
    let stored = state.objects().put_file(&key, &path).await;
    let _ = tokio::fs::remove_file(&path).await;
    stored?;
    Ok(Signed {
        document,
        signature,
    })
}

/// Puts the signed document in the case file, in the caller's
/// transaction: its row, its signature and the case event.
pub async fn save(
    state: &AppState,
    tx: &mut TenantTx<'_>,
    t: &CurrentTenant,
    s: &Signed,
    signer: &Actor,
) -> Result<(), Error> {
    let doc = &s.document;
    documents::insert_in(tx, &t.db, doc).await?;
    state
        .signing()
        .record_signature(tx, &t.db, &s.signature)
        .await?;
    let case = doc
        .case_id
        .ok_or_else(|| Error::internal("an issued document without its case"))?;
    state
        .workflow()
        .record_event_tx(
            tx,
            &t.db,
            CaseId(case),
            "document-signed",
            signer,
            true,
            json!({"document": doc.id, "name": doc.original_name, "reference": s.signature.reference}),
        )
        .await
}

/// Removes a stored document whose row did not commit.
pub async fn discard(state: &AppState, s: &Signed) {
    let _ = state.objects().delete(&s.document.object_key).await;
}

//! The permit document: a PDF the issuing employee signs through the
//! platform's signing service, kept in the case file (the applicant sees
//! it, with its signature and verification code).

use crate::register::Permit;
use dimos_db::TenantTx;
use dimos_kernel::{Error, Locale};
use dimos_signing::service::SignatureRecord;
use dimos_storage::documents::{self, Document};
use dimos_web::{AppState, CurrentTenant};
use dimos_workflow::{Actor, CaseId};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The permit's text, in Greek (the language of the administration).
pub fn render(
    municipality: &str,
    p: &Permit,
    decision_date: &str,
    ada: &str,
) -> Result<Vec<u8>, Error> {
    let mut d = dimos_pdf::Document::new(
        &format!("Άδεια στάθμευσης ΑμεΑ {}", p.card_number),
        municipality,
    );
    d.title(municipality)
        .heading("Άδεια θέσης στάθμευσης για άτομο με αναπηρία")
        .paragraph(&format!(
            "Σύμφωνα με την απόφαση {} του δημοτικού συμβουλίου{}, παραχωρείται θέση στάθμευσης για άτομο με αναπηρία (ν. 1798/1988 άρθρο 16, ν. 1882/1990 άρθρο 23).",
            p.decision,
            if decision_date.is_empty() { String::new() } else { format!(" ({})", dimos_kernel::clock::display_date(decision_date)) }
        ))
        .space()
        .field("Αριθμός κάρτας", &p.card_number)
        .field("Δικαιούχος", &p.holder_name)
        .field("Θέση στάθμευσης", &p.location)
        .field("Αριθμός κυκλοφορίας", &p.plate)
        .field("Απόφαση", &p.decision);
    if !ada.is_empty() {
        d.field("ΑΔΑ (Διαύγεια)", ada);
    }
    d.field("Ημερομηνία έκδοσης", &p.issued_at.date_naive().format("%d/%m/%Y").to_string())
        .field("Ισχύει έως", &p.valid_until.format("%d/%m/%Y").to_string())
        .space()
        .paragraph("Η κάρτα τοποθετείται σε εμφανές σημείο του οχήματος. Η άδεια ανακαλείται αν εκλείψουν οι προϋποθέσεις χορήγησής της.")
        .space()
        .small("Το έγγραφο φέρει ψηφιακή υπογραφή. Ο κωδικός επαλήθευσης εμφανίζεται στη σελίδα της αίτησης· η υπογραφή ελέγχεται στη διεύθυνση /verify του δήμου.");
    d.render().map_err(Error::internal)
}

/// The permit PDF stored as an object and signed as `signer`, not yet in
/// the case file: [`save`] puts it there in the caller's transaction.
pub struct Signed {
    pub document: Document,
    pub signature: SignatureRecord,
}

/// Stores the permit PDF and signs it as `signer` (the slow work, before
/// any transaction begins). On error nothing is left behind.
pub async fn store_and_sign(
    state: &AppState,
    t: &CurrentTenant,
    p: &Permit,
    bytes: Vec<u8>,
    signer: &Actor,
) -> Result<Signed, Error> {
    let id = Uuid::now_v7();
    let key = documents::new_key(&t.db, id);
    let tmp = state.config().storage_dir().join("tmp");
    tokio::fs::create_dir_all(&tmp)
        .await
        .map_err(Error::internal)?;
    let path = tmp.join(format!("permit-{}", id.simple()));
    tokio::fs::write(&path, &bytes)
        .await
        .map_err(Error::internal)?;
    let stored = state.objects().put_file(&key, &path).await;
    let _ = tokio::fs::remove_file(&path).await;
    stored?;
    let document = Document {
        id,
        case_id: Some(p.case_id),
        kind: Some("permit".into()),
        original_name: format!("Άδεια στάθμευσης {}.pdf", p.card_number.replace('/', "-")),
        content_type: "application/pdf".into(),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        sha256: hex::encode(Sha256::digest(&bytes)),
        object_key: key.clone(),
        personal_data: true,
        uploaded_by: signer.account.unwrap_or_default(),
        uploaded_at: state.workflow().now(),
        internal: false,
        replaced_by: None,
    };
    let signed = state
        .signing()
        .sign(
            &t.db,
            document.id,
            Some(p.case_id),
            signer.account.unwrap_or_default(),
            &signer.name,
            &document.sha256,
        )
        .await;
    match signed {
        Ok(signature) => Ok(Signed {
            document,
            signature,
        }),
        Err(e) => {
            let _ = state.objects().delete(&key).await;
            Err(e.into())
        }
    }
}

/// Puts the signed permit in the case file, in the caller's transaction:
/// its row, its signature and the case event.
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
    state
        .workflow()
        .record_event_tx(
            tx,
            &t.db,
            CaseId(doc.case_id.ok_or_else(|| Error::internal("a permit without its case"))?),
            "document-signed",
            signer,
            true,
            json!({"document": doc.id, "name": doc.original_name, "reference": s.signature.reference}),
        )
        .await
}

/// The municipality's name for documents.
pub fn municipality(t: &CurrentTenant) -> String {
    t.tenant.name(Locale::El).to_owned()
}

//! The permit document: a PDF the issuing employee signs through the
//! platform's signing service (`dimos_web::issue`), kept in the case file
//! (the applicant sees it, with its signature and verification code).

use crate::register::Permit;
use dimos_kernel::{Error, Locale};
use dimos_web::CurrentTenant;

/// The permit's text, in Greek (the language of the administration).
pub fn render(
    municipality: &str,
    p: &Permit,
    decision_date: &str,
    ada: &str,
    (reference, verify_url): (&str, &str),
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
        .field("Κωδικός επαλήθευσης", reference)
        .small(&format!("Το έγγραφο φέρει ψηφιακή υπογραφή· ελέγχεται με τον κωδικό επαλήθευσης στη διεύθυνση {verify_url}"))
        .subject(verify_url);
    d.render().map_err(Error::internal)
}

/// The municipality's name for documents.
pub fn municipality(t: &CurrentTenant) -> String {
    t.tenant.name(Locale::El).to_owned()
}

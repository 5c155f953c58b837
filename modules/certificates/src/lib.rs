//! Certificates of family status and of permanent residence. The citizen
//! applies on the kit's application page (the process's `apply` form); on
//! the platform's task page the clerk's outcome `issued` renders the PDF
//! below, signs it and files it in the case, in one transaction. The rest
//! comes from the folder: `workflows/`, `templates/`, `locales/`.

use axum::Router;
use dimos_kernel::{Error, FieldError};
use dimos_web::issue::{IssueInput, Issued, IssuedDocument};
use dimos_web::module::ConfigSchema;
use dimos_web::{ModuleConfig, ModuleDescriptor};
use serde::{Deserialize, Serialize};

pub const PROCESS: &str = "certificates.request";

/// What each municipality sets (the generated settings page).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Who signs, as printed under the certificate.
    pub signatory_title: String,
    /// Printed at the foot (validity, use).
    pub footer: String,
    /// Print what the citizen said the certificate is for.
    pub show_purpose: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            signatory_title: "Ο/Η Υπάλληλος του Δημοτολογίου".into(),
            footer: "Ισχύει για έξι (6) μήνες από την έκδοσή του.".into(),
            show_purpose: true,
        }
    }
}

impl ModuleConfig for Settings {
    fn check(&self) -> Vec<FieldError> {
        [
            ("signatory_title", &self.signatory_title, 120),
            ("footer", &self.footer, 500),
        ]
        .into_iter()
        .filter(|(_, v, max)| v.trim().is_empty() || v.chars().count() > *max)
        .map(|(f, v, max)| match v.trim().is_empty() {
            true => FieldError::new(f, "required"),
            false => FieldError::new(f, "too-long").with_detail(max.to_string()),
        })
        .collect()
    }
}

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        routes,
        config: ConfigSchema::of::<Settings>(),
        documents: &[IssuedDocument {
            id: "certificates.certificate",
            render,
        }],
        ..dimos_web::module_files!()
    }
}

fn routes() -> Router<dimos_web::AppState> {
    Router::new()
        .route("/", dimos_web::ui::page("certificates/index.html"))
        .route("/apply", dimos_web::apply::routes(PROCESS))
}

/// The certificate, in Greek (the language of the administration).
pub fn render(i: &IssueInput<'_>) -> std::result::Result<Issued, Error> {
    let residence = i.text("kind") == "residence";
    let title = if residence {
        "Βεβαίωση μόνιμης κατοικίας"
    } else {
        "Πιστοποιητικό οικογενειακής κατάστασης"
    };
    let mut d = dimos_pdf::Document::new(title, i.municipality);
    d.title(i.municipality).heading(title);
    if let Some(p) = &i.protocol {
        d.field("Αριθμός πρωτοκόλλου", p);
    }
    d.field("Ονοματεπώνυμο", i.applicant_name)
        .field("Πατρώνυμο", &i.text("father_name"))
        .field("Ημερομηνία γέννησης", &dimos_kernel::clock::display_date(&i.text("birth_date")))
        .field("Δημοτολόγιο / μερίδα", &i.text("registry_entry"))
        .space()
        .paragraph(if residence {
            "Βεβαιώνεται ότι ο/η ανωτέρω κατοικεί μόνιμα στη διεύθυνση:"
        } else {
            "Βεβαιώνεται ότι στην οικογενειακή μερίδα του/της ανωτέρω είναι εγγεγραμμένα τα εξής μέλη:"
        });
    for line in i.text("certified").lines().filter(|l| !l.trim().is_empty()) {
        d.paragraph(line.trim());
    }
    d.space();
    if i.setting("show_purpose") != "false" {
        d.field("Χορηγείται για", &i.text("purpose"));
    }
    d.field(
        "Ημερομηνία έκδοσης",
        &i.issued_on.format("%d/%m/%Y").to_string(),
    )
    .field(&i.setting("signatory_title"), i.signer_name)
    .field("Κωδικός επαλήθευσης", i.reference)
    .space()
    .small(&i.setting("footer"))
    .small(&format!(
        "Φέρει ψηφιακή υπογραφή· ελέγχεται στη διεύθυνση {}",
        i.verify_url
    ))
    .subject(i.verify_url);
    Ok(Issued {
        file_name: format!("{title}.pdf"),
        bytes: d.render().map_err(Error::internal)?,
    })
}

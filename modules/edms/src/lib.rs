//! Electronic document management (ΗΔΕ, domain rules §2): the protocol
//! office registers an incoming document (its files, sender, subject,
//! flags) and gets the protocol book's number, routes it to a department;
//! the head charges it to an employee with instructions and a deadline;
//! the employee processes it (notes, files) and closes it or returns it.
//! Everyone sees where each document is and since when; lists and the
//! full-text search show only what the person may see, confidential
//! documents only with clearance. See README.md.

pub mod access;
pub mod actions;
pub mod config;
pub mod exchange;
pub mod outgoing;
pub mod register;
pub mod retention;
pub mod settings_page;
pub mod store;
pub mod text;
pub mod web;

use axum::Router;
use axum::routing::{get, post};
use dimos_db::migrate::TenantTable;
use dimos_web::module::{ConfigSchema, StaffPage};
use dimos_web::{AppState, ModuleDescriptor};

pub use config::EdmsConfig;

pub const ID: &str = "edms";

/// The platform's documents rows that hold this module's files say so.
pub const HOLDER: &str = "edms_records";

dimos_web::permissions! {
    /// Register incoming documents in the protocol book and route them
    /// (the protocol office); sees every document but confidential ones.
    Register = "edms.register", label "edms-permission-register",
        granted to ["protocol-officer"];
    /// Work on documents: those of one's departments and those charged to
    /// one; "My documents".
    Work = "edms.work", label "edms-permission-work",
        granted to ["protocol-officer", "technical-employee", "department-head",
            "council-secretary", "mayor", "nursery-manager", "cleaning-supervisor",
            "kep-officer"];
    /// Charge a department's documents to its members, forward them to
    /// another department, close them (heads of department).
    Charge = "edms.charge", label "edms-permission-charge",
        granted to ["department-head", "mayor"];
    /// Approve outgoing documents in an approval chain (heads, the mayor);
    /// the last approver signs (`documents.sign`).
    Approve = "edms.approve", label "edms-permission-approve",
        granted to ["department-head", "mayor"];
    /// Read every document of the municipality (confidential ones need
    /// clearance too).
    ReadAll = "edms.read_all", label "edms-permission-read-all",
        granted to ["mayor"];
    /// Place and lift legal holds, which stop a document's disposal (the
    /// protocol office, keeper of the records; the mayor).
    Hold = "edms.hold", label "edms-permission-hold",
        granted to ["mayor", "protocol-officer"];
    /// Clearance for confidential documents.
    Clearance = "edms.confidential", label "edms-permission-confidential",
        granted to ["mayor", "protocol-officer"];
}

/// The tenant-owned tables this module's migrations create. Documents
/// name people who are not users (senders), so their rows are about
/// nobody the platform can link.
const TENANT_TABLES: &[TenantTable] = &[
    TenantTable::personal("edms_records").about_unlinked(),
    TenantTable::personal("edms_movements").about_unlinked(),
    TenantTable::personal("edms_files").about_unlinked(),
    TenantTable::personal("edms_outgoing").about_unlinked(),
    TenantTable::personal("edms_exchange").about_unlinked(),
];

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        routes,
        tenant_tables: TENANT_TABLES,
        permissions: PERMISSIONS,
        default_grants: DEFAULT_GRANTS,
        config: ConfigSchema::of::<EdmsConfig>(),
        settings_page: dimos_web::module::SettingsPage::Own("/edms/settings"),
        // Staff only: no card in the citizens' catalogue.
        navigation: &[],
        staff_pages: &[
            StaffPage {
                path: "/edms",
                label_key: "edms-mine-title",
                permission: "edms.work",
            },
            StaffPage {
                path: "/edms/register",
                label_key: "edms-register-title",
                permission: "edms.register",
            },
            StaffPage {
                path: "/edms/drafts/new",
                label_key: "edms-draft-title",
                permission: "edms.work",
            },
            StaffPage {
                path: "/edms/search",
                label_key: "edms-search-title",
                permission: "edms.work",
            },
        ],
        sweeps: &[retention::SWEEP, exchange::SWEEP],
        ..dimos_web::module_files!()
    }
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(web::mine))
        .route("/search", get(web::search))
        .route("/register", get(register::form).post(register::submit))
        .route("/records/{id}", get(web::record))
        .route("/records/{id}/receipt", get(web::receipt))
        .route("/records/{id}/files/{doc}", get(web::download))
        .route("/records/{id}/route", post(actions::route))
        .route("/records/{id}/charge", post(actions::charge))
        .route("/records/{id}/note", post(actions::note))
        .route("/records/{id}/return", post(actions::give_back))
        .route("/records/{id}/close", post(actions::close))
        .route("/records/{id}/files", post(actions::add_file))
        .route("/records/{id}/hold", post(actions::hold))
        .route("/records/{id}/archive", get(web::archive_package))
        .route(
            "/settings",
            get(settings_page::page).post(settings_page::save),
        )
        .route("/drafts/new", get(outgoing::new_form))
        .route("/drafts", post(outgoing::create))
        .route("/records/{id}/draft", post(outgoing::edit))
        .route("/records/{id}/submit", post(outgoing::submit))
        .route("/records/{id}/send-back", post(outgoing::send_back))
        .route("/records/{id}/approve", post(outgoing::approve))
        .route("/records/{id}/dispatch", post(outgoing::dispatch))
        .route("/records/{id}/publish", post(outgoing::publish))
        .route("/records/{id}/resend", post(outgoing::resend))
}

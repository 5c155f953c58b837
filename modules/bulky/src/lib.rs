//! Bulky waste pickups (domain rules §4): a citizen asks for a pickup of
//! items at an address, the cleaning department collects by area on its
//! collection days within each day's capacity, crews work a day's route
//! and close each pickup; Open311 GeoReport v2 clients file and follow
//! requests through the same path. The rules are pure functions
//! (`schedule`, `route`, `streets`); the rest reads and writes through the
//! tenant-scoped tables of `store`. See README.md.

pub mod config;
pub mod filing;
pub mod geo;
pub mod open311;
pub mod route;
pub mod schedule;
pub mod settings_page;
pub mod staff;
pub mod store;
pub mod streets;
pub mod web;

use axum::Router;
use axum::routing::{get, post};
use dimos_db::migrate::{TenantTable, account, row_of};
use dimos_web::module::{ConfigSchema, SettingsPage, StaffPage};
use dimos_web::{AppState, CurrentTenant, ModuleDescriptor};
use std::sync::Arc;

pub use config::BulkyConfig;

pub const ID: &str = "bulky";
pub const PROCESS: &str = "bulky.pickup";

dimos_web::permissions! {
    /// Plan the collection days: see each day's requests per area, print
    /// the route lists, move requests between days, import the street list.
    Schedule = "bulky.schedule", label "bulky-permission-schedule",
        granted to ["cleaning-supervisor", "municipal-admin"];
    /// Work a day's route: mark each pickup collected, not found or refused.
    Collect = "bulky.collect", label "bulky-permission-collect",
        granted to ["cleaning-crew", "cleaning-supervisor"];
    /// File and read pickup requests through Open311 (for API clients).
    Open311 = "bulky.open311", label "bulky-permission-open311",
        granted to ["municipal-admin"];
}

/// The tenant-owned tables this module's migrations create.
const TENANT_TABLES: &[TenantTable] = &[
    TenantTable::municipal("bulky_streets"),
    TenantTable::municipal("bulky_days"),
    // Counters per address and week: about a household, not a person.
    TenantTable::municipal("bulky_households"),
    TenantTable::personal("bulky_requests")
        .about(&[row_of("case_id", "cases"), account("applicant")]),
];

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        routes,
        tenant_tables: TENANT_TABLES,
        permissions: PERMISSIONS,
        default_grants: DEFAULT_GRANTS,
        config: ConfigSchema::of::<BulkyConfig>(),
        settings_page: SettingsPage::Own("/bulky/settings"),
        staff_pages: &[
            StaffPage {
                path: "/bulky/days",
                label_key: "bulky-days-title",
                permission: "bulky.schedule",
            },
            StaffPage {
                path: "/bulky/settings",
                label_key: "bulky-settings-title",
                permission: "bulky.schedule",
            },
            StaffPage {
                path: "/bulky/crew",
                label_key: "bulky-crew-title",
                permission: "bulky.collect",
            },
        ],
        api: dimos_web::module::ModuleApi {
            routes: open311::routes,
            doc: open311::doc,
        },
        sinks,
        jobs,
        ..dimos_web::module_files!()
    }
}

fn jobs(_: &Arc<dimos_workflow::Engine>) -> Vec<dimos_web::module::ModuleJob> {
    vec![(filing::FORGET, Arc::new(filing::ForgetWeek))]
}

fn sinks() -> Vec<Arc<dyn dimos_workflow::EventSink>> {
    vec![Arc::new(filing::Withdrawals)]
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(web::index))
        .route("/request", get(web::address_form).post(web::submit))
        .route("/request/details", post(web::details))
        .route("/days", get(staff::days))
        .route("/days/{day}", get(staff::day))
        .route("/requests/{id}/move", post(staff::move_request))
        .route(
            "/streets/import",
            get(staff::import_form).post(staff::import),
        )
        .route(
            "/settings",
            get(settings_page::page).post(settings_page::save),
        )
        .route("/crew", get(staff::crew))
        .route("/crew/{id}", post(staff::mark))
        .route("/crew/{id}/problem", post(staff::problem))
}

/// What applies now: the municipal admin's settings over the defaults.
pub(crate) async fn settings(t: &CurrentTenant) -> dimos_web::Result<BulkyConfig> {
    Ok(dimos_web::settings::effective(t, ID).await?)
}

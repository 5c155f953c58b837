//! The framework every page of Dimos is built on, the platform's own and
//! every module's: the application state, extractors (the tenant, the
//! person, their permission, a form with its CSRF token checked), the page
//! shell and its translations, errors and problem details, middleware, and
//! the module kit (descriptors, settings, the application page, issued
//! documents, uploads). It knows no feature: the platform's pages live in
//! `dimos-pages`, above it, and use this same public kit.

pub mod access;
pub mod api_client;
pub mod api_filing;
pub mod apply;
pub mod assets;
pub mod auth;
pub mod contact;
pub mod diagram;
pub mod drafts;
pub mod edge;
pub mod error;
pub mod extract;
pub mod issue;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod module;
pub mod paging;
pub mod people;
pub mod settings;
pub mod state;
pub mod ui;
pub mod uploads;

pub use dimos_kit_macros::module_files;
pub use error::{AppError, Result};
pub use extract::{CurrentTenant, Lang};
pub use module::{ModuleConfig, ModuleDescriptor, NavEntry, Permission, WorkflowSource};
pub use state::{AppParts, AppState};
pub use ui::Ui;

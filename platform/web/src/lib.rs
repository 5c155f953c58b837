//! HTTP for Dimos: the application state, host-based dispatch to tenants,
//! the operator console and its API, the module framework, error pages and
//! problem details, the UI shell and its translations.

pub mod access;
pub mod apply;
pub mod assets;
pub mod audit_heads;
pub mod auth;
pub mod cases;
pub mod diagram;
pub mod drafts;
pub mod edge;
pub mod error;
pub mod extract;
pub mod health;
pub mod issue;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod module;
pub mod notify;
pub mod operator;
pub mod pages;
pub mod router;
pub mod settings;
pub mod settings_page;
pub mod staff;
pub mod state;
pub mod ui;

pub use dimos_kit_macros::module_files;
pub use error::{AppError, Result};
pub use extract::{CurrentTenant, Lang};
pub use module::{ModuleConfig, ModuleDescriptor, NavEntry, Permission, WorkflowSource};
pub use router::build_router;
pub use state::{AppParts, AppState};
pub use ui::Ui;

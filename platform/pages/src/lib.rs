//! The platform's own pages, built on the kit of `dimos-web` exactly as a
//! module is: sign-in and the account page, the citizen's applications,
//! the staff agenda and case file, the protocol book, reports, the
//! municipal admin's services, access, notifications, signing and module
//! settings, the operator console and its API, health and metrics, and the
//! router that puts them and every module's routes together.

pub mod api;
pub mod audit_heads;
pub mod cases;
pub mod dev_idp;
pub mod dev_pay;
pub mod form;
pub mod health;
pub mod my_data;
pub mod notify;
pub mod operator;
pub mod pages;
pub mod payments;
pub mod retention;
pub mod router;
pub mod settings_page;
pub mod sign_in;
pub mod staff;
pub mod templates;

pub use router::build_router;
pub use templates::TEMPLATES;

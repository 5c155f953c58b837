//! Municipalities (tenants): their definition and validation, tenant files,
//! storage with an audited change report, and the per-replica registry that
//! maps a request's host name to its tenant.

pub mod file;
pub mod model;
pub mod registry;
pub mod store;

pub use model::{
    Contact, LogoData, ModuleCatalog, ModuleSettings, RawTenant, Tenant, TenantIdentity,
    TenantSpec, TenantStatus, ValidationContext,
};
pub use registry::{HostMatch, Registry};
pub use store::{ApplyOutcome, Change, TenantStore};

//! People and sign-in: the OpenID Connect client (one code path for every
//! provider, the built-in development one included), the development
//! provider, tenant-scoped accounts, database-backed sessions, and the
//! tenant's hash-chained audit trail.

pub mod accounts;
pub mod audit;
pub mod dev_provider;
pub mod oidc;
pub mod sessions;

pub use accounts::{Account, AccountId, Assurance};
pub use audit::{AuditEntry, AuditLog};
pub use oidc::{Identity, OidcProvider, Pending, SignInError, SignedIn};
pub use sessions::DbSessionStore;

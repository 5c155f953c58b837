//! The platform's permissions and default roles, the catalog built from
//! them and every module's, and the `Authorized<P>` extractor: a handler
//! that takes `Authorized<P>` cannot run for someone without permission `P`
//! in this municipality.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::module::Modules;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use dimos_identity::access::{AccessCatalog, tax_id_subject};
use dimos_kernel::Error;
use dimos_tenancy::HostMatch;
use std::marker::PhantomData;

/// A permission, as a type, so handlers name it in their signature.
pub trait Permission: Send + Sync + 'static {
    const ID: &'static str;
    /// Other permissions any one of which grants this too.
    const OR: &'static [&'static str] = &[];
}

/// Declares permission marker types.
#[macro_export]
macro_rules! permission {
    ($($(#[$m:meta])* $name:ident = $id:literal;)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::access::Permission for $name {
            const ID: &'static str = $id;
        }
    )*};
}

/// A module's permissions, declared once: the types handlers take
/// (`Authorized<T>`), `PERMISSIONS` and `DEFAULT_GRANTS` for the descriptor.
///
/// ```ignore
/// dimos_web::permissions! {
///     /// Issue parking cards and permits.
///     IssuePermits = "parking.issue", label "parking-permission-issue",
///         granted to ["technical-employee"];
/// }
/// ```
#[macro_export]
macro_rules! permissions {
    ($($(#[$m:meta])* $name:ident = $id:literal, label $label:literal
        $(, granted to [$($role:literal),* $(,)?])? ;)*) => {
        $crate::permission! { $($(#[$m])* $name = $id;)* }
        /// This module's permissions, for its descriptor.
        pub const PERMISSIONS: &[$crate::Permission] =
            &[$($crate::Permission { id: $id, label_key: $label },)*];
        /// The roles that hold them by default, for its descriptor.
        pub const DEFAULT_GRANTS: &[(&str, &str)] = &[$($($(($role, $id),)*)?)*];
    };
}

permission! {
    /// Check a citizen's identity in person and mark the account verified.
    VerifyAccounts = "accounts.verify";
    /// Look up citizens' accounts.
    ReadAccounts = "accounts.read";
    /// Act on behalf of a citizen who is present at the desk.
    AssistCitizens = "accounts.assist";
    /// Manage roles, grants and departments of the municipality.
    ManageAccess = "access.manage";
    /// Read and verify the municipality's audit trail.
    ReadAudit = "audit.read";
    /// Work on tasks: the agenda, claiming, completing, the case file.
    WorkTasks = "tasks.work";
    /// Hand tasks to colleagues and see the team's load (department heads).
    AssignTasks = "tasks.assign";
    /// Read and search every case of the municipality, not only one's own work.
    ReadCases = "cases.read";
    /// Read the protocol book.
    ReadProtocol = "protocol.read";
    /// Register incoming and outgoing documents in the protocol book.
    RegisterProtocol = "protocol.register";
    /// Service reports (counts, handling times, overdue work) and CSV export.
    ReadReports = "reports.read";
    /// Change deadlines, departments, documents and optional steps of services.
    ConfigureServices = "services.configure";
    /// Sign documents with one's signing certificate.
    SignDocuments = "documents.sign";
    /// Issue and revoke the staff's signing certificates.
    ManageSigning = "signing.manage";
    /// See who opened sensitive personal data (case files, documents,
    /// desk assistance): the data protection officer's log.
    ReadAccessLog = "privacy.access_log";
}

/// Reading a case file: those who work on tasks (their own cases), and
/// those who may read every case (a municipal admin finds a case in the
/// search and opens it).
#[derive(Debug, Clone, Copy)]
pub struct ReadCaseFile;
impl Permission for ReadCaseFile {
    const ID: &'static str = WorkTasks::ID;
    const OR: &'static [&'static str] = &[ReadCases::ID];
}

/// (id, label key)
pub const PLATFORM_PERMISSIONS: &[(&str, &str)] = &[
    ("accounts.verify", "perm-accounts-verify"),
    ("accounts.read", "perm-accounts-read"),
    ("accounts.assist", "perm-accounts-assist"),
    ("access.manage", "perm-access-manage"),
    ("audit.read", "perm-audit-read"),
    ("tasks.work", "perm-tasks-work"),
    ("tasks.assign", "perm-tasks-assign"),
    ("cases.read", "perm-cases-read"),
    ("protocol.read", "perm-protocol-read"),
    ("protocol.register", "perm-protocol-register"),
    ("reports.read", "perm-reports-read"),
    ("services.configure", "perm-services-configure"),
    ("documents.sign", "perm-documents-sign"),
    ("signing.manage", "perm-signing-manage"),
    ("privacy.access_log", "perm-privacy-access-log"),
];

/// The roles every municipality has (id, label key). Module permissions are
/// added to them through the modules' default grants.
pub const PLATFORM_ROLES: &[(&str, &str)] = &[
    ("kep-officer", "role-kep-officer"),
    ("technical-employee", "role-technical-employee"),
    ("council-secretary", "role-council-secretary"),
    ("mayor", "role-mayor"),
    ("nursery-manager", "role-nursery-manager"),
    ("cleaning-supervisor", "role-cleaning-supervisor"),
    ("cleaning-crew", "role-cleaning-crew"),
    ("municipal-admin", "role-municipal-admin"),
    ("department-head", "role-department-head"),
    ("protocol-officer", "role-protocol-officer"),
    ("data-protection-officer", "role-data-protection-officer"),
];

const PLATFORM_GRANTS: &[(&str, &str)] = &[
    ("kep-officer", "accounts.verify"),
    ("kep-officer", "accounts.read"),
    ("kep-officer", "accounts.assist"),
    ("municipal-admin", "access.manage"),
    ("municipal-admin", "audit.read"),
    ("municipal-admin", "accounts.read"),
    ("municipal-admin", "services.configure"),
    ("municipal-admin", "cases.read"),
    ("municipal-admin", "reports.read"),
    ("municipal-admin", "protocol.read"),
    ("kep-officer", "tasks.work"),
    ("technical-employee", "tasks.work"),
    ("council-secretary", "tasks.work"),
    ("mayor", "tasks.work"),
    ("mayor", "reports.read"),
    ("nursery-manager", "tasks.work"),
    ("cleaning-supervisor", "tasks.work"),
    ("cleaning-supervisor", "tasks.assign"),
    ("cleaning-crew", "tasks.work"),
    ("department-head", "tasks.work"),
    ("department-head", "tasks.assign"),
    ("department-head", "cases.read"),
    ("department-head", "reports.read"),
    ("protocol-officer", "tasks.work"),
    ("protocol-officer", "protocol.read"),
    ("protocol-officer", "protocol.register"),
    ("mayor", "documents.sign"),
    ("department-head", "documents.sign"),
    ("municipal-admin", "signing.manage"),
    ("data-protection-officer", "privacy.access_log"),
    ("data-protection-officer", "audit.read"),
];

pub fn build_catalog(modules: &Modules) -> Result<AccessCatalog, String> {
    let mut c = AccessCatalog::default();
    for (id, label) in PLATFORM_PERMISSIONS {
        c.add_permission(id, label);
    }
    for m in modules.iter() {
        for p in m.permissions {
            c.add_permission(p.id, p.label_key);
        }
    }
    for (id, label) in PLATFORM_ROLES {
        c.add_role(id, label);
    }
    for (role, perm) in PLATFORM_GRANTS
        .iter()
        .chain(modules.iter().flat_map(|m| m.default_grants.iter()))
    {
        c.grant_default(role, perm)?;
    }
    Ok(c)
}

/// The subjects a signed-in person acts as. Roles granted to a tax id
/// count only when the municipality's staff provider asserted it.
pub fn subjects(user: &CurrentUser) -> Vec<String> {
    let mut s = vec![format!("account:{}", user.account.id)];
    if user.staff_trusted
        && let Some(t) = &user.account.tax_id
    {
        s.push(tax_id_subject(t));
    }
    s
}

/// The signed-in person, proven to hold permission `P` in this municipality.
#[derive(Debug)]
pub struct Authorized<P: Permission> {
    pub user: CurrentUser,
    _p: PhantomData<P>,
}

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    P: Permission,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let user = <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let app = AppState::from_ref(state);
        let Some(HostMatch::Tenant(t)) = parts.extensions.get::<HostMatch>() else {
            return Err(AppError(Error::NotFound).into_response());
        };
        let subjects = subjects(&user);
        let mut allowed = false;
        for id in std::iter::once(P::ID).chain(P::OR.iter().copied()) {
            if app.access().allowed(t.id, &subjects, id).await {
                allowed = true;
                break;
            }
        }
        if allowed {
            Ok(Authorized {
                user,
                _p: PhantomData,
            })
        } else {
            tracing::info!(permission = P::ID, "permission denied");
            Err(AppError(Error::Forbidden).into_response())
        }
    }
}

/// A tenant file's departments as the access layer adds them.
pub fn department_rows(
    departments: &[dimos_tenancy::model::RawDepartment],
) -> Vec<(dimos_identity::access::Department, Vec<String>)> {
    departments
        .iter()
        .map(|d| {
            (
                dimos_identity::access::Department {
                    slug: d.slug.clone(),
                    name_el: d.name.el.clone(),
                    name_en: d.name.en.clone(),
                },
                d.members
                    .iter()
                    .map(|t| dimos_identity::access::tax_id_subject(t.as_str()))
                    .collect(),
            )
        })
        .collect()
}

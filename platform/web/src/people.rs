//! The people a case handler deals with: a member of staff with the roles
//! and departments task queues are matched against, and the citizen as a
//! case's history names them.

use crate::access::{Authorized, WorkTasks, subjects};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use dimos_kernel::Error;
use dimos_tenancy::HostMatch;
use dimos_workflow::{Actor, Staff};

/// A member of staff with the roles and departments the engine matches
/// task queues against.
pub struct StaffMember {
    pub user: CurrentUser,
    pub staff: Staff,
}

impl<S> FromRequestParts<S> for StaffMember
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let who = Authorized::<WorkTasks>::from_request_parts(parts, state).await?;
        let app = AppState::from_ref(state);
        let Some(HostMatch::Tenant(t)) = parts.extensions.get::<HostMatch>() else {
            return Err(axum::response::IntoResponse::into_response(AppError(
                Error::NotFound,
            )));
        };
        Ok(StaffMember {
            staff: staff_of(&app, t.id, &who.user).await,
            user: who.user,
        })
    }
}

/// A member of staff opening a case file: works on tasks, or may read
/// every case ([`crate::access::ReadCaseFile`]); which case they may open
/// is `staff::visible_case`'s to say.
pub struct CaseFileReader(pub StaffMember);

impl<S> FromRequestParts<S> for CaseFileReader
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let who =
            Authorized::<crate::access::ReadCaseFile>::from_request_parts(parts, state).await?;
        let app = AppState::from_ref(state);
        let Some(HostMatch::Tenant(t)) = parts.extensions.get::<HostMatch>() else {
            return Err(axum::response::IntoResponse::into_response(AppError(
                Error::NotFound,
            )));
        };
        Ok(CaseFileReader(StaffMember {
            staff: staff_of(&app, t.id, &who.user).await,
            user: who.user,
        }))
    }
}

pub async fn staff_of(app: &AppState, tenant: dimos_kernel::TenantId, user: &CurrentUser) -> Staff {
    let subj = subjects(user);
    Staff {
        account: user.account.id,
        name: user.account.display_name(),
        roles: app.access().roles_of(tenant, &subj).await,
        departments: app.access().departments_of(tenant, &subj).await,
    }
}

/// A member of staff acting on a module's page (who holds a permission,
/// not a task), as the case's history names them.
pub fn staff_actor(user: &CurrentUser) -> Actor {
    Actor {
        account: Some(user.account.id),
        name: user.account.display_name(),
        on_behalf_of: None,
    }
}

/// The citizen (or the officer assisting them at the desk), as the case's
/// history names them.
pub fn citizen_actor(user: &CurrentUser) -> Actor {
    Actor {
        account: Some(user.account.id),
        name: user.account.display_name(),
        on_behalf_of: user.assisting.as_ref().map(|a| a.account),
    }
}

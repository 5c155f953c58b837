//! The national operator's console (HTML, works without JavaScript) and its
//! JSON API, on the admin host. Both go through the same validated, audited
//! `TenantStore::apply` path, then reload this replica's registry at once;
//! other replicas pick the change up on their next poll.

mod api;
mod auth;
mod console;

use axum::Router;
use dimos_tenancy::{Tenant, ValidationContext};
use dimos_web::state::AppState;

pub use auth::OperatorSession;
pub use auth::current as auth_current;

/// The console and API, behind the operator guard; the sign-in routes, open.
pub fn routes(state: &AppState) -> Router<AppState> {
    let guarded =
        api::routes()
            .merge(console::routes())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::operator_guard,
            ));
    guarded.merge(auth::routes()).route(
        "/lang/{code}",
        axum::routing::get(crate::pages::switch_lang),
    )
}

/// Who made a change, for the platform audit trail: the signed-in operator,
/// or (demo mode on loopback only) the loopback address.
#[derive(Debug, Clone)]
pub struct OperatorActor(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OperatorActor {
    type Rejection = dimos_web::error::AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<OperatorActor>()
            .cloned()
            .ok_or(dimos_web::error::AppError(
                dimos_kernel::Error::OperatorSignInRequired,
            ))
    }
}

fn validation_ctx(state: &AppState) -> ValidationContext<'_> {
    ValidationContext {
        catalog: state.modules(),
        base_domain: state.registry().base_domain(),
        file_dir: None,
    }
}

fn public_url(state: &AppState, t: &Tenant) -> String {
    let host = t.canonical_host(state.registry().base_domain());
    format!("{}/", state.config().public_origin(&host))
}

/// What follows a municipality's creation, whichever way it was onboarded.
async fn onboarded(state: &AppState, slug: &str) -> dimos_web::error::Result<()> {
    if state.config().signing.ca_at_onboarding {
        let t = state.registry().store().require(slug).await?;
        crate::cases::signing::provision(state, t.id, t.name(dimos_kernel::Locale::El).to_owned());
    }
    Ok(())
}

//! The national operator's console (HTML, works without JavaScript) and its
//! JSON API, on the admin host. Both go through the same validated, audited
//! `TenantStore::apply` path, then reload this replica's registry at once;
//! other replicas pick the change up on their next poll.

mod api;
mod console;

use crate::state::AppState;
use axum::Router;
use dimos_tenancy::{Tenant, ValidationContext};

pub fn routes() -> Router<AppState> {
    api::routes().merge(console::routes())
}

/// Who made a change, for the audit trail. Operator sign-in (issue 3) will
/// put a person here; until then, the loopback peer.
fn actor(peer: crate::extract::Peer) -> String {
    match peer.0 {
        Some(addr) => format!("operator@{}", addr.ip()),
        None => "operator".into(),
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

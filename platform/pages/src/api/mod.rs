//! The public API, `/api/v1/` on each municipality's host: JSON in and
//! out, errors as `application/problem+json` with the platform's stable
//! codes, described by an OpenAPI 3.1 document generated from this code
//! ([`document`]) and served at `/api/v1/openapi.json`, with a reference
//! page at `/api/v1`. `docs/api/openapi.json` holds the document as
//! released; a test fails when the code and it differ
//! (`dimos openapi > docs/api/openapi.json` after a deliberate change).

pub mod reference;
pub mod services;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use dimos_kernel::LocalizedText;
use dimos_web::state::AppState;
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::{OpenApi, ToSchema};

/// The version in the paths; a breaking change makes `/api/v2/`.
pub const PREFIX: &str = "/api/v1";

pub fn routes() -> Router<AppState> {
    // What anyone may read, from any web page's script: no credentials
    // are involved, so any origin is fine.
    let public = Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/services", get(services::list))
        .route("/api/v1/services/{id}", get(services::one))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ));
    Router::new()
        .route("/api/v1", get(reference::page))
        .merge(public)
}

/// Text in Greek and in English.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Text {
    #[schema(example = "Κάρτα στάθμευσης ΑμεΑ")]
    pub el: String,
    #[schema(example = "Disability parking card")]
    pub en: String,
}

impl From<&LocalizedText> for Text {
    fn from(t: &LocalizedText) -> Self {
        Text {
            el: t.el.clone(),
            en: t.en.clone(),
        }
    }
}

/// An error (RFC 9457). `code` is stable and documented; `title` is in the
/// language asked for; `errors` names each refused field.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `/problems/<code>`.
    #[schema(example = "/problems/not_found")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    #[schema(example = "not_found")]
    pub code: String,
    pub detail: Option<String>,
    pub errors: Vec<FieldProblem>,
    /// Quote it when asking the municipality about this answer.
    pub request_id: String,
}

/// One refused field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field's path, e.g. `documents[0]`.
    pub field: String,
    pub code: String,
    pub message: String,
    pub label: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dimos",
        version = "1",
        description = "The services of a municipality (δήμος) on Dimos, at `/api/v1/` on its own host \
(e.g. `https://alimos.dimos.gov.gr/api/v1/`). Every municipality has the same API; what it offers \
depends on the modules it has enabled. Errors are `application/problem+json` with a stable `code`.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(services::list, services::one),
    components(schemas(Text, Problem, FieldProblem, services::Service, services::DocumentRequirement)),
    tags((name = "services", description = "The catalogue: what a municipality offers and what an application needs.")),
)]
pub struct ApiDoc;

/// The OpenAPI document, as `/api/v1/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as committed in `docs/api/openapi.json`: pretty JSON and a
/// final newline.
pub fn document_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|s| s + "\n")
}

async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    match document_json() {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            dimos_web::error::AppError(dimos_kernel::Error::internal(e.to_string())).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// The committed document is the generated one: an API change shows in
    /// review as a change of `docs/api/openapi.json`.
    #[test]
    fn committed_document_is_the_generated_one() {
        let committed = include_str!("../../../../docs/api/openapi.json");
        let generated = super::document_json().unwrap();
        assert!(
            committed == generated,
            "docs/api/openapi.json differs from the code's API: run `cargo run -- openapi > docs/api/openapi.json` and review the change"
        );
    }
}

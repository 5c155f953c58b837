//! The public API, `/api/v1/` on each municipality's host: JSON in and
//! out, errors as `application/problem+json` with the platform's stable
//! codes, described by an OpenAPI 3.1 document generated from this code
//! ([`document`]) and served at `/api/v1/openapi.json`, with a reference
//! page at `/api/v1`. `docs/api/openapi.json` holds the document as
//! released (the server's modules included); a test of the `dimos` binary
//! fails when the code and it differ (`dimos openapi >
//! docs/api/openapi.json` after a deliberate change). Modules add their
//! resources under `/api/v1/<id>/` (`ModuleDescriptor::api`).

pub mod admin;
pub mod cases;
pub mod documents;
pub mod filing;
pub mod oauth;
pub mod problems;
pub mod protocol;
pub mod reference;
pub mod services;
pub mod tasks;
pub mod webhooks;

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
    let with_clients = Router::new()
        .route("/api/v1/cases", get(cases::list).post(filing::create))
        .route("/api/v1/cases/{id}", get(cases::one))
        .route(
            "/api/v1/cases/{id}/withdraw",
            axum::routing::post(filing::withdraw),
        )
        .route("/api/v1/documents", axum::routing::post(filing::upload))
        .route("/api/v1/tasks", get(tasks::list))
        .route("/api/v1/tasks/{id}", get(tasks::one))
        .route(
            "/api/v1/tasks/{id}/claim",
            axum::routing::post(tasks::claim),
        )
        .route(
            "/api/v1/tasks/{id}/complete",
            axum::routing::post(tasks::complete),
        )
        .route("/api/v1/cases/{id}/timeline", get(cases::timeline))
        .route("/api/v1/cases/{id}/documents", get(documents::list))
        .route(
            "/api/v1/cases/{id}/documents/{doc}",
            get(documents::download),
        )
        .route("/api/v1/protocol", get(protocol::list))
        .route("/api/v1/protocol/{id}", get(protocol::one))
        .layer(axum::middleware::from_fn(
            dimos_web::api_client::rate_limit_headers,
        ));
    Router::new()
        .route("/api/v1", get(reference::page))
        .route("/problems/{code}", get(problems::page))
        .route("/api/v1/oauth/token", axum::routing::post(oauth::token))
        .merge(with_clients)
        .merge(public)
}

/// A posted form's field, trimmed; empty when absent (the admin pages'
/// forms read their fields so, and say what an empty one means).
pub(crate) fn form_value(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
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

pub use dimos_web::api_client::{FieldProblem, Problem};

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
    paths(
        services::list,
        services::one,
        oauth::token,
        cases::list,
        cases::one,
        cases::timeline,
        documents::list,
        documents::download,
        filing::upload,
        filing::create,
        filing::withdraw,
        tasks::list,
        tasks::one,
        tasks::claim,
        tasks::complete,
        protocol::list,
        protocol::one
    ),
    components(schemas(
        Text,
        Problem,
        FieldProblem,
        services::Service,
        services::DocumentRequirement,
        oauth::TokenRequest,
        oauth::TokenResponse,
        oauth::TokenError,
        cases::Case,
        cases::CaseSummary,
        cases::CaseList,
        cases::Event,
        documents::Document,
        documents::Signature,
        filing::Upload,
        filing::NewApplication,
        filing::Withdrawal,
        tasks::Task,
        tasks::TaskOutcome,
        tasks::TaskList,
        tasks::Completion,
        protocol::ProtocolEntry,
        protocol::ProtocolPage
    )),
    modifiers(&Security),
    tags(
        (name = "services", description = "The catalogue: what a municipality offers and what an application needs."),
        (name = "authentication", description = "API clients, registered by the municipal admin, get access tokens with their credentials (OAuth 2.0 client credentials)."),
        (name = "cases", description = "Applications and their handling: every case for the municipality's other systems, their own for people."),
        (name = "applying", description = "A person's own app applies for them: documents first, then the application naming them; and withdraws."),
        (name = "tasks", description = "Steps of cases for the municipality's own systems to do, in the queues of the roles their admin gave them."),
        (name = "protocol", description = "The protocol book: every document registered, incoming and outgoing, numbered without gaps."),
    ),
)]
pub struct ApiDoc;

/// How clients authenticate: their id and secret at the token endpoint
/// (HTTP Basic or in the form), then the token as a bearer. Scopes are the
/// permission ids of the municipality's catalogue.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "clientCredentials",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(
                    "/api/v1/oauth/token",
                    Scopes::from_iter([
                        ("cases.read", "Read and search every case"),
                        ("protocol.read", "Read the protocol book"),
                        ("tasks.work", "Work the tasks of the client's roles"),
                    ]),
                ))],
                "Tokens are valid for ten minutes. A scope is a permission id of the municipality's catalogue; \
                 a client holds those its admin gave it.",
            )),
        );
        components.add_security_scheme(
            "citizenToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A person's own app: the access token the municipality's identity provider for citizens \
                         issued to the person, checked with the provider (its userinfo endpoint; an answer is \
                         trusted for a minute). The person sees and acts on their own cases only.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "clientSecret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The client's id and secret, at the token endpoint only.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of a server with these modules, as
/// `/api/v1/openapi.json` serves it: the platform's operations, then each
/// module's.
pub fn document(modules: &dimos_web::module::Modules) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for m in modules.iter() {
        doc.merge((m.api.doc)());
    }
    doc
}

/// The document as committed in `docs/api/openapi.json`: pretty JSON and a
/// final newline.
pub fn document_json(modules: &dimos_web::module::Modules) -> Result<String, serde_json::Error> {
    document(modules).to_pretty_json().map(|s| s + "\n")
}

async fn openapi_json(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match document_json(state.modules()) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            dimos_web::error::AppError(dimos_kernel::Error::internal(e.to_string())).into_response()
        }
    }
}

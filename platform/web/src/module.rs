//! The module framework. A module is a crate under `modules/` exposing one
//! [`ModuleDescriptor`]; the server lists its modules explicitly. A module's
//! routes are mounted under `/<id>/` and answer only for tenants that
//! enabled it (404 elsewhere, as if they did not exist).

use crate::state::AppState;
use axum::Router;
pub use dimos_db::migrate::Migration;
use dimos_db::migrate::MigrationSet;
use dimos_kernel::FieldError;
pub use dimos_kernel::Locale;
pub use dimos_kernel::i18n::FtlSource;
use dimos_tenancy::ModuleCatalog;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A permission a module defines; roles are granted these per tenant.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Permission {
    pub id: &'static str,
    pub label_key: &'static str,
}

/// An entry in the tenant's service catalogue and navigation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NavEntry {
    /// Relative to the module's root, e.g. `""` or `"apply"`.
    pub path: &'static str,
    pub label_key: &'static str,
    pub description_key: &'static str,
}

/// A staff page of the module, listed in the staff area for those who hold
/// `permission` (in municipalities that enabled the module). The hub shows
/// `label_key` with `<label_key>-description` under it.
#[derive(Debug, Clone, Copy)]
pub struct StaffPage {
    /// Absolute, e.g. `/parking/register`.
    pub path: &'static str,
    pub label_key: &'static str,
    pub permission: &'static str,
}

/// A process definition shipped with the module (run by the workflow engine).
#[derive(Debug, Clone, Copy)]
pub struct WorkflowSource {
    pub id: &'static str,
    pub source: &'static str,
}

/// A module's per-tenant configuration, as a typed struct. Unknown keys are
/// refused by `#[serde(deny_unknown_fields)]`, missing ones take defaults.
pub trait ModuleConfig: DeserializeOwned + Serialize + schemars::JsonSchema + Default {
    /// Rules beyond types (ranges, cross-field checks).
    fn check(&self) -> Vec<FieldError> {
        vec![]
    }
}

/// Checks a configuration and returns it with defaults filled in.
type Validator = fn(&Map<String, Value>) -> Result<Value, Vec<FieldError>>;

#[derive(Clone, Copy)]
pub struct ConfigSchema {
    validate: Validator,
    schema: fn() -> Value,
}

impl std::fmt::Debug for ConfigSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigSchema")
    }
}

fn validate_as<T: ModuleConfig>(config: &Map<String, Value>) -> Result<Value, Vec<FieldError>> {
    let parsed: T =
        serde_path_to_error::deserialize(Value::Object(config.clone())).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            vec![FieldError::new(field, "invalid").with_detail(e.into_inner().to_string())]
        })?;
    let problems = parsed.check();
    if !problems.is_empty() {
        return Err(problems);
    }
    serde_json::to_value(&parsed)
        .map_err(|e| vec![FieldError::new("", "invalid").with_detail(e.to_string())])
}

fn schema_of<T: ModuleConfig>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

impl ConfigSchema {
    pub const fn of<T: ModuleConfig>() -> Self {
        ConfigSchema {
            validate: validate_as::<T>,
            schema: schema_of::<T>,
        }
    }

    pub fn validate(&self, config: &Map<String, Value>) -> Result<Value, Vec<FieldError>> {
        (self.validate)(config)
    }

    /// JSON Schema of the configuration, for the operator API and docs.
    pub fn json_schema(&self) -> Value {
        (self.schema)()
    }

    /// The settings a form can ask one by one (whole numbers, yes/no,
    /// text, a choice), from the schema's top level; the rest are
    /// nested (lists, tables) and are edited as text.
    pub fn simple_fields(&self) -> Vec<SchemaField> {
        simple_fields(&self.json_schema())
    }
}

/// A top-level setting of a module that a form asks as one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaField {
    pub name: String,
    /// `integer`, `number`, `boolean`, `string` or `choice`.
    pub kind: &'static str,
    pub choices: Vec<String>,
    /// The doc comment of the field, when the module has no translation.
    pub description: Option<String>,
}

fn simple_fields(schema: &Value) -> Vec<SchemaField> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return vec![];
    };
    props
        .iter()
        .filter_map(|(name, p)| {
            let choices: Vec<String> = p
                .get("enum")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let kind = if !choices.is_empty() {
                "choice"
            } else {
                match p.get("type").and_then(Value::as_str)? {
                    "integer" => "integer",
                    "number" => "number",
                    "boolean" => "boolean",
                    "string" => "string",
                    _ => return None,
                }
            };
            Some(SchemaField {
                name: name.clone(),
                kind,
                choices,
                description: p
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// Everything the platform needs to know about a module.
#[derive(Debug, Clone)]
pub struct ModuleDescriptor {
    /// Lowercase, also the URL prefix (`/<id>/`) and the migration component.
    pub id: &'static str,
    pub name_key: &'static str,
    pub description_key: &'static str,
    pub routes: fn() -> Router<AppState>,
    pub migrations: &'static [Migration],
    /// The tenant-owned tables the migrations create (every table with a
    /// `tenant_id` column; start-up refuses one left out).
    pub tenant_tables: &'static [dimos_db::migrate::TenantTable],
    pub permissions: &'static [Permission],
    /// Default (role, permission) grants, e.g. `("municipal-admin", "example.publish")`.
    pub default_grants: &'static [(&'static str, &'static str)],
    pub workflows: &'static [WorkflowSource],
    /// Module code that process definitions call by name (`kind = "hook"`).
    pub hooks: &'static [(&'static str, dimos_workflow::HookFn)],
    pub config: ConfigSchema,
    /// Where the municipal admin changes the settings: the kit's page
    /// generated from the schema, or the module's own.
    pub settings_page: SettingsPage,
    pub navigation: &'static [NavEntry],
    pub translations: &'static [FtlSource],
    /// `(name, source)`; names must start with `<id>/`.
    pub templates: &'static [(&'static str, &'static str)],
    /// Background jobs the module schedules (`dimos_workflow::jobs::enqueue`),
    /// by kind; the server registers them with the scheduler.
    pub jobs: fn(&Arc<dimos_workflow::Engine>) -> Vec<ModuleJob>,
    pub staff_pages: &'static [StaffPage],
    /// Documents the module issues when a task ends with an outcome that
    /// names them (`issues = "<id>.<name>"` in the process definition).
    pub documents: &'static [crate::issue::IssuedDocument],
    /// The module's part of the public API, under `/api/v1/<id>/`.
    pub api: ModuleApi,
    /// What the module does in the transaction of a change to a case (its
    /// own rows following a withdrawal, say); an error refuses the change.
    pub sinks: fn() -> Vec<Arc<dyn dimos_workflow::EventSink>>,
    /// Periodic work over every municipality (disposing of records whose
    /// retention ran out, reading an exchange's inbox): the server runs
    /// each on every replica, so each must be safe to run N times at once.
    pub sweeps: &'static [ModuleSweep],
}

/// A module's periodic work: `run` does it for one municipality that has
/// the module and says how many things it did; the platform goes through
/// the municipalities ([`ModuleSweep::run_all`]).
#[derive(Clone, Copy)]
pub struct ModuleSweep {
    /// Names it in logs (`"edms retention"`).
    pub what: &'static str,
    pub every: std::time::Duration,
    pub run: fn(
        AppState,
        crate::CurrentTenant,
    ) -> futures::future::BoxFuture<'static, Result<usize, dimos_kernel::Error>>,
}

impl ModuleSweep {
    /// Runs the sweep for every municipality with `module` enabled; one
    /// municipality's failure (logged) leaves the others' work running.
    #[allow(clippy::disallowed_methods)] // the platform's own: work over every tenant
    pub async fn run_all(&self, state: &AppState, module: &str) -> usize {
        let mut n = 0;
        for tenant in state.registry().tenants() {
            if !tenant.module_enabled(module) {
                continue;
            }
            let slug = tenant.slug().to_owned();
            let t = crate::CurrentTenant {
                db: state.tenant_db(tenant.id),
                tenant,
            };
            match (self.run)(state.clone(), t).await {
                Ok(k) => n += k,
                Err(e) => {
                    tracing::warn!(tenant = %slug, job = self.what, error = %e, "a module sweep failed for a municipality");
                }
            }
        }
        n
    }
}

impl std::fmt::Debug for ModuleSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleSweep")
            .field("what", &self.what)
            .field("every", &self.every)
            .finish()
    }
}

/// A module's resources in the public API: its routes (paths relative to
/// `/api/v1/<id>`, answered only where the module is enabled, with the
/// clients' rate limit), and their OpenAPI paths and schemas (utoipa, with
/// the full paths), merged into the one document.
#[derive(Clone, Copy)]
pub struct ModuleApi {
    pub routes: fn() -> Router<AppState>,
    pub doc: fn() -> utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for ModuleApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModuleApi")
    }
}

fn no_api_doc() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}

/// For modules with nothing in the public API.
pub const NO_API: ModuleApi = ModuleApi {
    routes: no_routes,
    doc: no_api_doc,
};

/// Where a module's settings are changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsPage {
    /// `/admin/settings/<id>`, generated from the settings' schema.
    Generated,
    /// The module's own page at this path (settings a form of single
    /// values cannot hold: tables, lists).
    Own(&'static str),
}

/// What `module_files!()` gathers from a module's folder by convention.
#[derive(Debug, Clone, Copy)]
pub struct ModuleFiles {
    pub id: &'static str,
    pub name_key: &'static str,
    pub description_key: &'static str,
    /// One catalogue entry, the module's root, under its name.
    pub navigation: &'static [NavEntry],
    pub migrations: &'static [Migration],
    pub translations: &'static [FtlSource],
    pub templates: &'static [(&'static str, &'static str)],
    pub workflows: &'static [WorkflowSource],
}

/// A module without settings.
#[derive(Debug, Default, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

impl ModuleConfig for NoSettings {}

fn no_routes() -> Router<AppState> {
    Router::new()
}

impl ModuleDescriptor {
    /// The descriptor of a module's files with the kit's defaults for the
    /// rest (no routes, tables, permissions, hooks, jobs, staff pages or
    /// settings): a module states only what is particular to it, with
    /// `ModuleDescriptor { routes, …, ..dimos_web::module_files!() }`.
    pub fn from_files(f: ModuleFiles) -> Self {
        ModuleDescriptor {
            id: f.id,
            name_key: f.name_key,
            description_key: f.description_key,
            routes: no_routes,
            migrations: f.migrations,
            tenant_tables: &[],
            permissions: &[],
            default_grants: &[],
            workflows: f.workflows,
            hooks: &[],
            config: ConfigSchema::of::<NoSettings>(),
            settings_page: SettingsPage::Generated,
            navigation: f.navigation,
            translations: f.translations,
            templates: f.templates,
            jobs: no_jobs,
            staff_pages: &[],
            documents: &[],
            api: NO_API,
            sinks: no_sinks,
            sweeps: &[],
        }
    }
}

/// For modules that follow no case changes.
pub fn no_sinks() -> Vec<Arc<dyn dimos_workflow::EventSink>> {
    vec![]
}

/// A module's background job handler and the kind it handles (`<id>.<name>`).
pub type ModuleJob = (&'static str, Arc<dyn dimos_workflow::jobs::JobHandler>);

/// For modules without background jobs.
pub fn no_jobs(_: &Arc<dimos_workflow::Engine>) -> Vec<ModuleJob> {
    Vec::new()
}

/// Paths the platform serves itself on tenant hosts.
const RESERVED_PATHS: &[&str] = &[
    "static",
    "lang",
    "branding",
    "branding.css",
    "healthz",
    "readyz",
    "tls",
    "metrics",
    "api",
    "problems",
    "account",
    "admin",
    "staff",
    "cases",
    "auth",
    "verify",
    "signing",
    // Template namespaces of the shell and the platform's pages.
    "kit",
    "operator",
];

/// The modules this server was built with.
#[derive(Debug, Default)]
pub struct Modules {
    list: Vec<ModuleDescriptor>,
    /// Identity providers tenants may name (from configuration).
    providers: Vec<String>,
}

impl Modules {
    /// Checks descriptors for clashes a module author could make.
    pub fn new(list: Vec<ModuleDescriptor>) -> Result<Self, String> {
        let mut seen = std::collections::BTreeSet::new();
        for m in &list {
            let ok_id = !m.id.is_empty()
                && m.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok_id {
                return Err(format!(
                    "module id {:?} must be lowercase letters, digits and '-'",
                    m.id
                ));
            }
            if RESERVED_PATHS.contains(&m.id) || m.id == "platform" {
                return Err(format!("module id {:?} is reserved by the platform", m.id));
            }
            if !seen.insert(m.id) {
                return Err(format!("module {:?} is listed twice", m.id));
            }
            if let Some((name, _)) = m
                .templates
                .iter()
                .find(|(n, _)| !n.starts_with(&format!("{}/", m.id)))
            {
                return Err(format!(
                    "template {name:?} of module {:?} must start with {:?}",
                    m.id,
                    format!("{}/", m.id)
                ));
            }
        }
        Ok(Modules {
            list,
            providers: vec![],
        })
    }

    /// The identity providers of this deployment, for validating tenants' choices.
    pub fn with_providers(mut self, names: Vec<String>) -> Self {
        self.providers = names;
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &ModuleDescriptor> {
        self.list.iter()
    }

    pub fn get(&self, id: &str) -> Option<&ModuleDescriptor> {
        self.list.iter().find(|m| m.id == id)
    }

    /// Platform first, then each module in listed order.
    pub fn migration_sets(&self) -> Vec<MigrationSet> {
        std::iter::once(dimos_db::PLATFORM_MIGRATIONS)
            .chain(self.list.iter().map(|m| MigrationSet {
                component: m.id,
                migrations: m.migrations,
                tenant_tables: m.tenant_tables,
                global_tables: &[],
            }))
            .collect()
    }
}

impl ModuleCatalog for Modules {
    fn is_known(&self, module: &str) -> bool {
        self.get(module).is_some()
    }

    fn is_provider(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p == name)
    }

    fn is_role(&self, role: &str) -> bool {
        crate::access::PLATFORM_ROLES
            .iter()
            .any(|(id, _)| *id == role)
    }

    fn validate_config(
        &self,
        module: &str,
        config: &Map<String, Value>,
    ) -> Result<Value, Vec<FieldError>> {
        match self.get(module) {
            Some(m) => m.config.validate(config),
            None => Err(vec![FieldError::new("", "module-unknown")]),
        }
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn the_simple_top_level_settings_become_fields() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "years": {"type": "integer", "description": "Validity"},
                "on": {"type": "boolean"},
                "greeting": {"type": "string"},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "groups": {"type": "array", "items": {}},
                "rules": {"$ref": "#/$defs/Rules"}
            }
        });
        let f = simple_fields(&schema);
        let kinds: Vec<_> = f.iter().map(|x| (x.name.as_str(), x.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("greeting", "string"),
                ("mode", "choice"),
                ("on", "boolean"),
                ("years", "integer")
            ]
        );
        assert_eq!(f[3].description.as_deref(), Some("Validity"));
        assert_eq!(f[1].choices, ["a", "b"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Serialize, schemars::JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct Cfg {
        places: u32,
        label: String,
    }
    impl Default for Cfg {
        fn default() -> Self {
            Cfg {
                places: 10,
                label: "x".into(),
            }
        }
    }
    impl ModuleConfig for Cfg {
        fn check(&self) -> Vec<FieldError> {
            if self.places > 100 {
                vec![FieldError::new("places", "too-large")]
            } else {
                vec![]
            }
        }
    }

    fn descriptor(id: &'static str) -> ModuleDescriptor {
        ModuleDescriptor {
            id,
            name_key: "n",
            description_key: "d",
            routes: Router::new,
            migrations: &[],
            tenant_tables: &[],
            permissions: &[],
            default_grants: &[],
            workflows: &[],
            hooks: &[],
            config: ConfigSchema::of::<Cfg>(),
            settings_page: SettingsPage::Generated,
            documents: &[],
            navigation: &[],
            translations: &[],
            jobs: no_jobs,
            staff_pages: &[],
            templates: &[],
            api: NO_API,
            sinks: no_sinks,
            sweeps: &[],
        }
    }

    #[test]
    fn config_is_typed_defaulted_and_checked() {
        let s = ConfigSchema::of::<Cfg>();
        let ok = s
            .validate(&serde_json::from_str(r#"{"label":"y"}"#).unwrap())
            .unwrap();
        assert_eq!(ok, serde_json::json!({"places": 10, "label": "y"}));
        let e = s
            .validate(&serde_json::from_str(r#"{"places":"many"}"#).unwrap())
            .unwrap_err();
        assert_eq!(e[0].field, "places");
        let e = s
            .validate(&serde_json::from_str(r#"{"colour":1}"#).unwrap())
            .unwrap_err();
        assert!(e[0].detail.as_deref().unwrap().contains("colour"));
        let e = s
            .validate(&serde_json::from_str(r#"{"places":500}"#).unwrap())
            .unwrap_err();
        assert_eq!((e[0].field.as_str(), e[0].code), ("places", "too-large"));
        assert_eq!(s.json_schema()["properties"]["places"]["type"], "integer");
    }

    #[test]
    fn clashing_descriptors_are_refused() {
        assert!(Modules::new(vec![descriptor("a"), descriptor("a")]).is_err());
        assert!(Modules::new(vec![descriptor("static")]).is_err());
        assert!(Modules::new(vec![descriptor("Bad")]).is_err());
        let mut d = descriptor("b");
        d.templates = &[("other/x.html", "")];
        assert!(Modules::new(vec![d]).is_err());
        let m = Modules::new(vec![descriptor("a"), descriptor("b")]).unwrap();
        let sets: Vec<_> = m.migration_sets().iter().map(|s| s.component).collect();
        assert_eq!(sets, ["platform", "a", "b"]);
    }
}

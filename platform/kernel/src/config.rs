//! Configuration, layered: built-in defaults → `dimos.toml` → environment.
//!
//! Every key has an environment form: `DIMOS_` + the upper-cased path with
//! `__` between sections (`http.body_limit_bytes` → `DIMOS_HTTP__BODY_LIMIT_BYTES`).
//! A few well-known names are accepted as well: `DATABASE_URL`,
//! `DIMOS_LISTEN`, `DIMOS_BASE_DOMAIN`, `DIMOS_DATA_DIR`, `DIMOS_LOG_FORMAT`.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
pub use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A value that must never reach a log line or a `Debug` dump.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// A database URL with any password replaced, safe for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server binds.
    pub listen: SocketAddr,
    /// Tenants are served at `<slug>.<base_domain>`; the operator console at `admin.<base_domain>`.
    pub base_domain: String,
    /// Where the embedded defaults keep their files (SQLite database, objects, mail).
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,dimos=debug`. `RUST_LOG` wins when set.
    pub log_filter: String,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub tenancy: TenancyConfig,
    pub identity: IdentityConfig,
    pub jobs: JobsConfig,
    pub storage: StorageConfig,
    pub mail: MailConfig,
    pub sms: SmsConfig,
    pub notifications: NotificationsConfig,
    pub signing: SigningConfig,
    pub telemetry: TelemetryConfig,
    pub webhooks: WebhooksConfig,
    pub payments: PaymentsConfig,
    pub exchange: ExchangeConfig,
}

/// The government's document exchange (ΙΡΙΔΑ) and Diavgeia, as the
/// documents module reaches them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeConfig {
    /// `files` (a drop folder per municipality under `dir`, which a bridge
    /// to the real systems reads and writes) or `off`.
    pub provider: ExchangeProvider,
    /// Empty: `<data_dir>/exchange`.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeProvider {
    #[default]
    Files,
    Off,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            provider: ExchangeProvider::Files,
            dir: PathBuf::new(),
        }
    }
}

/// Which payment provider takes fees, and how unsettled checkouts are
/// followed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// `auto` (the development bank while the development identity
    /// provider is on, else none), `dev` or `off`. With none, fees are
    /// shown as owed and paid at the municipality's desk.
    pub provider: PaymentProvider,
    /// A checkout the provider has not told us about after this many
    /// seconds is asked about (a lost notice is caught this way).
    pub poll_after_secs: u64,
    /// A checkout still unsettled after this many hours is given up.
    pub give_up_after_hours: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProvider {
    #[default]
    Auto,
    Dev,
    Off,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            provider: PaymentProvider::Auto,
            poll_after_secs: 120,
            give_up_after_hours: 24,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// A delivery that failed this many times is `dead` and the
    /// municipality's alert address is told (backoff 1, 2, 4 … minutes,
    /// at most an hour between tries: twelve take about seven hours).
    pub max_attempts: u32,
    /// How long an endpoint has to answer.
    pub timeout_secs: u64,
    /// PEM file of extra CA certificates to trust for endpoints (a
    /// municipality's private CA); empty means the usual web roots only.
    pub ca_file: PathBuf,
    /// Deliver to loopback, private and link-local addresses too. Off in
    /// production: an admin's URL must not reach inside the deployment.
    pub allow_private_addresses: bool,
    /// The delivery log is kept this many days.
    pub log_days: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            max_attempts: 12,
            timeout_secs: 10,
            ca_file: PathBuf::new(),
            allow_private_addresses: false,
            log_days: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Base URL of an OpenTelemetry collector's OTLP/HTTP receiver, e.g.
    /// `http://127.0.0.1:4318`; spans go to `<url>/v1/traces`. Unset: no
    /// export (the logs carry the same spans).
    pub otlp_endpoint: Option<String>,
    /// Headers sent with every export, `name=value,name=value` (a
    /// collector's API key). Never printed.
    pub otlp_headers: Option<Secret>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of traces exported, 0.0–1.0 (decided on the trace id).
    pub sample_ratio: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            otlp_headers: None,
            service_name: "dimos".into(),
            sample_ratio: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningConfig {
    /// The deployment key (32 bytes, base64) that seals the signing keys
    /// stored in the database. Every replica needs the same one.
    pub key: Option<Secret>,
    /// Otherwise read from this file; "" means `<data_dir>/signing.key`,
    /// created on first start (fine for one machine, not for replicas).
    pub key_file: PathBuf,
    /// How long a staff signing certificate is valid.
    pub certificate_days: u64,
    /// Create each municipality's signing CA when it is onboarded.
    pub ca_at_onboarding: bool,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            key: None,
            key_file: PathBuf::new(),
            certificate_days: 365,
            ca_at_onboarding: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `file` (messages land in `outbox_dir`) or `smtp`.
    pub transport: String,
    /// `smtp://host:25`, `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`.
    pub smtp_url: Option<Secret>,
    /// Sender for municipalities that set none.
    pub from_name: String,
    pub from_address: String,
    /// Where the file transport writes; empty means `<data_dir>/outbox`.
    pub outbox_dir: PathBuf,
    /// PEM file of extra CA certificates to trust for SMTP TLS (a relay
    /// with a private CA); empty means the usual web roots only.
    pub smtp_ca_file: PathBuf,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: "file".into(),
            smtp_url: None,
            from_name: "Dimos".into(),
            from_address: "noreply@localhost".into(),
            outbox_dir: PathBuf::new(),
            smtp_ca_file: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// `file` (appended to `<outbox>/sms.jsonl`) or `http` (a gateway).
    pub transport: String,
    pub http_url: String,
    pub http_method: String,
    /// Sent as the `Authorization` header, e.g. `Bearer …`.
    pub http_auth_header: Option<Secret>,
    pub http_content_type: String,
    /// Body template; variables `to`, `sender`, `text`, `segments` (use `|tojson` in JSON).
    pub http_body: String,
    /// Sender id for municipalities that set none.
    pub sender: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            transport: "file".into(),
            http_url: String::new(),
            http_method: "POST".into(),
            http_auth_header: None,
            http_content_type: "application/json".into(),
            http_body:
                r#"{"to": {{ to|tojson }}, "from": {{ sender|tojson }}, "text": {{ text|tojson }}}"#
                    .into(),
            sender: "Dimos".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// A message that failed this many times is `dead` and the admin is alerted.
    pub max_attempts: u32,
    /// Message bodies are removed after this many days; who, when and how stay.
    pub retention_days: u32,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            max_attempts: 8,
            retention_days: 365,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` (a folder) or `s3` (S3 or an S3-compatible server).
    pub backend: String,
    /// Folder of uploaded documents; empty means `<data_dir>/objects`.
    pub dir: PathBuf,
    pub s3_bucket: String,
    pub s3_region: String,
    /// Endpoint of an S3-compatible server; empty for AWS.
    pub s3_endpoint: String,
    /// Path-style addressing (`endpoint/bucket/key`), for S3-compatible servers.
    pub s3_path_style: bool,
    /// Server-side encryption: `AES256`, `aws:kms`, or empty for the bucket default.
    pub s3_sse: String,
    /// Both set: these credentials; unset: the standard AWS chain.
    pub s3_access_key_id: Option<Secret>,
    pub s3_secret_access_key: Option<Secret>,
    /// With S3: downloads redirect to a pre-signed URL valid this many
    /// seconds, after the same authorization; 0 streams through the app.
    pub s3_presign_seconds: u64,
    /// Largest single upload.
    pub max_upload_bytes: u64,
    /// Largest total of the documents of one case.
    pub max_case_bytes: u64,
    /// Accept DOCX and ODT besides PDF, JPEG and PNG.
    pub allow_office: bool,
    /// Virus scanner run on every upload with the file's path last
    /// (exit 0 clean, 1 infected); empty for none.
    pub scan_command: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: "local".into(),
            dir: PathBuf::new(),
            s3_bucket: String::new(),
            s3_region: "eu-central-1".into(),
            s3_endpoint: String::new(),
            s3_path_style: false,
            s3_sse: String::new(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_presign_seconds: 0,
            max_upload_bytes: 10 * 1024 * 1024,
            max_case_bytes: 50 * 1024 * 1024,
            allow_office: false,
            scan_command: String::new(),
        }
    }
}

impl Config {
    /// Where the file mail transport (and the SMS file) write.
    pub fn outbox_dir(&self) -> PathBuf {
        if self.mail.outbox_dir.as_os_str().is_empty() {
            self.data_dir.join("outbox")
        } else {
            self.mail.outbox_dir.clone()
        }
    }

    /// The file holding the deployment's signing key.
    pub fn signing_key_file(&self) -> PathBuf {
        if self.signing.key_file.as_os_str().is_empty() {
            self.data_dir.join("signing.key")
        } else {
            self.signing.key_file.clone()
        }
    }

    /// The exchange's drop folders (`files` provider).
    pub fn exchange_dir(&self) -> PathBuf {
        if self.exchange.dir.as_os_str().is_empty() {
            self.data_dir.join("exchange")
        } else {
            self.exchange.dir.clone()
        }
    }

    /// Where the local object store keeps files.
    pub fn storage_dir(&self) -> PathBuf {
        if self.storage.dir.as_os_str().is_empty() {
            self.data_dir.join("objects")
        } else {
            self.storage.dir.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How often each replica looks for due timers and jobs.
    pub poll_interval_ms: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            poll_interval_ms: 1000,
        }
    }
}

/// Whether the built-in development identity provider runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DevProvider {
    /// On while `base_domain` is `localhost` (the demo), off for any real domain.
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// The built-in OIDC provider with demo people: `auto`, `on` or `off`.
    pub dev_provider: DevProvider,
    /// Provider used by tenants that do not choose one: a key of `providers`,
    /// or `dev` for the built-in development provider.
    pub default_provider: String,
    /// Minutes without a request after which a session ends.
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which a session ends regardless of activity.
    pub session_absolute_hours: u64,
    /// Tax ids (ΑΦΜ) of the national operators, who sign in to the operator console.
    pub operators: Vec<String>,
    /// Sign-in attempts one client address may start per minute (per replica).
    pub sign_in_attempts_per_minute: u32,
    /// In-person verifications one officer may record per hour.
    pub verifications_per_hour: u32,
    /// Minutes a desk officer may act for a citizen before it ends by itself.
    pub assist_minutes: u64,
    /// OpenID Connect providers, by name (e.g. `national`).
    pub providers: std::collections::BTreeMap<String, ProviderConfig>,
    /// The one provider trusted to assert a national operator's identity
    /// (the admin host signs in through it only). Unset: `default_provider`.
    pub operator_provider: Option<String>,
    /// Allows the development provider on a base domain other than
    /// `localhost` (a staging deployment with demo people). Never in
    /// production: anyone can sign in as anyone there.
    pub allow_dev_provider_on_public_domain: bool,
    /// PEM file of extra CA certificates to trust when talking to identity
    /// providers (a broker behind a private CA); empty: the web roots only.
    pub ca_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Issuer URL; discovery is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Prefer `client_secret_file` or the environment (`DIMOS_IDENTITY__PROVIDERS__<NAME>__CLIENT_SECRET`).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: ClaimMapping,
    /// `acr` values and the assurance level each stands for (`low`, `substantial`, `high`).
    #[serde(default)]
    pub acr_levels: std::collections::BTreeMap<String, String>,
}

fn default_scopes() -> Vec<String> {
    vec![
        "openid".into(),
        "profile".into(),
        "email".into(),
        "phone".into(),
    ]
}

/// Which claim holds what; brokers in front of TaxisNet name them differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    pub tax_id: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub phone: String,
    pub acr: String,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        ClaimMapping {
            tax_id: "tax_id".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
            email: "email".into(),
            phone: "phone_number".into(),
            acr: "acr".into(),
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            dev_provider: DevProvider::Auto,
            default_provider: "dev".into(),
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            operators: vec![],
            sign_in_attempts_per_minute: 20,
            verifications_per_hour: 120,
            assist_minutes: 30,
            providers: Default::default(),
            operator_provider: None,
            allow_dev_provider_on_public_domain: false,
            ca_file: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://…`. Unset: a SQLite file `dimos.db` in `data_dir`.
    pub url: Option<Secret>,
    /// Pool size per process; 0: derived from the machine
    /// ([`DatabaseConfig::pool_size`]).
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u64,
    /// PostgreSQL cancels a statement running longer (0: never).
    pub statement_timeout_secs: u64,
    /// Statements slower than this are logged with their SQL.
    pub slow_statement_ms: u64,
    /// A request holding a transaction that asks for a second connection
    /// fails instead of logging a warning (the tests set it).
    pub strict_connections: bool,
    /// The load harness and tests: append every statement run, with its
    /// values, to this file. Holds personal data: never in production.
    pub capture_statements: Option<PathBuf>,
}

impl DatabaseConfig {
    /// The pool size: as configured, or four connections per core with at
    /// least 10 and at most 50. Each request holds at most one connection
    /// at a time, so this bounds the requests in the database at once, not
    /// the requests served; more only adds lock waits on a small machine.
    pub fn pool_size(&self) -> u32 {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        u32::try_from(cores * 4).unwrap_or(50).clamp(10, 50)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Scheme people use to reach Dimos (`https` behind a TLS-terminating proxy).
    pub public_scheme: String,
    /// Port in public links; unset means the port of `listen` for `http`, none for `https`.
    pub public_port: Option<u16>,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Requests running longer are answered 408.
    pub request_timeout_secs: u64,
    /// In-flight requests get this long to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// After SIGTERM, `/readyz` answers 503 for this long while requests
    /// are still served, so that balancers stop sending new ones before
    /// the listener closes.
    pub drain_secs: u64,
    /// A client that has not sent a request's headers within this many
    /// seconds (a slow or idle connection) is disconnected.
    pub header_read_timeout_secs: u64,
    /// Connections served at once per replica; more wait in the kernel's
    /// accept queue (keep it below the process's open-files limit).
    pub max_connections: usize,
    /// Addresses (CIDRs) of the reverse proxies in front of Dimos. Only
    /// from these is `X-Forwarded-For` believed (the client's address for
    /// rate limits and the audit trail); from anyone else it is ignored.
    pub trusted_proxies: Vec<String>,
    /// Where `/metrics` is served: unset, on its own listen address only
    /// (`metrics_listen`) or, when that is unset too, only with
    /// `metrics_token` as a bearer token. Never on the public hosts openly.
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token that `/metrics` on the public listener requires.
    pub metrics_token: Option<Secret>,
    /// Public API calls one client may make per minute, per replica (429
    /// with `Retry-After` above; answers carry `RateLimit` headers).
    pub api_requests_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenancyConfig {
    /// How often each replica checks whether tenants changed.
    pub refresh_interval_ms: u64,
    /// Tenant files applied at start-up (`dimos tenants apply`); empty to skip.
    pub apply_on_start: Option<PathBuf>,
    /// How long a municipality stays suspended (unchanged) before
    /// `dimos tenants delete` removes it: time to change one's mind.
    pub delete_after_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_domain: "localhost".into(),
            data_dir: PathBuf::from("./data"),
            log_format: LogFormat::Pretty,
            log_filter: "info".into(),
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            tenancy: TenancyConfig::default(),
            identity: IdentityConfig::default(),
            jobs: JobsConfig::default(),
            storage: StorageConfig::default(),
            mail: MailConfig::default(),
            sms: SmsConfig::default(),
            notifications: NotificationsConfig::default(),
            signing: SigningConfig::default(),
            telemetry: TelemetryConfig::default(),
            webhooks: WebhooksConfig::default(),
            payments: PaymentsConfig::default(),
            exchange: ExchangeConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 0,
            acquire_timeout_secs: 3,
            sqlite_busy_timeout_ms: 5000,
            statement_timeout_secs: 30,
            slow_statement_ms: 500,
            strict_connections: false,
            capture_statements: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            public_scheme: "http".into(),
            public_port: None,
            body_limit_bytes: 10 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            drain_secs: 3,
            header_read_timeout_secs: 10,
            max_connections: 4096,
            trusted_proxies: vec![],
            metrics_listen: None,
            metrics_token: None,
            api_requests_per_minute: 600,
        }
    }
}

impl Default for TenancyConfig {
    fn default() -> Self {
        TenancyConfig {
            refresh_interval_ms: 1000,
            apply_on_start: Some(PathBuf::from("tenants")),
            delete_after_days: 30,
        }
    }
}

/// The commented default configuration printed by `dimos config default`.
/// A unit test keeps it equal to `Config::default()`.
pub const DEFAULT_TOML: &str = include_str!("default-config.toml");

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Defaults → file (if it exists, or if it was named explicitly) → environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None if Path::new("dimos.toml").exists() => {
                fig = fig.merge(Toml::file_exact("dimos.toml"));
            }
            None => {}
        }
        Self::extract(fig.merge(Self::env()))
    }

    /// Parse a TOML text on top of the defaults (no environment).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)),
        )
    }

    fn env() -> Figment {
        Figment::new()
            // Unknown DIMOS_ keys are errors (a typo must not pass silently),
            // except the two names that are not configuration keys.
            .merge(
                Env::prefixed("DIMOS_")
                    .filter(|k| {
                        let k = k.as_str().to_ascii_lowercase();
                        k != "config" && !k.starts_with("test_")
                    })
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
    }

    fn extract(fig: Figment) -> Result<Config, ConfigError> {
        // The default is serialised with its secret redacted; drop it.
        let mut cfg: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        if cfg
            .database
            .url
            .as_ref()
            .is_some_and(|u| u.expose() == "[redacted]")
        {
            cfg.database.url = None;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let base = self.base_domain.trim();
        if base.is_empty() || base.contains(['/', ':', ' ']) {
            return Err(ConfigError(format!(
                "base_domain {:?} must be a host name",
                self.base_domain
            )));
        }
        if !matches!(self.http.public_scheme.as_str(), "http" | "https") {
            return Err(ConfigError(
                "http.public_scheme must be http or https".into(),
            ));
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(ConfigError(
                "http.body_limit_bytes must be at least 1024".into(),
            ));
        }
        if self.identity.default_provider != "dev"
            && !self
                .identity
                .providers
                .contains_key(&self.identity.default_provider)
        {
            return Err(ConfigError(format!(
                "identity.default_provider {:?} is neither \"dev\" nor a configured provider",
                self.identity.default_provider
            )));
        }
        if self.identity.dev_provider == DevProvider::On
            && self.base_domain != "localhost"
            && !self.identity.allow_dev_provider_on_public_domain
        {
            return Err(ConfigError(format!(
                "identity.dev_provider = \"on\" lets anyone sign in as anyone (the national operator included); \
                 it is refused on base domain {:?}. Set identity.dev_provider = \"off\" and configure a real provider, \
                 or, for a staging deployment only, identity.allow_dev_provider_on_public_domain = true",
                self.base_domain
            )));
        }
        if let Some(op) = &self.identity.operator_provider
            && op != "dev"
            && !self.identity.providers.contains_key(op)
        {
            return Err(ConfigError(format!(
                "identity.operator_provider {op:?} is neither \"dev\" nor a configured provider"
            )));
        }
        if let Some(bad) = self
            .http
            .trusted_proxies
            .iter()
            .find(|c| parse_cidr(c).is_none())
        {
            return Err(ConfigError(format!(
                "http.trusted_proxies: {bad:?} is not an address or CIDR (e.g. 10.0.0.0/8)"
            )));
        }
        if let Some(bad) = self
            .identity
            .operators
            .iter()
            .find(|t| t.parse::<crate::TaxId>().is_err())
        {
            return Err(ConfigError(format!(
                "identity.operators: {bad:?} is not a valid tax id (ΑΦΜ)"
            )));
        }
        if self.identity.sign_in_attempts_per_minute == 0
            || self.identity.verifications_per_hour == 0
        {
            return Err(ConfigError("identity rate limits must be positive".into()));
        }
        if self.http.api_requests_per_minute == 0 {
            return Err(ConfigError(
                "http.api_requests_per_minute must be positive".into(),
            ));
        }
        if self.http.header_read_timeout_secs == 0 || self.http.max_connections == 0 {
            return Err(ConfigError(
                "http.header_read_timeout_secs and http.max_connections must be positive".into(),
            ));
        }
        if self.identity.assist_minutes == 0 {
            return Err(ConfigError(
                "identity.assist_minutes must be positive".into(),
            ));
        }
        if self.identity.session_idle_minutes == 0 || self.identity.session_absolute_hours == 0 {
            return Err(ConfigError(
                "identity session timeouts must be positive".into(),
            ));
        }
        if self.storage.max_upload_bytes == 0
            || self.storage.max_case_bytes < self.storage.max_upload_bytes
        {
            return Err(ConfigError(
                "storage.max_upload_bytes must be positive and at most storage.max_case_bytes"
                    .into(),
            ));
        }
        if !["local", "s3"].contains(&self.storage.backend.as_str()) {
            return Err(ConfigError(
                "storage.backend must be \"local\" or \"s3\"".into(),
            ));
        }
        if self.storage.backend == "s3" && self.storage.s3_bucket.is_empty() {
            return Err(ConfigError(
                "storage.backend = \"s3\" needs storage.s3_bucket".into(),
            ));
        }
        if !["file", "smtp"].contains(&self.mail.transport.as_str()) {
            return Err(ConfigError(
                "mail.transport must be \"file\" or \"smtp\"".into(),
            ));
        }
        if self.mail.transport == "smtp" && self.mail.smtp_url.is_none() {
            return Err(ConfigError(
                "mail.transport = \"smtp\" needs mail.smtp_url".into(),
            ));
        }
        if !["file", "http"].contains(&self.sms.transport.as_str()) {
            return Err(ConfigError(
                "sms.transport must be \"file\" or \"http\"".into(),
            ));
        }
        if self.sms.transport == "http" && !self.sms.http_url.starts_with("http") {
            return Err(ConfigError(
                "sms.transport = \"http\" needs sms.http_url".into(),
            ));
        }
        if self.notifications.max_attempts == 0 || self.notifications.retention_days == 0 {
            return Err(ConfigError(
                "notifications.max_attempts and retention_days must be positive".into(),
            ));
        }
        if self.jobs.poll_interval_ms < 100 {
            return Err(ConfigError(
                "jobs.poll_interval_ms must be at least 100".into(),
            ));
        }
        if let Some(url) = &self.telemetry.otlp_endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "telemetry.otlp_endpoint {url:?} must be an http:// or https:// URL (the collector's OTLP/HTTP receiver)"
            )));
        }
        if !(0.0..=1.0).contains(&self.telemetry.sample_ratio) {
            return Err(ConfigError(
                "telemetry.sample_ratio must be between 0.0 and 1.0".into(),
            ));
        }
        if self
            .telemetry
            .otlp_headers
            .as_ref()
            .is_some_and(|h| parse_headers(h.expose()).is_none())
        {
            return Err(ConfigError(
                "telemetry.otlp_headers must read name=value,name=value".into(),
            ));
        }
        if self.tenancy.refresh_interval_ms < 100 {
            return Err(ConfigError(
                "tenancy.refresh_interval_ms must be at least 100".into(),
            ));
        }
        Ok(())
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> Secret {
        match &self.database.url {
            Some(u) => u.clone(),
            None => Secret(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("dimos.db").display()
            )),
        }
    }

    /// Whether the built-in development identity provider runs.
    pub fn dev_provider_enabled(&self) -> bool {
        match self.identity.dev_provider {
            DevProvider::On => true,
            DevProvider::Off => false,
            DevProvider::Auto => self.base_domain == "localhost",
        }
    }

    /// Whether the development bank takes payments.
    pub fn dev_payments_enabled(&self) -> bool {
        match self.payments.provider {
            PaymentProvider::Dev => true,
            PaymentProvider::Off => false,
            PaymentProvider::Auto => self.dev_provider_enabled(),
        }
    }

    /// The provider whose word makes someone a national operator.
    pub fn operator_provider(&self) -> &str {
        self.identity
            .operator_provider
            .as_deref()
            .unwrap_or(&self.identity.default_provider)
    }

    /// The trusted proxies, parsed (validated at load).
    pub fn trusted_proxies(&self) -> Vec<IpNet> {
        self.http
            .trusted_proxies
            .iter()
            .filter_map(|c| parse_cidr(c))
            .collect()
    }

    /// HSTS only makes sense when people reach us over TLS.
    pub fn behind_tls(&self) -> bool {
        self.http.public_scheme == "https"
    }

    /// Origin (scheme, host, port) of public links to `host`.
    /// The port people reach Dimos on (in public links).
    pub fn public_port(&self) -> u16 {
        let scheme = &self.http.public_scheme;
        self.http
            .public_port
            .or(if scheme == "http" {
                Some(self.listen.port())
            } else {
                None
            })
            .unwrap_or(if scheme == "https" { 443 } else { 80 })
    }

    pub fn public_origin(&self, host: &str) -> String {
        let scheme = &self.http.public_scheme;
        let port = self.http.public_port.or(if scheme == "http" {
            Some(self.listen.port())
        } else {
            None
        });
        match port {
            Some(80) if scheme == "http" => format!("{scheme}://{host}"),
            Some(443) if scheme == "https" => format!("{scheme}://{host}"),
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }
    }
}

/// A network (`10.0.0.0/8`) or a single address (`127.0.0.1`).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// `name=value,name=value` → pairs; `None` when a part has no `=` or an
/// empty name.
pub fn parse_headers(s: &str) -> Option<Vec<(String, String)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_default_config_is_the_default() {
        assert_eq!(Config::from_toml(DEFAULT_TOML).unwrap(), Config::default());
    }

    #[test]
    fn printed_default_mentions_every_key() {
        let v = toml::Value::try_from(Config::default()).unwrap();
        fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                    out.push(p);
                }
            }
        }
        let mut keys = vec![];
        walk("", &v, &mut keys);
        for key in keys {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(
                DEFAULT_TOML.contains(leaf),
                "default-config.toml does not mention {key}"
            );
        }
        for optional in ["url", "public_port"] {
            assert!(
                DEFAULT_TOML.contains(&format!("# {optional} =")),
                "{optional}"
            );
        }
    }

    #[test]
    fn file_values_override_defaults_and_bad_values_are_named() {
        let c = Config::from_toml(
            "base_domain = \"dimos.gov.gr\"\n[http]\npublic_scheme = \"https\"\n",
        )
        .unwrap();
        assert_eq!(c.base_domain, "dimos.gov.gr");
        assert!(c.behind_tls());
        assert_eq!(
            c.public_origin("alimos.dimos.gov.gr"),
            "https://alimos.dimos.gov.gr"
        );
        let err = Config::from_toml("[http]\nbody_limit_bytes = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("body_limit_bytes"), "{err}");
        let err = Config::from_toml("lisen = \"0.0.0.0:80\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let mut c = Config::default();
        c.database.url = Some(Secret::new("postgres://dimos:s3cret@db/dimos"));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!toml::to_string(&c).unwrap().contains("s3cret"));
        assert_eq!(
            redact_url("postgres://dimos:s3cret@db/dimos"),
            "postgres://dimos:***@db/dimos"
        );
        assert_eq!(
            redact_url("sqlite://./data/dimos.db"),
            "sqlite://./data/dimos.db"
        );
    }

    #[test]
    fn default_database_is_sqlite_in_data_dir() {
        let c = Config::default();
        assert_eq!(
            c.database_url().expose(),
            "sqlite://./data/dimos.db?mode=rwc"
        );
        assert_eq!(
            c.public_origin("alimos.localhost"),
            "http://alimos.localhost:8080"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "dimos.toml",
                "base_domain = \"from-file.gr\"\nlog_format = \"json\"\n",
            )?;
            jail.set_env("DIMOS_BASE_DOMAIN", "from-env.gr");
            jail.set_env("DIMOS_HTTP__REQUEST_TIMEOUT_SECS", "7");
            jail.set_env("DATABASE_URL", "postgres://u:p@h/d");
            jail.set_env("DIMOS_TEST_POSTGRES_URL", "ignored");
            jail.set_env("DIMOS_CONFIG", "ignored");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.base_domain, "from-env.gr");
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(c.http.request_timeout_secs, 7);
            assert_eq!(c.database_url().expose(), "postgres://u:p@h/d");
            jail.set_env("DIMOS_LISTNE", "0.0.0.0:1");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(
                err.contains("listne"),
                "a misspelt variable is an error: {err}"
            );
            Ok(())
        });
    }

    #[test]
    fn proxies_providers_and_the_development_provider_are_checked() {
        let mut c = Config::default();
        c.http.trusted_proxies = vec!["10.0.0.0/8".into(), "127.0.0.1".into(), "::1".into()];
        c.validate().unwrap();
        assert_eq!(c.trusted_proxies().len(), 3);
        c.http.trusted_proxies = vec!["10.0.0.0/33".into()];
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("trusted_proxies")
        );
        let mut c = Config::default();
        c.identity.operator_provider = Some("nope".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("operator_provider")
        );
        let mut c = Config {
            base_domain: "dimos.example.gr".into(),
            ..Config::default()
        };
        // "auto" is off on a real domain; "on" is refused there.
        assert!(!c.dev_provider_enabled());
        c.identity.dev_provider = DevProvider::On;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("dev_provider")
        );
        assert_eq!(c.operator_provider(), "dev");
    }
}

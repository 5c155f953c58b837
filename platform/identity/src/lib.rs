//! People and sign-in: the OpenID Connect client (one code path for every
//! provider, the built-in development one included), the development
//! provider, tenant-scoped accounts, database-backed sessions, and the
//! tenant's hash-chained audit trail.

pub mod access;
pub mod accounts;
pub mod api_clients;
pub mod audit;
pub mod dev_provider;
pub mod oidc;
pub mod operator_tokens;
pub mod operators;
pub mod sessions;
pub mod verifications;

pub use accounts::{Account, AccountId, Assurance};
pub use audit::{AuditEntry, AuditLog};
pub use oidc::{Identity, OidcProvider, Pending, SignInError, SignedIn};
pub use sessions::DbSessionStore;

/// 256 random bits, URL-safe: session-bound CSRF tokens, codes, access tokens.
pub fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Compares secrets without revealing, by timing, where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

use dimos_kernel::config::{Config, ProviderConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The sign-in providers of this deployment, built from configuration.
#[derive(Debug)]
pub struct IdentityService {
    providers: BTreeMap<String, Arc<OidcProvider>>,
    dev: Option<Arc<dev_provider::DevProvider>>,
    default_provider: String,
    operators: Vec<String>,
    operator_provider: String,
    pub session_idle: std::time::Duration,
    pub session_absolute: std::time::Duration,
}

impl IdentityService {
    /// `public_base` is the origin of the base domain (where the development
    /// provider is served, at `/dev-idp`).
    pub fn from_config(cfg: &Config, public_base: &str) -> Result<Self, String> {
        let mut providers = BTreeMap::new();
        let roots = OidcProvider::extra_roots(&cfg.identity.ca_file)?;
        for (name, p) in &cfg.identity.providers {
            providers.insert(
                name.clone(),
                Arc::new(OidcProvider::with_roots(name, p, &roots)?),
            );
        }
        if cfg.dev_provider_enabled()
            && cfg.base_domain != "localhost"
            && !cfg.identity.allow_dev_provider_on_public_domain
        {
            return Err(format!(
                "the development identity provider lets anyone sign in as anyone; it is refused on {:?} \
                 (set identity.dev_provider = \"off\", or identity.allow_dev_provider_on_public_domain for staging)",
                cfg.base_domain
            ));
        }
        let dev = if cfg.dev_provider_enabled() {
            let issuer = format!("{}/dev-idp", public_base.trim_end_matches('/'));
            let dev = dev_provider::DevProvider::new(&issuer)?;
            let client = ProviderConfig {
                issuer: issuer.clone(),
                client_id: dev_provider::CLIENT_ID.into(),
                client_secret: Some(dimos_kernel::config::Secret::new(
                    dev_provider::CLIENT_SECRET,
                )),
                client_secret_file: None,
                scopes: vec![
                    "openid".into(),
                    "profile".into(),
                    "email".into(),
                    "phone".into(),
                ],
                claims: Default::default(),
                acr_levels: Default::default(),
            };
            // The demo signs in through the same client code as production.
            providers.insert(
                "dev".into(),
                Arc::new(OidcProvider::with_roots("dev", &client, &roots)?),
            );
            Some(Arc::new(dev))
        } else {
            None
        };
        if !providers.contains_key(&cfg.identity.default_provider) {
            tracing::warn!(
                provider = %cfg.identity.default_provider,
                "the default identity provider is not available: sign-in is disabled until one is configured"
            );
        }
        Ok(IdentityService {
            providers,
            dev,
            default_provider: cfg.identity.default_provider.clone(),
            operators: cfg.identity.operators.clone(),
            operator_provider: cfg.operator_provider().to_owned(),
            session_idle: std::time::Duration::from_secs(cfg.identity.session_idle_minutes * 60),
            session_absolute: std::time::Duration::from_secs(
                cfg.identity.session_absolute_hours * 3600,
            ),
        })
    }

    pub fn provider(&self, name: &str) -> Option<&Arc<OidcProvider>> {
        self.providers.get(name)
    }

    /// The provider a tenant's citizens (or staff) sign in with: the one the
    /// tenant names, else the deployment's default.
    pub fn provider_for_tenant(&self, chosen: Option<&str>) -> Option<&Arc<OidcProvider>> {
        self.providers.get(chosen.unwrap_or(&self.default_provider))
    }

    /// Names of the configured providers (`dev` included when on).
    pub fn provider_names(cfg: &Config) -> Vec<String> {
        let mut v: Vec<String> = cfg.identity.providers.keys().cloned().collect();
        if cfg.dev_provider_enabled() {
            v.push("dev".into());
        }
        v
    }

    /// Origins of every provider: forms that end in a redirect there (sign-out)
    /// must be allowed by the pages' `form-action` policy.
    pub fn provider_origins(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .providers
            .values()
            .filter_map(|p| url::Url::parse(p.issuer()).ok())
            .map(|u| u.origin().ascii_serialization())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether `provider` asserting `tax_id` makes someone a national
    /// operator: only the operators' provider is believed (a municipality's
    /// own provider can assert any tax id it likes), and with the
    /// development provider on, its demo operator counts too.
    pub fn is_operator(&self, provider: &str, tax_id: &str) -> bool {
        if provider != self.operator_provider || tax_id.is_empty() {
            return false;
        }
        let demo = provider == "dev"
            && self.dev.is_some()
            && dev_provider::person("national-operator").is_some_and(|p| p.tax_id == tax_id);
        self.operators.iter().any(|o| o == tax_id) || demo
    }

    /// The provider national operators sign in through.
    pub fn operator_provider(&self) -> Option<&Arc<OidcProvider>> {
        self.providers.get(&self.operator_provider)
    }

    pub fn dev(&self) -> Option<&Arc<dev_provider::DevProvider>> {
        self.dev.as_ref()
    }
}

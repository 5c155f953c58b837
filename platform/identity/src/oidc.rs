//! The OpenID Connect relying party: discovery, authorization code flow
//! with PKCE, `state` and `nonce`, ID-token validation (signature through the
//! provider's JWKS, re-fetched once when a token names an unknown key;
//! issuer; audience; expiry; nonce), userinfo, and claim mapping.

use crate::accounts::Assurance;
use crate::constant_time_eq;
use dimos_kernel::config::{ClaimMapping, ProviderConfig, Secret};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, Client,
    ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdToken, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Claims beyond the standard ones, kept as they come: the mapping decides
/// which one is the tax id or the assurance level.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ExtraClaims(pub BTreeMap<String, Value>);
impl AdditionalClaims for ExtraClaims {}

/// `end_session_endpoint` (RP-initiated logout) is not core metadata.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct LogoutMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// RFC 9207: the provider names itself in the authorization response
    /// (`iss`), which the relying party then checks (mix-up defence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for LogoutMetadata {}

pub type Metadata = ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
pub type DimosIdTokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub type DimosTokenResponse = StandardTokenResponse<DimosIdTokenFields, CoreTokenType>;
pub type DimosIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type DimosClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    DimosTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in failed. The code goes to the audit trail and the error page.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the identity provider could not be reached: {0}")]
    Discovery(String),
    #[error("no sign-in was in progress (expired, replayed, or from another browser)")]
    NoPendingSignIn,
    #[error("the state parameter does not match")]
    StateMismatch,
    #[error("the identity provider refused: {0}")]
    ProviderRefused(String),
    #[error("exchanging the code failed: {0}")]
    TokenExchange(String),
    #[error("the provider returned no ID token")]
    NoIdToken,
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("the provider's user information could not be read: {0}")]
    UserInfo(String),
    #[error("the sign-in was started on another host")]
    WrongHost,
    #[error(
        "the authorization response names another issuer (or none, though the provider says it names itself)"
    )]
    IssuerMismatch,
    #[error("this provider may not sign people in here")]
    ProviderNotTrusted,
    #[error("the provider does not honour this access token")]
    TokenRefused,
}

impl SignInError {
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::Discovery(_) => "provider_unreachable",
            SignInError::NoPendingSignIn => "no_pending_sign_in",
            SignInError::StateMismatch => "state_mismatch",
            SignInError::ProviderRefused(_) => "provider_refused",
            SignInError::TokenExchange(_) => "token_exchange_failed",
            SignInError::NoIdToken => "no_id_token",
            SignInError::InvalidIdToken(_) => "invalid_id_token",
            SignInError::UserInfo(_) => "userinfo_failed",
            SignInError::WrongHost => "wrong_host",
            SignInError::IssuerMismatch => "issuer_mismatch",
            SignInError::ProviderNotTrusted => "provider_not_trusted",
            SignInError::TokenRefused => "token_refused",
        }
    }
}

/// A sign-in in progress, kept in the person's session between the redirect
/// to the provider and the callback. Taken out (so used once) at the callback.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// Where to go after signing in (a same-site path).
    pub next: String,
}

/// Who signed in, with the claims mapped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub tax_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// What the provider asserts (`acr`), mapped; in-person verification may raise it.
    pub assurance: Assurance,
}

#[derive(Clone, Debug)]
pub struct SignedIn {
    pub identity: Identity,
    /// For RP-initiated logout (`id_token_hint`).
    pub id_token: String,
}

/// One configured provider. Discovery (and so the JWKS) is cached for ten
/// minutes and re-fetched at once when a token is signed with an unknown key.
pub struct OidcProvider {
    pub name: String,
    issuer: String,
    client_id: String,
    client_secret: Option<Secret>,
    scopes: Vec<String>,
    claims: ClaimMapping,
    acr_levels: BTreeMap<String, Assurance>,
    http: openidconnect::reqwest::Client,
    cached: RwLock<Option<(Metadata, Instant)>>,
    /// Access tokens the provider honoured lately (by SHA-256), with whom
    /// they stand for: see [`OidcProvider::identity_of_access_token`].
    tokens: std::sync::Mutex<std::collections::HashMap<[u8; 32], (Identity, Instant)>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .finish()
    }
}

const METADATA_TTL: Duration = Duration::from_secs(600);
/// How long an access token the provider honoured is taken without asking
/// again (a token revoked at the provider stops within this).
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(60);
/// Access tokens remembered at most; past it the memory starts afresh.
const ACCESS_TOKENS_KEPT: usize = 10_000;
/// How far a provider's clock may be ahead of ours.
const MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

impl OidcProvider {
    pub fn new(name: &str, cfg: &ProviderConfig) -> Result<Self, String> {
        Self::with_roots(name, cfg, &[])
    }

    /// As `new`, trusting `roots` besides the web's (`identity.ca_file`).
    pub fn with_roots(
        name: &str,
        cfg: &ProviderConfig,
        roots: &[openidconnect::reqwest::Certificate],
    ) -> Result<Self, String> {
        IssuerUrl::new(cfg.issuer.clone()).map_err(|e| format!("provider {name}: issuer: {e}"))?;
        let secret = match (&cfg.client_secret, &cfg.client_secret_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(path)) => Some(Secret::new(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        format!(
                            "provider {name}: client_secret_file {}: {e}",
                            path.display()
                        )
                    })?
                    .trim()
                    .to_owned(),
            )),
            (None, None) => None,
        };
        let mut acr_levels = BTreeMap::new();
        for (acr, level) in &cfg.acr_levels {
            let l = Assurance::parse(level).ok_or_else(|| {
                format!("provider {name}: acr level {level:?} is not low, substantial or high")
            })?;
            acr_levels.insert(acr.clone(), l);
        }
        let mut http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would open the door to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10));
        for root in roots {
            http = http.add_root_certificate(root.clone());
        }
        let http = http
            .build()
            .map_err(|e| format!("provider {name}: HTTP client: {e}"))?;
        Ok(OidcProvider {
            name: name.to_owned(),
            issuer: cfg.issuer.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: secret,
            scopes: cfg.scopes.clone(),
            claims: cfg.claims.clone(),
            acr_levels,
            http,
            cached: RwLock::new(None),
            tokens: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The extra CA certificates of `identity.ca_file` (none when empty).
    pub fn extra_roots(
        path: &std::path::Path,
    ) -> Result<Vec<openidconnect::reqwest::Certificate>, String> {
        if path.as_os_str().is_empty() {
            return Ok(vec![]);
        }
        let pem =
            std::fs::read(path).map_err(|e| format!("identity.ca_file {}: {e}", path.display()))?;
        let roots = openidconnect::reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("identity.ca_file {}: {e}", path.display()))?;
        if roots.is_empty() {
            return Err(format!(
                "identity.ca_file {}: no PEM certificate in the file",
                path.display()
            ));
        }
        Ok(roots)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `acr` values configured for this provider, strongest first.
    pub fn requested_acr_values(&self) -> Vec<String> {
        let mut v: Vec<(&String, &Assurance)> = self.acr_levels.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }

    async fn metadata(&self, refresh: bool) -> Result<Metadata, SignInError> {
        if !refresh
            && let Some((m, at)) = self.cached.read().await.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        let m = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| SignInError::Discovery(error_chain(&e)))?;
        *self.cached.write().await = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn client(&self, m: Metadata, redirect_uri: &str) -> Result<DimosClient, SignInError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        Ok(self.bare_client(m).set_redirect_uri(redirect))
    }

    fn bare_client(&self, m: Metadata) -> DimosClient {
        DimosClient::from_provider_metadata(
            m,
            ClientId::new(self.client_id.clone()),
            self.client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        )
    }

    /// Who an access token of this provider stands for (a citizen's app
    /// calling the public API with the token it got from the provider):
    /// the provider's userinfo endpoint says, or refuses a token it does
    /// not honour ([`SignInError::TokenRefused`]). An answer is remembered
    /// for [`ACCESS_TOKEN_TTL`], so an app calling often does not make the
    /// provider answer each call.
    pub async fn identity_of_access_token(&self, token: &str) -> Result<Identity, SignInError> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some((id, at)) = self.tokens_lock().get(&key)
            && at.elapsed() < ACCESS_TOKEN_TTL
        {
            return Ok(id.clone());
        }
        let metadata = self.metadata(false).await?;
        let issuer = metadata.issuer().to_string();
        let client = self.bare_client(metadata);
        let req = client
            .user_info(openidconnect::AccessToken::new(token.to_owned()), None)
            .map_err(|e| SignInError::UserInfo(e.to_string()))?;
        let info: openidconnect::UserInfoClaims<ExtraClaims, CoreGenderClaim> =
            match req.request_async(&self.http).await {
                Ok(info) => info,
                Err(openidconnect::UserInfoError::Response(status, _, _))
                    if status.is_client_error() =>
                {
                    return Err(SignInError::TokenRefused);
                }
                Err(e) => return Err(SignInError::UserInfo(error_chain(&e))),
            };
        let mut extra = info.additional_claims().0.clone();
        put_standard(&mut extra, info.standard_claims());
        let identity =
            self.map_claims(issuer, info.standard_claims().subject().to_string(), &extra);
        let mut kept = self.tokens_lock();
        if kept.len() >= ACCESS_TOKENS_KEPT {
            kept.retain(|_, (_, at)| at.elapsed() < ACCESS_TOKEN_TTL);
            if kept.len() >= ACCESS_TOKENS_KEPT {
                kept.clear();
            }
        }
        kept.insert(key, (identity.clone(), Instant::now()));
        Ok(identity)
    }

    fn tokens_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<[u8; 32], (Identity, Instant)>> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The URL to send the person to, and what to remember until they return.
    pub async fn start(
        &self,
        redirect_uri: &str,
        next: &str,
    ) -> Result<(String, Pending), SignInError> {
        let client = self.client(self.metadata(false).await?, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in self.scopes.iter().filter(|s| s.as_str() != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        // Ask for the assurance levels we know, strongest first: some
        // providers send `acr` only when asked.
        for acr in self.requested_acr_values() {
            req = req.add_auth_context_value(openidconnect::AuthenticationContextClass::new(acr));
        }
        let (url, state, nonce) = req.url();
        Ok((
            url.to_string(),
            Pending {
                provider: self.name.clone(),
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                redirect_uri: redirect_uri.to_owned(),
                next: next.to_owned(),
            },
        ))
    }

    /// Completes the flow: checks `state`, exchanges the code with the PKCE
    /// verifier, validates the ID token, reads userinfo, maps the claims.
    pub async fn finish(
        &self,
        pending: &Pending,
        code: &str,
        state: &str,
        iss: Option<&str>,
    ) -> Result<SignedIn, SignInError> {
        if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(SignInError::StateMismatch);
        }
        let mut metadata = self.metadata(false).await?;
        // RFC 9207: a provider that says it names itself must have, and
        // must be the one we sent the person to.
        let advertises_iss = metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true);
        match iss {
            Some(i) if i != metadata.issuer().as_str() => {
                return Err(SignInError::IssuerMismatch);
            }
            None if advertises_iss => return Err(SignInError::IssuerMismatch),
            _ => {}
        }
        let client = self.client(metadata.clone(), &pending.redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::TokenExchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::TokenExchange(error_chain(&e)))?;
        let id_token = token
            .extra_fields()
            .id_token()
            .ok_or(SignInError::NoIdToken)?
            .clone();
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys: fetch the JWKS again, once.
                metadata = self.metadata(true).await?;
                let client = self.client(metadata.clone(), &pending.redirect_uri)?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| SignInError::InvalidIdToken(e.to_string()))?
                    .clone()
            }
            Err(e) => return Err(SignInError::InvalidIdToken(e.to_string())),
        };
        // openidconnect checks expiry, not the issue time: a token "issued"
        // years from now would otherwise pass.
        if claims.issue_time() > dimos_kernel::clock::wall_now() + MAX_CLOCK_SKEW {
            return Err(SignInError::InvalidIdToken(
                "issued in the future (iat)".into(),
            ));
        }
        let mut extra = claims.additional_claims().0.clone();
        let std = &claims;
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                extra.entry(k.to_owned()).or_insert(Value::String(v));
            }
        };
        put(
            "given_name",
            std.given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
        );
        put(
            "family_name",
            std.family_name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
        );
        put("email", std.email().map(|e| e.to_string()));
        put("phone_number", std.phone_number().map(|p| p.to_string()));
        put("acr", claims.auth_context_ref().map(|a| a.to_string()));

        // Userinfo adds what the ID token left out; the subject must match.
        let client = self.client(metadata, &pending.redirect_uri)?;
        if let Ok(req) =
            client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
        {
            let info: openidconnect::UserInfoClaims<ExtraClaims, CoreGenderClaim> = req
                .request_async(&self.http)
                .await
                .map_err(|e| SignInError::UserInfo(error_chain(&e)))?;
            for (k, v) in &info.additional_claims().0 {
                extra.entry(k.clone()).or_insert(v.clone());
            }
            put_standard(&mut extra, info.standard_claims());
        }
        let identity = self.map_claims(
            claims.issuer().to_string(),
            claims.subject().to_string(),
            &extra,
        );
        Ok(SignedIn {
            identity,
            id_token: id_token.to_string(),
        })
    }

    fn map_claims(&self, issuer: String, subject: String, c: &BTreeMap<String, Value>) -> Identity {
        let get = |k: &str| {
            c.get(k)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let acr = get(&self.claims.acr);
        Identity {
            issuer,
            subject,
            tax_id: get(&self.claims.tax_id),
            given_name: get(&self.claims.given_name),
            family_name: get(&self.claims.family_name),
            email: get(&self.claims.email),
            phone: get(&self.claims.phone),
            assurance: acr
                .and_then(|a| {
                    self.acr_levels
                        .get(&a)
                        .copied()
                        .or_else(|| Assurance::parse(&a))
                })
                .unwrap_or(Assurance::Low),
        }
    }

    /// Where to send the browser to end the provider's session too, if the
    /// provider supports RP-initiated logout.
    pub async fn end_session_url(&self, id_token: &str, post_logout: &str) -> Option<String> {
        let m = self.metadata(false).await.ok()?;
        let end = m.additional_metadata().end_session_endpoint.clone()?;
        let mut url = url::Url::parse(&end).ok()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", post_logout)
            .append_pair("client_id", &self.client_id);
        Some(url.to_string())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The standard claims the mapping may name, added where `extra` lacks them.
fn put_standard(
    extra: &mut BTreeMap<String, Value>,
    s: &openidconnect::StandardClaims<CoreGenderClaim>,
) {
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            extra.entry(k.to_owned()).or_insert(Value::String(v));
        }
    };
    put(
        "given_name",
        s.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
    );
    put(
        "family_name",
        s.family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
    );
    put("email", s.email().map(|e| e.to_string()));
    put("phone_number", s.phone_number().map(|p| p.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_roots_come_from_a_pem_file_or_fail_clearly() {
        use std::path::Path;
        assert!(OidcProvider::extra_roots(Path::new("")).unwrap().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-subj", "/CN=Private CA", "-days", "1"])
            .output()
            .expect("openssl runs");
        assert!(made.status.success());
        assert_eq!(OidcProvider::extra_roots(&cert).unwrap().len(), 1);
        let provider = ProviderConfig {
            issuer: "https://idp.internal.example/realms/citizens".into(),
            client_id: "dimos".into(),
            client_secret: None,
            client_secret_file: None,
            scopes: vec!["openid".into()],
            claims: Default::default(),
            acr_levels: Default::default(),
        };
        let roots = OidcProvider::extra_roots(&cert).unwrap();
        assert!(OidcProvider::with_roots("internal", &provider, &roots).is_ok());
        let e = OidcProvider::extra_roots(&key).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = OidcProvider::extra_roots(&dir.path().join("missing.pem")).unwrap_err();
        assert!(e.starts_with("identity.ca_file"), "{e}");
    }

    fn provider(acr_levels: &[(&str, &str)]) -> OidcProvider {
        let cfg = ProviderConfig {
            issuer: "https://idp.example.gr".into(),
            client_id: "dimos".into(),
            client_secret: None,
            client_secret_file: None,
            scopes: vec!["openid".into()],
            claims: ClaimMapping {
                tax_id: "afm".into(),
                ..ClaimMapping::default()
            },
            acr_levels: acr_levels
                .iter()
                .map(|(a, l)| ((*a).into(), (*l).into()))
                .collect(),
        };
        OidcProvider::new("test", &cfg).unwrap()
    }

    #[test]
    fn claims_are_mapped_as_configured() {
        let p = provider(&[("urn:loa:2", "substantial")]);
        let c: BTreeMap<String, Value> = serde_json::from_value(serde_json::json!({
            "afm": "123456789", "given_name": "Μαρία", "family_name": " ", "acr": "urn:loa:2"
        }))
        .unwrap();
        let id = p.map_claims("iss".into(), "sub".into(), &c);
        assert_eq!(id.tax_id.as_deref(), Some("123456789"));
        assert_eq!(id.given_name.as_deref(), Some("Μαρία"));
        assert_eq!(id.family_name, None, "blank claims are absent");
        assert_eq!(id.assurance, Assurance::Substantial);
        let none = p.map_claims("iss".into(), "sub".into(), &BTreeMap::new());
        assert_eq!(none.assurance, Assurance::Low, "no acr: the lowest level");
    }

    #[test]
    fn bad_acr_levels_are_refused_at_start() {
        let cfg = ProviderConfig {
            issuer: "https://idp.example.gr".into(),
            client_id: "dimos".into(),
            client_secret: None,
            client_secret_file: None,
            scopes: vec![],
            claims: ClaimMapping::default(),
            acr_levels: [("x".to_string(), "medium".to_string())].into(),
        };
        assert!(OidcProvider::new("p", &cfg).unwrap_err().contains("medium"));
    }

    #[test]
    fn the_client_secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        let cfg = ProviderConfig {
            issuer: "https://idp.example.gr".into(),
            client_id: "dimos".into(),
            client_secret: None,
            client_secret_file: Some(path.clone()),
            scopes: vec![],
            claims: ClaimMapping::default(),
            acr_levels: Default::default(),
        };
        let p = OidcProvider::new("p", &cfg).unwrap();
        assert_eq!(
            p.client_secret
                .as_ref()
                .map(dimos_kernel::config::Secret::expose),
            Some("s3cret"),
            "trimmed"
        );
        assert!(
            !format!("{p:?}").contains("s3cret"),
            "never in Debug output"
        );
        let missing = ProviderConfig {
            client_secret_file: Some(dir.path().join("nope")),
            ..cfg
        };
        assert!(
            OidcProvider::new("p", &missing)
                .unwrap_err()
                .contains("client_secret_file")
        );
    }

    #[test]
    fn state_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

//! The built-in development identity provider: a real OpenID Connect issuer
//! (discovery, JWKS, authorization with a page to pick a demo person, token,
//! userinfo, end-session) so the demo signs in through exactly the client
//! code used in production. Never enabled for a real domain.
//!
//! Codes and access tokens live in this process's memory: the development
//! provider serves one replica (the demo), unlike everything else.

use crate::oidc::{ExtraClaims, LogoutMetadata, Metadata};
use crate::random_token;
use base64::Engine;
use openidconnect::core::{
    CoreClaimName, CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, AuthenticationContextClass, AuthorizationCode, EndUserEmail,
    EndUserFamilyName, EndUserGivenName, EndUserName, EndUserPhoneNumber, IdToken, IdTokenClaims,
    IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, LocalizedClaim, Nonce, PrivateSigningKey,
    ResponseTypes, Scope, StandardClaims, SubjectIdentifier, TokenUrl, UserInfoUrl,
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "dimos-dev";
/// Public on purpose: this provider authenticates nobody for real.
pub const CLIENT_SECRET: &str = "dimos-dev-secret";
const KEY_ID: &str = "dimos-dev-1";
const CODE_TTL: Duration = Duration::from_secs(60);
const TOKEN_TTL: Duration = Duration::from_secs(300);

/// The demo people. Their roles in each demo municipality arrive with RBAC.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DemoPerson {
    pub key: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub tax_id: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    /// Assurance the provider asserts (`acr`).
    pub acr: &'static str,
    pub role_el: &'static str,
    pub role_en: &'static str,
}

pub const PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        key: "citizen",
        given_name: "Μαρία",
        family_name: "Παπαδοπούλου",
        tax_id: "100000015",
        email: "maria@example.gr",
        phone: "+306900000001",
        acr: "low",
        role_el: "Πολίτης (μη επαληθευμένος)",
        role_en: "Citizen (unverified)",
    },
    DemoPerson {
        key: "citizen-verified",
        given_name: "Γιώργος",
        family_name: "Νικολάου",
        tax_id: "100000027",
        email: "giorgos@example.gr",
        phone: "+306900000002",
        acr: "substantial",
        role_el: "Πολίτης (επαληθευμένος)",
        role_en: "Citizen (verified)",
    },
    DemoPerson {
        key: "kep-officer",
        given_name: "Ελένη",
        family_name: "Γεωργίου",
        tax_id: "100000039",
        email: "eleni@example.gr",
        phone: "+306900000003",
        acr: "substantial",
        role_el: "Υπάλληλος ΚΕΠ",
        role_en: "KEP officer",
    },
    DemoPerson {
        key: "technical-employee",
        given_name: "Νίκος",
        family_name: "Κωνσταντίνου",
        tax_id: "100000040",
        email: "nikos@example.gr",
        phone: "+306900000004",
        acr: "substantial",
        role_el: "Υπάλληλος Τεχνικής Υπηρεσίας",
        role_en: "Technical service employee",
    },
    DemoPerson {
        key: "council-secretary",
        given_name: "Κατερίνα",
        family_name: "Δημητρίου",
        tax_id: "100000052",
        email: "katerina@example.gr",
        phone: "+306900000005",
        acr: "substantial",
        role_el: "Γραμματέας Δημοτικού Συμβουλίου",
        role_en: "Municipal council secretary",
    },
    DemoPerson {
        key: "mayor",
        given_name: "Ανδρέας",
        family_name: "Ιωάννου",
        tax_id: "100000064",
        email: "andreas@example.gr",
        phone: "+306900000006",
        acr: "substantial",
        role_el: "Δήμαρχος",
        role_en: "Mayor",
    },
    DemoPerson {
        key: "nursery-manager",
        given_name: "Σοφία",
        family_name: "Αντωνίου",
        tax_id: "100000076",
        email: "sofia@example.gr",
        phone: "+306900000007",
        acr: "substantial",
        role_el: "Προϊσταμένη παιδικού σταθμού",
        role_en: "Nursery station manager",
    },
    DemoPerson {
        key: "municipal-admin",
        given_name: "Δημήτρης",
        family_name: "Βασιλείου",
        tax_id: "100000088",
        email: "dimitris@example.gr",
        phone: "+306900000008",
        acr: "substantial",
        role_el: "Διαχειριστής δήμου",
        role_en: "Municipal administrator",
    },
    DemoPerson {
        key: "cleaning-supervisor",
        given_name: "Παναγιώτης",
        family_name: "Σταυρόπουλος",
        tax_id: "100000107",
        email: "panagiotis@example.gr",
        phone: "+306900000010",
        acr: "substantial",
        role_el: "Προϊστάμενος υπηρεσίας καθαριότητας",
        role_en: "Cleaning department supervisor",
    },
    DemoPerson {
        key: "cleaning-crew",
        given_name: "Βασίλης",
        family_name: "Μιχαηλίδης",
        tax_id: "100000119",
        email: "vasilis@example.gr",
        phone: "+306900000011",
        acr: "substantial",
        role_el: "Συνεργείο καθαριότητας",
        role_en: "Cleaning crew",
    },
    DemoPerson {
        key: "national-operator",
        given_name: "Αναστασία",
        family_name: "Χριστοδούλου",
        tax_id: "100000090",
        email: "anastasia@example.gr",
        phone: "+306900000009",
        acr: "high",
        role_el: "Εθνικός διαχειριστής",
        role_en: "National operator",
    },
];

/// Verified parents for trying the nurseries' placement with a few dozen
/// families (the provider's page lists them apart).
pub const FAMILIES: &[DemoPerson] = &[
    DemoPerson {
        key: "parent-01",
        given_name: "Αλέξανδρος",
        family_name: "Αθανασίου",
        tax_id: "300000010",
        email: "parent01@example.gr",
        phone: "+306900001001",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-02",
        given_name: "Βασιλική",
        family_name: "Βλάχου",
        tax_id: "300000022",
        email: "parent02@example.gr",
        phone: "+306900001002",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-03",
        given_name: "Γεώργιος",
        family_name: "Γαλάνης",
        tax_id: "300000034",
        email: "parent03@example.gr",
        phone: "+306900001003",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-04",
        given_name: "Δέσποινα",
        family_name: "Διαμαντή",
        tax_id: "300000046",
        email: "parent04@example.gr",
        phone: "+306900001004",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-05",
        given_name: "Ευάγγελος",
        family_name: "Ευθυμίου",
        tax_id: "300000058",
        email: "parent05@example.gr",
        phone: "+306900001005",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-06",
        given_name: "Ζωή",
        family_name: "Ζαχαρίου",
        tax_id: "300000060",
        email: "parent06@example.gr",
        phone: "+306900001006",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-07",
        given_name: "Ηλίας",
        family_name: "Ηλιόπουλος",
        tax_id: "300000071",
        email: "parent07@example.gr",
        phone: "+306900001007",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-08",
        given_name: "Θεοδώρα",
        family_name: "Θεοδωρίδου",
        tax_id: "300000083",
        email: "parent08@example.gr",
        phone: "+306900001008",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-09",
        given_name: "Ιωάννης",
        family_name: "Ιατρίδης",
        tax_id: "300000095",
        email: "parent09@example.gr",
        phone: "+306900001009",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-10",
        given_name: "Καλλιόπη",
        family_name: "Καραγιάννη",
        tax_id: "300000102",
        email: "parent10@example.gr",
        phone: "+306900001010",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-11",
        given_name: "Λάμπρος",
        family_name: "Λαμπράκης",
        tax_id: "300000114",
        email: "parent11@example.gr",
        phone: "+306900001011",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-12",
        given_name: "Μαρίνα",
        family_name: "Μαυρίδου",
        tax_id: "300000126",
        email: "parent12@example.gr",
        phone: "+306900001012",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-13",
        given_name: "Νικόλαος",
        family_name: "Νικολαΐδης",
        tax_id: "300000138",
        email: "parent13@example.gr",
        phone: "+306900001013",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-14",
        given_name: "Ξανθή",
        family_name: "Ξενάκη",
        tax_id: "300000140",
        email: "parent14@example.gr",
        phone: "+306900001014",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-15",
        given_name: "Οδυσσέας",
        family_name: "Οικονόμου",
        tax_id: "300000151",
        email: "parent15@example.gr",
        phone: "+306900001015",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-16",
        given_name: "Παναγιώτα",
        family_name: "Πετράκη",
        tax_id: "300000163",
        email: "parent16@example.gr",
        phone: "+306900001016",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-17",
        given_name: "Ραφαήλ",
        family_name: "Ρήγας",
        tax_id: "300000175",
        email: "parent17@example.gr",
        phone: "+306900001017",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-18",
        given_name: "Σταυρούλα",
        family_name: "Σαββίδου",
        tax_id: "300000187",
        email: "parent18@example.gr",
        phone: "+306900001018",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-19",
        given_name: "Τάσος",
        family_name: "Τσακίρης",
        tax_id: "300000199",
        email: "parent19@example.gr",
        phone: "+306900001019",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-20",
        given_name: "Υπατία",
        family_name: "Υφαντή",
        tax_id: "300000206",
        email: "parent20@example.gr",
        phone: "+306900001020",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-21",
        given_name: "Φώτης",
        family_name: "Φραγκιαδάκης",
        tax_id: "300000218",
        email: "parent21@example.gr",
        phone: "+306900001021",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-22",
        given_name: "Χριστίνα",
        family_name: "Χατζή",
        tax_id: "300000220",
        email: "parent22@example.gr",
        phone: "+306900001022",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-23",
        given_name: "Άγγελος",
        family_name: "Αντωνόπουλος",
        tax_id: "300000231",
        email: "parent23@example.gr",
        phone: "+306900001023",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
    DemoPerson {
        key: "parent-24",
        given_name: "Ωραιοζήλη",
        family_name: "Ωραιοπούλου",
        tax_id: "300000243",
        email: "parent24@example.gr",
        phone: "+306900001024",
        acr: "substantial",
        role_el: "Γονέας (επαληθευμένος)",
        role_en: "Parent (verified)",
    },
];

pub fn person(key: &str) -> Option<&'static DemoPerson> {
    PEOPLE.iter().chain(FAMILIES).find(|p| p.key == key)
}

/// An OAuth error, as the token endpoint reports it (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

struct CodeGrant {
    person: &'static DemoPerson,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    issued: Instant,
}

/// The token request's form fields.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

pub struct DevProvider {
    issuer: String,
    key: CoreRsaPrivateSigningKey,
    codes: Mutex<HashMap<String, CodeGrant>>,
    tokens: Mutex<HashMap<String, (&'static DemoPerson, Instant)>>,
}

impl std::fmt::Debug for DevProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevProvider")
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl DevProvider {
    pub fn new(issuer: &str) -> Result<Self, String> {
        let key = CoreRsaPrivateSigningKey::from_pem(
            include_str!("dev-provider-key.pem"),
            Some(JsonWebKeyId::new(KEY_ID.into())),
        )?;
        Ok(DevProvider {
            issuer: issuer.trim_end_matches('/').to_owned(),
            key,
            codes: Mutex::default(),
            tokens: Mutex::default(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// `/.well-known/openid-configuration`.
    pub fn discovery(&self) -> Result<Value, String> {
        let e = |e: openidconnect::url::ParseError| e.to_string();
        let m = Metadata::new(
            IssuerUrl::new(self.issuer.clone()).map_err(e)?,
            AuthUrl::new(self.url("/authorize")).map_err(e)?,
            JsonWebKeySetUrl::new(self.url("/jwks")).map_err(e)?,
            vec![ResponseTypes::new(vec![CoreResponseType::Code])],
            vec![CoreSubjectIdentifierType::Public],
            vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
            LogoutMetadata {
                end_session_endpoint: Some(self.url("/logout")),
                authorization_response_iss_parameter_supported: Some(true),
            },
        )
        .set_token_endpoint(Some(TokenUrl::new(self.url("/token")).map_err(e)?))
        .set_userinfo_endpoint(Some(UserInfoUrl::new(self.url("/userinfo")).map_err(e)?))
        .set_scopes_supported(Some(
            ["openid", "profile", "email", "phone"]
                .iter()
                .map(|s| Scope::new((*s).into()))
                .collect(),
        ))
        .set_claims_supported(Some(
            [
                "sub",
                "name",
                "given_name",
                "family_name",
                "email",
                "phone_number",
                "tax_id",
                "acr",
            ]
            .iter()
            .map(|c| CoreClaimName::new((*c).into()))
            .collect(),
        ));
        serde_json::to_value(&m).map_err(|e| e.to_string())
    }

    pub fn jwks(&self) -> Value {
        serde_json::to_value(CoreJsonWebKeySet::new(vec![self.key.as_verification_key()]))
            .unwrap_or(Value::Null)
    }

    /// Checks an authorization request's client and redirect target.
    pub fn check_client(&self, client_id: &str, redirect_ok: bool) -> Result<(), OAuthError> {
        if client_id != CLIENT_ID {
            return Err(OAuthError::new("unauthorized_client", "unknown client_id"));
        }
        if !redirect_ok {
            return Err(OAuthError::new(
                "invalid_request",
                "redirect_uri is not a registered municipality's callback",
            ));
        }
        Ok(())
    }

    /// The person picked on the authorization page: a one-time code.
    pub fn issue_code(
        &self,
        person: &'static DemoPerson,
        client_id: &str,
        redirect_uri: &str,
        nonce: Option<String>,
        code_challenge: Option<String>,
    ) -> String {
        let code = random_token();
        let mut codes = self
            .codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        codes.retain(|_, g| g.issued.elapsed() < CODE_TTL);
        codes.insert(
            code.clone(),
            CodeGrant {
                person,
                client_id: client_id.into(),
                redirect_uri: redirect_uri.into(),
                nonce,
                code_challenge,
                issued: Instant::now(),
            },
        );
        code
    }

    /// The token endpoint: a code (once), checked against its client,
    /// redirect URI and PKCE challenge, for an ID token and access token.
    pub fn token(&self, req: &TokenRequest) -> Result<Value, OAuthError> {
        if req.grant_type.as_deref() != Some("authorization_code") {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "only authorization_code",
            ));
        }
        if req.client_id.as_deref() != Some(CLIENT_ID)
            || req.client_secret.as_deref() != Some(CLIENT_SECRET)
        {
            return Err(OAuthError::new(
                "invalid_client",
                "client authentication failed",
            ));
        }
        let code = req
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::new("invalid_request", "code is missing"))?;
        let grant = self
            .codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(code)
            .ok_or_else(|| OAuthError::new("invalid_grant", "unknown, used or expired code"))?;
        if grant.issued.elapsed() > CODE_TTL {
            return Err(OAuthError::new("invalid_grant", "expired code"));
        }
        if Some(grant.redirect_uri.as_str()) != req.redirect_uri.as_deref()
            || Some(grant.client_id.as_str()) != req.client_id.as_deref()
        {
            return Err(OAuthError::new(
                "invalid_grant",
                "redirect_uri or client does not match the code",
            ));
        }
        if let Some(challenge) = &grant.code_challenge {
            let verifier = req.code_verifier.as_deref().unwrap_or("");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if &computed != challenge {
                return Err(OAuthError::new("invalid_grant", "PKCE verification failed"));
            }
        }
        let access = random_token();
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(access.clone(), (grant.person, Instant::now()));
        let id_token = self
            .id_token(
                grant.person,
                grant.nonce,
                &AccessToken::new(access.clone()),
                &AuthorizationCode::new(code.into()),
            )
            .map_err(|e| OAuthError::new("server_error", e))?;
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL.as_secs(),
            "scope": "openid profile email phone",
            "id_token": id_token,
        }))
    }

    fn id_token(
        &self,
        p: &DemoPerson,
        nonce: Option<String>,
        access: &AccessToken,
        code: &AuthorizationCode,
    ) -> Result<String, String> {
        let now = dimos_kernel::clock::wall_now();
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| e.to_string())?;
        let mut claims = IdTokenClaims::<ExtraClaims, CoreGenderClaim>::new(
            issuer,
            vec![Audience::new(CLIENT_ID.into())],
            now + chrono::Duration::minutes(5),
            now,
            standard_claims(p),
            ExtraClaims(
                [("tax_id".to_string(), Value::from(p.tax_id))]
                    .into_iter()
                    .collect(),
            ),
        )
        .set_auth_context_ref(Some(AuthenticationContextClass::new(p.acr.into())));
        if let Some(n) = nonce {
            claims = claims.set_nonce(Some(Nonce::new(n)));
        }
        let token: IdToken<
            ExtraClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        > = IdToken::new(
            claims,
            &self.key,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Some(access),
            Some(code),
        )
        .map_err(|e| e.to_string())?;
        Ok(token.to_string())
    }

    pub fn userinfo(&self, bearer: &str) -> Result<Value, OAuthError> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (p, issued) = tokens
            .get(bearer)
            .ok_or_else(|| OAuthError::new("invalid_token", "unknown access token"))?;
        if issued.elapsed() > TOKEN_TTL {
            return Err(OAuthError::new("invalid_token", "expired access token"));
        }
        Ok(json!({
            "sub": p.key,
            "name": format!("{} {}", p.given_name, p.family_name),
            "given_name": p.given_name,
            "family_name": p.family_name,
            "email": p.email,
            "phone_number": p.phone,
            "tax_id": p.tax_id,
            // The level as the ID token says it: an app calling the API
            // with this person's access token learns it here.
            "acr": p.acr,
        }))
    }
}

fn standard_claims(p: &DemoPerson) -> StandardClaims<CoreGenderClaim> {
    let one = |s: &str| Some(LocalizedClaim::from(s.to_owned()));
    StandardClaims::new(SubjectIdentifier::new(p.key.into()))
        .set_name(
            one(&format!("{} {}", p.given_name, p.family_name)).map(|c| {
                c.iter()
                    .map(|(l, v)| (l.cloned(), EndUserName::new(v.clone())))
                    .collect()
            }),
        )
        .set_given_name(one(p.given_name).map(|c| {
            c.iter()
                .map(|(l, v)| (l.cloned(), EndUserGivenName::new(v.clone())))
                .collect()
        }))
        .set_family_name(one(p.family_name).map(|c| {
            c.iter()
                .map(|(l, v)| (l.cloned(), EndUserFamilyName::new(v.clone())))
                .collect()
        }))
        .set_email(Some(EndUserEmail::new(p.email.into())))
        .set_phone_number(Some(EndUserPhoneNumber::new(p.phone.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkce() -> (String, String) {
        let verifier = "a".repeat(43);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        (verifier, challenge)
    }

    #[test]
    fn codes_are_single_use_and_bound_to_redirect_and_pkce() {
        let p = DevProvider::new("http://localhost:8080/dev-idp").unwrap();
        let (verifier, challenge) = pkce();
        let person = person("citizen").unwrap();
        let redirect = "http://alimos.localhost:8080/auth/callback";
        let req = |code: &str, verifier: &str, redirect: &str| TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code.into()),
            redirect_uri: Some(redirect.into()),
            code_verifier: Some(verifier.into()),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(CLIENT_SECRET.into()),
        };
        let code = p.issue_code(
            person,
            CLIENT_ID,
            redirect,
            Some("n".into()),
            Some(challenge.clone()),
        );
        assert_eq!(
            p.token(&req(&code, "wrong", redirect)).unwrap_err().error,
            "invalid_grant"
        );
        let code = p.issue_code(
            person,
            CLIENT_ID,
            redirect,
            Some("n".into()),
            Some(challenge.clone()),
        );
        assert_eq!(
            p.token(&req(&code, &verifier, "http://evil/cb"))
                .unwrap_err()
                .error,
            "invalid_grant"
        );
        let code = p.issue_code(
            person,
            CLIENT_ID,
            redirect,
            Some("n".into()),
            Some(challenge),
        );
        let ok = p.token(&req(&code, &verifier, redirect)).unwrap();
        assert!(ok["id_token"].as_str().unwrap().split('.').count() == 3);
        assert_eq!(
            p.token(&req(&code, &verifier, redirect)).unwrap_err().error,
            "invalid_grant",
            "used once"
        );
        let info = p.userinfo(ok["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(info["tax_id"], "100000015");
    }

    #[test]
    fn demo_families_have_valid_distinct_tax_ids_and_are_verified() {
        let mut seen = std::collections::BTreeSet::new();
        for p in PEOPLE.iter().chain(FAMILIES) {
            assert!(p.tax_id.parse::<dimos_kernel::TaxId>().is_ok(), "{}", p.key);
            assert!(seen.insert(p.tax_id), "{} repeats a tax id", p.key);
            assert_eq!(person(p.key).map(|x| x.tax_id), Some(p.tax_id));
        }
        assert_eq!(FAMILIES.len(), 24);
        assert!(FAMILIES.iter().all(|p| p.acr == "substantial"));
    }

    #[test]
    fn discovery_and_jwks_are_well_formed() {
        let p = DevProvider::new("http://localhost:8080/dev-idp").unwrap();
        let d = p.discovery().unwrap();
        assert_eq!(d["issuer"], "http://localhost:8080/dev-idp");
        assert_eq!(
            d["end_session_endpoint"],
            "http://localhost:8080/dev-idp/logout"
        );
        assert_eq!(p.jwks()["keys"][0]["kid"], KEY_ID);
        assert_eq!(PEOPLE.len(), 11);
    }
}

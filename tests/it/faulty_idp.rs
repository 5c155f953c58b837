//! An identity provider that misbehaves on purpose, built from
//! openidconnect's provider types: each fault must make the relying party
//! refuse the sign-in with a clear page and an audit entry.

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dimos_identity::oidc::{ExtraClaims, LogoutMetadata, Metadata};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId,
    JsonWebKeySetUrl, Nonce, PrivateSigningKey, ResponseTypes, StandardClaims, SubjectIdentifier,
    TokenUrl, UserInfoUrl,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    BadSignature,
    UnknownKeyId,
    WrongAudience,
    WrongIssuer,
    Expired,
    MissingNonce,
    WrongNonce,
    /// Signs with a new key that the JWKS only starts listing now.
    RotatedKey,
    /// An ID token issued ten years from now.
    FutureIat,
    /// Says it names itself in the response (RFC 9207), then names another.
    MixUpIss,
    /// Says it names itself in the response, then does not.
    MissingIss,
    /// Says it names itself and does (a well-behaved RFC 9207 provider).
    WithIss,
    /// Sends `acr` only when the relying party asks for it (`acr_values`).
    AcrOnRequest,
}

/// The `acr` value [`Fault::AcrOnRequest`] sends when asked.
pub const ACR: &str = "urn:test:loa:substantial";

struct Inner {
    issuer: String,
    fault: Fault,
    main: CoreRsaPrivateSigningKey,
    other_as_main: CoreRsaPrivateSigningKey,
    other: CoreRsaPrivateSigningKey,
    rotated: Mutex<bool>,
    /// Per code: the nonce and the `acr_values` the authorization asked for.
    codes: Mutex<HashMap<String, Asked>>,
}

type Asked = (Option<String>, Option<String>);

pub const CLIENT_ID: &str = "dimos-test";
/// The test person's tax id (ΑΦΜ) in userinfo.
pub const TAX_ID: &str = "200000018";
pub const CLIENT_SECRET: &str = "test-secret";

pub struct FaultyIdp {
    pub issuer: String,
    _task: tokio::task::JoinHandle<()>,
}

pub async fn spawn(fault: Fault) -> FaultyIdp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let main_pem = include_str!("../../platform/identity/src/dev-provider-key.pem");
    let other_pem = include_str!("keys/other.pem");
    let inner = Arc::new(Inner {
        issuer: issuer.clone(),
        fault,
        main: CoreRsaPrivateSigningKey::from_pem(main_pem, Some(JsonWebKeyId::new("main".into())))
            .unwrap(),
        other_as_main: CoreRsaPrivateSigningKey::from_pem(
            other_pem,
            Some(JsonWebKeyId::new("main".into())),
        )
        .unwrap(),
        other: CoreRsaPrivateSigningKey::from_pem(
            other_pem,
            Some(JsonWebKeyId::new("other".into())),
        )
        .unwrap(),
        rotated: Mutex::new(false),
        codes: Mutex::default(),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(inner);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    FaultyIdp {
        issuer,
        _task: task,
    }
}

async fn discovery(State(s): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let names_itself = matches!(
        s.fault,
        Fault::MixUpIss | Fault::MissingIss | Fault::WithIss
    );
    let m = Metadata::new(
        IssuerUrl::new(s.issuer.clone()).unwrap(),
        AuthUrl::new(format!("{}/authorize", s.issuer)).unwrap(),
        JsonWebKeySetUrl::new(format!("{}/jwks", s.issuer)).unwrap(),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        LogoutMetadata {
            end_session_endpoint: None,
            authorization_response_iss_parameter_supported: names_itself.then_some(true),
        },
    )
    .set_token_endpoint(Some(TokenUrl::new(format!("{}/token", s.issuer)).unwrap()))
    .set_userinfo_endpoint(Some(
        UserInfoUrl::new(format!("{}/userinfo", s.issuer)).unwrap(),
    ));
    Json(serde_json::to_value(m).unwrap())
}

async fn jwks(State(s): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let mut keys = vec![s.main.as_verification_key()];
    if *s.rotated.lock().unwrap() {
        keys.push(s.other.as_verification_key());
    }
    Json(serde_json::to_value(CoreJsonWebKeySet::new(keys)).unwrap())
}

async fn authorize(
    State(s): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = uuid::Uuid::new_v4().to_string();
    s.codes.lock().unwrap().insert(
        code.clone(),
        (q.get("nonce").cloned(), q.get("acr_values").cloned()),
    );
    let mut url = url::Url::parse(&q["redirect_uri"]).unwrap();
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map_or("", |v| v));
    match s.fault {
        Fault::MixUpIss => {
            url.query_pairs_mut()
                .append_pair("iss", "http://evil.example");
        }
        Fault::WithIss => {
            url.query_pairs_mut().append_pair("iss", &s.issuer);
        }
        _ => {}
    }
    Redirect::to(url.as_str()).into_response()
}

async fn token(State(s): State<Arc<Inner>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let (nonce, acr_values) = s
        .codes
        .lock()
        .unwrap()
        .remove(&f["code"])
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let (iss, aud, exp, iat) = match s.fault {
        Fault::WrongIssuer => (
            "http://evil.example".to_owned(),
            CLIENT_ID,
            now + chrono::Duration::minutes(5),
            now,
        ),
        Fault::WrongAudience => (
            s.issuer.clone(),
            "someone-else",
            now + chrono::Duration::minutes(5),
            now,
        ),
        Fault::Expired => (
            s.issuer.clone(),
            CLIENT_ID,
            now - chrono::Duration::minutes(10),
            now - chrono::Duration::minutes(20),
        ),
        Fault::FutureIat => (
            s.issuer.clone(),
            CLIENT_ID,
            now + chrono::Duration::days(3650) + chrono::Duration::minutes(5),
            now + chrono::Duration::days(3650),
        ),
        _ => (
            s.issuer.clone(),
            CLIENT_ID,
            now + chrono::Duration::minutes(5),
            now,
        ),
    };
    let mut claims = IdTokenClaims::<ExtraClaims, CoreGenderClaim>::new(
        IssuerUrl::new(iss).unwrap(),
        vec![Audience::new(aud.into())],
        exp,
        iat,
        StandardClaims::new(SubjectIdentifier::new("external-1".into())),
        ExtraClaims::default(),
    );
    claims = match s.fault {
        Fault::MissingNonce => claims,
        Fault::WrongNonce => claims.set_nonce(Some(Nonce::new("not-the-one".into()))),
        _ => claims.set_nonce(nonce.map(Nonce::new)),
    };
    if s.fault == Fault::AcrOnRequest && acr_values.is_some_and(|v| v.split(' ').any(|a| a == ACR))
    {
        claims = claims.set_auth_context_ref(Some(openidconnect::AuthenticationContextClass::new(
            ACR.into(),
        )));
    }
    let key = match s.fault {
        Fault::BadSignature => &s.other_as_main,
        Fault::UnknownKeyId => &s.other,
        Fault::RotatedKey => {
            *s.rotated.lock().unwrap() = true;
            &s.other
        }
        _ => &s.main,
    };
    let access = AccessToken::new("access-1".into());
    let id: IdToken<
        ExtraClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    > = IdToken::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access),
        None,
    )
    .unwrap();
    Json(serde_json::json!({
        "access_token": "access-1", "token_type": "Bearer", "expires_in": 300, "id_token": id.to_string()
    }))
    .into_response()
}

async fn userinfo() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "sub": "external-1", "given_name": "Εξωτερικός", "family_name": "Χρήστης", "tax_id": TAX_ID
    }))
}

/// Relying-party configuration for a faulty provider at `issuer`.
pub fn provider_config(issuer: &str) -> dimos_kernel::config::ProviderConfig {
    dimos_kernel::config::ProviderConfig {
        issuer: issuer.to_owned(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(dimos_kernel::config::Secret::new(CLIENT_SECRET)),
        client_secret_file: None,
        scopes: vec!["openid".into()],
        claims: Default::default(),
        acr_levels: Default::default(),
    }
}

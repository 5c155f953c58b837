//! Digital signatures for municipal documents, with RustCrypto crates:
//! each municipality has a signing CA; staff with a signing role get
//! certificates from it; documents are signed with detached CMS
//! signatures carrying the CAdES-BES attributes (content-type,
//! signing-time, message-digest, signing-certificate-v2), which any
//! standard tool (`openssl cms -verify`) can check; and a verifier reports
//! who signed, when, whether the file is intact, and the certificate's
//! status (valid, expired, revoked).

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Decode, Encode, EncodePem, Sequence};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use signature::Verifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::str::FromStr;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, AttributeValue};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

pub mod service;
pub mod transfer;

/// Columns holding private keys sealed under the deployment key, as
/// (table, column): what a move between deployments seals again.
pub const SEALED_COLUMNS: &[(&str, &str)] = &[
    ("signing_authorities", "key_sealed"),
    ("signing_certificates", "key_sealed"),
];

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("crypto: {0}")]
    Crypto(String),
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The person has no usable signing certificate.
    #[error("no valid signing certificate")]
    NoCertificate,
    #[error("already signed by this person")]
    AlreadySigned,
    #[error(transparent)]
    Db(dimos_db::DbError),
}

impl From<SigningError> for dimos_kernel::Error {
    fn from(e: SigningError) -> Self {
        use dimos_kernel::Error;
        match e {
            SigningError::NoCertificate => Error::Conflict("no-signing-certificate"),
            SigningError::AlreadySigned => Error::Conflict("already-signed"),
            SigningError::Db(e) => e.into(),
            e @ (SigningError::Crypto(_) | SigningError::Malformed(_)) => Error::internal(e),
        }
    }
}

fn crypto(e: impl std::fmt::Display) -> SigningError {
    SigningError::Crypto(e.to_string())
}

/// id-aa-signingCertificateV2 (RFC 5035).
const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// ESSCertIDv2 with the default hash (SHA-256), so no algorithm field.
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// A key and its certificate.
pub struct KeyPair {
    pub key: RsaPrivateKey,
    pub cert: Certificate,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("subject", &self.cert.tbs_certificate.subject.to_string())
            .finish()
    }
}

fn name(cn: &str, org: &str) -> Result<Name, SigningError> {
    // Commas and the like would change the DN's structure.
    let clean = |s: &str| s.replace([',', '+', '=', '"', '\\', '<', '>', ';'], " ");
    Name::from_str(&format!("CN={},O={},C=GR", clean(cn), clean(org))).map_err(crypto)
}

fn serial() -> Result<SerialNumber, SigningError> {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes[0] &= 0x7f; // positive
    SerialNumber::new(&bytes).map_err(crypto)
}

fn new_key() -> Result<RsaPrivateKey, SigningError> {
    RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(crypto)
}

impl KeyPair {
    /// A municipality's signing CA, valid for `years`.
    pub fn new_ca(municipality: &str, years: u64) -> Result<KeyPair, SigningError> {
        let key = new_key()?;
        let signer = SigningKey::<Sha256>::new(key.clone());
        let subject = name(&format!("{municipality} — Αρχή υπογραφών"), municipality)?;
        let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(crypto)?;
        let validity =
            Validity::from_now(Duration::from_secs(years * 365 * 86_400)).map_err(crypto)?;
        let cert =
            CertificateBuilder::new(Profile::Root, serial()?, validity, subject, spki, &signer)
                .map_err(crypto)?
                .build::<Signature>()
                .map_err(crypto)?;
        Ok(KeyPair { key, cert })
    }

    /// A signing certificate for a member of staff, issued by this CA.
    pub fn issue(
        &self,
        person: &str,
        municipality: &str,
        days: u64,
    ) -> Result<KeyPair, SigningError> {
        let key = new_key()?;
        let ca_signer = SigningKey::<Sha256>::new(self.key.clone());
        let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(crypto)?;
        let validity = Validity::from_now(Duration::from_secs(days * 86_400)).map_err(crypto)?;
        let profile = Profile::Leaf {
            issuer: self.cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        };
        let cert = CertificateBuilder::new(
            profile,
            serial()?,
            validity,
            name(person, municipality)?,
            spki,
            &ca_signer,
        )
        .map_err(crypto)?
        .build::<Signature>()
        .map_err(crypto)?;
        Ok(KeyPair { key, cert })
    }

    pub fn cert_pem(&self) -> Result<String, SigningError> {
        self.cert.to_pem(der::pem::LineEnding::LF).map_err(crypto)
    }

    pub fn key_der(&self) -> Result<Vec<u8>, SigningError> {
        Ok(self.key.to_pkcs8_der().map_err(crypto)?.as_bytes().to_vec())
    }

    pub fn from_der(key: &[u8], cert: &[u8]) -> Result<KeyPair, SigningError> {
        Ok(KeyPair {
            key: RsaPrivateKey::from_pkcs8_der(key).map_err(crypto)?,
            cert: Certificate::from_der(cert).map_err(crypto)?,
        })
    }

    pub fn serial_hex(&self) -> String {
        hex::encode(self.cert.tbs_certificate.serial_number.as_bytes())
    }
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: const_oid::db::rfc5912::ID_SHA_256,
        parameters: None,
    }
}

/// A detached CMS signature (DER) of `content` by `signer`, carrying the
/// certificate chain up to (and including) the CA.
pub fn sign_detached(
    signer: &KeyPair,
    ca: &Certificate,
    content: &[u8],
) -> Result<Vec<u8>, SigningError> {
    sign_digest(signer, ca, &Sha256::digest(content).into())
}

/// The same, from the content's SHA-256: the platform signs stored
/// documents by the hash it keeps (and checks) instead of reading them
/// into memory.
pub fn sign_digest(
    signer: &KeyPair,
    ca: &Certificate,
    digest: &[u8; 32],
) -> Result<Vec<u8>, SigningError> {
    let econtent = EncapsulatedContentInfo {
        econtent_type: const_oid::db::rfc5911::ID_DATA,
        econtent: None,
    };
    let key = SigningKey::<Sha256>::new(signer.key.clone());
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: signer.cert.tbs_certificate.issuer.clone(),
        serial_number: signer.cert.tbs_certificate.serial_number.clone(),
    });
    let mut info =
        SignerInfoBuilder::new(&key, sid, sha256_alg(), &econtent, Some(digest)).map_err(crypto)?;
    info.add_signed_attribute(cms::builder::create_signing_time_attribute().map_err(crypto)?)
        .map_err(crypto)?;
    // signing-certificate-v2 binds the signature to this very certificate.
    let cert_hash = Sha256::digest(signer.cert.to_der().map_err(crypto)?);
    let scv2 = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(cert_hash.to_vec()).map_err(crypto)?,
        }],
    };
    let mut values = SetOfVec::<AttributeValue>::new();
    values
        .insert(AttributeValue::from_der(&scv2.to_der().map_err(crypto)?).map_err(crypto)?)
        .map_err(crypto)?;
    info.add_signed_attribute(Attribute {
        oid: SIGNING_CERTIFICATE_V2,
        values,
    })
    .map_err(crypto)?;
    let ci = SignedDataBuilder::new(&econtent)
        .add_digest_algorithm(sha256_alg())
        .map_err(crypto)?
        .add_certificate(CertificateChoices::Certificate(signer.cert.clone()))
        .map_err(crypto)?
        .add_certificate(CertificateChoices::Certificate(ca.clone()))
        .map_err(crypto)?
        .add_signer_info::<SigningKey<Sha256>, Signature>(info)
        .map_err(crypto)?
        .build()
        .map_err(crypto)?;
    ci.to_der().map_err(crypto)
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file is exactly the one that was signed.
    pub intact: bool,
    /// The signer's certificate was issued by the trusted CA.
    pub trusted: bool,
    /// `valid`, `expired`, `not-yet-valid` or `revoked`.
    pub certificate_status: &'static str,
    pub signer: String,
    pub serial: String,
    /// Seconds since the epoch, from the signing-time attribute.
    pub signed_at: Option<i64>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.intact && self.trusted && self.certificate_status == "valid"
    }
}

fn verify_cert(cert: &Certificate, ca: &Certificate) -> bool {
    let Ok(spki_der) = ca.tbs_certificate.subject_public_key_info.to_der() else {
        return false;
    };
    let Ok(ca_key) = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki_der)
    else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Ok(sig) = Signature::try_from(cert.signature.raw_bytes()) else {
        return false;
    };
    cert.tbs_certificate.issuer == ca.tbs_certificate.subject
        && VerifyingKey::<Sha256>::new(ca_key)
            .verify(&tbs, &sig)
            .is_ok()
}

/// Checks a detached signature of `content` against the municipality's CA
/// and its list of revoked certificate serials (hex).
pub fn verify_detached(
    signature_der: &[u8],
    content: &[u8],
    ca: &Certificate,
    revoked: &[String],
    now: std::time::SystemTime,
) -> Result<Report, SigningError> {
    verify_digest(
        signature_der,
        &Sha256::digest(content).into(),
        ca,
        revoked,
        now,
    )
}

/// The same, from the SHA-256 of the content.
pub fn verify_digest(
    signature_der: &[u8],
    digest: &[u8; 32],
    ca: &Certificate,
    revoked: &[String],
    now: std::time::SystemTime,
) -> Result<Report, SigningError> {
    let bad = |m: &str| SigningError::Malformed(m.to_owned());
    let ci =
        ContentInfo::from_der(signature_der).map_err(|e| SigningError::Malformed(e.to_string()))?;
    if ci.content_type != const_oid::db::rfc5911::ID_SIGNED_DATA {
        return Err(bad("not a SignedData"));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| SigningError::Malformed(e.to_string()))?;
    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| bad("no signer"))?;
    let SignerIdentifier::IssuerAndSerialNumber(id) = &si.sid else {
        return Err(bad("unsupported signer identifier"));
    };
    let cert = sd
        .certificates
        .as_ref()
        .and_then(|set| {
            set.0.iter().find_map(|c| match c {
                CertificateChoices::Certificate(c)
                    if c.tbs_certificate.serial_number == id.serial_number
                        && c.tbs_certificate.issuer == id.issuer =>
                {
                    Some(c.clone())
                }
                _ => None,
            })
        })
        .ok_or_else(|| bad("the signer's certificate is missing"))?;
    let signed_attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad("no signed attributes"))?;
    let attr = |oid: ObjectIdentifier| signed_attrs.iter().find(|a| a.oid == oid);
    let signed_digest = attr(const_oid::db::rfc5911::ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| OctetString::from_der(&v.to_der().ok()?).ok())
        .ok_or_else(|| bad("no message digest"))?;
    let intact_digest = signed_digest.as_bytes() == digest.as_slice();
    // The signature is over the DER of the signed attributes as a SET.
    let spki_der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(crypto)?;
    let key = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki_der)
        .map_err(crypto)?;
    let sig = Signature::try_from(si.signature.as_bytes()).map_err(crypto)?;
    let attrs_der = signed_attrs.to_der().map_err(crypto)?;
    let signature_ok = VerifyingKey::<Sha256>::new(key)
        .verify(&attrs_der, &sig)
        .is_ok();
    // signing-certificate-v2 must name this certificate.
    let bound = attr(SIGNING_CERTIFICATE_V2)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| SigningCertificateV2::from_der(&v.to_der().ok()?).ok())
        .is_some_and(|s| {
            // A certificate that cannot be encoded binds to nothing.
            let Ok(der) = cert.to_der() else {
                return false;
            };
            let h = Sha256::digest(der);
            s.certs
                .iter()
                .any(|c| c.cert_hash.as_bytes() == h.as_slice())
        });
    let signed_at = attr(const_oid::db::rfc5911::ID_SIGNING_TIME)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| x509_cert::time::Time::from_der(&v.to_der().ok()?).ok())
        .and_then(|t| i64::try_from(t.to_unix_duration().as_secs()).ok());
    let serial = hex::encode(cert.tbs_certificate.serial_number.as_bytes());
    let v = &cert.tbs_certificate.validity;
    let status = if revoked.iter().any(|r| r.eq_ignore_ascii_case(&serial)) {
        "revoked"
    } else if now < v.not_before.to_system_time() {
        "not-yet-valid"
    } else if now > v.not_after.to_system_time() {
        "expired"
    } else {
        "valid"
    };
    Ok(Report {
        intact: intact_digest && signature_ok && bound,
        trusted: verify_cert(&cert, ca),
        certificate_status: status,
        signer: cert.tbs_certificate.subject.to_string(),
        serial,
        signed_at,
    })
}

#[cfg(test)]
mod tests;

/// Private keys at rest: AES-256-GCM under the deployment's key, with a
/// random nonce in front. The database alone never holds a usable key.
pub mod sealed {
    use super::SigningError;
    use aes_gcm::aead::{Aead, KeyInit};
    use aes_gcm::{Aes256Gcm, Nonce};

    pub fn seal(deployment_key: &[u8; 32], plain: &[u8]) -> Result<Vec<u8>, SigningError> {
        let cipher = Aes256Gcm::new(deployment_key.into());
        let mut nonce = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(Nonce::from_slice(&nonce), plain)
                .map_err(|_| SigningError::Crypto("sealing failed".into()))?,
        );
        Ok(out)
    }

    pub fn open(deployment_key: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, SigningError> {
        if sealed.len() < 12 {
            return Err(SigningError::Crypto("sealed key too short".into()));
        }
        let (nonce, body) = sealed.split_at(12);
        Aes256Gcm::new(deployment_key.into())
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| {
                SigningError::Crypto("wrong deployment key or damaged key material".into())
            })
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn sealed_keys_open_only_with_the_deployment_key() {
            let k = [7u8; 32];
            let s = super::seal(&k, b"private key").unwrap();
            assert!(!s.windows(11).any(|w| w == b"private key"));
            assert_eq!(super::open(&k, &s).unwrap(), b"private key");
            assert!(super::open(&[8u8; 32], &s).is_err());
            let mut damaged = s.clone();
            *damaged.last_mut().unwrap() ^= 1;
            assert!(super::open(&k, &damaged).is_err());
        }
    }
}

//! The platform's signing service: each municipality's CA and the staff
//! certificates it issued, stored with their private keys sealed under the
//! deployment key; the signatures made with them, each with a reference
//! code for the public verification page; revocation.
//!
//! How a signature is produced is behind [`SigningProvider`]: the embedded
//! [`LocalCa`] signs with the municipality's own CA-issued keys; a remote
//! qualified signing service plugs in behind the same trait (see
//! `docs/operator-guide.md`, "Qualified signatures").

use crate::{KeyPair, Report, SigningError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use dimos_db::{DbError, TenantDb, TenantTx};
use dimos_kernel::SharedClock;
use sea_query::{Expr, ExprTrait, Iden, Order};
use std::sync::Arc;
use uuid::Uuid;
use x509_cert::Certificate;

#[derive(Iden, Clone, Copy)]
enum SigningAuthorities {
    Table,
    Serial,
    Subject,
    CertDer,
    KeySealed,
    NotAfter,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum SigningCertificates {
    Table,
    Serial,
    AccountId,
    Subject,
    CertDer,
    KeySealed,
    NotBefore,
    NotAfter,
    IssuedAt,
    IssuedBy,
    RevokedAt,
    RevokedBy,
    RevocationReason,
}

#[derive(Iden, Clone, Copy)]
enum Signatures {
    Table,
    Reference,
    DocumentId,
    CaseId,
    SignerAccount,
    SignerName,
    CertSerial,
    Provider,
    ContentSha256,
    SignatureDer,
    SignedAt,
}

/// The municipality's CA, as pages show it (no key).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Authority {
    pub serial: String,
    pub subject: String,
    pub cert_der: Vec<u8>,
    pub not_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl Authority {
    pub fn certificate(&self) -> Result<Certificate, SigningError> {
        Certificate::from_der(&self.cert_der).map_err(crate::crypto)
    }

    pub fn pem(&self) -> Result<String, SigningError> {
        use der::EncodePem;
        self.certificate()?
            .to_pem(der::pem::LineEnding::LF)
            .map_err(crate::crypto)
    }
}

/// A certificate made for a member of staff, with its sealed key, before
/// it is stored.
pub struct NewCertificate {
    pub info: CertificateInfo,
    cert_der: Vec<u8>,
    key_sealed: Vec<u8>,
}

/// A staff signing certificate (no key).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct CertificateInfo {
    pub serial: String,
    pub account_id: Uuid,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub issued_by: Uuid,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revocation_reason: Option<String>,
}

impl CertificateInfo {
    /// `valid`, `revoked`, `expired` or `not-yet-valid` at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some_and(|r| r <= now) {
            "revoked"
        } else if now > self.not_after {
            "expired"
        } else if now < self.not_before {
            "not-yet-valid"
        } else {
            "valid"
        }
    }
}

/// A signature made in the platform.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct SignatureRecord {
    pub reference: String,
    pub document_id: Uuid,
    pub case_id: Option<Uuid>,
    pub signer_account: Uuid,
    pub signer_name: String,
    pub cert_serial: String,
    pub provider: String,
    pub content_sha256: String,
    #[serde(skip)]
    pub signature_der: Vec<u8>,
    pub signed_at: DateTime<Utc>,
}

/// What a provider is asked to sign.
pub struct SignRequest<'a> {
    pub tdb: &'a TenantDb,
    pub account: Uuid,
    pub signer_name: &'a str,
    /// SHA-256 of the document.
    pub digest: [u8; 32],
}

/// What a provider returns.
pub struct Signed {
    /// A detached CMS SignedData (DER).
    pub cms: Vec<u8>,
    /// Serial (hex) of the certificate that signed.
    pub cert_serial: String,
}

/// Produces detached CMS signatures. The embedded one is [`LocalCa`]; a
/// remote qualified signing service (a QTSP's CSC API `signatures/signHash`
/// with the signer's second factor) implements the same: it receives the
/// document's digest, and returns the CMS with its own certificate chain.
/// An RFC 3161 time-stamp, where wanted, is added by the provider as the
/// unsigned `signatureTimeStampToken` attribute of the SignerInfo.
#[async_trait]
pub trait SigningProvider: Send + Sync + std::fmt::Debug {
    /// Stored with each signature (`local-ca`, …).
    fn id(&self) -> &'static str;
    async fn sign(&self, service: &Signing, req: SignRequest<'_>) -> Result<Signed, SigningError>;
}

/// Signs with the signer's certificate issued by the municipality's CA,
/// its key opened from the database with the deployment key.
#[derive(Debug, Default)]
pub struct LocalCa;

#[async_trait]
impl SigningProvider for LocalCa {
    fn id(&self) -> &'static str {
        "local-ca"
    }

    async fn sign(&self, service: &Signing, req: SignRequest<'_>) -> Result<Signed, SigningError> {
        let now = service.clock.now();
        let cert = service
            .current(req.tdb, req.account)
            .await?
            .filter(|c| c.status(now) == "valid")
            .ok_or(SigningError::NoCertificate)?;
        let signer = service.keypair_of(req.tdb, &cert.serial).await?;
        let ca = service
            .authority_by_subject(req.tdb, &signer.cert.tbs_certificate.issuer.to_string())
            .await?
            .ok_or(SigningError::NoCertificate)?
            .certificate()?;
        Ok(Signed {
            cms: crate::sign_digest(&signer, &ca, &req.digest)?,
            cert_serial: cert.serial,
        })
    }
}

/// What the verification of a detached signature found, with what the
/// platform knows about the certificate.
#[derive(Debug, Clone)]
pub struct Verification {
    pub report: Report,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct Signing {
    key: [u8; 32],
    certificate_days: u64,
    clock: SharedClock,
    provider: Arc<dyn SigningProvider>,
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signing")
            .field("provider", &self.provider.id())
            .field("certificate_days", &self.certificate_days)
            .finish_non_exhaustive()
    }
}

/// Reference codes: 12 characters of Crockford's base32 (no I, L, O, U),
/// 60 random bits, in groups of four; unguessable, easy to read aloud.
pub fn new_reference() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A reference as people type it: case and separators do not matter.
pub fn normalize_reference(input: &str) -> Option<String> {
    let clean: String = input
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (clean.len() == 12).then(|| {
        clean
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    })
}

fn time(t: der::DateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t.to_system_time())
}

impl Signing {
    pub fn new(
        deployment_key: [u8; 32],
        certificate_days: u64,
        clock: SharedClock,
        provider: Arc<dyn SigningProvider>,
    ) -> Signing {
        Signing {
            key: deployment_key,
            certificate_days,
            clock,
            provider,
        }
    }

    pub fn provider_id(&self) -> &'static str {
        self.provider.id()
    }

    /// For sealing and opening keys at rest (here and in `transfer`).
    pub(crate) fn deployment_key(&self) -> &[u8; 32] {
        &self.key
    }

    /// An HMAC-SHA256 of `message` under the deployment key, kept apart per
    /// `purpose`: what the deployment vouches for (a published audit chain
    /// head) without a certificate. Hex.
    pub fn attest(&self, purpose: &str, message: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        // A key that cannot be built is impossible for HMAC (any length).
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is [`Signing::attest`] of `message` (constant time).
    pub fn attested(&self, purpose: &str, message: &[u8], tag: &str) -> bool {
        use hmac::{Hmac, Mac};
        let (Ok(mut mac), Ok(tag)) = (
            Hmac::<sha2::Sha256>::new_from_slice(&self.key),
            hex::decode(tag),
        ) else {
            return false;
        };
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        mac.verify_slice(&tag).is_ok()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The municipality's current CA, created (once, whatever the number of
    /// replicas asking) if it has none yet.
    pub async fn ensure_authority(
        &self,
        tdb: &TenantDb,
        municipality: &str,
    ) -> Result<Authority, SigningError> {
        if let Some(a) = self.authority(tdb).await? {
            return Ok(a);
        }
        // Key generation is slow: do it before taking the lock.
        let ca = KeyPair::new_ca(municipality, 10)?;
        let mut tx = tdb.begin().await?;
        tx.lock(tdb, "signing").await?;
        if let Some(a) = tx
            .fetch_optional::<Authority>(&newest_authority(tdb))
            .await?
        {
            return Ok(a);
        }
        let cert_der = ca.cert.to_der().map_err(crate::crypto)?;
        let authority = Authority {
            serial: ca.serial_hex(),
            subject: ca.cert.tbs_certificate.subject.to_string(),
            cert_der,
            not_after: time(ca.cert.tbs_certificate.validity.not_after.to_date_time()),
            created_at: self.clock.now(),
        };
        let mut ins = tdb.insert(
            SigningAuthorities::Table,
            [
                SigningAuthorities::Serial,
                SigningAuthorities::Subject,
                SigningAuthorities::CertDer,
                SigningAuthorities::KeySealed,
                SigningAuthorities::NotAfter,
                SigningAuthorities::CreatedAt,
            ],
        );
        ins.values([
            authority.serial.clone().into(),
            authority.subject.clone().into(),
            authority.cert_der.clone().into(),
            crate::sealed::seal(&self.key, &ca.key_der()?)?.into(),
            authority.not_after.into(),
            authority.created_at.into(),
        ]);
        tx.insert_rows(&ins).await?;
        tx.commit().await?;
        tracing::info!(serial = %authority.serial, "signing CA created");
        Ok(authority)
    }

    /// The municipality's current CA, if it has one.
    pub async fn authority(&self, tdb: &TenantDb) -> Result<Option<Authority>, SigningError> {
        Ok(tdb.fetch_optional(&newest_authority(tdb)).await?)
    }

    async fn authorities(&self, tdb: &TenantDb) -> Result<Vec<Authority>, SigningError> {
        let mut q = tdb.select(SigningAuthorities::Table);
        q.columns(AUTHORITY_COLUMNS)
            .order_by(SigningAuthorities::CreatedAt, Order::Desc);
        Ok(tdb.fetch_all(&q).await?)
    }

    async fn authority_by_subject(
        &self,
        tdb: &TenantDb,
        subject: &str,
    ) -> Result<Option<Authority>, SigningError> {
        let mut q = tdb.select(SigningAuthorities::Table);
        q.columns(AUTHORITY_COLUMNS)
            .and_where(Expr::col(SigningAuthorities::Subject).eq(subject))
            .order_by(SigningAuthorities::CreatedAt, Order::Desc)
            .limit(1);
        Ok(tdb.fetch_optional(&q).await?)
    }

    async fn authority_keypair(
        &self,
        tdb: &TenantDb,
        serial: &str,
    ) -> Result<KeyPair, SigningError> {
        let mut q = tdb.select(SigningAuthorities::Table);
        q.columns([SigningAuthorities::KeySealed, SigningAuthorities::CertDer])
            .and_where(Expr::col(SigningAuthorities::Serial).eq(serial));
        self.unseal(tdb.fetch_optional(&q).await?)
    }

    /// A stored (sealed key, certificate) pair, opened.
    fn unseal(&self, row: Option<(Vec<u8>, Vec<u8>)>) -> Result<KeyPair, SigningError> {
        let (sealed, cert) = row.ok_or(SigningError::NoCertificate)?;
        KeyPair::from_der(&crate::sealed::open(&self.key, &sealed)?, &cert)
    }

    /// Makes a signing certificate for a member of staff, not yet stored:
    /// the key work happens before the caller's transaction begins.
    pub async fn prepare_certificate(
        &self,
        tdb: &TenantDb,
        municipality: &str,
        account: Uuid,
        person: &str,
        by: Uuid,
    ) -> Result<NewCertificate, SigningError> {
        let authority = self.ensure_authority(tdb, municipality).await?;
        let ca = self.authority_keypair(tdb, &authority.serial).await?;
        let pair = ca.issue(person, municipality, self.certificate_days)?;
        let now = self.clock.now();
        let v = &pair.cert.tbs_certificate.validity;
        let info = CertificateInfo {
            serial: pair.serial_hex(),
            account_id: account,
            subject: pair.cert.tbs_certificate.subject.to_string(),
            not_before: time(v.not_before.to_date_time()),
            not_after: time(v.not_after.to_date_time()),
            issued_at: now,
            issued_by: by,
            revoked_at: None,
            revoked_by: None,
            revocation_reason: None,
        };
        Ok(NewCertificate {
            cert_der: pair.cert.to_der().map_err(crate::crypto)?,
            key_sealed: crate::sealed::seal(&self.key, &pair.key_der()?)?,
            info,
        })
    }

    /// Stores a prepared certificate in the caller's transaction (with its
    /// audit entry). A certificate the person already holds is revoked as
    /// superseded, in the same transaction.
    pub async fn issue(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        new: NewCertificate,
    ) -> Result<CertificateInfo, SigningError> {
        let NewCertificate {
            info,
            cert_der,
            key_sealed,
        } = new;
        let (now, by, account) = (info.issued_at, info.issued_by, info.account_id);
        tx.lock(tdb, "signing").await?;
        let mut old = tdb.update(SigningCertificates::Table);
        old.value(SigningCertificates::RevokedAt, now)
            .value(SigningCertificates::RevokedBy, by)
            .value(SigningCertificates::RevocationReason, "superseded")
            .and_where(Expr::col(SigningCertificates::AccountId).eq(account))
            .and_where(Expr::col(SigningCertificates::RevokedAt).is_null());
        tx.execute(&old).await?;
        let mut ins = tdb.insert(
            SigningCertificates::Table,
            [
                SigningCertificates::Serial,
                SigningCertificates::AccountId,
                SigningCertificates::Subject,
                SigningCertificates::CertDer,
                SigningCertificates::KeySealed,
                SigningCertificates::NotBefore,
                SigningCertificates::NotAfter,
                SigningCertificates::IssuedAt,
                SigningCertificates::IssuedBy,
            ],
        );
        ins.values([
            info.serial.clone().into(),
            account.into(),
            info.subject.clone().into(),
            cert_der.into(),
            key_sealed.into(),
            info.not_before.into(),
            info.not_after.into(),
            now.into(),
            by.into(),
        ]);
        tx.insert_rows(&ins).await?;
        Ok(info)
    }

    /// Revokes a certificate, in the caller's transaction; false if there is
    /// none such or it already was.
    pub async fn revoke(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        serial: &str,
        by: Uuid,
        reason: &str,
    ) -> Result<bool, SigningError> {
        let mut q = tdb.update(SigningCertificates::Table);
        q.value(SigningCertificates::RevokedAt, self.clock.now())
            .value(SigningCertificates::RevokedBy, by)
            .value(SigningCertificates::RevocationReason, reason)
            .and_where(Expr::col(SigningCertificates::Serial).eq(serial))
            .and_where(Expr::col(SigningCertificates::RevokedAt).is_null());
        Ok(tx.execute(&q).await? == 1)
    }

    pub async fn certificates(&self, tdb: &TenantDb) -> Result<Vec<CertificateInfo>, SigningError> {
        let mut q = tdb.select(SigningCertificates::Table);
        q.columns(CERT_COLUMNS)
            .order_by(SigningCertificates::IssuedAt, Order::Desc);
        Ok(tdb.fetch_all(&q).await?)
    }

    /// The certificates with these serials (what a page of signatures needs).
    pub async fn certificates_by_serial(
        &self,
        tdb: &TenantDb,
        serials: &[String],
    ) -> Result<Vec<CertificateInfo>, SigningError> {
        if serials.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = tdb.select(SigningCertificates::Table);
        q.columns(CERT_COLUMNS)
            .and_where(Expr::col(SigningCertificates::Serial).is_in(serials.iter().cloned()));
        Ok(tdb.fetch_all(&q).await?)
    }

    pub async fn certificate(
        &self,
        tdb: &TenantDb,
        serial: &str,
    ) -> Result<Option<CertificateInfo>, SigningError> {
        let mut q = tdb.select(SigningCertificates::Table);
        q.columns(CERT_COLUMNS)
            .and_where(Expr::col(SigningCertificates::Serial).eq(serial));
        Ok(tdb.fetch_optional(&q).await?)
    }

    /// The person's unrevoked certificate (which may have expired).
    pub async fn current(
        &self,
        tdb: &TenantDb,
        account: Uuid,
    ) -> Result<Option<CertificateInfo>, SigningError> {
        let mut q = tdb.select(SigningCertificates::Table);
        q.columns(CERT_COLUMNS)
            .and_where(Expr::col(SigningCertificates::AccountId).eq(account))
            .and_where(Expr::col(SigningCertificates::RevokedAt).is_null());
        Ok(tdb.fetch_optional(&q).await?)
    }

    async fn keypair_of(&self, tdb: &TenantDb, serial: &str) -> Result<KeyPair, SigningError> {
        let mut q = tdb.select(SigningCertificates::Table);
        q.columns([SigningCertificates::KeySealed, SigningCertificates::CertDer])
            .and_where(Expr::col(SigningCertificates::Serial).eq(serial));
        self.unseal(tdb.fetch_optional(&q).await?)
    }

    /// Signs a document (by its SHA-256, hex) as `account` under a new
    /// reference code. Not yet stored: the caller stores it with
    /// [`Self::record_signature`] in the transaction of its case event and
    /// audit entry (the provider's work happens before that begins).
    pub async fn sign(
        &self,
        tdb: &TenantDb,
        document: Uuid,
        case: Option<Uuid>,
        account: Uuid,
        signer_name: &str,
        sha256_hex: &str,
    ) -> Result<SignatureRecord, SigningError> {
        let reference = new_reference();
        self.sign_under(
            tdb,
            reference,
            document,
            case,
            account,
            signer_name,
            sha256_hex,
        )
        .await
    }

    /// The same under a reference chosen beforehand ([`new_reference`]),
    /// so that the document can print the code it is verified by.
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_under(
        &self,
        tdb: &TenantDb,
        reference: String,
        document: Uuid,
        case: Option<Uuid>,
        account: Uuid,
        signer_name: &str,
        sha256_hex: &str,
    ) -> Result<SignatureRecord, SigningError> {
        let digest: [u8; 32] = hex::decode(sha256_hex)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| SigningError::Malformed("document hash".into()))?;
        let signed = self
            .provider
            .sign(
                self,
                SignRequest {
                    tdb,
                    account,
                    signer_name,
                    digest,
                },
            )
            .await?;
        let record = SignatureRecord {
            reference,
            document_id: document,
            case_id: case,
            signer_account: account,
            signer_name: signer_name.to_owned(),
            cert_serial: signed.cert_serial,
            provider: self.provider.id().to_owned(),
            content_sha256: sha256_hex.to_owned(),
            signature_der: signed.cms,
            signed_at: self.clock.now(),
        };
        Ok(record)
    }

    /// Stores a signature in the caller's transaction; a document signed
    /// meanwhile is `AlreadySigned`.
    pub async fn record_signature(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        record: &SignatureRecord,
    ) -> Result<(), SigningError> {
        let mut ins = tdb.insert(Signatures::Table, SIGNATURE_COLUMNS);
        ins.values([
            record.reference.clone().into(),
            record.document_id.into(),
            record.case_id.into(),
            record.signer_account.into(),
            record.signer_name.clone().into(),
            record.cert_serial.clone().into(),
            record.provider.clone().into(),
            record.content_sha256.clone().into(),
            record.signature_der.clone().into(),
            record.signed_at.into(),
        ]);
        match tx.insert_rows(&ins).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_on("document_id") || e.is_unique_on("signatures_once") => {
                Err(SigningError::AlreadySigned)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn signature(
        &self,
        tdb: &TenantDb,
        reference: &str,
    ) -> Result<Option<SignatureRecord>, SigningError> {
        let mut q = tdb.select(Signatures::Table);
        q.columns(SIGNATURE_COLUMNS)
            .and_where(Expr::col(Signatures::Reference).eq(reference));
        Ok(tdb.fetch_optional(&q).await?)
    }

    /// The signatures of some documents, oldest first.
    pub async fn signatures_of(
        &self,
        tdb: &TenantDb,
        documents: &[Uuid],
    ) -> Result<Vec<SignatureRecord>, SigningError> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = tdb.select(Signatures::Table);
        q.columns(SIGNATURE_COLUMNS)
            .and_where(Expr::col(Signatures::DocumentId).is_in(documents.iter().copied()))
            .order_by(Signatures::SignedAt, Order::Asc);
        Ok(tdb.fetch_all(&q).await?)
    }

    /// Verifies a detached signature of a file whose SHA-256 is `digest`
    /// against the municipality's CAs and revocations.
    pub async fn verify(
        &self,
        tdb: &TenantDb,
        signature_der: &[u8],
        digest: &[u8; 32],
    ) -> Result<Verification, SigningError> {
        let mut revoked_q = tdb.select(SigningCertificates::Table);
        revoked_q
            .columns([SigningCertificates::Serial, SigningCertificates::RevokedAt])
            .and_where(Expr::col(SigningCertificates::RevokedAt).is_not_null());
        let revoked: Vec<(String, Option<DateTime<Utc>>)> = tdb.fetch_all(&revoked_q).await?;
        let serials: Vec<String> = revoked.iter().map(|r| r.0.clone()).collect();
        let now = std::time::SystemTime::from(self.clock.now());
        let mut best = None;
        for a in self.authorities(tdb).await? {
            let report =
                crate::verify_digest(signature_der, digest, &a.certificate()?, &serials, now)?;
            let trusted = report.trusted;
            best = Some(report);
            if trusted {
                break;
            }
        }
        let report = best.ok_or(SigningError::NoCertificate)?;
        let revoked_at = revoked
            .into_iter()
            .find(|r| r.0.eq_ignore_ascii_case(&report.serial))
            .and_then(|r| r.1);
        Ok(Verification { report, revoked_at })
    }
}

fn newest_authority(tdb: &TenantDb) -> dimos_db::Scoped<sea_query::SelectStatement> {
    let mut q = tdb.select(SigningAuthorities::Table);
    q.columns(AUTHORITY_COLUMNS)
        .order_by(SigningAuthorities::CreatedAt, Order::Desc)
        .limit(1);
    q
}

const AUTHORITY_COLUMNS: [SigningAuthorities; 5] = [
    SigningAuthorities::Serial,
    SigningAuthorities::Subject,
    SigningAuthorities::CertDer,
    SigningAuthorities::NotAfter,
    SigningAuthorities::CreatedAt,
];

const CERT_COLUMNS: [SigningCertificates; 10] = [
    SigningCertificates::Serial,
    SigningCertificates::AccountId,
    SigningCertificates::Subject,
    SigningCertificates::NotBefore,
    SigningCertificates::NotAfter,
    SigningCertificates::IssuedAt,
    SigningCertificates::IssuedBy,
    SigningCertificates::RevokedAt,
    SigningCertificates::RevokedBy,
    SigningCertificates::RevocationReason,
];

const SIGNATURE_COLUMNS: [Signatures; 10] = [
    Signatures::Reference,
    Signatures::DocumentId,
    Signatures::CaseId,
    Signatures::SignerAccount,
    Signatures::SignerName,
    Signatures::CertSerial,
    Signatures::Provider,
    Signatures::ContentSha256,
    Signatures::SignatureDer,
    Signatures::SignedAt,
];

impl From<DbError> for SigningError {
    fn from(e: DbError) -> Self {
        SigningError::Db(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_random_readable_and_forgiving() {
        let a = new_reference();
        assert_eq!(a.len(), 14);
        assert_ne!(a, new_reference());
        assert_eq!(normalize_reference(&a.to_lowercase()), Some(a.clone()));
        assert_eq!(
            normalize_reference(" k7qm 2xpd-9hwa "),
            Some("K7QM-2XPD-9HWA".into())
        );
        // O and I read as 0 and 1, as Crockford's base32 intends.
        assert_eq!(
            normalize_reference("OOOO-IIII-LLLL"),
            Some("0000-1111-1111".into())
        );
        assert_eq!(normalize_reference("K7QM-2XPD"), None);
        assert_eq!(normalize_reference("../../etc/passwd"), None);
    }
}

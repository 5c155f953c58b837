//! Published heads of the audit trails. The hash chain shows an entry
//! changed in place, but not a trail cut at its end or rewritten whole by
//! someone with database access. So, every hour, each municipality's chain
//! head (last sequence number and hash) is attested with the deployment key
//! and published where the database cannot reach: the operator's log and
//! the object store (`audit-heads/<tenant>/<seq>`, JSON; with S3, a bucket
//! with object lock keeps them immutable). `dimos audit verify` then checks
//! the trail against every published head.

use chrono::{DateTime, Utc};
use dimos_db::TenantDb;
use dimos_identity::AuditLog;
use dimos_signing::service::Signing;
use dimos_storage::ObjectStore;
use dimos_web::state::AppState;
use serde::{Deserialize, Serialize};

const PURPOSE: &str = "dimos audit head v1";

/// One published head.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Head {
    pub tenant: uuid::Uuid,
    pub seq: i64,
    pub hash: String,
    pub at: DateTime<Utc>,
    /// HMAC-SHA256 under the deployment key of `tenant|seq|hash`.
    pub attestation: String,
}

fn message(tenant: uuid::Uuid, seq: i64, hash: &str) -> Vec<u8> {
    format!("{tenant}|{seq}|{hash}").into_bytes()
}

/// Object keys are letters, digits and dashes (what every store accepts).
fn prefix(tenant: uuid::Uuid) -> String {
    format!("audit-heads/{}", tenant.simple())
}

fn key(tenant: uuid::Uuid, seq: i64) -> String {
    format!("{}/{seq:020}", prefix(tenant))
}

/// Publishes the current head of every municipality's trail that has not
/// been published yet. Safe on every replica at once: a head's key is its
/// sequence number, so replicas write the same object.
#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
pub async fn publish(state: &AppState) -> Result<usize, dimos_kernel::Error> {
    let mut n = 0;
    for t in state.registry().tenants() {
        let db = state.tenant_db(t.id);
        if publish_one(state.objects().as_ref(), state.signing(), &db, t.slug()).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Publishes one municipality's head unless it is published already.
pub async fn publish_one(
    objects: &dyn ObjectStore,
    signing: &Signing,
    db: &TenantDb,
    slug: &str,
) -> Result<bool, dimos_kernel::Error> {
    let Some((seq, hash)) = AuditLog::head(db).await? else {
        return Ok(false);
    };
    let tenant = db.tenant_id().uuid();
    let k = key(tenant, seq);
    let existing = objects
        .list(&prefix(tenant))
        .await
        .map_err(dimos_kernel::Error::from)?;
    if existing.iter().any(|(name, _)| *name == k) {
        return Ok(false);
    }
    let head = Head {
        tenant,
        seq,
        hash: hash.clone(),
        at: signing.now(),
        attestation: signing.attest(PURPOSE, &message(tenant, seq, &hash)),
    };
    tracing::info!(tenant = %slug, seq, hash = %head.hash, attestation = %head.attestation, "audit chain head");
    let dir = tempfile::tempdir().map_err(dimos_kernel::Error::internal)?;
    let file = dir.path().join("head.json");
    let bytes = serde_json::to_vec_pretty(&head).map_err(dimos_kernel::Error::internal)?;
    tokio::fs::write(&file, bytes)
        .await
        .map_err(dimos_kernel::Error::internal)?;
    objects
        .put_file(&k, &file)
        .await
        .map_err(dimos_kernel::Error::from)?;
    Ok(true)
}

/// The prefix under which a municipality's heads are published.
pub fn object_prefix(tenant: uuid::Uuid) -> String {
    format!("{}/", prefix(tenant))
}

/// Whether a published head (its object's bytes) is one this deployment
/// attested for `tenant`: what a move takes along.
pub fn vouched(bytes: &[u8], signing: &Signing, tenant: uuid::Uuid) -> bool {
    serde_json::from_slice::<Head>(bytes).is_ok_and(|h| {
        h.tenant == tenant
            && signing.attested(PURPOSE, &message(h.tenant, h.seq, &h.hash), &h.attestation)
    })
}

/// A head vouched for by the deployment a municipality moved from,
/// attested again by this one (the import trusts the archive its operator
/// chose, as it trusts the rows).
pub fn attest_again(bytes: &[u8], signing: &Signing) -> Result<Vec<u8>, dimos_kernel::Error> {
    let mut head: Head = serde_json::from_slice(bytes).map_err(dimos_kernel::Error::internal)?;
    head.attestation = signing.attest(PURPOSE, &message(head.tenant, head.seq, &head.hash));
    serde_json::to_vec_pretty(&head).map_err(dimos_kernel::Error::internal)
}

/// What the published heads say about one municipality's trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadReport {
    pub heads: usize,
    /// Heads whose attestation does not verify (forged or damaged).
    pub unattested: Vec<i64>,
    /// Heads the trail no longer matches: entry missing (cut) or with
    /// another hash (rewritten).
    pub contradicted: Vec<i64>,
}

impl HeadReport {
    pub fn ok(&self) -> bool {
        self.unattested.is_empty() && self.contradicted.is_empty()
    }
}

/// Checks a municipality's trail against every head published for it.
pub async fn check(
    objects: &dyn ObjectStore,
    signing: &Signing,
    db: &TenantDb,
) -> Result<HeadReport, dimos_kernel::Error> {
    let tenant = db.tenant_id().uuid();
    let mut report = HeadReport::default();
    for (k, _) in objects
        .list(&prefix(tenant))
        .await
        .map_err(dimos_kernel::Error::from)?
    {
        let mut r = objects.get(&k).await.map_err(dimos_kernel::Error::from)?;
        let mut bytes = vec![];
        tokio::io::AsyncReadExt::read_to_end(&mut r, &mut bytes)
            .await
            .map_err(dimos_kernel::Error::internal)?;
        report.heads += 1;
        let Ok(head) = serde_json::from_slice::<Head>(&bytes) else {
            report.unattested.push(-1);
            continue;
        };
        if head.tenant != tenant
            || !signing.attested(
                PURPOSE,
                &message(head.tenant, head.seq, &head.hash),
                &head.attestation,
            )
        {
            report.unattested.push(head.seq);
            continue;
        }
        if AuditLog::hash_at(db, head.seq).await?.as_deref() != Some(head.hash.as_str()) {
            report.contradicted.push(head.seq);
        }
    }
    report.contradicted.sort_unstable();
    Ok(report)
}

//! The tenant's audit trail: append-only and hash-chained. Each entry's
//! hash covers its content and the previous entry's hash, so changing or
//! removing an entry breaks every hash after it, which `verify` detects.

use chrono::{DateTime, SubsecRound, Utc};
use dimos_db::{DbError, TenantDb};
use sea_query::{ExprTrait, Iden, Order};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Iden, Clone, Copy)]
enum AuditLogTable {
    #[iden = "audit_log"]
    Table,
    Seq,
    At,
    Actor,
    OnBehalfOf,
    Action,
    Record,
    Source,
    Detail,
    PrevHash,
    Hash,
}

/// What happened, by whom (and for whom), to what, from where.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditEntry {
    pub actor: String,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub record: Option<String>,
    /// Client address, as seen by the server.
    pub source: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(actor: impl Into<String>, action: impl Into<String>) -> Self {
        AuditEntry {
            actor: actor.into(),
            action: action.into(),
            detail: serde_json::json!({}),
            ..Default::default()
        }
    }

    pub fn on_behalf_of(mut self, who: Option<String>) -> Self {
        self.on_behalf_of = who;
        self
    }

    pub fn record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }

    pub fn from_address(mut self, source: Option<String>) -> Self {
        self.source = source;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// What counts as opening someone's sensitive personal data (health,
/// disability, income): a case file, a document holding personal data,
/// acting for a citizen at the desk.
pub const SENSITIVE_ACCESS: [&str; 3] = ["case_viewed", "document_viewed", "assist_started"];

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub record: Option<String>,
    pub source: Option<String>,
    #[sqlx(json)]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Where the chain breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: usize,
    pub broken_at: Option<i64>,
    /// The last entry's sequence number and hash, when the chain is intact.
    pub head: Option<(i64, String)>,
}

const STORED_COLUMNS: [AuditLogTable; 10] = [
    AuditLogTable::Seq,
    AuditLogTable::At,
    AuditLogTable::Actor,
    AuditLogTable::OnBehalfOf,
    AuditLogTable::Action,
    AuditLogTable::Record,
    AuditLogTable::Source,
    AuditLogTable::Detail,
    AuditLogTable::PrevHash,
    AuditLogTable::Hash,
];

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn hash_of(seq: i64, at: &DateTime<Utc>, e: &AuditEntry, prev: &str) -> String {
    // A fixed, explicit serialisation: field order and formats never drift.
    let canonical = serde_json::json!([
        seq,
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.actor,
        e.on_behalf_of,
        e.action,
        e.record,
        e.source,
        e.detail,
        prev
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub struct AuditLog;

impl AuditLog {
    /// Appends an entry. Concurrent appends race for the next sequence
    /// number; the primary key lets exactly one win and the others retry.
    pub async fn append(db: &TenantDb, entry: &AuditEntry) -> Result<i64, DbError> {
        let mut tx = db.begin().await?;
        let seq = Self::append_in(&mut tx, db, entry).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Appends an entry inside the action's own transaction: the action and
    /// its entry exist together or not at all. Call it last, just before
    /// the commit (the tenant's audit lock is held from here to there).
    pub async fn append_in(
        tx: &mut dimos_db::TenantTx<'_>,
        db: &TenantDb,
        entry: &AuditEntry,
    ) -> Result<i64, DbError> {
        // The chain needs the previous entry: appends of one tenant take
        // the tenant's audit lock, so concurrent requests (on any replica)
        // queue instead of racing for the same sequence number.
        tx.lock(db, "audit").await?;
        let mut q = db.select(AuditLogTable::Table);
        q.columns([AuditLogTable::Seq, AuditLogTable::Hash])
            .order_by(AuditLogTable::Seq, Order::Desc)
            .limit(1);
        let last: Option<(i64, String)> = tx.fetch_optional(&q).await?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, GENESIS.to_owned()),
        };
        // Stored with microsecond precision on both databases, so hash it so.
        let at = dimos_kernel::clock::wall_now().trunc_subsecs(6);
        let hash = hash_of(seq, &at, entry, &prev);
        let mut ins = db.insert(AuditLogTable::Table, STORED_COLUMNS);
        ins.values([
            seq.into(),
            at.into(),
            entry.actor.clone().into(),
            entry.on_behalf_of.clone().into(),
            entry.action.clone().into(),
            entry.record.clone().into(),
            entry.source.clone().into(),
            entry.detail.clone().into(),
            prev.into(),
            hash.into(),
        ]);
        tx.insert_rows(&ins).await?;
        Ok(seq)
    }

    pub async fn entries(db: &TenantDb, limit: u64) -> Result<Vec<StoredEntry>, DbError> {
        let mut q = db.select(AuditLogTable::Table);
        q.columns(STORED_COLUMNS)
            .order_by(AuditLogTable::Seq, Order::Desc)
            .limit(limit);
        db.fetch_all(&q).await
    }

    /// Accesses to sensitive personal data (the data protection officer's
    /// log), newest first: before entry `before`, by `actor`, on `record`.
    pub async fn sensitive_access(
        db: &TenantDb,
        actor: Option<&str>,
        record: Option<&str>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<StoredEntry>, DbError> {
        let mut q = db.select(AuditLogTable::Table);
        q.columns(STORED_COLUMNS)
            .and_where(
                sea_query::Expr::col(AuditLogTable::Action).is_in(SENSITIVE_ACCESS.iter().copied()),
            )
            .order_by(AuditLogTable::Seq, Order::Desc)
            .limit(limit);
        if let Some(a) = actor {
            q.and_where(sea_query::Expr::col(AuditLogTable::Actor).eq(a));
        }
        if let Some(r) = record {
            q.and_where(sea_query::Expr::col(AuditLogTable::Record).eq(r));
        }
        if let Some(b) = before {
            q.and_where(sea_query::Expr::col(AuditLogTable::Seq).lt(b));
        }
        db.fetch_all(&q).await
    }

    /// Recomputes the whole chain of one tenant, a page at a time (memory
    /// stays flat however long the trail is).
    pub async fn verify(db: &TenantDb) -> Result<ChainReport, DbError> {
        const PAGE: u64 = 1000;
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1i64;
        let mut count = 0usize;
        loop {
            let mut q = db.select(AuditLogTable::Table);
            q.columns(STORED_COLUMNS)
                .and_where(sea_query::Expr::col(AuditLogTable::Seq).gte(expected_seq))
                .order_by(AuditLogTable::Seq, Order::Asc)
                .limit(PAGE);
            let page: Vec<StoredEntry> = db.fetch_all(&q).await?;
            let n = page.len();
            for e in page {
                count += 1;
                let entry = AuditEntry {
                    actor: e.actor.clone(),
                    on_behalf_of: e.on_behalf_of.clone(),
                    action: e.action.clone(),
                    record: e.record.clone(),
                    source: e.source.clone(),
                    detail: e.detail.clone(),
                };
                if e.seq != expected_seq
                    || e.prev_hash != prev
                    || hash_of(e.seq, &e.at, &entry, &prev) != e.hash
                {
                    // Count the rest without checking it: the report says
                    // how long the trail is and where it first breaks.
                    let rest = Self::count_from(db, e.seq + 1).await?;
                    return Ok(ChainReport {
                        entries: count + rest,
                        broken_at: Some(std::cmp::min(e.seq, expected_seq)),
                        head: None,
                    });
                }
                prev = e.hash.clone();
                expected_seq += 1;
            }
            if (n as u64) < PAGE {
                break;
            }
        }
        Ok(ChainReport {
            entries: count,
            broken_at: None,
            head: (count > 0).then(|| (expected_seq - 1, prev)),
        })
    }

    /// The last entry's sequence number and hash.
    pub async fn head(db: &TenantDb) -> Result<Option<(i64, String)>, DbError> {
        let mut q = db.select(AuditLogTable::Table);
        q.columns([AuditLogTable::Seq, AuditLogTable::Hash])
            .order_by(AuditLogTable::Seq, Order::Desc)
            .limit(1);
        db.fetch_optional(&q).await
    }

    /// The hash of entry `seq`, if there is one.
    pub async fn hash_at(db: &TenantDb, seq: i64) -> Result<Option<String>, DbError> {
        let mut q = db.select(AuditLogTable::Table);
        q.column(AuditLogTable::Hash)
            .and_where(sea_query::Expr::col(AuditLogTable::Seq).eq(seq));
        let row: Option<(String,)> = db.fetch_optional(&q).await?;
        Ok(row.map(|r| r.0))
    }

    async fn count_from(db: &TenantDb, seq: i64) -> Result<usize, DbError> {
        let mut q = db.select(AuditLogTable::Table);
        q.column(AuditLogTable::Seq)
            .and_where(sea_query::Expr::col(AuditLogTable::Seq).gte(seq));
        let rows: Vec<(i64,)> = db.fetch_all(&q).await?;
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_cover_every_field_and_the_previous_hash() {
        let at = dimos_kernel::clock::wall_now();
        let e = AuditEntry {
            actor: "a".into(),
            action: "login".into(),
            ..Default::default()
        };
        let h = hash_of(1, &at, &e, GENESIS);
        assert_eq!(h.len(), 64);
        assert_ne!(h, hash_of(2, &at, &e, GENESIS));
        assert_ne!(h, hash_of(1, &at, &e, &h));
        let other = AuditEntry {
            record: Some("x".into()),
            ..e.clone()
        };
        assert_ne!(h, hash_of(1, &at, &other, GENESIS));
    }
}

//! Backups and their verification. On SQLite (the embedded default),
//! `dimos backup` writes a consistent copy of the database taken while it
//! runs (`VACUUM INTO`), every object the database refers to, and a
//! manifest (row counts, object checksums, each municipality's audit chain
//! head). On PostgreSQL the database is backed up with its own tools
//! (pg_basebackup and WAL archiving: docs/operator-guide.md) and
//! `dimos verify-backup --database-url` checks a restored copy.
//! `verify-backup` restores into a scratch database, compares counts with
//! the manifest, recomputes every audit chain and checks it against the
//! published heads.

// The operator's tool reads every tenant's trail and every table.
#![allow(clippy::disallowed_methods)]

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use dimos_db::Db;
use dimos_signing::service::Signing;
use dimos_storage::ObjectStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "dimos-backup/1";
const DATABASE_FILE: &str = "dimos.db";
const OBJECTS_DIR: &str = "objects";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub taken_at: DateTime<Utc>,
    /// Rows per table, as of the copy.
    pub rows: BTreeMap<String, i64>,
    /// Each object's SHA-256, by key.
    pub objects: BTreeMap<String, String>,
    /// Each municipality's audit chain head as of the copy (slug → seq).
    pub audit_heads: BTreeMap<String, i64>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn counts(db: &Db) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut rows = BTreeMap::new();
    for table in db.tables().await? {
        rows.insert(table.clone(), db.count_rows(&table).await?);
    }
    Ok(rows)
}

/// Every object the database refers to: documents and published heads.
async fn referenced_objects(db: &Db, objects: &dyn ObjectStore) -> anyhow::Result<Vec<String>> {
    let mut keys = vec![];
    for t in dimos_tenancy::TenantStore::new(db.clone()).list().await? {
        keys.extend(crate::transfer::object_keys(objects, t.id.uuid()).await?);
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

async fn heads(db: &Db) -> anyhow::Result<BTreeMap<String, i64>> {
    let store = dimos_tenancy::TenantStore::new(db.clone());
    let mut out = BTreeMap::new();
    for t in store.list().await? {
        let head = dimos_identity::AuditLog::head(&store.tenant_db(t.id)).await?;
        out.insert(t.slug().to_owned(), head.map_or(0, |(seq, _)| seq));
    }
    Ok(out)
}

/// Writes a backup of a SQLite deployment into the empty folder `out`.
pub async fn backup(db: &Db, objects: &dyn ObjectStore, out: &Path) -> anyhow::Result<Manifest> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: a backup goes into a folder of its own",
            out.display()
        );
    }
    // Every citizen's data and the sessions: for its owner's eyes only.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out)?;
    }
    std::fs::create_dir_all(out.join(OBJECTS_DIR))?;
    let copy = out.join(DATABASE_FILE);
    db.sqlite_copy_to(&copy).await?;
    // What the copy holds (not the live database, which moves on).
    let snapshot = Db::connect(&sqlite_url(&copy), &Default::default()).await?;
    let mut manifest = Manifest {
        format: FORMAT.to_owned(),
        taken_at: dimos_kernel::clock::wall_now(),
        rows: counts(&snapshot).await?,
        objects: BTreeMap::new(),
        audit_heads: heads(&snapshot).await?,
    };
    // Objects after the copy: an object the copy refers to was stored
    // before its row was written, so it is there.
    let target = dimos_storage::LocalStore::new(out.join(OBJECTS_DIR));
    let dir = tempfile::tempdir()?;
    for key in referenced_objects(&snapshot, objects).await? {
        let bytes = crate::transfer::read_object(objects, &key)
            .await
            .with_context(|| format!("object {key}, which the copy refers to"))?;
        manifest.objects.insert(key.clone(), sha256_hex(&bytes));
        let file = dir.path().join("object");
        tokio::fs::write(&file, &bytes).await?;
        target.put_file(&key, &file).await?;
    }
    snapshot.close().await;
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// What a verification found; `problems` empty means the backup is good.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub tables: usize,
    pub rows: i64,
    pub municipalities: usize,
    pub audit_entries: usize,
    pub objects: usize,
    pub problems: Vec<String>,
}

/// Checks a database restored from a backup: every audit chain recomputed
/// and held against the heads published in `objects` (a head newer than
/// the backup is expected, one it contradicts is not), and, with a
/// manifest, the row counts and the objects' checksums.
pub async fn verify_database(
    db: &Db,
    objects: &dyn ObjectStore,
    signing: &Signing,
    manifest: Option<&Manifest>,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let rows = counts(db).await?;
    report.tables = rows.len();
    report.rows = rows.values().sum();
    if let Some(m) = manifest {
        for (table, n) in &m.rows {
            match rows.get(table) {
                Some(have) if have == n => {}
                Some(have) => report
                    .problems
                    .push(format!("{table}: {have} rows, the backup had {n}")),
                None => report.problems.push(format!("{table} is missing")),
            }
        }
    }
    let store = dimos_tenancy::TenantStore::new(db.clone());
    for t in store.list().await? {
        report.municipalities += 1;
        let tdb = store.tenant_db(t.id);
        let chain = dimos_identity::AuditLog::verify(&tdb).await?;
        report.audit_entries += chain.entries;
        if let Some(seq) = chain.broken_at {
            report.problems.push(format!(
                "{}: the audit chain is broken at entry {seq}",
                t.slug()
            ));
        }
        let last = chain.head.as_ref().map_or(0, |(seq, _)| *seq);
        if let Some(m) = manifest
            && m.audit_heads.get(t.slug()).is_some_and(|&seq| seq != last)
        {
            report.problems.push(format!(
                "{}: the audit chain ends at entry {last}, the backup's at {}",
                t.slug(),
                m.audit_heads[t.slug()]
            ));
        }
        let heads = dimos_pages::audit_heads::check(objects, signing, &tdb).await?;
        // A head published after the backup was taken is not in it.
        let contradicted: Vec<i64> = heads
            .contradicted
            .iter()
            .copied()
            .filter(|&s| s <= last)
            .collect();
        if !contradicted.is_empty() || !heads.unattested.is_empty() {
            report.problems.push(format!(
                "{}: the trail contradicts published heads {contradicted:?}; heads failing attestation {:?}",
                t.slug(),
                heads.unattested
            ));
        }
    }
    if let Some(m) = manifest {
        for (key, sum) in &m.objects {
            match crate::transfer::read_object(objects, key).await {
                Ok(bytes) if sha256_hex(&bytes) == *sum => report.objects += 1,
                Ok(_) => report
                    .problems
                    .push(format!("object {key} differs from the backup's")),
                Err(_) => report.problems.push(format!("object {key} is missing")),
            }
        }
    }
    Ok(report)
}

/// Restores the SQLite backup in `dir` into a scratch copy and verifies it.
pub async fn verify_folder(dir: &Path, signing: &Signing) -> anyhow::Result<Report> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).context("the backup has no manifest.json")?,
    )
    .context("manifest.json is not a backup manifest")?;
    if manifest.format != FORMAT {
        bail!(
            "the backup is {:?}; this build reads {FORMAT:?}",
            manifest.format
        );
    }
    let scratch = tempfile::tempdir()?;
    let copy = scratch.path().join(DATABASE_FILE);
    std::fs::copy(dir.join(DATABASE_FILE), &copy).context("the backup has no database")?;
    // A folder copied while something had the database open may hold
    // its last writes in the log beside it.
    let wal = dir.join(format!("{DATABASE_FILE}-wal"));
    if wal.exists() {
        std::fs::copy(&wal, scratch.path().join(format!("{DATABASE_FILE}-wal")))?;
    }
    let db = Db::connect(&sqlite_url(&copy), &Default::default()).await?;
    let objects = dimos_storage::LocalStore::new(dir.join(OBJECTS_DIR));
    let report = verify_database(&db, &objects, signing, Some(&manifest)).await;
    db.close().await;
    report
}

//! Moving one municipality between deployments. `dimos tenants export`
//! writes one archive (a gzipped tar): every declared tenant-owned table of
//! the platform and of every module, the municipality's own row and its
//! operator trail, its objects in storage, its signing keys sealed for the
//! target deployment, and a manifest with counts and checksums.
//! `dimos tenants import` checks all of it, then loads it in one
//! transaction; either backend to either backend.

// The operator's own tool reads and writes one tenant's rows in every
// table: the sanctioned place for work across the tenant boundary.
#![allow(clippy::disallowed_methods)]

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use dimos_db::migrate::MigrationSet;
use dimos_db::portable::{Cell, Columns, Kind};
use dimos_db::sea_query::ExprTrait;
use dimos_db::{Db, DbError, sea_query};
use dimos_signing::service::Signing;
use dimos_signing::transfer::TransferKey;
use dimos_storage::ObjectStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// What an archive says it is; bumped when its layout changes.
pub const FORMAT: &str = "dimos-tenant-archive/1";

/// The parts of a deployment a move reads or writes.
#[derive(Clone, Copy)]
pub struct Deployment<'a> {
    pub db: &'a Db,
    pub objects: &'a dyn ObjectStore,
    pub signing: &'a Signing,
    /// The platform's and every module's migrations and declared tables.
    pub sets: &'a [MigrationSet],
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub tenant: TenantRef,
    pub exported_at: DateTime<Utc>,
    pub source_backend: String,
    /// Each component's schema version (its last migration).
    pub schema: BTreeMap<String, i64>,
    /// The target deployment's transfer key, and the export's one-off key.
    pub sealed_for: String,
    pub ephemeral: String,
    pub tables: Vec<TableEntry>,
    pub objects: Vec<ObjectEntry>,
    /// Published audit heads the source could not vouch for, left behind.
    pub unattested_heads: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantRef {
    pub id: uuid::Uuid,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableEntry {
    pub name: String,
    pub columns: Columns,
    pub rows: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

/// One table's rows about one tenant.
#[derive(Debug, Clone)]
pub struct Dump {
    pub name: String,
    pub columns: Columns,
    pub rows: Vec<Vec<Cell>>,
}

/// The platform tables holding rows about one tenant, and the column that
/// says which: its own row first (the others point at it), its operator
/// trail last.
const TENANT_ROW: (&str, &str) = ("tenants", "id");
const OPERATOR_TRAIL: (&str, &str) = ("platform_audit", "tenant_slug");

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn schema_of(sets: &[MigrationSet]) -> BTreeMap<String, i64> {
    sets.iter()
        .map(|s| {
            let last = s.migrations.iter().map(|m| m.version).max().unwrap_or(0);
            (s.component.to_owned(), last)
        })
        .collect()
}

/// The tables a move carries, in the order an import writes them.
fn tables_of(sets: &[MigrationSet]) -> Vec<&'static str> {
    std::iter::once(TENANT_ROW.0)
        .chain(
            sets.iter()
                .flat_map(|s| s.tenant_tables.iter().map(|t| t.name)),
        )
        .chain(std::iter::once(OPERATOR_TRAIL.0))
        .collect()
}

/// Every row of one municipality, table by table, as the database holds
/// them (keys still sealed under this deployment's key). The export's
/// source, and what the tests compare after a move.
pub async fn dump(dep: Deployment<'_>, id: uuid::Uuid, slug: &str) -> anyhow::Result<Vec<Dump>> {
    let mut shapes = vec![];
    for name in tables_of(dep.sets) {
        shapes.push((name, dep.db.columns(name).await?));
    }
    // Every table as of one moment: a case is never caught without its
    // events, nor a document row without the rest of its submission.
    let mut tx = dep.db.begin_snapshot().await?;
    let mut out = vec![];
    for (name, columns) in shapes {
        let rows = if name == TENANT_ROW.0 {
            let value = sea_query::Value::Uuid(Some(id));
            tx.rows_where(name, &columns, TENANT_ROW.1, value).await?
        } else if name == OPERATOR_TRAIL.0 {
            let value = sea_query::Value::String(Some(slug.to_owned()));
            tx.rows_where(name, &columns, OPERATOR_TRAIL.1, value)
                .await?
        } else {
            tx.tenant_rows(name, &columns, id).await?
        };
        out.push(Dump {
            name: name.to_owned(),
            columns,
            rows,
        });
    }
    tx.commit().await?;
    // The operator's history is kept by slug, and a slug can be used
    // again after a municipality is deleted: only this one's entries.
    let created = out.first().and_then(|t| {
        let i = t.columns.iter().position(|(c, _)| c == "created_at")?;
        t.rows.first()?.get(i)?.clone().coerce(Kind::Time).ok()
    });
    if let (Some(Cell::Time(created)), Some(trail)) = (created, out.last_mut())
        && let Some(i) = trail.columns.iter().position(|(c, _)| c == "at")
    {
        trail.rows.retain(
            |r| matches!(r[i].clone().coerce(Kind::Time), Ok(Cell::Time(at)) if at >= created),
        );
    }
    Ok(out)
}

/// The municipality's objects: its documents and its published audit heads.
pub async fn object_keys(objects: &dyn ObjectStore, id: uuid::Uuid) -> anyhow::Result<Vec<String>> {
    let mut keys = vec![];
    for prefix in [
        format!("{}/", id.simple()),
        dimos_pages::audit_heads::object_prefix(id),
    ] {
        keys.extend(objects.list(&prefix).await?.into_iter().map(|(k, _)| k));
    }
    keys.sort();
    Ok(keys)
}

pub async fn read_object(objects: &dyn ObjectStore, key: &str) -> anyhow::Result<Vec<u8>> {
    let mut r = objects.get(key).await?;
    let mut bytes = vec![];
    tokio::io::AsyncReadExt::read_to_end(&mut r, &mut bytes).await?;
    Ok(bytes)
}

fn is_head(key: &str) -> bool {
    key.starts_with("audit-heads/")
}

fn sealed_column(table: &str, column: &str) -> bool {
    dimos_signing::SEALED_COLUMNS
        .iter()
        .any(|(t, c)| *t == table && *c == column)
}

/// Applies `f` to every sealed key of a table's rows.
fn reseal_rows(
    table: &str,
    columns: &[String],
    rows: &mut [Vec<Cell>],
    f: impl Fn(&[u8]) -> Result<Vec<u8>, dimos_signing::SigningError>,
) -> anyhow::Result<()> {
    for (i, column) in columns.iter().enumerate() {
        if !sealed_column(table, column) {
            continue;
        }
        for row in rows.iter_mut() {
            if let Some(Cell::Bytes(b)) = row.get_mut(i) {
                *b = f(b).with_context(|| format!("{table}.{column}"))?;
            }
        }
    }
    Ok(())
}

fn append(tar: &mut tar::Builder<impl Write>, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, path, bytes)
        .with_context(|| format!("writing {path}"))
}

/// Writes the archive of municipality `slug` to `out`, its signing keys
/// sealed for the deployment whose transfer key is `to`.
pub async fn export(
    dep: Deployment<'_>,
    slug: &str,
    to: &TransferKey,
    out: &Path,
) -> anyhow::Result<Manifest> {
    let tenant = dimos_tenancy::TenantStore::new(dep.db.clone())
        .get(slug)
        .await?
        .ok_or_else(|| anyhow!("no municipality {slug:?} here"))?;
    let id = tenant.id.uuid();
    let sealer = dep.signing.sealer_for(to)?;
    // One snapshot would be better still; the operator suspends the
    // municipality first (docs/operator-guide.md), so nothing changes.
    let tables = dump(dep, id, slug).await?;
    // Written beside its name, readable by its owner only (it holds every
    // citizen's data), and renamed when whole: never half an archive.
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let partial = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    let gz = flate2::write::GzEncoder::new(partial, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut manifest = Manifest {
        format: FORMAT.to_owned(),
        tenant: TenantRef {
            id,
            slug: slug.to_owned(),
        },
        exported_at: dep.signing.now(),
        source_backend: dep.db.backend().name().to_owned(),
        schema: schema_of(dep.sets),
        sealed_for: to.to_string(),
        ephemeral: sealer.ephemeral().to_string(),
        tables: vec![],
        objects: vec![],
        unattested_heads: 0,
    };
    for mut t in tables {
        let names: Vec<String> = t.columns.iter().map(|(c, _)| c.clone()).collect();
        reseal_rows(&t.name, &names, &mut t.rows, |b| {
            sealer.reseal(dep.signing, b)
        })?;
        let mut body = Vec::new();
        for row in &t.rows {
            serde_json::to_writer(&mut body, row)?;
            body.push(b'\n');
        }
        append(&mut tar, &format!("tables/{}.jsonl", t.name), &body)?;
        manifest.tables.push(TableEntry {
            name: t.name,
            columns: t.columns,
            rows: t.rows.len() as u64,
            sha256: sha256_hex(&body),
        });
    }
    for key in object_keys(dep.objects, id).await? {
        let bytes = read_object(dep.objects, &key).await?;
        if is_head(&key) && !dimos_pages::audit_heads::vouched(&bytes, dep.signing, id) {
            manifest.unattested_heads += 1;
            continue;
        }
        append(&mut tar, &format!("objects/{key}"), &bytes)?;
        manifest.objects.push(ObjectEntry {
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            key,
        });
    }
    append(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    let partial = tar.into_inner()?.finish()?;
    partial.as_file().sync_all()?;
    partial
        .persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(manifest)
}

/// An archive read and checked against its manifest.
struct Unpacked {
    manifest: Manifest,
    tables: BTreeMap<String, Vec<u8>>,
    objects: BTreeMap<String, Vec<u8>>,
}

/// Reads an archive whole, refusing anything its manifest does not list
/// or whose checksum differs.
fn unpack(path: &Path) -> anyhow::Result<Unpacked> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest = None;
    let mut tables = BTreeMap::new();
    let mut objects = BTreeMap::new();
    for entry in archive.entries().context("not a tenant archive")? {
        let mut entry = entry.context("the archive is damaged")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = vec![];
        entry
            .read_to_end(&mut bytes)
            .context("the archive is damaged")?;
        if name == "manifest.json" {
            manifest = Some(
                serde_json::from_slice::<Manifest>(&bytes).context("the manifest is not valid")?,
            );
        } else if let Some(t) = name
            .strip_prefix("tables/")
            .and_then(|n| n.strip_suffix(".jsonl"))
        {
            tables.insert(t.to_owned(), bytes);
        } else if let Some(k) = name.strip_prefix("objects/") {
            objects.insert(k.to_owned(), bytes);
        } else {
            bail!("the archive holds {name:?}, which no tenant archive does");
        }
    }
    let manifest = manifest.ok_or_else(|| anyhow!("the archive has no manifest"))?;
    if manifest.format != FORMAT {
        bail!(
            "the archive is {:?}; this build reads {FORMAT:?}",
            manifest.format
        );
    }
    for t in &manifest.tables {
        let body = tables
            .get(&t.name)
            .ok_or_else(|| anyhow!("the archive lacks the rows of {}", t.name))?;
        if sha256_hex(body) != t.sha256 {
            bail!("the rows of {} do not match their checksum", t.name);
        }
    }
    for o in &manifest.objects {
        let body = objects
            .get(&o.key)
            .ok_or_else(|| anyhow!("the archive lacks object {}", o.key))?;
        if body.len() as u64 != o.size || sha256_hex(body) != o.sha256 {
            bail!("object {} does not match its checksum", o.key);
        }
    }
    if tables.len() != manifest.tables.len() || objects.len() != manifest.objects.len() {
        bail!("the archive holds entries its manifest does not list");
    }
    Ok(Unpacked {
        manifest,
        tables,
        objects,
    })
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub manifest: Manifest,
    pub rows: u64,
}

/// Loads an archive made for this deployment: checked whole first, then
/// objects stored and rows written in one transaction; if anything fails,
/// nothing of the municipality is left here.
pub async fn import(dep: Deployment<'_>, archive: &Path) -> anyhow::Result<Imported> {
    let Unpacked {
        manifest,
        tables,
        objects,
    } = unpack(archive)?;
    let opener = dep
        .signing
        .opener(&manifest.sealed_for.parse()?, &manifest.ephemeral.parse()?)?;
    let here = schema_of(dep.sets);
    for (component, version) in &manifest.schema {
        match here.get(component) {
            None => {
                bail!("the archive holds data of {component:?}, which this build does not have")
            }
            Some(v) if v != version => bail!(
                "{component} is at schema version {version} in the archive and {v} here: move between deployments of the same release"
            ),
            Some(_) => {}
        }
    }
    let store = dimos_tenancy::TenantStore::new(dep.db.clone());
    let slug = &manifest.tenant.slug;
    if store.get(slug).await?.is_some() {
        bail!("a municipality {slug:?} exists here already");
    }
    if store
        .list()
        .await?
        .iter()
        .any(|t| t.id.uuid() == manifest.tenant.id)
    {
        bail!(
            "a municipality with the id {} exists here already",
            manifest.tenant.id
        );
    }
    let mut stored = vec![];
    let result = load(dep, &manifest, &tables, &objects, &opener, &mut stored).await;
    if result.is_err() {
        // The rows were rolled back; their objects go too.
        for key in stored {
            if let Err(e) = dep.objects.delete(&key).await {
                tracing::warn!(key, error = %e, "an object of a failed import stays behind");
            }
        }
    }
    let rows = result?;
    Ok(Imported { manifest, rows })
}

async fn load(
    dep: Deployment<'_>,
    manifest: &Manifest,
    tables: &BTreeMap<String, Vec<u8>>,
    objects: &BTreeMap<String, Vec<u8>>,
    opener: &dimos_signing::transfer::Opener,
    stored: &mut Vec<String>,
) -> anyhow::Result<u64> {
    let id = manifest.tenant.id;
    // The archive holds every table of its components and nothing else:
    // a table left out would import a municipality with a hole in it.
    let expected: Vec<&str> = {
        let sets: Vec<MigrationSet> = dep
            .sets
            .iter()
            .filter(|s| manifest.schema.contains_key(s.component))
            .copied()
            .collect();
        let mut names = tables_of(&sets);
        names.sort_unstable();
        names
    };
    let mut listed: Vec<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
    listed.sort_unstable();
    if listed != expected {
        bail!("the archive's tables are {listed:?}; a municipality here has {expected:?}");
    }
    // Everything parsed, checked and opened before anything is written.
    let mut parsed = vec![];
    let mut trail: Vec<(i64, String)> = vec![];
    for t in &manifest.tables {
        let names: Vec<String> = t.columns.iter().map(|(c, _)| c.clone()).collect();
        let mut rows = vec![];
        for (n, line) in tables[&t.name].split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let row = serde_json::from_slice::<Vec<Cell>>(line)
                .with_context(|| format!("{}, line {}", t.name, n + 1))?;
            if row.len() != t.columns.len() {
                bail!(
                    "{}, line {}: {} cells for {} columns",
                    t.name,
                    n + 1,
                    row.len(),
                    t.columns.len()
                );
            }
            // Each cell of the kind its column says (as the source's
            // database returned it): nothing stored in a form the
            // application would not read back.
            for (cell, (column, kind)) in row.iter().zip(&t.columns) {
                if !fits(cell, *kind) {
                    bail!(
                        "{}.{}, line {}: {cell:?} is not a {kind:?}",
                        t.name,
                        column,
                        n + 1
                    );
                }
            }
            rows.push(row);
        }
        if rows.len() as u64 != t.rows {
            bail!(
                "{} holds {} rows, its manifest says {}",
                t.name,
                rows.len(),
                t.rows
            );
        }
        reseal_rows(&t.name, &names, &mut rows, |b| {
            opener.reseal(dep.signing, b)
        })?;
        let target = dep.db.columns(&t.name).await?;
        if target.is_empty() {
            bail!("there is no table {} here", t.name);
        }
        check_owner(t, &rows, manifest)?;
        if t.name == "audit_log" {
            trail = audit_trail(t, &rows)?;
        }
        parsed.push((t.name.clone(), names, target, rows));
    }
    let own = [
        format!("{}/", id.simple()),
        dimos_pages::audit_heads::object_prefix(id),
    ];
    let mut ready = vec![];
    for (key, bytes) in objects {
        if !own.iter().any(|p| key.starts_with(p.as_str())) {
            bail!("object {key} is not the municipality's");
        }
        let bytes = if is_head(key) {
            // Attested here only if it is a head of the trail imported.
            let head: dimos_pages::audit_heads::Head =
                serde_json::from_slice(bytes).with_context(|| format!("object {key}"))?;
            if head.tenant != id || !trail.contains(&(head.seq, head.hash.clone())) {
                bail!("published head {key} does not match the archive's audit trail");
            }
            dimos_pages::audit_heads::attest_again(bytes, dep.signing)?
        } else {
            bytes.clone()
        };
        ready.push((key, bytes));
    }
    let mut tx = dep.db.begin().await?;
    let mut total = 0;
    for (name, names, target, rows) in parsed {
        total += tx
            .insert_rows(
                &name,
                &names,
                &target,
                rows,
                // The operator's history of a municipality stays when it
                // is deleted: importing its final archive back finds it.
                name == OPERATOR_TRAIL.0,
            )
            .await
            .map_err(|e| match e {
                dimos_db::portable::InsertError::Db(DbError::Unique(what)) => anyhow!(
                    "{name}: {what} exists here already (another municipality holds a domain or key of this one?)"
                ),
                e => anyhow!("{name}: {e}"),
            })?;
    }
    tx.execute(&dimos_tenancy::store::registry_bump()).await?;
    tx.execute(&dimos_identity::access::Access::version_bump())
        .await?;
    // Objects last, before the commit: a failure leaves neither.
    let dir = tempfile::tempdir()?;
    for (key, bytes) in ready {
        let file = dir.path().join("object");
        tokio::fs::write(&file, &bytes).await?;
        dep.objects.put_file(key, &file).await?;
        stored.push(key.clone());
    }
    tx.commit().await?;
    Ok(total)
}

/// Whether a cell is what a column of `kind` returned at the source.
fn fits(cell: &Cell, kind: Kind) -> bool {
    matches!(
        (cell, kind),
        (Cell::Null, _)
            | (Cell::Bool(_), Kind::Bool)
            | (Cell::Int(_), Kind::Int | Kind::Int32)
            | (Cell::Float(_), Kind::Float)
            | (Cell::Text(_), Kind::Text)
            | (Cell::Bytes(_), Kind::Bytes)
            | (Cell::Uuid(_), Kind::Uuid)
            | (Cell::Time(_), Kind::Time)
            | (Cell::Date(_), Kind::Date)
            | (Cell::Json(_), Kind::Json)
    )
}

/// The audit trail's (seq, hash) pairs, to hold published heads against.
fn audit_trail(t: &TableEntry, rows: &[Vec<Cell>]) -> anyhow::Result<Vec<(i64, String)>> {
    let at = |name: &str| {
        t.columns
            .iter()
            .position(|(c, _)| c == name)
            .ok_or_else(|| anyhow!("audit_log has no column {name} in the archive"))
    };
    let (seq, hash) = (at("seq")?, at("hash")?);
    Ok(rows
        .iter()
        .filter_map(|r| match (&r[seq], &r[hash]) {
            (Cell::Int(s), Cell::Text(h)) => Some((*s, h.clone())),
            _ => None,
        })
        .collect())
}

/// Every row of the archive belongs to the municipality it names: a
/// doctored archive cannot write into another tenant here, rename itself,
/// or point a document at another municipality's file.
fn check_owner(t: &TableEntry, rows: &[Vec<Cell>], manifest: &Manifest) -> anyhow::Result<()> {
    let (column, expected) = if t.name == TENANT_ROW.0 {
        (TENANT_ROW.1, Cell::Uuid(manifest.tenant.id))
    } else if t.name == OPERATOR_TRAIL.0 {
        (OPERATOR_TRAIL.1, Cell::Text(manifest.tenant.slug.clone()))
    } else {
        (dimos_db::TENANT_ID, Cell::Uuid(manifest.tenant.id))
    };
    let position = |c: &str| t.columns.iter().position(|(n, _)| n == c);
    let Some(i) = position(column) else {
        bail!("{} has no column {column} in the archive", t.name);
    };
    let kind = match expected {
        Cell::Uuid(_) => Kind::Uuid,
        _ => Kind::Text,
    };
    let slug = (t.name == TENANT_ROW.0).then(|| position("slug")).flatten();
    let object_key = (t.name == "documents")
        .then(|| position("object_key"))
        .flatten();
    let prefix = format!("{}/", manifest.tenant.id.simple());
    for row in rows {
        let cell = row.get(i).cloned().unwrap_or(Cell::Null).coerce(kind);
        if cell.as_ref() != Ok(&expected) {
            bail!("{}: a row belongs to another municipality", t.name);
        }
        if let Some(s) = slug
            && row.get(s) != Some(&Cell::Text(manifest.tenant.slug.clone()))
        {
            bail!("the municipality's row names another slug than its manifest");
        }
        if let Some(k) = object_key
            && !matches!(row.get(k), Some(Cell::Text(key)) if key.starts_with(&prefix))
        {
            bail!("documents: a row points at a file that is not the municipality's");
        }
    }
    Ok(())
}

/// What deleting a municipality did.
#[derive(Debug, Clone)]
pub struct Offboarded {
    pub manifest: Manifest,
    /// SHA-256 of the final archive, as the operator's history records it.
    pub archive_sha256: String,
    pub rows: u64,
    /// Objects the store would not delete (left as orphans; named).
    pub objects_left: Vec<String>,
}

/// Deletes a municipality that has been suspended, unchanged, for
/// `retention`: first its final archive is written to `archive` (sealed for
/// this deployment, so `import` brings it back), then every row of it goes
/// in one transaction with an entry in the operator's history (which
/// stays), then its objects.
pub async fn offboard(
    dep: Deployment<'_>,
    slug: &str,
    archive: &Path,
    retention: chrono::Duration,
    actor: &str,
) -> anyhow::Result<Offboarded> {
    let tenant = dimos_tenancy::TenantStore::new(dep.db.clone())
        .get(slug)
        .await?
        .ok_or_else(|| anyhow!("no municipality {slug:?} here"))?;
    if tenant.is_active() {
        bail!(
            "{slug} is active: suspend it first, and delete it once it has been suspended for the retention period"
        );
    }
    let now = dep.signing.now();
    let from = tenant.updated_at + retention;
    if now < from {
        bail!(
            "{slug} has been suspended (unchanged) since {}; it may be deleted from {} (tenancy.delete_after_days)",
            tenant.updated_at.format("%F %R UTC"),
            from.format("%F %R UTC")
        );
    }
    let own = dep.signing.transfer_key()?;
    let manifest = export(dep, slug, &own, archive).await?;
    // Read back whole before anything goes: the archive is all that stays.
    unpack(archive).context("the final archive does not read back; nothing was deleted")?;
    let archive_sha256 = sha256_hex(&std::fs::read(archive)?);
    let id = tenant.id.uuid();
    let mut tx = dep.db.begin().await?;
    let mut rows = 0;
    for name in tables_of(dep.sets).into_iter().rev() {
        if name == OPERATOR_TRAIL.0 || name == TENANT_ROW.0 {
            continue;
        }
        let deleted = tx.delete_tenant_rows(name, id).await?;
        let archived = manifest
            .tables
            .iter()
            .find(|t| t.name == name)
            .map_or(0, |t| t.rows);
        // Something was written after the archive: it would be lost.
        if deleted != archived {
            bail!(
                "{name}: {deleted} rows here, {archived} in the archive (written meanwhile?): nothing was deleted; try again"
            );
        }
        rows += deleted;
    }
    let own_row = sea_query::Query::delete()
        .from_table(sea_query::Alias::new(TENANT_ROW.0))
        .and_where(sea_query::Expr::col(sea_query::Alias::new(TENANT_ROW.1)).eq(id))
        .to_owned();
    rows += tx.execute(&own_row).await?;
    let exported: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let trail = manifest
        .tables
        .iter()
        .find(|t| t.name == OPERATOR_TRAIL.0)
        .map_or(0, |t| t.rows);
    // What the archive holds is what is deleted (the trail stays).
    if rows != exported - trail {
        bail!(
            "{rows} rows to delete, but the archive holds {}: nothing was deleted",
            exported - trail
        );
    }
    tx.execute(&dimos_tenancy::store::operator_entry(
        actor,
        "tenant.deleted",
        slug,
        serde_json::json!({
            "archive_sha256": archive_sha256,
            "rows": rows,
            "objects": manifest.objects.len(),
        }),
        now,
    ))
    .await?;
    tx.execute(&dimos_tenancy::store::registry_bump()).await?;
    tx.execute(&dimos_identity::access::Access::version_bump())
        .await?;
    tx.commit().await?;
    let mut objects_left = vec![];
    for o in &manifest.objects {
        if dep.objects.delete(&o.key).await.is_err() {
            objects_left.push(o.key.clone());
        }
    }
    Ok(Offboarded {
        manifest,
        archive_sha256,
        rows,
        objects_left,
    })
}

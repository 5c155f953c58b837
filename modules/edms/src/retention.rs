//! Retention and disposal: each document type says how many years its
//! closed documents are kept, counted from the end of the year they were
//! closed (as archives count: a letter closed in 2026 with 10 years goes
//! on 1 January 2037), and what happens then: destroyed (its files and
//! contents deleted), or transferred to the archive (a package of its
//! files, details and history kept as a held document, then the same).
//! Either way the record keeps its number, type and dates, and the
//! protocol book its entry (kept by law); an audit entry says what went.
//! A legal hold stops it, however late.
//!
//! The hourly sweep is safe on every replica at once: a record is taken by
//! the UPDATE that marks it disposed, which only one transaction makes and
//! which a hold placed meanwhile prevents.

use crate::config::{Disposal, Kind};
use crate::store::{self, Record};
use crate::{HOLDER, ID};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use dimos_identity::{AuditEntry, AuditLog};
use dimos_kernel::Error;
use dimos_storage::documents::{self, Document};
use dimos_web::module::ModuleSweep;
use dimos_web::{AppState, CurrentTenant};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use uuid::Uuid;

/// Records disposed of per query.
const BATCH: u64 = 100;

pub const SWEEP: ModuleSweep = ModuleSweep {
    what: "edms retention",
    every: std::time::Duration::from_secs(3600),
    run: |state, t| Box::pin(async move { run_for(&state, &t).await }),
};

/// The first day of `year` in Greece, as an instant (1 January is always
/// winter time, UTC+2).
fn new_year(year: i32) -> DateTime<Utc> {
    // A year out of chrono's range: nothing is closed before it.
    NaiveDate::from_ymd_opt(year, 1, 1).map_or(DateTime::<Utc>::MIN_UTC, |d| {
        Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)) - chrono::Duration::hours(2)
    })
}

/// The day a document closed at `closed_at` and kept `years` goes.
pub fn due_on(closed_at: DateTime<Utc>, years: u32) -> NaiveDate {
    let closed_year = dimos_kernel::clock::local_date(closed_at).year();
    let year = closed_year.saturating_add(i32::try_from(years).unwrap_or(i32::MAX) + 1);
    NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MAX)
}

/// Documents closed before this instant are due on `today` (the same rule
/// as [`due_on`], as a condition the database can use).
pub fn closed_before(today: NaiveDate, years: u32) -> DateTime<Utc> {
    new_year(
        today
            .year()
            .saturating_sub(i32::try_from(years).unwrap_or(i32::MAX)),
    )
}

/// Every municipality's due records (what the hourly sweep does); how
/// many went.
pub async fn run(state: &AppState) -> usize {
    SWEEP.run_all(state, ID).await
}

/// One municipality's due records.
pub async fn run_for(state: &AppState, t: &CurrentTenant) -> Result<usize, Error> {
    let now = state.workflow().now();
    let today = dimos_kernel::clock::local_date(now);
    let cfg: crate::EdmsConfig = dimos_web::settings::effective(t, ID).await?;
    let mut n = 0;
    for kind in &cfg.kinds {
        let Some(years) = kind.retention_years else {
            continue;
        };
        let before = closed_before(today, years);
        loop {
            let due = store::due(&t.db, &kind.id, before, BATCH).await?;
            let mut taken = 0;
            for &id in &due {
                // One record's trouble (a file missing from storage) is
                // logged and tried again next time; the rest go on.
                match dispose(state, t, kind, years, id, now).await {
                    Ok(true) => taken += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(tenant = %t.tenant.slug(), record = %id, error = %e, "a record's disposal failed");
                    }
                }
            }
            n += taken;
            // A short batch is the last; a batch where nothing was taken
            // (another replica at the same rows) is left to it.
            if (due.len() as u64) < BATCH || taken == 0 {
                break;
            }
        }
    }
    Ok(n)
}

/// Disposes of one record as its type says; false when another replica
/// did, or a hold came first.
async fn dispose(
    state: &AppState,
    t: &CurrentTenant,
    kind: &Kind,
    years: u32,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    // Read again: another replica may have taken it, or a hold come, since
    // the list was read (then nothing is packaged for nothing).
    let Some(r) = store::get(&t.db, id)
        .await?
        .filter(|r| !r.is_disposed() && !r.legal_hold && !r.is_open())
    else {
        return Ok(false);
    };
    let mut held = store::files(&t.db, id).await?;
    if let Some(o) = store::outgoing(&t.db, id).await?
        && let Some(signed) = o.signed_document
        && !held.contains(&signed)
    {
        held.push(signed);
    }
    // The package first (an object, written outside any transaction); one
    // whose record another replica took is deleted again.
    let package = match kind.disposal {
        Disposal::Archive => Some(package(state, t, &r, &held, now).await?),
        Disposal::Destroy => None,
    };
    let disposal = match kind.disposal {
        Disposal::Archive => "archived",
        Disposal::Destroy => "destroyed",
    };
    let mut tx = t.db.begin().await?;
    if !store::dispose_in(&mut tx, id, now, disposal, package.as_ref().map(|p| p.id)).await? {
        drop(tx);
        if let Some(p) = package {
            let _ = state.objects().delete(&p.object_key).await;
        }
        return Ok(false);
    }
    let keys = documents::drop_held_in(&mut tx, &held, HOLDER).await?;
    if let Some(p) = &package {
        documents::hold_in(&mut tx, &t.db, p, HOLDER).await?;
    }
    let entry = AuditEntry::new("system:retention", "edms_disposed")
        .record(format!("edms:{id}"))
        .detail(json!({
            "number": r.number(),
            "direction": r.direction,
            "kind": r.kind,
            "closed_at": r.closed_at,
            "retention_years": years,
            "disposal": disposal,
            "files": keys.len(),
            "package": package.as_ref().map(|p| p.id),
        }));
    AuditLog::append_in(&mut tx, &t.db, &entry).await?;
    tx.commit().await?;
    // The files after the rows: one left behind is swept as an orphan.
    for key in keys {
        if let Err(e) = state.objects().delete(&key).await {
            tracing::warn!(key, error = %e, "a disposed document's file stays until the orphan sweep");
        }
    }
    Ok(true)
}

/// The archive's package of a record: a ZIP of `record.json` (its details,
/// history, outgoing text and each file's name and SHA-256) and its files
/// under `files/`, stored as an object; the document row for it.
async fn package(
    state: &AppState,
    t: &CurrentTenant,
    r: &Record,
    held: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Document, Error> {
    let moves = store::movements(&t.db, r.id).await?;
    let outgoing = store::outgoing(&t.db, r.id).await?;
    let mut files = vec![];
    for &doc in held {
        if let Some(d) = documents::held(&t.db, doc, HOLDER).await? {
            let mut reader = state.objects().get(&d.object_key).await?;
            let mut bytes = vec![];
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
                .await
                .map_err(Error::internal)?;
            files.push((d, bytes));
        }
    }
    let manifest = json!({
        "municipality": t.tenant.spec.name.el,
        "number": r.number(),
        "record": r,
        "movements": moves,
        "outgoing": outgoing,
        "files": files.iter().enumerate().map(|(i, (d, _))| json!({
            "path": entry_name(i, &d.original_name),
            "name": d.original_name,
            "content_type": d.content_type,
            "sha256": d.sha256,
            "uploaded_at": d.uploaded_at,
        })).collect::<Vec<_>>(),
        "packaged_at": now,
    });
    let bytes = tokio::task::spawn_blocking(move || zip_of(&manifest, &files))
        .await
        .map_err(Error::internal)??;
    let id = Uuid::now_v7();
    let key = documents::new_key(&t.db, id);
    let tmp = state.config().storage_dir().join("tmp");
    tokio::fs::create_dir_all(&tmp)
        .await
        .map_err(Error::internal)?;
    let path = tmp.join(format!("archive-{}", id.simple()));
    tokio::fs::write(&path, &bytes)
        .await
        .map_err(Error::internal)?;
    let stored = state.objects().put_file(&key, &path).await;
    let _ = tokio::fs::remove_file(&path).await;
    stored?;
    let number = r.number().replace('/', "-");
    Ok(Document {
        id,
        case_id: None,
        kind: Some("edms.archive".into()),
        original_name: format!("archive-{}-{number}.zip", r.direction),
        content_type: "application/zip".into(),
        size: i64::try_from(bytes.len()).map_err(Error::internal)?,
        sha256: hex_of(&bytes),
        object_key: key,
        personal_data: r.personal_data,
        uploaded_by: Uuid::nil(),
        uploaded_at: now,
        internal: true,
        replaced_by: None,
    })
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file's name in the package: numbered, so two files of one name stay
/// two, and nothing but the last part of what was uploaded.
fn entry_name(i: usize, original: &str) -> String {
    let base = original
        .rsplit(['/', '\\'])
        .next()
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .unwrap_or("file");
    format!("files/{:02}-{base}", i + 1)
}

fn zip_of(manifest: &serde_json::Value, files: &[(Document, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("record.json", opts).map_err(Error::internal)?;
    let text = serde_json::to_vec_pretty(manifest).map_err(Error::internal)?;
    z.write_all(&text).map_err(Error::internal)?;
    for (i, (d, bytes)) in files.iter().enumerate() {
        z.start_file(entry_name(i, &d.original_name), opts)
            .map_err(Error::internal)?;
        z.write_all(bytes).map_err(Error::internal)?;
    }
    Ok(z.finish().map_err(Error::internal)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_years_count_from_the_end_of_the_closing_year_in_greece() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(due_on(at("2026-03-10T09:00:00Z"), 10), d(2037, 1, 1));
        assert_eq!(due_on(at("2026-12-31T21:59:00Z"), 10), d(2037, 1, 1));
        // 00:30 on 1 January 2027 in Athens is still 2026 in UTC.
        assert_eq!(due_on(at("2026-12-31T22:30:00Z"), 10), d(2038, 1, 1));
        assert_eq!(closed_before(d(2037, 1, 1), 10), at("2026-12-31T22:00:00Z"));
    }

    proptest! {
        #[test]
        fn the_query_and_the_date_agree(
            closed in 1_600_000_000i64..2_200_000_000,
            today in 0i64..40_000,
            years in 1u32..=100,
        ) {
            let closed = DateTime::from_timestamp(closed, 0).unwrap();
            let today = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(today);
            prop_assert_eq!(closed < closed_before(today, years), due_on(closed, years) <= today);
        }
    }

    #[test]
    fn names_in_the_package_stay_inside_it() {
        assert_eq!(entry_name(0, "../../etc/passwd"), "files/01-passwd");
        assert_eq!(entry_name(1, "C:\\a\\b.pdf"), "files/02-b.pdf");
        assert_eq!(entry_name(2, ".."), "files/03-file");
    }
}

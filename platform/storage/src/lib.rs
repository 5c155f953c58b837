//! Documents people upload: streamed to a temporary file while counted and
//! hashed (never whole in memory), their type taken from their content (never
//! from the name they came with), then handed to an object store under a
//! generated, tenant-prefixed key. Metadata lives in the `documents` table.

pub mod documents;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncWriteExt};

/// Types accepted, whatever the file is called.
pub const ALLOWED: &[&str] = &["application/pdf", "image/jpeg", "image/png"];

/// Word processing documents, where a municipality accepts them.
pub const OFFICE: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
];

/// What an upload must satisfy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub limit: u64,
    pub allow_office: bool,
    /// A virus scanner run with the file's path as its last argument: exit
    /// 0 is clean, 1 is infected, anything else (or not running) refuses
    /// the upload for now.
    pub scan_command: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is empty")]
    Empty,
    #[error("files of this type are not accepted")]
    TypeNotAllowed,
    #[error("the virus scanner refused the file")]
    Infected,
    #[error("the virus scanner is not available: {0}")]
    ScannerUnavailable(String),
    #[error("reading the upload failed: {0}")]
    Upload(String),
    #[error("object storage: {0}")]
    Io(#[from] std::io::Error),
    /// The store is down or failing on its side.
    #[error("object storage unavailable: {0}")]
    Unavailable(String),
}

impl From<StorageError> for dimos_kernel::Error {
    fn from(e: StorageError) -> Self {
        use dimos_kernel::{Error, FieldError};
        match e {
            StorageError::TooLarge(max) => Error::Validation(vec![
                FieldError::new("file", "file-too-large")
                    .with_detail(format!("{} MB", max / 1_048_576)),
            ]),
            StorageError::Empty => Error::Validation(vec![FieldError::new("file", "required")]),
            StorageError::TypeNotAllowed => {
                Error::Validation(vec![FieldError::new("file", "file-type")])
            }
            StorageError::Infected => {
                Error::Validation(vec![FieldError::new("file", "file-infected")])
            }
            StorageError::ScannerUnavailable(m) => {
                tracing::error!(error = %m, "virus scanner unavailable; upload refused");
                Error::Unavailable
            }
            StorageError::Upload(m) => Error::BadRequest(m),
            StorageError::Io(e) => Error::internal(e),
            StorageError::Unavailable(m) => {
                tracing::error!(error = %m, "object storage unavailable");
                Error::Unavailable
            }
        }
    }
}

/// Where objects live. The embedded default is a local directory; S3
/// plugs in behind the same trait.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Moves a finished upload (a local temporary file) to `key`.
    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StorageError>;
    async fn get(&self, key: &str) -> Result<Box<dyn AsyncRead + Send + Unpin>, StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Keys under a prefix, with when they were written.
    async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StorageError>;
    /// A URL that downloads `key` for `valid`, named `download_name`, for
    /// stores browsers can fetch from directly; None for the others.
    async fn presign_get(
        &self,
        _key: &str,
        _download_name: &str,
        _content_type: &str,
        _valid: std::time::Duration,
    ) -> Result<Option<String>, StorageError> {
        Ok(None)
    }
    /// Whether the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StorageError>;
}

/// `Content-Disposition` for a download: always an attachment, with an
/// ASCII fallback name and the real one percent-encoded (RFC 6266).
pub fn attachment_header(download_name: &str) -> String {
    let encoded: String = download_name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"document\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        // Keys are generated by us; refuse anything that could leave the root.
        let ok = !key.is_empty()
            && key.split('/').all(|p| {
                !p.is_empty()
                    && p != ".."
                    && p != "."
                    && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return Err(StorageError::Upload(format!("invalid object key {key:?}")));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn ping(&self) -> Result<(), StorageError> {
        tokio::fs::create_dir_all(&self.root).await?;
        Ok(())
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StorageError> {
        let dest = self.path(key)?;
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if tokio::fs::rename(file, &dest).await.is_err() {
            // Another filesystem: copy, then remove.
            tokio::fs::copy(file, &dest).await?;
            tokio::fs::remove_file(file).await?;
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Box<dyn AsyncRead + Send + Unpin>, StorageError> {
        Ok(Box::new(tokio::fs::File::open(self.path(key)?).await?))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StorageError> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        let mut out = vec![];
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        while let Some(e) = entries.next_entry().await? {
            let modified = e.metadata().await?.modified()?;
            out.push((
                format!(
                    "{}/{}",
                    prefix.trim_end_matches('/'),
                    e.file_name().to_string_lossy()
                ),
                chrono::DateTime::<chrono::Utc>::from(modified),
            ));
        }
        Ok(out)
    }
}

/// Streams an object while hashing it; if the bytes do not match the
/// SHA-256 recorded at upload, the stream ends in an error instead of
/// completing, so a damaged file is never delivered as if whole.
pub fn verified_stream(
    reader: Box<dyn AsyncRead + Send + Unpin>,
    expected_sha256: String,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let inner = tokio_util::io::ReaderStream::new(reader);
    // Fused: the compression layer polls a body once more after its end,
    // and a bare `unfold` panics when polled again.
    futures::stream::unfold(
        (inner, Sha256::new(), Some(expected_sha256)),
        |(mut inner, mut hasher, expected)| async move {
            let expected_hash = expected?;
            match inner.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    Some((Ok(chunk), (inner, hasher, Some(expected_hash))))
                }
                Some(Err(e)) => Some((Err(e), (inner, hasher, None))),
                None => {
                    let got = hex::encode(hasher.finalize_reset());
                    if got == expected_hash {
                        None
                    } else {
                        tracing::error!(expected = %expected_hash, got = %got, "stored object does not match its hash");
                        Some((
                            Err(std::io::Error::other(
                                "stored object does not match its SHA-256",
                            )),
                            (inner, hasher, None),
                        ))
                    }
                }
            }
        },
    )
    .fuse()
}

/// Deletes objects of a tenant that no document row points at (an upload
/// interrupted between storing and recording), once they are a day old.
pub async fn sweep_orphans(
    store: &dyn ObjectStore,
    tdb: &dimos_db::TenantDb,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, StorageError> {
    let prefix = format!("{}/", tdb.tenant_id().uuid().simple());
    let known: std::collections::BTreeSet<String> = documents::keys(tdb)
        .await
        .map_err(|e| StorageError::Upload(e.to_string()))?
        .into_iter()
        .collect();
    let mut removed = 0;
    // Files kept for a form that was never sent, a day on: row and object.
    let cutoff = now - chrono::Duration::days(1);
    for (id, key) in documents::unclaimed(tdb, cutoff)
        .await
        .map_err(|e| StorageError::Upload(e.to_string()))?
    {
        // Taken meanwhile (a form sent at this moment): its file stays.
        if !documents::delete_unclaimed(tdb, id)
            .await
            .map_err(|e| StorageError::Upload(e.to_string()))?
        {
            continue;
        }
        store.delete(&key).await?;
        removed += 1;
    }
    for (key, written) in store.list(&prefix).await? {
        if !known.contains(&key) && now - written > chrono::Duration::days(1) {
            store.delete(&key).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// An upload received in full and checked, waiting to be stored.
#[derive(Debug)]
pub struct Received {
    pub temp: tempfile_path::TempPath,
    pub size: u64,
    pub sha256: String,
    pub content_type: &'static str,
}

/// Receives a stream into a temporary file under `tmp_dir`: at most `limit`
/// bytes, SHA-256 computed on the way, type sniffed from the first bytes.
pub async fn receive<S, E>(
    tmp_dir: &Path,
    mut body: S,
    policy: &Policy,
) -> Result<Received, StorageError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    tokio::fs::create_dir_all(tmp_dir).await?;
    let temp = tempfile_path::TempPath::new(tmp_dir);
    let mut file = tokio::fs::File::create(temp.path()).await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(8192);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Upload(e.to_string()))?;
        size += chunk.len() as u64;
        if size > policy.limit {
            return Err(StorageError::TooLarge(policy.limit));
        }
        if head.len() < 8192 {
            let take = (8192 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    drop(file);
    if size == 0 {
        return Err(StorageError::Empty);
    }
    let content_type = sniff(&head, policy.allow_office).ok_or(StorageError::TypeNotAllowed)?;
    if let Some(cmd) = policy
        .scan_command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        scan(cmd, temp.path()).await?;
    }
    Ok(Received {
        temp,
        size,
        sha256: hex::encode(hasher.finalize()),
        content_type,
    })
}

/// The accepted type of a file from its first bytes, if it is one.
pub fn sniff(head: &[u8], allow_office: bool) -> Option<&'static str> {
    let kind = infer::get(head)?;
    let office: &[&'static str] = if allow_office { OFFICE } else { &[] };
    ALLOWED
        .iter()
        .chain(office.iter())
        .copied()
        .find(|t| *t == kind.mime_type())
}

async fn scan(cmd: &str, file: &Path) -> Result<(), StorageError> {
    let mut parts = cmd.split_whitespace();
    let program = parts.next().unwrap_or_default();
    let status = tokio::process::Command::new(program)
        .args(parts)
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| StorageError::ScannerUnavailable(e.to_string()))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(StorageError::Infected),
        other => Err(StorageError::ScannerUnavailable(format!(
            "exit status {other:?}"
        ))),
    }
}

/// A file name safe to send back in `Content-Disposition`: the person's
/// name for it, reduced to letters, digits and a few marks, with the
/// extension of its real type.
pub fn download_name(original: &str, content_type: &str) -> String {
    let ext = match content_type {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.oasis.opendocument.text" => "odt",
        _ => "bin",
    };
    let stem = original.rsplit_once('.').map_or(original, |(s, _)| s);
    let clean: String = stem
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .take(80)
        .collect();
    let clean = clean.trim();
    format!(
        "{}.{ext}",
        if clean.is_empty() { "document" } else { clean }
    )
}

/// A temporary file path removed on drop unless kept.
pub mod tempfile_path {
    use std::path::{Path, PathBuf};

    #[derive(Debug)]
    pub struct TempPath(PathBuf);

    impl TempPath {
        pub fn new(dir: &Path) -> Self {
            TempPath(dir.join(format!("upload-{}", uuid::Uuid::new_v4().simple())))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            // Gone already when the store moved it; nothing to report either way.
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_attachments_with_the_real_name_encoded() {
        let h = attachment_header("Άδεια \"x\"; a.pdf");
        assert!(h.starts_with("attachment; filename=\"document\"; filename*=UTF-8''"));
        assert!(
            h.ends_with("%CE%86%CE%B4%CE%B5%CE%B9%CE%B1%20%22x%22%3B%20a.pdf"),
            "{h}"
        );
        // Nothing that could end the header value or start another parameter.
        let value = h.split("UTF-8''").nth(1).unwrap();
        assert!(!value.contains(['"', ';', ' ', '\r', '\n']));
    }

    fn stream(
        chunks: Vec<&'static [u8]>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))))
    }

    fn limit(n: u64) -> Policy {
        Policy {
            limit: n,
            ..Policy::default()
        }
    }

    #[tokio::test]
    async fn office_documents_only_where_allowed_and_the_scanner_decides() {
        let dir = tempfile::tempdir().unwrap();
        let mut odt = b"PK\x03\x04".to_vec();
        odt.extend([0u8; 26]);
        odt.extend(b"mimetypeapplication/vnd.oasis.opendocument.text");
        let odt: &'static [u8] = Box::leak(odt.into_boxed_slice());
        assert!(matches!(
            receive(dir.path(), stream(vec![odt]), &limit(1000)).await,
            Err(StorageError::TypeNotAllowed)
        ));
        let office = Policy {
            limit: 1000,
            allow_office: true,
            scan_command: None,
        };
        let r = receive(dir.path(), stream(vec![odt]), &office)
            .await
            .unwrap();
        assert_eq!(r.content_type, "application/vnd.oasis.opendocument.text");
        let pdf: &'static [u8] = b"%PDF-1.7\nEICAR-TEST\n";
        let scanned = |cmd: &str| Policy {
            limit: 1000,
            allow_office: false,
            scan_command: Some(cmd.to_owned()),
        };
        assert!(
            receive(dir.path(), stream(vec![pdf]), &scanned("true"))
                .await
                .is_ok()
        );
        // A scanner that finds the test signature answers 1: refused.
        let script = dir.path().join("scan.sh");
        std::fs::write(&script, "#!/bin/sh\n! grep -q EICAR-TEST \"$1\"\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let scanner = script.display().to_string();
        assert!(matches!(
            receive(dir.path(), stream(vec![pdf]), &scanned(&scanner)).await,
            Err(StorageError::Infected)
        ));
        assert!(matches!(
            receive(
                dir.path(),
                stream(vec![pdf]),
                &scanned("/nonexistent/scanner")
            )
            .await,
            Err(StorageError::ScannerUnavailable(_))
        ));
    }

    #[tokio::test]
    async fn content_decides_the_type_and_limits_hold() {
        let dir = tempfile::tempdir().unwrap();
        let pdf: &'static [u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
        let r = receive(dir.path(), stream(vec![pdf, b"trailer"]), &limit(1000))
            .await
            .unwrap();
        assert_eq!(r.content_type, "application/pdf");
        assert_eq!(r.size, (pdf.len() + 7) as u64);
        let mut h = Sha256::new();
        h.update(pdf);
        h.update(b"trailer");
        assert_eq!(r.sha256, hex::encode(h.finalize()));
        // An HTML page called "scan.pdf" is still HTML: refused.
        let html: &'static [u8] = b"<html><script>alert(1)</script></html>";
        assert!(matches!(
            receive(dir.path(), stream(vec![html]), &limit(1000)).await,
            Err(StorageError::TypeNotAllowed)
        ));
        assert!(matches!(
            receive(dir.path(), stream(vec![pdf, pdf, pdf]), &limit(50)).await,
            Err(StorageError::TooLarge(50))
        ));
        assert!(matches!(
            receive(dir.path(), stream(vec![]), &limit(50)).await,
            Err(StorageError::Empty)
        ));
        // Refused uploads leave no temporary files behind.
        drop(r);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn local_store_keeps_keys_inside_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("objects"));
        let tmp = dir.path().join("t");
        std::fs::write(&tmp, b"x").unwrap();
        store.put_file("tenant-1/abc", &tmp).await.unwrap();
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(
            &mut store.get("tenant-1/abc").await.unwrap(),
            &mut s,
        )
        .await
        .unwrap();
        assert_eq!(s, "x");
        assert!(store.get("../etc/passwd").await.is_err());
        store.delete("tenant-1/abc").await.unwrap();
        store.delete("tenant-1/abc").await.unwrap();
    }

    #[test]
    fn download_names_are_tame() {
        assert_eq!(
            download_name("Ταυτότητα.PDF", "application/pdf"),
            "Ταυτότητα.pdf"
        );
        assert_eq!(download_name("a\";<b>.html", "image/png"), "ab.png");
        assert_eq!(download_name("", "image/jpeg"), "document.jpg");
    }
}

//! Exchange with the government's systems: documents other organisations
//! send through the document exchange (ΙΡΙΔΑ) are registered in the
//! protocol book as they arrive; signed outgoing documents are sent
//! through it; signed decisions are published on Diavgeia, which gives
//! each its ΑΔΑ.
//!
//! The systems are behind one interface, [`Exchange`]; this module ships
//! a file-based implementation, [`Files`]: a drop folder per municipality
//! that a bridge to the real systems (or a person, or a test) reads and
//! writes. A real adapter implements the same trait (README.md, "How a
//! real exchange plugs in").
//!
//! Nothing reaches a system from a request: an action records what is to
//! be sent (`queued`) in its own transaction, and the sweep hands it over
//! and follows it up (`requested`, then `done` or `failed`). The sweep is
//! safe on every replica at once: a received message is registered once
//! (its id is the record's submission key, unique), a state moves only
//! from the state it was read in, and handing over is idempotent by the
//! record's id.

use crate::register::{self, Filer, Incoming};
use crate::store::{self, Record};
use crate::{HOLDER, ID};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use dimos_identity::AuditEntry;
use dimos_kernel::Error;
use dimos_kernel::config::ExchangeProvider;
use dimos_storage::documents::{self, Document};
use dimos_web::module::ModuleSweep;
use dimos_web::{AppState, CurrentTenant};
use minijinja::{Value, context};
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use uuid::Uuid;

pub const SWEEP: ModuleSweep = ModuleSweep {
    what: "edms exchange",
    every: std::time::Duration::from_secs(60),
    run: |state, t| Box::pin(async move { sweep(&state, &t).await }),
};

/// Which system, and which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Received through ΙΡΙΔΑ.
    IridaIn,
    /// Sent through ΙΡΙΔΑ.
    IridaOut,
    /// Published on Diavgeia.
    Diavgeia,
}

impl System {
    pub fn id(self) -> &'static str {
        match self {
            System::IridaIn => "irida-in",
            System::IridaOut => "irida-out",
            System::Diavgeia => "diavgeia",
        }
    }
}

/// A document another organisation sent.
#[derive(Debug, Clone)]
pub struct Received {
    /// The exchange's id of the message.
    pub id: String,
    pub organisation: String,
    pub subject: String,
    /// The sender's number and date.
    pub reference: String,
    pub sent_on: NaiveDate,
    /// A document type of the municipality's list (else `letter`).
    pub kind: String,
    pub confidential: bool,
    pub personal_data: bool,
    pub urgent: bool,
    /// (file name, bytes)
    pub files: Vec<(String, Vec<u8>)>,
}

/// A signed document to send or publish.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub record: Uuid,
    pub number: String,
    pub signed_on: NaiveDate,
    pub subject: String,
    pub kind: String,
    /// The receiving organisation's code (sending); empty for Diavgeia.
    pub organisation: String,
    /// Where anyone checks the signature.
    pub verify_url: String,
    pub file_name: String,
    pub pdf: Vec<u8>,
}

/// What a system said about something handed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Taken; its answer comes later (ask again).
    Requested,
    /// Done: the system's id of it (ΙΡΙΔΑ's, Diavgeia's ΑΔΑ) and where it
    /// is read.
    Done { remote_id: String, url: String },
    /// Refused, saying why.
    Refused(String),
}

/// Trouble reaching a system (tried again on the next sweep).
#[derive(Debug, thiserror::Error)]
#[error("exchange: {0}")]
pub struct ExchangeError(pub String);

/// The government's systems, as one municipality reaches them.
#[async_trait]
pub trait Exchange: Send + Sync {
    /// Ids of the messages waiting in the municipality's inbox, oldest
    /// first (at most `limit`).
    async fn inbox(&self, limit: usize) -> Result<Vec<String>, ExchangeError>;
    /// One waiting message with its files. `Ok(Err(why))`: the message
    /// cannot be read as a document (it is set aside with [`reject`]).
    ///
    /// [`reject`]: Exchange::reject
    async fn fetch(&self, id: &str) -> Result<Result<Received, String>, ExchangeError>;
    /// Tells the sender it was registered under `number`; the message
    /// leaves the inbox.
    async fn acknowledge(&self, id: &str, number: &str) -> Result<(), ExchangeError>;
    /// Sets aside a message that cannot be registered, saying why.
    async fn reject(&self, id: &str, why: &str) -> Result<(), ExchangeError>;
    /// Sends a signed document to an organisation. Idempotent by
    /// `record`: handing the same record over again is no second message.
    async fn send(&self, d: &Outbound) -> Result<Answer, ExchangeError>;
    /// Publishes a signed decision on Diavgeia; idempotent by `record`.
    async fn publish(&self, d: &Outbound) -> Result<Answer, ExchangeError>;
    /// Asks again about something handed over and not yet answered.
    async fn answer(&self, system: System, record: Uuid) -> Result<Answer, ExchangeError>;
}

/// The exchange of one municipality as the deployment configures it.
pub fn of(state: &AppState, t: &CurrentTenant) -> Option<Box<dyn Exchange>> {
    let config = state.config();
    match config.exchange.provider {
        ExchangeProvider::Files => Some(Box::new(Files::new(
            config.exchange_dir().join(t.tenant.slug()),
        ))),
        ExchangeProvider::Off => None,
    }
}

// ---------------------------------------------------------------------------
// The file-based implementation.

/// A drop folder per municipality:
///
/// - `irida/inbox/<id>/message.json` (+ its files): a message received;
///   `message.json` is written last. Registered, it moves to
///   `irida/received/<id>/` with `receipt.json` (our number); unreadable,
///   to `irida/rejected/<id>/` with `error.txt`.
/// - `irida/outbox/<record>/message.json` (+ the signed PDF): to send;
///   the bridge writes `receipt.json` there (`{"id", "url"}`, or
///   `{"error"}`).
/// - `diavgeia/outbox/<record>/decision.json` (+ the PDF): to publish;
///   the bridge writes `receipt.json` (`{"ada", "url"}`, or `{"error"}`).
#[derive(Debug, Clone)]
pub struct Files {
    root: PathBuf,
}

/// `message.json` of a received message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    organisation: String,
    subject: String,
    #[serde(default)]
    reference: String,
    sent_on: NaiveDate,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    confidential: bool,
    #[serde(default)]
    personal_data: bool,
    #[serde(default)]
    urgent: bool,
    files: Vec<String>,
}

/// What is written for the bridge to send or publish.
#[derive(Debug, Serialize)]
struct Handed<'a> {
    record: Uuid,
    number: &'a str,
    signed_on: NaiveDate,
    subject: &'a str,
    kind: &'a str,
    organisation: &'a str,
    verify_url: &'a str,
    file: &'a str,
    sha256: String,
}

#[derive(Debug, Deserialize)]
struct Receipt {
    #[serde(default, alias = "ada")]
    id: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    error: String,
}

/// Whether `path` is a plain file (a symbolic link is not: it could
/// lead out of the folder).
async fn plain_file(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path)
        .await
        .is_ok_and(|m| m.file_type().is_file())
}

/// Whether `path` is a plain folder (not a symbolic link).
async fn plain_dir(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path)
        .await
        .is_ok_and(|m| m.file_type().is_dir())
}

/// The largest file a received message may carry.
const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// The most files a received message may carry.
const MAX_FILES: usize = 20;

/// A name safe as one path component: letters, digits, `.`, `_`, `-`,
/// not starting with a dot, at most 120 characters.
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 120
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ExchangeError {
    ExchangeError(format!("{what} {}: {e}", path.display()))
}

impl Files {
    pub fn new(root: PathBuf) -> Self {
        Files { root }
    }

    fn dir(&self, parts: &[&str]) -> PathBuf {
        parts.iter().fold(self.root.clone(), |p, s| p.join(s))
    }

    /// Writes a folder whole or not at all: into a hidden folder first,
    /// then renamed (a bridge never sees half of it).
    async fn hand_over(
        &self,
        system: &str,
        manifest: &str,
        d: &Outbound,
    ) -> Result<Answer, ExchangeError> {
        let outbox = self.dir(&[system, "outbox"]);
        let target = outbox.join(d.record.to_string());
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            // Handed over before (another replica, or a retry): its answer,
            // unless it was refused and this is the second try, which
            // puts the refused one aside (hidden) and hands over anew.
            match self.read_receipt(&target).await? {
                Answer::Refused(_) => {
                    let aside =
                        outbox.join(format!(".refused-{}-{}", d.record, Uuid::now_v7().simple()));
                    tokio::fs::rename(&target, &aside)
                        .await
                        .map_err(|e| io("move", &target, e))?;
                }
                answer => return Ok(answer),
            }
        }
        let tmp = outbox.join(format!(".{}.{}", d.record, Uuid::now_v7().simple()));
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|e| io("create", &tmp, e))?;
        let file_name = if safe_name(&d.file_name) {
            d.file_name.clone()
        } else {
            "document.pdf".into()
        };
        let handed = Handed {
            record: d.record,
            number: &d.number,
            signed_on: d.signed_on,
            subject: &d.subject,
            kind: &d.kind,
            organisation: &d.organisation,
            verify_url: &d.verify_url,
            file: &file_name,
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&d.pdf)),
        };
        let json = serde_json::to_vec_pretty(&handed).map_err(|e| ExchangeError(e.to_string()))?;
        let write = async {
            tokio::fs::write(tmp.join(&file_name), &d.pdf).await?;
            tokio::fs::write(tmp.join(manifest), &json).await?;
            tokio::fs::rename(&tmp, &target).await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            if tokio::fs::try_exists(&target).await.unwrap_or(false) {
                return self.read_receipt(&target).await;
            }
            return Err(io("write", &target, e));
        }
        Ok(Answer::Requested)
    }

    async fn read_receipt(&self, dir: &Path) -> Result<Answer, ExchangeError> {
        let path = dir.join("receipt.json");
        if !plain_dir(dir).await
            || tokio::fs::symlink_metadata(&path).await.is_ok() && !plain_file(&path).await
        {
            return Ok(Answer::Refused("the receipt is not a plain file".into()));
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Answer::Requested),
            Err(e) => return Err(io("read", &path, e)),
        };
        let r: Receipt = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            // Being written, or wrong: asked again next time.
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "an exchange receipt does not read");
                return Ok(Answer::Requested);
            }
        };
        let clean = |s: &str, max: usize| -> String {
            s.chars().filter(|c| !c.is_control()).take(max).collect()
        };
        Ok(if !r.error.trim().is_empty() {
            Answer::Refused(clean(r.error.trim(), 500))
        } else if !r.id.trim().is_empty() {
            let url = r.url.trim();
            Answer::Done {
                remote_id: clean(r.id.trim(), 100),
                // Only a web address is shown as a link.
                url: if url.starts_with("https://") || url.starts_with("http://") {
                    clean(url, 500)
                } else {
                    String::new()
                },
            }
        } else {
            Answer::Requested
        })
    }

    async fn set_aside(
        &self,
        id: &str,
        to: &str,
        file: &str,
        text: &[u8],
    ) -> Result<(), ExchangeError> {
        if !safe_name(id) {
            return Err(ExchangeError(format!(
                "a message id that is no name: {id:?}"
            )));
        }
        let from = self.dir(&["irida", "inbox", id]);
        if !plain_dir(&from).await {
            // Set aside by another replica already (or a link: left alone).
            return Ok(());
        }
        let written = from.join(file);
        if tokio::fs::symlink_metadata(&written).await.is_ok() {
            // Never written through whatever is there (a planted link).
            tokio::fs::remove_file(&written)
                .await
                .map_err(|e| io("remove", &written, e))?;
        }
        let done = self.dir(&["irida", to]);
        tokio::fs::create_dir_all(&done)
            .await
            .map_err(|e| io("create", &done, e))?;
        tokio::fs::write(from.join(file), text)
            .await
            .map_err(|e| io("write", &from, e))?;
        let target = done.join(id);
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            // Moved by another replica that registered it too late to see.
            let _ = tokio::fs::remove_dir_all(&from).await;
            return Ok(());
        }
        tokio::fs::rename(&from, &target)
            .await
            .map_err(|e| io("move", &from, e))
    }
}

#[async_trait]
impl Exchange for Files {
    async fn inbox(&self, limit: usize) -> Result<Vec<String>, ExchangeError> {
        let dir = self.dir(&["irida", "inbox"]);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io("read", &dir, e)),
        };
        let mut ids = vec![];
        while let Some(e) = entries
            .next_entry()
            .await
            .map_err(|e| io("read", &dir, e))?
        {
            let name = e.file_name().to_string_lossy().into_owned();
            // A message is complete once its message.json is there.
            if safe_name(&name)
                && plain_dir(&e.path()).await
                && plain_file(&e.path().join("message.json")).await
            {
                ids.push(name);
            }
        }
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    async fn fetch(&self, id: &str) -> Result<Result<Received, String>, ExchangeError> {
        if !safe_name(id) {
            return Ok(Err("the message id is not a plain name".into()));
        }
        let dir = self.dir(&["irida", "inbox", id]);
        let path = dir.join("message.json");
        if !plain_dir(&dir).await || !plain_file(&path).await {
            return Ok(Err(
                "the message is not a plain folder with a plain message.json".into(),
            ));
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| io("read", &path, e))?;
        let m: Message = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => return Ok(Err(format!("message.json: {e}"))),
        };
        if m.files.is_empty() || m.files.len() > MAX_FILES {
            return Ok(Err(format!("a message needs 1 to {MAX_FILES} files")));
        }
        let mut files = vec![];
        for name in &m.files {
            if !safe_name(name) || name == "message.json" {
                return Ok(Err(format!("a file name that is not plain: {name:?}")));
            }
            let path = dir.join(name);
            if !plain_file(&path).await {
                return Ok(Err(format!("{name}: not a plain file")));
            }
            let size = tokio::fs::symlink_metadata(&path)
                .await
                .map_err(|e| io("read", &path, e))?
                .len();
            if size > MAX_FILE_BYTES {
                return Ok(Err(format!("{name}: larger than {MAX_FILE_BYTES} bytes")));
            }
            match tokio::fs::read(&path).await {
                Ok(b) => files.push((name.clone(), b)),
                Err(e) => return Ok(Err(format!("{name}: {e}"))),
            }
        }
        Ok(Ok(Received {
            id: id.to_owned(),
            organisation: m.organisation,
            subject: m.subject,
            reference: m.reference,
            sent_on: m.sent_on,
            kind: m.kind,
            confidential: m.confidential,
            personal_data: m.personal_data,
            urgent: m.urgent,
            files,
        }))
    }

    async fn acknowledge(&self, id: &str, number: &str) -> Result<(), ExchangeError> {
        let receipt = serde_json::json!({ "number": number });
        self.set_aside(
            id,
            "received",
            "receipt.json",
            receipt.to_string().as_bytes(),
        )
        .await
    }

    async fn reject(&self, id: &str, why: &str) -> Result<(), ExchangeError> {
        self.set_aside(id, "rejected", "error.txt", why.as_bytes())
            .await
    }

    async fn send(&self, d: &Outbound) -> Result<Answer, ExchangeError> {
        self.hand_over("irida", "message.json", d).await
    }

    async fn publish(&self, d: &Outbound) -> Result<Answer, ExchangeError> {
        self.hand_over("diavgeia", "decision.json", d).await
    }

    async fn answer(&self, system: System, record: Uuid) -> Result<Answer, ExchangeError> {
        let folder = match system {
            System::IridaOut => "irida",
            System::Diavgeia => "diavgeia",
            System::IridaIn => return Ok(Answer::Requested),
        };
        self.read_receipt(&self.dir(&[folder, "outbox", &record.to_string()]))
            .await
    }
}

// ---------------------------------------------------------------------------
// The module's side: its table, the actions' half and the sweep.

#[derive(Iden, Clone, Copy)]
enum EdmsExchange {
    Table,
    RecordId,
    System,
    State,
    RemoteId,
    Url,
    Organisation,
    Error,
    RequestedAt,
    CheckedAt,
    DoneAt,
}

/// One record's exchange with one system.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub record_id: Uuid,
    pub system: String,
    pub state: String,
    pub remote_id: String,
    pub url: String,
    pub organisation: String,
    pub error: String,
    pub requested_at: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

const COLUMNS: [EdmsExchange; 10] = [
    EdmsExchange::RecordId,
    EdmsExchange::System,
    EdmsExchange::State,
    EdmsExchange::RemoteId,
    EdmsExchange::Url,
    EdmsExchange::Organisation,
    EdmsExchange::Error,
    EdmsExchange::RequestedAt,
    EdmsExchange::CheckedAt,
    EdmsExchange::DoneAt,
];

/// Records that something is to be sent or published (`queued`), in the
/// caller's transaction; false when it already was (a second press).
pub async fn queue_in(
    tx: &mut TenantTx<'_>,
    record: Uuid,
    system: System,
    organisation: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    // A refused one is asked again (a corrected code, a second try).
    let mut again = tx.update(EdmsExchange::Table);
    again
        .value(EdmsExchange::State, "queued")
        .value(EdmsExchange::Organisation, organisation)
        .value(EdmsExchange::Error, "")
        .value(EdmsExchange::RequestedAt, at)
        .value(EdmsExchange::CheckedAt, at)
        .value(EdmsExchange::DoneAt, Option::<DateTime<Utc>>::None)
        .and_where(Expr::col(EdmsExchange::RecordId).eq(record))
        .and_where(Expr::col(EdmsExchange::System).eq(system.id()))
        .and_where(Expr::col(EdmsExchange::State).eq("failed"));
    if tx.execute(&again).await? == 1 {
        return Ok(true);
    }
    let mut q = insert_statement(tx, record, system, "queued", "", organisation, at);
    // Two presses at once: the second inserts nothing.
    q.statement().on_conflict(
        sea_query::OnConflict::columns([
            sea_query::Alias::new("tenant_id"),
            sea_query::Alias::new("record_id"),
            sea_query::Alias::new("system"),
        ])
        .do_nothing()
        .to_owned(),
    );
    Ok(tx.insert_rows(&q).await? == 1)
}

#[allow(clippy::too_many_arguments)] // one row's columns
fn insert_statement(
    tx: &TenantTx<'_>,
    record: Uuid,
    system: System,
    state: &str,
    remote_id: &str,
    organisation: &str,
    at: DateTime<Utc>,
) -> dimos_db::ScopedInsert {
    let mut q = tx.insert(EdmsExchange::Table, COLUMNS);
    q.values([
        record.into(),
        system.id().into(),
        state.into(),
        remote_id.into(),
        "".into(),
        organisation.into(),
        "".into(),
        at.into(),
        at.into(),
        (if state == "done" { Some(at) } else { None }).into(),
    ]);
    q
}

/// A disposed record's exchange rows keep the systems' ids, not who sent
/// it or what a refusal said (in the disposal's transaction).
pub(crate) async fn forget_sender_in(tx: &mut TenantTx<'_>, record: Uuid) -> Result<(), DbError> {
    let mut q = tx.update(EdmsExchange::Table);
    q.value(EdmsExchange::Organisation, "")
        .value(EdmsExchange::Error, "")
        .and_where(Expr::col(EdmsExchange::RecordId).eq(record));
    tx.execute(&q).await.map(drop)
}

/// The row of a document received through the exchange, in its
/// registration's transaction.
pub(crate) async fn received_in(
    tx: &mut TenantTx<'_>,
    record: Uuid,
    message: &str,
    organisation: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let q = insert_statement(
        tx,
        record,
        System::IridaIn,
        "done",
        message,
        organisation,
        at,
    );
    tx.insert_rows(&q).await.map(drop)
}

/// Moves a row on from the state it was read in; false when another
/// replica did first.
async fn advance(
    tdb: &TenantDb,
    row: &Row,
    answer: &Answer,
    handed: bool,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let (state, remote_id, url, error) = match answer {
        Answer::Requested if handed => ("requested", "", "", ""),
        Answer::Requested => {
            // Asked, no answer yet: to the back of the queue.
            let mut q = tdb.update(EdmsExchange::Table);
            q.value(EdmsExchange::CheckedAt, now)
                .and_where(Expr::col(EdmsExchange::RecordId).eq(row.record_id))
                .and_where(Expr::col(EdmsExchange::System).eq(row.system.as_str()))
                .and_where(Expr::col(EdmsExchange::State).eq(row.state.as_str()));
            tdb.execute(&q).await?;
            return Ok(false);
        }
        Answer::Done { remote_id, url } => ("done", remote_id.as_str(), url.as_str(), ""),
        Answer::Refused(why) => ("failed", "", "", why.as_str()),
    };
    let mut tx = tdb.begin().await?;
    let mut q = tx.update(EdmsExchange::Table);
    q.value(EdmsExchange::State, state)
        .value(EdmsExchange::CheckedAt, now)
        .value(EdmsExchange::RemoteId, remote_id)
        .value(EdmsExchange::Url, url)
        .value(EdmsExchange::Error, error)
        .and_where(Expr::col(EdmsExchange::RecordId).eq(row.record_id))
        .and_where(Expr::col(EdmsExchange::System).eq(row.system.as_str()))
        .and_where(Expr::col(EdmsExchange::State).eq(row.state.as_str()));
    if state != "requested" {
        q.value(EdmsExchange::DoneAt, now);
    }
    if tx.execute(&q).await? != 1 {
        return Ok(false);
    }
    if state != "requested" {
        let entry = AuditEntry::new(
            "system:exchange",
            format!("edms_{}_{state}", row.system.replace('-', "_")),
        )
        .record(format!("edms:{}", row.record_id))
        .detail(serde_json::json!({
            "organisation": row.organisation,
            "remote_id": remote_id,
            "error": error,
        }));
        dimos_identity::AuditLog::append_in(&mut tx, tdb, &entry).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The record's exchanges, as its page shows them.
pub async fn rows(tdb: &TenantDb, record: Uuid) -> Result<Vec<Value>, DbError> {
    let mut q = tdb.select(EdmsExchange::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(EdmsExchange::RecordId).eq(record))
        .order_by(EdmsExchange::RequestedAt, Order::Asc);
    let rows: Vec<Row> = tdb.fetch_all(&q).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            context! {
                system => r.system,
                state => r.state,
                remote_id => r.remote_id,
                url => r.url,
                organisation => r.organisation,
                error => r.error,
                at => dimos_kernel::clock::local_datetime(r.done_at.unwrap_or(r.requested_at))
                    .format("%d/%m/%Y %H:%M")
                    .to_string(),
            }
        })
        .collect())
}

/// Where the record's exchange with this system stands (`queued`,
/// `requested`, `done`, `failed`), if it has one.
pub async fn state_of(
    tdb: &TenantDb,
    record: Uuid,
    system: System,
) -> Result<Option<String>, DbError> {
    let mut q = tdb.select(EdmsExchange::Table);
    q.column(EdmsExchange::State)
        .and_where(Expr::col(EdmsExchange::RecordId).eq(record))
        .and_where(Expr::col(EdmsExchange::System).eq(system.id()));
    Ok(tdb.fetch_optional::<(String,)>(&q).await?.map(|r| r.0))
}

/// Whether it may be handed to this system (again): never asked, or
/// refused.
pub async fn may_ask(tdb: &TenantDb, record: Uuid, system: System) -> Result<bool, DbError> {
    Ok(state_of(tdb, record, system)
        .await?
        .is_none_or(|s| s == "failed"))
}

async fn waiting(tdb: &TenantDb, state: &str) -> Result<Vec<Row>, DbError> {
    let mut q = tdb.select(EdmsExchange::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(EdmsExchange::State).eq(state))
        .and_where(Expr::col(EdmsExchange::System).ne(System::IridaIn.id()))
        .order_by(EdmsExchange::CheckedAt, Order::Asc)
        .limit(BATCH as u64);
    tdb.fetch_all(&q).await
}

/// Messages read, and rows handed over or followed up, per municipality
/// and sweep.
const BATCH: usize = 50;

/// Every municipality's exchange (what the sweep does): how many things
/// moved.
pub async fn run(state: &AppState) -> usize {
    SWEEP.run_all(state, ID).await
}

async fn sweep(state: &AppState, t: &CurrentTenant) -> Result<usize, Error> {
    match of(state, t) {
        Some(ex) => run_for(state, t, ex.as_ref()).await,
        None => Ok(0),
    }
}

/// One municipality: its inbox read, what is queued handed over, what
/// was handed over asked about.
pub async fn run_for(
    state: &AppState,
    t: &CurrentTenant,
    ex: &dyn Exchange,
) -> Result<usize, Error> {
    let now = state.workflow().now();
    let mut n = 0;
    // Each message and row on its own: one that fails (logged) is tried
    // again next time and holds up none of the others.
    let slug = t.tenant.slug();
    for id in ex.inbox(BATCH).await.map_err(Error::internal)? {
        match receive(state, t, ex, &id).await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tenant = %slug, message = id, error = %e, "an exchange message could not be registered");
            }
        }
    }
    for row in waiting(&t.db, "queued").await? {
        let handed = async {
            let Some(d) = outbound(state, t, &row).await? else {
                // Nothing signed to hand over (disposed of meanwhile).
                let nothing = Answer::Refused("no signed document".into());
                return advance(&t.db, &row, &nothing, true, now).await;
            };
            let answer = match row.system.as_str() {
                "diavgeia" => ex.publish(&d).await,
                _ => ex.send(&d).await,
            }
            .map_err(Error::internal)?;
            advance(&t.db, &row, &answer, true, now).await
        };
        match handed.await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tenant = %slug, record = %row.record_id, error = %e, "an exchange hand-over failed");
            }
        }
    }
    for row in waiting(&t.db, "requested").await? {
        let system = if row.system == "diavgeia" {
            System::Diavgeia
        } else {
            System::IridaOut
        };
        let asked = async {
            let answer = ex
                .answer(system, row.record_id)
                .await
                .map_err(Error::internal)?;
            advance(&t.db, &row, &answer, false, now).await
        };
        match asked.await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tenant = %slug, record = %row.record_id, error = %e, "asking the exchange failed");
            }
        }
    }
    Ok(n)
}

/// The submission key of a received message: the same message is one
/// record however often it is read.
fn submission_of(t: &CurrentTenant, id: &str) -> Uuid {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(t.db.tenant_id().uuid().as_bytes());
    h.update(b"irida:");
    h.update(id.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Registers one received message (once), then acknowledges it.
async fn receive(
    state: &AppState,
    t: &CurrentTenant,
    ex: &dyn Exchange,
    id: &str,
) -> Result<bool, Error> {
    let key = submission_of(t, id);
    if let Some(r) = store::by_submission(&t.db, key).await? {
        // Registered, not yet acknowledged (a stop in between).
        ex.acknowledge(id, &r.number())
            .await
            .map_err(Error::internal)?;
        return Ok(false);
    }
    let m = match ex.fetch(id).await.map_err(Error::internal)? {
        Ok(m) => m,
        Err(why) => {
            tracing::warn!(tenant = %t.tenant.slug(), message = id, why, "an exchange message was set aside");
            ex.reject(id, &why).await.map_err(Error::internal)?;
            return Ok(false);
        }
    };
    let cfg: crate::EdmsConfig = dimos_web::settings::effective(t, ID).await?;
    let now = state.workflow().now();
    let clip = |s: &str, max: usize| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect::<String>()
            .trim()
            .to_owned()
    };
    let subject = clip(&m.subject, 500);
    let organisation = clip(&m.organisation, 300);
    if subject.is_empty() || organisation.is_empty() {
        ex.reject(id, "a message without a subject or a sender")
            .await
            .map_err(Error::internal)?;
        return Ok(false);
    }
    let incoming = Incoming {
        subject,
        correspondent: organisation.clone(),
        correspondent_ref: clip(&m.reference, 200),
        received_on: dimos_kernel::clock::local_date(now),
        channel: "exchange".into(),
        kind: if cfg.kind(&m.kind).is_some() {
            m.kind.clone()
        } else {
            "letter".into()
        },
        attachments: 0,
        confidential: m.confidential,
        personal_data: m.personal_data,
        urgent: m.urgent,
        department: None,
        submission: key,
    };
    // The files first (objects outside any transaction), then the record.
    // Only what the protocol office could upload (PDF, images, office
    // documents), by content.
    let mut typed = vec![];
    for (name, bytes) in m.files {
        match dimos_storage::sniff(&bytes, true) {
            Some(ct) => typed.push((name, bytes, ct)),
            None => {
                ex.reject(id, &format!("{name}: not a PDF, image or office document"))
                    .await
                    .map_err(Error::internal)?;
                return Ok(false);
            }
        }
    }
    let mut stored: Vec<(Document, String)> = vec![];
    for (name, bytes, content_type) in typed {
        let words = {
            let (ct, b) = (content_type.to_owned(), bytes.clone());
            match tokio::task::spawn_blocking(move || crate::text::extract(&ct, &b)).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "reading a received file's text failed");
                    String::new()
                }
            }
        };
        let doc_id = Uuid::now_v7();
        let key = documents::new_key(&t.db, doc_id);
        let tmp = state.config().storage_dir().join("tmp");
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(Error::internal)?;
        let path = tmp.join(format!("exchange-{}", doc_id.simple()));
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(Error::internal)?;
        let put = state.objects().put_file(&key, &path).await;
        let _ = tokio::fs::remove_file(&path).await;
        put?;
        stored.push((
            Document {
                id: doc_id,
                case_id: None,
                kind: Some("edms".into()),
                original_name: name,
                content_type: content_type.to_owned(),
                size: i64::try_from(bytes.len()).map_err(Error::internal)?,
                sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                object_key: key,
                personal_data: incoming.personal_data,
                uploaded_by: Uuid::nil(),
                uploaded_at: now,
                internal: true,
                replaced_by: None,
            },
            words,
        ));
    }
    let by = Filer {
        account: Uuid::nil(),
        subject: "system:exchange".into(),
        actor: dimos_workflow::Actor {
            account: None,
            name: "ΙΡΙΔΑ".into(),
            on_behalf_of: None,
        },
        audit: AuditEntry::new("system:exchange", "edms_registered"),
        received: Some((id.to_owned(), organisation.clone())),
    };
    let filed = register::file(state, t, by, &incoming, &stored, &[]).await;
    let r = match filed {
        Ok(r) => r,
        Err(e) => {
            for (d, _) in &stored {
                let _ = state.objects().delete(&d.object_key).await;
            }
            // Another replica registered it at the same moment.
            if store::by_submission(&t.db, key).await?.is_some() {
                return Ok(false);
            }
            return Err(Error::internal(format!("{e:?}")));
        }
    };
    ex.acknowledge(id, &r.number())
        .await
        .map_err(Error::internal)?;
    Ok(true)
}

/// What is handed over for a queued row: the record's signed PDF and its
/// details; none when the record is not signed (yet).
async fn outbound(
    state: &AppState,
    t: &CurrentTenant,
    row: &Row,
) -> Result<Option<Outbound>, Error> {
    let Some(r) = store::get(&t.db, row.record_id).await? else {
        return Ok(None);
    };
    let Some(o) = store::outgoing(&t.db, r.id).await? else {
        return Ok(None);
    };
    let Some(doc) = o.signed_document else {
        return Ok(None);
    };
    let Some(d) = documents::held(&t.db, doc, HOLDER).await? else {
        return Ok(None);
    };
    let mut reader = state.objects().get(&d.object_key).await?;
    let mut pdf = vec![];
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut pdf)
        .await
        .map_err(Error::internal)?;
    Ok(Some(Outbound {
        record: r.id,
        number: r.number(),
        signed_on: dimos_kernel::clock::local_date(d.uploaded_at),
        subject: r.subject.clone(),
        kind: r.kind.clone(),
        organisation: row.organisation.clone(),
        verify_url: dimos_web::issue::verify_url(
            state,
            t,
            &o.reference.clone().unwrap_or_default(),
        ),
        file_name: format!("{}.pdf", r.number().replace('/', "-")),
        pdf,
    }))
}

/// Whether a signed record may go to Diavgeia: a decision, without
/// personal data, not confidential (domain rules §2).
pub fn publishable(r: &Record) -> bool {
    r.is_outgoing()
        && r.kind == "decision"
        && !r.personal_data
        && !r.confidential
        && matches!(r.status.as_str(), "signed" | "closed")
        && !r.is_disposed()
}

/// An organisation's code in the exchange: letters, digits, `.`, `_`, `-`.
pub fn organisation_code(s: &str) -> Option<String> {
    let s = s.trim();
    safe_name(s).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(record: Uuid) -> Outbound {
        Outbound {
            record,
            number: "7/2026".into(),
            signed_on: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            subject: "Απόφαση".into(),
            kind: "decision".into(),
            organisation: String::new(),
            verify_url: "http://alimos.localhost/verify/X".into(),
            file_name: "7-2026.pdf".into(),
            pdf: b"%PDF-1.7 test".to_vec(),
        }
    }

    #[tokio::test]
    async fn the_drop_folder_hands_over_once_and_reads_the_bridges_answer() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Files::new(dir.path().to_path_buf());
        let id = Uuid::now_v7();
        assert_eq!(ex.publish(&outbound(id)).await.unwrap(), Answer::Requested);
        // A second hand-over of the same record writes nothing new.
        assert_eq!(ex.publish(&outbound(id)).await.unwrap(), Answer::Requested);
        let folder = dir.path().join("diavgeia/outbox").join(id.to_string());
        let names: Vec<String> = std::fs::read_dir(folder.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [id.to_string()], "no half-written folder left");
        assert!(folder.join("7-2026.pdf").exists());
        assert_eq!(
            ex.answer(System::Diavgeia, id).await.unwrap(),
            Answer::Requested
        );
        std::fs::write(
            folder.join("receipt.json"),
            "{\"ada\": \"ΨΑΒΓ7ΛΞ-1ΑΒ\", \"url\": \"javascript:alert(1)\"}",
        )
        .unwrap();
        assert_eq!(
            ex.answer(System::Diavgeia, id).await.unwrap(),
            Answer::Done {
                remote_id: "ΨΑΒΓ7ΛΞ-1ΑΒ".into(),
                url: String::new()
            }
        );
    }

    #[tokio::test]
    async fn an_unreadable_message_is_set_aside_and_names_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("irida/inbox");
        std::fs::create_dir_all(inbox.join("m1")).unwrap();
        std::fs::write(
            inbox.join("m1/message.json"),
            r#"{"organisation": "Περιφέρεια", "subject": "Θέμα", "sent_on": "2026-12-01", "files": ["../../secret"]}"#,
        )
        .unwrap();
        // Not complete yet: no message.json.
        std::fs::create_dir_all(inbox.join("m2")).unwrap();
        let ex = Files::new(dir.path().to_path_buf());
        assert_eq!(ex.inbox(10).await.unwrap(), ["m1"]);
        let why = ex.fetch("m1").await.unwrap().unwrap_err();
        assert!(why.contains("not plain"), "{why}");
        assert!(ex.fetch("../m1").await.unwrap().is_err());
        ex.reject("m1", &why).await.unwrap();
        assert!(dir.path().join("irida/rejected/m1/error.txt").exists());
        assert!(ex.inbox(10).await.unwrap().is_empty());
    }
}

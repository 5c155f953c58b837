//! The module's tables, tenant-scoped: each record as it stands, its
//! movements (the history, only ever added to) and its files' text.

use crate::access::Viewer;
use chrono::{DateTime, NaiveDate, Utc};
use dimos_db::keyset::SortKey;
use dimos_db::search::TextIndex;
use dimos_db::{DbError, Scoped, TenantDb, TenantTx};
use dimos_workflow::query::{ListKey, Page, Position, key_parts, page_by_key};
use sea_query::{Cond, Expr, ExprTrait, Iden, Order, SelectStatement, Value};
use serde::Serialize;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
pub(crate) enum EdmsRecords {
    Table,
    Id,
    Direction,
    ProtocolId,
    ProtocolYear,
    ProtocolNumber,
    Kind,
    Subject,
    Correspondent,
    CorrespondentRef,
    ReceivedOn,
    Channel,
    Attachments,
    Confidential,
    PersonalData,
    Urgent,
    Status,
    Department,
    Holder,
    HolderName,
    Instructions,
    Deadline,
    Since,
    RegisteredBy,
    RegisteredAt,
    ClosedAt,
    Outcome,
    SearchText,
    Submission,
    LegalHold,
    HoldReason,
    DisposedAt,
    Disposal,
    ArchiveDocument,
}

#[derive(Iden, Clone, Copy)]
enum EdmsMovements {
    Table,
    Id,
    RecordId,
    At,
    Kind,
    ByAccount,
    ByName,
    Department,
    ToSubject,
    ToName,
    Note,
    Deadline,
}

#[derive(Iden, Clone, Copy)]
enum EdmsFiles {
    Table,
    RecordId,
    DocumentId,
    Text,
}

/// The search's index: PostgreSQL's GIN over the column, SQLite's FTS5
/// table (migrations).
pub const SEARCH: TextIndex = TextIndex {
    table: "edms_records",
    id_column: "id",
    column: "search_text",
    fts_table: "edms_search",
};

/// A registered document as it stands.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Record {
    pub id: Uuid,
    pub direction: String,
    pub protocol_id: Option<Uuid>,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i64>,
    pub kind: String,
    pub subject: String,
    pub correspondent: String,
    pub correspondent_ref: String,
    pub received_on: NaiveDate,
    pub channel: String,
    pub attachments: i32,
    pub confidential: bool,
    pub personal_data: bool,
    pub urgent: bool,
    pub status: String,
    pub department: Option<String>,
    pub holder: Option<String>,
    pub holder_name: Option<String>,
    pub instructions: String,
    pub deadline: Option<NaiveDate>,
    pub since: DateTime<Utc>,
    pub registered_by: Uuid,
    pub registered_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub submission: Uuid,
    /// A legal hold stops its disposal (and says why).
    pub legal_hold: bool,
    pub hold_reason: String,
    /// When its retention ran out and it was destroyed or archived.
    pub disposed_at: Option<DateTime<Utc>>,
    pub disposal: String,
    /// The archive's package of it (a held document), once archived.
    pub archive_document: Option<Uuid>,
}

impl Record {
    pub fn is_open(&self) -> bool {
        self.status != "closed"
    }

    pub fn is_disposed(&self) -> bool {
        self.disposed_at.is_some()
    }

    /// The number as the book writes it: «123/2026»; empty for a draft.
    pub fn number(&self) -> String {
        match (self.protocol_number, self.protocol_year) {
            (Some(n), Some(y)) => format!("{n}/{y}"),
            _ => String::new(),
        }
    }

    pub fn is_outgoing(&self) -> bool {
        self.direction == "outgoing"
    }
}

/// Every column but the search text (up to 300,000 characters: read by
/// the search's index, never by a page).
const COLUMNS: [EdmsRecords; 32] = [
    EdmsRecords::Id,
    EdmsRecords::Direction,
    EdmsRecords::ProtocolId,
    EdmsRecords::ProtocolYear,
    EdmsRecords::ProtocolNumber,
    EdmsRecords::Kind,
    EdmsRecords::Subject,
    EdmsRecords::Correspondent,
    EdmsRecords::CorrespondentRef,
    EdmsRecords::ReceivedOn,
    EdmsRecords::Channel,
    EdmsRecords::Attachments,
    EdmsRecords::Confidential,
    EdmsRecords::PersonalData,
    EdmsRecords::Urgent,
    EdmsRecords::Status,
    EdmsRecords::Department,
    EdmsRecords::Holder,
    EdmsRecords::HolderName,
    EdmsRecords::Instructions,
    EdmsRecords::Deadline,
    EdmsRecords::Since,
    EdmsRecords::RegisteredBy,
    EdmsRecords::RegisteredAt,
    EdmsRecords::ClosedAt,
    EdmsRecords::Outcome,
    EdmsRecords::Submission,
    EdmsRecords::LegalHold,
    EdmsRecords::HoldReason,
    EdmsRecords::DisposedAt,
    EdmsRecords::Disposal,
    EdmsRecords::ArchiveDocument,
];

/// One step of a record's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Movement {
    pub id: Uuid,
    pub record_id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub by_account: Uuid,
    pub by_name: String,
    pub department: Option<String>,
    pub to_subject: Option<String>,
    pub to_name: Option<String>,
    pub note: String,
    pub deadline: Option<NaiveDate>,
}

const MOVEMENT_COLUMNS: [EdmsMovements; 11] = [
    EdmsMovements::Id,
    EdmsMovements::RecordId,
    EdmsMovements::At,
    EdmsMovements::Kind,
    EdmsMovements::ByAccount,
    EdmsMovements::ByName,
    EdmsMovements::Department,
    EdmsMovements::ToSubject,
    EdmsMovements::ToName,
    EdmsMovements::Note,
    EdmsMovements::Deadline,
];

pub async fn insert_in(
    tx: &mut TenantTx<'_>,
    r: &Record,
    search_text: &str,
) -> Result<(), DbError> {
    let mut q = tx.insert(
        EdmsRecords::Table,
        COLUMNS.into_iter().chain([EdmsRecords::SearchText]),
    );
    q.values([
        r.id.into(),
        r.direction.clone().into(),
        r.protocol_id.into(),
        r.protocol_year.into(),
        r.protocol_number.into(),
        r.kind.clone().into(),
        r.subject.clone().into(),
        r.correspondent.clone().into(),
        r.correspondent_ref.clone().into(),
        r.received_on.into(),
        r.channel.clone().into(),
        r.attachments.into(),
        r.confidential.into(),
        r.personal_data.into(),
        r.urgent.into(),
        r.status.clone().into(),
        r.department.clone().into(),
        r.holder.clone().into(),
        r.holder_name.clone().into(),
        r.instructions.clone().into(),
        r.deadline.into(),
        r.since.into(),
        r.registered_by.into(),
        r.registered_at.into(),
        r.closed_at.into(),
        r.outcome.clone().into(),
        r.submission.into(),
        r.legal_hold.into(),
        r.hold_reason.clone().into(),
        r.disposed_at.into(),
        r.disposal.clone().into(),
        r.archive_document.into(),
        search_text.into(),
    ]);
    tx.insert_rows(&q).await.map(drop)
}

pub async fn get(tdb: &TenantDb, id: Uuid) -> Result<Option<Record>, DbError> {
    let mut q = tdb.select(EdmsRecords::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(EdmsRecords::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// The record, read again inside the caller's transaction (after a
/// conditional update took it).
pub async fn get_in(tx: &mut TenantTx<'_>, id: Uuid) -> Result<Option<Record>, DbError> {
    let mut q = tx.select(EdmsRecords::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(EdmsRecords::Id).eq(id));
    tx.fetch_optional(&q).await
}

/// The record a registering form with this key filed, if any.
pub async fn by_submission(tdb: &TenantDb, key: Uuid) -> Result<Option<Record>, DbError> {
    let mut q = tdb.select(EdmsRecords::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(EdmsRecords::Submission).eq(key));
    tdb.fetch_optional(&q).await
}

/// Where a record goes next.
#[derive(Debug, Clone)]
pub struct Move {
    pub status: &'static str,
    pub department: Option<String>,
    pub holder: Option<(String, String)>,
    pub instructions: String,
    pub deadline: Option<NaiveDate>,
    pub at: DateTime<Utc>,
    pub outcome: Option<String>,
}

/// Moves a record from where it was read (`seen`: its status, department
/// and holder then): false when someone moved it meanwhile, so two heads
/// charging the same document at once charge it once.
pub async fn move_in(tx: &mut TenantTx<'_>, seen: &Record, m: &Move) -> Result<bool, DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::Status, m.status)
        .value(EdmsRecords::Department, m.department.clone())
        .value(EdmsRecords::Holder, m.holder.as_ref().map(|h| h.0.clone()))
        .value(
            EdmsRecords::HolderName,
            m.holder.as_ref().map(|h| h.1.clone()),
        )
        .value(EdmsRecords::Instructions, m.instructions.clone())
        .value(EdmsRecords::Deadline, m.deadline)
        .value(EdmsRecords::Since, m.at)
        .and_where(Expr::col(EdmsRecords::Id).eq(seen.id))
        .and_where(Expr::col(EdmsRecords::Status).eq(seen.status.as_str()))
        .and_where(same(EdmsRecords::Department, seen.department.as_deref()))
        .and_where(same(EdmsRecords::Holder, seen.holder.as_deref()));
    if let Some(outcome) = &m.outcome {
        q.value(EdmsRecords::Outcome, outcome.clone())
            .value(EdmsRecords::ClosedAt, m.at);
    }
    Ok(tx.execute(&q).await? == 1)
}

/// Takes the record's row for the rest of the caller's transaction (a
/// write that changes nothing), if it is still open: what adds to an open
/// record (a note, a file and the search text read from all its files)
/// waits for whoever else is at it, and never lands after a close.
pub async fn lock_open_in(tx: &mut TenantTx<'_>, id: Uuid) -> Result<bool, DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::Since, Expr::col(EdmsRecords::Since))
        .and_where(Expr::col(EdmsRecords::Id).eq(id))
        .and_where(Expr::col(EdmsRecords::Status).ne("closed"));
    Ok(tx.execute(&q).await? == 1)
}

fn same(col: EdmsRecords, v: Option<&str>) -> sea_query::SimpleExpr {
    match v {
        Some(v) => Expr::col(col).eq(v),
        None => Expr::col(col).is_null(),
    }
}

/// Sets the record's searchable text (after a file was added).
pub async fn set_search_text_in(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    text: &str,
) -> Result<(), DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::SearchText, text)
        .and_where(Expr::col(EdmsRecords::Id).eq(id));
    tx.execute(&q).await.map(drop)
}

pub async fn add_movement_in(tx: &mut TenantTx<'_>, m: &Movement) -> Result<(), DbError> {
    let mut q = tx.insert(EdmsMovements::Table, MOVEMENT_COLUMNS);
    q.values([
        m.id.into(),
        m.record_id.into(),
        m.at.into(),
        m.kind.clone().into(),
        m.by_account.into(),
        m.by_name.clone().into(),
        m.department.clone().into(),
        m.to_subject.clone().into(),
        m.to_name.clone().into(),
        m.note.clone().into(),
        m.deadline.into(),
    ]);
    tx.insert_rows(&q).await.map(drop)
}

/// Whether a movement with this id was written (a form's key).
pub async fn movement_exists(tdb: &TenantDb, id: Uuid) -> Result<bool, DbError> {
    let mut q = tdb.select(EdmsMovements::Table);
    q.column(EdmsMovements::Id)
        .and_where(Expr::col(EdmsMovements::Id).eq(id));
    Ok(tdb.fetch_optional::<(Uuid,)>(&q).await?.is_some())
}

pub async fn movements(tdb: &TenantDb, record: Uuid) -> Result<Vec<Movement>, DbError> {
    let mut q = tdb.select(EdmsMovements::Table);
    q.columns(MOVEMENT_COLUMNS)
        .and_where(Expr::col(EdmsMovements::RecordId).eq(record))
        .order_by(EdmsMovements::At, Order::Asc)
        .order_by(EdmsMovements::Id, Order::Asc);
    tdb.fetch_all(&q).await
}

pub async fn add_file_in(
    tx: &mut TenantTx<'_>,
    record: Uuid,
    document: Uuid,
    text: &str,
) -> Result<(), DbError> {
    let mut q = tx.insert(
        EdmsFiles::Table,
        [EdmsFiles::RecordId, EdmsFiles::DocumentId, EdmsFiles::Text],
    );
    q.values([record.into(), document.into(), text.into()]);
    tx.insert_rows(&q).await.map(drop)
}

/// The record's files (document ids), in the order they were added.
pub async fn files(tdb: &TenantDb, record: Uuid) -> Result<Vec<Uuid>, DbError> {
    let mut q = tdb.select(EdmsFiles::Table);
    q.column(EdmsFiles::DocumentId)
        .and_where(Expr::col(EdmsFiles::RecordId).eq(record))
        .order_by(EdmsFiles::DocumentId, Order::Asc);
    let rows: Vec<(Uuid,)> = tdb.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The text read out of the record's files, in the caller's transaction.
pub async fn file_texts_in(tx: &mut TenantTx<'_>, record: Uuid) -> Result<Vec<String>, DbError> {
    let mut q = tx.select(EdmsFiles::Table);
    q.column(EdmsFiles::Text)
        .and_where(Expr::col(EdmsFiles::RecordId).eq(record))
        .order_by(EdmsFiles::DocumentId, Order::Asc);
    let rows: Vec<(String,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The condition "the viewer may see this record" as SQL: the same rule
/// as [`crate::access::may_see`] (`tests/it/edms.rs` checks both agree).
pub fn visible_to(tdb: &TenantDb, v: &Viewer) -> Cond {
    let mut all = Cond::all();
    if !v.clearance {
        all = all.add(Expr::col((EdmsRecords::Table, EdmsRecords::Confidential)).eq(false));
    }
    if v.sees_all() {
        return all;
    }
    let mut involved = tdb.select(EdmsMovements::Table);
    involved.column(EdmsMovements::RecordId).cond_where(
        Cond::any()
            .add(Expr::col(EdmsMovements::ByAccount).eq(v.account))
            .add(Expr::col(EdmsMovements::ToSubject).is_in(v.subjects.iter().cloned())),
    );
    let mut any = Cond::any()
        .add(Expr::col((EdmsRecords::Table, EdmsRecords::RegisteredBy)).eq(v.account))
        .add(Expr::col((EdmsRecords::Table, EdmsRecords::Holder)).is_in(v.subjects.iter().cloned()))
        .add(Expr::col((EdmsRecords::Table, EdmsRecords::Id)).in_subquery(involved.clone_inner()));
    if !v.departments.is_empty() {
        any = any.add(
            Expr::col((EdmsRecords::Table, EdmsRecords::Department))
                .is_in(v.departments.iter().cloned()),
        );
    }
    all.add(any)
}

/// Lists of "my documents".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tab {
    /// Charged to me (or signed, for me to dispatch), open.
    Mine,
    /// My drafts of outgoing documents.
    Drafts,
    /// Outgoing documents waiting for my approval or signature.
    ToApprove,
    /// In my departments' queues, charged to nobody yet.
    Queue,
    /// Charged by me to others, open.
    ChargedByMe,
    /// At the protocol office, not yet routed.
    Unrouted,
    /// Open and past their deadline, among what I may see.
    Overdue,
    /// Closed, among what I may see.
    Closed,
    /// Under a legal hold, among what I may see.
    Held,
}

impl Tab {
    pub const ALL: [Tab; 9] = [
        Tab::Mine,
        Tab::ToApprove,
        Tab::Drafts,
        Tab::Queue,
        Tab::ChargedByMe,
        Tab::Unrouted,
        Tab::Overdue,
        Tab::Held,
        Tab::Closed,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Tab::Mine => "mine",
            Tab::Drafts => "drafts",
            Tab::ToApprove => "to-approve",
            Tab::Queue => "queue",
            Tab::ChargedByMe => "charged-by-me",
            Tab::Unrouted => "unrouted",
            Tab::Overdue => "overdue",
            Tab::Closed => "closed",
            Tab::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.id() == s)
    }
}

/// What a list or a search asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tab: Option<Tab>,
    /// Folded words, each matched as a word's beginning.
    pub terms: Vec<String>,
    pub year: Option<i32>,
    pub number: Option<i64>,
    pub department: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub confidential_only: bool,
    pub today: Option<NaiveDate>,
}

/// Closed records of a type, closed before `before`, neither held nor
/// disposed of yet: those whose retention ran out (oldest first).
pub async fn due(
    tdb: &TenantDb,
    kind: &str,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>, DbError> {
    let mut q = tdb.select(EdmsRecords::Table);
    q.column(EdmsRecords::Id)
        .and_where(Expr::col(EdmsRecords::Kind).eq(kind))
        .and_where(Expr::col(EdmsRecords::ClosedAt).lt(before))
        .and_where(Expr::col(EdmsRecords::Status).eq("closed"))
        .and_where(Expr::col(EdmsRecords::DisposedAt).is_null())
        .and_where(Expr::col(EdmsRecords::LegalHold).eq(false))
        .order_by(EdmsRecords::ClosedAt, Order::Asc)
        .limit(limit);
    let rows: Vec<(Uuid,)> = tdb.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Disposes of a record, in the caller's transaction, if it is still
/// closed, not held and not disposed of (so one replica does it, and a
/// hold placed meanwhile wins): its contents go, its number, type and
/// dates stay. False when it was not taken.
pub async fn dispose_in(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    at: DateTime<Utc>,
    disposal: &str,
    archive: Option<Uuid>,
) -> Result<bool, DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::DisposedAt, at)
        .value(EdmsRecords::Disposal, disposal)
        .value(EdmsRecords::ArchiveDocument, archive)
        .value(EdmsRecords::Subject, "")
        .value(EdmsRecords::Correspondent, "")
        .value(EdmsRecords::CorrespondentRef, "")
        .value(EdmsRecords::Instructions, "")
        .value(EdmsRecords::Outcome, "")
        .value(EdmsRecords::SearchText, "")
        .and_where(Expr::col(EdmsRecords::Id).eq(id))
        .and_where(Expr::col(EdmsRecords::Status).eq("closed"))
        .and_where(Expr::col(EdmsRecords::DisposedAt).is_null())
        .and_where(Expr::col(EdmsRecords::LegalHold).eq(false));
    if tx.execute(&q).await? != 1 {
        return Ok(false);
    }
    let mut q = tx.update(EdmsMovements::Table);
    q.value(EdmsMovements::Note, "")
        .and_where(Expr::col(EdmsMovements::RecordId).eq(id));
    tx.execute(&q).await?;
    let mut q = tx.update(EdmsOutgoing::Table);
    q.value(EdmsOutgoing::Body, "")
        .value(EdmsOutgoing::RecipientEmail, "")
        .and_where(Expr::col(EdmsOutgoing::RecordId).eq(id));
    tx.execute(&q).await?;
    let mut q = tx.delete(EdmsFiles::Table);
    q.and_where(Expr::col(EdmsFiles::RecordId).eq(id));
    tx.execute(&q).await?;
    crate::exchange::forget_sender_in(tx, id).await?;
    Ok(true)
}

/// Places or lifts a legal hold, in the caller's transaction, unless the
/// record was disposed of meanwhile or already stands so. False when
/// nothing changed.
pub async fn set_hold_in(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    hold: bool,
    reason: &str,
) -> Result<bool, DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::LegalHold, hold)
        .value(EdmsRecords::HoldReason, reason)
        .and_where(Expr::col(EdmsRecords::Id).eq(id))
        .and_where(Expr::col(EdmsRecords::DisposedAt).is_null())
        .and_where(Expr::col(EdmsRecords::LegalHold).eq(!hold));
    Ok(tx.execute(&q).await? == 1)
}

/// Newest registrations first.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordKey {
    at: DateTime<Utc>,
    id: Uuid,
}

impl ListKey for RecordKey {
    type Row = Record;
    fn of(r: &Record) -> Self {
        Self {
            at: r.registered_at,
            id: r.id,
        }
    }
    fn values(&self) -> Vec<Value> {
        vec![self.at.into(), self.id.into()]
    }
    fn token(&self) -> String {
        format!("{}~{}", self.at.timestamp_micros(), self.id)
    }
    fn parse(token: &str) -> Option<Self> {
        let [at, id] = key_parts(token)?;
        Some(Self {
            at: DateTime::from_timestamp_micros(at.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
    fn sort() -> Vec<SortKey> {
        vec![
            SortKey::desc(Expr::col((EdmsRecords::Table, EdmsRecords::RegisteredAt))),
            SortKey::desc(Expr::col((EdmsRecords::Table, EdmsRecords::Id))),
        ]
    }
}

fn filtered(tdb: &TenantDb, v: &Viewer, f: &Filter) -> Scoped<SelectStatement> {
    let mut q = tdb.select(EdmsRecords::Table);
    q.columns(COLUMNS.map(|c| (EdmsRecords::Table, c)))
        .cond_where(visible_to(tdb, v));
    let open = || Expr::col(EdmsRecords::Status).ne("closed");
    match f.tab {
        Some(tab @ (Tab::Mine | Tab::Drafts | Tab::ToApprove)) => {
            let statuses: &[&str] = match tab {
                Tab::Drafts => &["draft"],
                Tab::ToApprove => &["approval", "numbered"],
                _ => &["charged", "signed"],
            };
            q.and_where(Expr::col(EdmsRecords::Holder).is_in(v.subjects.iter().cloned()))
                .and_where(Expr::col(EdmsRecords::Status).is_in(statuses.iter().copied()));
        }
        Some(Tab::Queue) => {
            q.and_where(Expr::col(EdmsRecords::Department).is_in(v.departments.iter().cloned()))
                .and_where(Expr::col(EdmsRecords::Status).eq("routed"));
        }
        Some(Tab::ChargedByMe) => {
            let mut by = tdb.select(EdmsMovements::Table);
            by.column(EdmsMovements::RecordId)
                .and_where(Expr::col(EdmsMovements::ByAccount).eq(v.account))
                .and_where(Expr::col(EdmsMovements::Kind).eq("charged"));
            q.and_where(
                Expr::col((EdmsRecords::Table, EdmsRecords::Id)).in_subquery(by.clone_inner()),
            )
            .and_where(Expr::col(EdmsRecords::Status).eq("charged"))
            .and_where(Expr::col(EdmsRecords::Holder).is_not_in(v.subjects.iter().cloned()));
        }
        Some(Tab::Unrouted) => {
            q.and_where(Expr::col(EdmsRecords::Status).eq("registered"));
        }
        Some(Tab::Overdue) => {
            q.and_where(open());
            if let Some(today) = f.today {
                q.and_where(Expr::col(EdmsRecords::Deadline).lt(today));
            }
        }
        Some(Tab::Closed) => {
            q.and_where(Expr::col(EdmsRecords::Status).eq("closed"));
        }
        Some(Tab::Held) => {
            q.and_where(Expr::col(EdmsRecords::LegalHold).eq(true));
        }
        None => {}
    }
    if let Some(m) = tdb.text_match(&SEARCH, &f.terms) {
        q.and_where(m);
    }
    if let Some(y) = f.year {
        q.and_where(Expr::col(EdmsRecords::ProtocolYear).eq(y));
    }
    if let Some(n) = f.number {
        q.and_where(Expr::col(EdmsRecords::ProtocolNumber).eq(n));
    }
    if let Some(d) = &f.department {
        q.and_where(Expr::col(EdmsRecords::Department).eq(d.as_str()));
    }
    if let Some(s) = &f.status {
        q.and_where(Expr::col(EdmsRecords::Status).eq(s.as_str()));
    }
    if let Some(d) = f.from {
        q.and_where(Expr::col(EdmsRecords::ReceivedOn).gte(d));
    }
    if let Some(d) = f.to {
        q.and_where(Expr::col(EdmsRecords::ReceivedOn).lte(d));
    }
    if f.confidential_only {
        q.and_where(Expr::col(EdmsRecords::Confidential).eq(true));
    }
    q
}

/// One page of the records the viewer may see that match the filter.
pub async fn list(
    tdb: &TenantDb,
    v: &Viewer,
    f: &Filter,
    at: &Position<RecordKey>,
    page: u64,
    per_page: u64,
) -> Result<Page<Record>, DbError> {
    page_by_key(tdb, filtered(tdb, v, f), at, page, per_page, (0, false)).await
}

/// How many open records each tab holds for the viewer (up to 100).
pub async fn count(tdb: &TenantDb, v: &Viewer, f: &Filter) -> Result<u64, DbError> {
    tdb.count_upto(&filtered(tdb, v, f), 99).await
}

#[derive(Iden, Clone, Copy)]
enum EdmsOutgoing {
    Table,
    RecordId,
    Template,
    Body,
    RecipientEmail,
    Drafter,
    DrafterName,
    Approvers,
    Step,
    Reference,
    SignedDocument,
}

/// An outgoing document's draft and its way to signature.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Outgoing {
    pub record_id: Uuid,
    pub template: String,
    pub body: String,
    pub recipient_email: String,
    pub drafter: String,
    pub drafter_name: String,
    /// JSON `[[subject, name], …]`: read with [`Outgoing::chain`].
    pub approvers: String,
    pub step: i32,
    pub reference: Option<String>,
    pub signed_document: Option<Uuid>,
}

impl Outgoing {
    /// The approval chain, in order (the last signs).
    pub fn chain(&self) -> Vec<(String, String)> {
        // Written by this module only (`outgoing::chain_json`).
        serde_json::from_str(&self.approvers).unwrap_or_else(|e| {
            tracing::error!(record = %self.record_id, error = %e, "an approval chain that does not read");
            vec![]
        })
    }

    /// The approver whose turn it is.
    pub fn current(&self) -> Option<(String, String)> {
        usize::try_from(self.step)
            .ok()
            .and_then(|i| self.chain().get(i).cloned())
    }

    pub fn at_last_step(&self) -> bool {
        usize::try_from(self.step).is_ok_and(|i| i + 1 == self.chain().len())
    }
}

const OUTGOING_COLUMNS: [EdmsOutgoing; 10] = [
    EdmsOutgoing::RecordId,
    EdmsOutgoing::Template,
    EdmsOutgoing::Body,
    EdmsOutgoing::RecipientEmail,
    EdmsOutgoing::Drafter,
    EdmsOutgoing::DrafterName,
    EdmsOutgoing::Approvers,
    EdmsOutgoing::Step,
    EdmsOutgoing::Reference,
    EdmsOutgoing::SignedDocument,
];

pub async fn insert_outgoing_in(tx: &mut TenantTx<'_>, o: &Outgoing) -> Result<(), DbError> {
    let mut q = tx.insert(EdmsOutgoing::Table, OUTGOING_COLUMNS);
    q.values([
        o.record_id.into(),
        o.template.clone().into(),
        o.body.clone().into(),
        o.recipient_email.clone().into(),
        o.drafter.clone().into(),
        o.drafter_name.clone().into(),
        o.approvers.clone().into(),
        o.step.into(),
        o.reference.clone().into(),
        o.signed_document.into(),
    ]);
    tx.insert_rows(&q).await.map(drop)
}

pub async fn outgoing(tdb: &TenantDb, record: Uuid) -> Result<Option<Outgoing>, DbError> {
    let mut q = tdb.select(EdmsOutgoing::Table);
    q.columns(OUTGOING_COLUMNS)
        .and_where(Expr::col(EdmsOutgoing::RecordId).eq(record));
    tdb.fetch_optional(&q).await
}

/// The draft's text and chain changed by its drafter (while a draft).
pub async fn update_draft_in(tx: &mut TenantTx<'_>, o: &Outgoing) -> Result<(), DbError> {
    let mut q = tx.update(EdmsOutgoing::Table);
    q.value(EdmsOutgoing::Template, o.template.clone())
        .value(EdmsOutgoing::Body, o.body.clone())
        .value(EdmsOutgoing::RecipientEmail, o.recipient_email.clone())
        .value(EdmsOutgoing::Approvers, o.approvers.clone())
        .and_where(Expr::col(EdmsOutgoing::RecordId).eq(o.record_id));
    tx.execute(&q).await.map(drop)
}

pub async fn set_step_in(tx: &mut TenantTx<'_>, record: Uuid, step: i32) -> Result<(), DbError> {
    let mut q = tx.update(EdmsOutgoing::Table);
    q.value(EdmsOutgoing::Step, step)
        .and_where(Expr::col(EdmsOutgoing::RecordId).eq(record));
    tx.execute(&q).await.map(drop)
}

pub async fn set_signed_in(
    tx: &mut TenantTx<'_>,
    record: Uuid,
    reference: &str,
    document: Uuid,
) -> Result<(), DbError> {
    let mut q = tx.update(EdmsOutgoing::Table);
    q.value(EdmsOutgoing::Reference, reference)
        .value(EdmsOutgoing::SignedDocument, document)
        .and_where(Expr::col(EdmsOutgoing::RecordId).eq(record));
    tx.execute(&q).await.map(drop)
}

/// The record's subject, correspondent and search text changed with its
/// draft.
pub async fn update_details_in(
    tx: &mut TenantTx<'_>,
    r: &Record,
    search_text: &str,
) -> Result<(), DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::Subject, r.subject.clone())
        .value(EdmsRecords::Correspondent, r.correspondent.clone())
        .value(EdmsRecords::Kind, r.kind.clone())
        .value(EdmsRecords::SearchText, search_text)
        .and_where(Expr::col(EdmsRecords::Id).eq(r.id));
    tx.execute(&q).await.map(drop)
}

/// Gives an outgoing record its protocol number, once: false when it has
/// one already (the caller rolls back, spending no number).
pub async fn number_in(
    tx: &mut TenantTx<'_>,
    record: Uuid,
    entry: &dimos_workflow::protocol::Entry,
) -> Result<bool, DbError> {
    let mut q = tx.update(EdmsRecords::Table);
    q.value(EdmsRecords::ProtocolId, entry.id)
        .value(EdmsRecords::ProtocolYear, entry.year)
        .value(EdmsRecords::ProtocolNumber, entry.number)
        .value(EdmsRecords::Status, "numbered")
        .and_where(Expr::col(EdmsRecords::Id).eq(record))
        .and_where(Expr::col(EdmsRecords::Status).eq("approval"))
        .and_where(Expr::col(EdmsRecords::ProtocolId).is_null());
    Ok(tx.execute(&q).await? == 1)
}

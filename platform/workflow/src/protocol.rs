//! The protocol book (πρωτόκολλο): per tenant, per book and per year, a
//! gap-free sequence. The number is taken by an UPDATE of the book's counter
//! row inside the registering transaction: the row stays locked until that
//! transaction ends (PostgreSQL row lock; SQLite's single writer), and a
//! rolled-back registration gives its number back. No gaps, no duplicates,
//! whatever the number of replicas; the unique key proves it.

use crate::query::{ListKey, Page, Position, key_parts, page_by_key};
use chrono::{DateTime, Datelike, Utc};
use dimos_db::keyset::SortKey;
use dimos_db::sea_query::Value;
use dimos_db::sea_query::{Expr, ExprTrait, Iden, OnConflict};
use dimos_db::{DbError, TenantDb, TenantTx};
use serde::Serialize;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
pub(crate) enum ProtocolCounters {
    Table,
    Book,
    Year,
    LastNumber,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum ProtocolEntries {
    Table,
    Id,
    Book,
    Year,
    Number,
    Direction,
    RegisteredAt,
    Subject,
    Correspondent,
    Attachments,
    Restricted,
    Confidential,
    PersonalData,
    CaseId,
    RegisteredBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewEntry {
    pub book: String,
    pub direction: Direction,
    pub subject: String,
    pub correspondent: String,
    pub attachments: u32,
    pub restricted: bool,
    pub confidential: bool,
    pub personal_data: bool,
    pub case_id: Option<Uuid>,
    pub registered_by: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: Uuid,
    pub book: String,
    pub year: i32,
    pub number: i64,
    pub direction: String,
    pub registered_at: DateTime<Utc>,
    pub subject: String,
    pub correspondent: String,
    pub attachments: i32,
    pub restricted: bool,
    pub confidential: bool,
    pub personal_data: bool,
    pub case_id: Option<Uuid>,
    pub registered_by: String,
}

/// The protocol year of a moment: the Greek calendar year.
pub fn year_of(at: DateTime<Utc>) -> i32 {
    dimos_kernel::clock::local_date(at).year()
}

/// Registers an entry and returns it with its number. Must run inside the
/// transaction of the change it records (a case's submission), so that the
/// number exists exactly when the change does.
pub async fn register(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    at: DateTime<Utc>,
    e: &NewEntry,
) -> Result<Entry, DbError> {
    let year = year_of(at);
    // One statement takes the next number: it creates the year's counter
    // at 1 or adds one to it, and holds the counter's row until the
    // commit (numbers stay gap-free: a rolled-back number is not spent).
    let mut next = tdb.insert(
        ProtocolCounters::Table,
        [
            ProtocolCounters::Book,
            ProtocolCounters::Year,
            ProtocolCounters::LastNumber,
        ],
    );
    next.values([e.book.clone().into(), year.into(), 1i64.into()]);
    next.statement()
        .on_conflict(
            OnConflict::columns([
                dimos_db::sea_query::Alias::new(dimos_db::TENANT_ID),
                dimos_db::sea_query::Alias::new("book"),
                dimos_db::sea_query::Alias::new("year"),
            ])
            .value(
                ProtocolCounters::LastNumber,
                Expr::col((ProtocolCounters::Table, ProtocolCounters::LastNumber)).add(1),
            )
            .to_owned(),
        )
        .returning_col(ProtocolCounters::LastNumber);
    let (number,): (i64,) = tx
        .insert_returning(&next)
        .await?
        .ok_or(DbError::Other(sqlx::Error::RowNotFound))?;
    let entry = Entry {
        id: Uuid::now_v7(),
        book: e.book.clone(),
        year,
        number,
        direction: e.direction.as_str().into(),
        registered_at: at,
        subject: e.subject.clone(),
        correspondent: e.correspondent.clone(),
        attachments: i32::try_from(e.attachments).unwrap_or(i32::MAX),
        restricted: e.restricted,
        confidential: e.confidential,
        personal_data: e.personal_data,
        case_id: e.case_id,
        registered_by: e.registered_by.clone(),
    };
    let mut ins = tdb.insert(ProtocolEntries::Table, ENTRY_COLUMNS);
    ins.values([
        entry.id.into(),
        entry.book.clone().into(),
        entry.year.into(),
        entry.number.into(),
        entry.direction.clone().into(),
        entry.registered_at.into(),
        entry.subject.clone().into(),
        entry.correspondent.clone().into(),
        entry.attachments.into(),
        entry.restricted.into(),
        entry.confidential.into(),
        entry.personal_data.into(),
        entry.case_id.into(),
        entry.registered_by.clone().into(),
    ]);
    tx.insert_rows(&ins).await?;
    Ok(entry)
}

#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub book: Option<String>,
    pub year: Option<i32>,
    pub number: Option<i64>,
    pub text: Option<String>,
}

/// The book's order: newest first (the id orders entries that share a
/// number in different books).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryKey {
    year: i32,
    number: i64,
    id: Uuid,
}

impl ListKey for EntryKey {
    type Row = Entry;
    fn of(e: &Entry) -> Self {
        Self {
            year: e.year,
            number: e.number,
            id: e.id,
        }
    }
    fn values(&self) -> Vec<Value> {
        vec![self.year.into(), self.number.into(), self.id.into()]
    }
    fn token(&self) -> String {
        format!("{}~{}~{}", self.year, self.number, self.id)
    }
    fn parse(token: &str) -> Option<Self> {
        let [year, number, id] = key_parts(token)?;
        Some(Self {
            year: year.parse().ok()?,
            number: number.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
    fn sort() -> Vec<SortKey> {
        vec![
            SortKey::desc(Expr::col(ProtocolEntries::Year)),
            SortKey::desc(Expr::col(ProtocolEntries::Number)),
            SortKey::desc(Expr::col(ProtocolEntries::Id)),
        ]
    }
}

const ENTRY_COLUMNS: [ProtocolEntries; 14] = [
    ProtocolEntries::Id,
    ProtocolEntries::Book,
    ProtocolEntries::Year,
    ProtocolEntries::Number,
    ProtocolEntries::Direction,
    ProtocolEntries::RegisteredAt,
    ProtocolEntries::Subject,
    ProtocolEntries::Correspondent,
    ProtocolEntries::Attachments,
    ProtocolEntries::Restricted,
    ProtocolEntries::Confidential,
    ProtocolEntries::PersonalData,
    ProtocolEntries::CaseId,
    ProtocolEntries::RegisteredBy,
];

/// One entry, by its id.
pub async fn entry(tdb: &TenantDb, id: Uuid) -> Result<Option<Entry>, DbError> {
    let mut q = tdb.select(ProtocolEntries::Table);
    q.columns(ENTRY_COLUMNS)
        .and_where(Expr::col(ProtocolEntries::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// One page of the book, newest first (not counted: the book of a year
/// holds tens of thousands of entries and its page says only what is
/// before and after).
pub async fn list(
    tdb: &TenantDb,
    f: &EntryFilter,
    at: &Position<EntryKey>,
    page: u64,
    per_page: u64,
) -> Result<Page<Entry>, DbError> {
    let mut q = tdb.select(ProtocolEntries::Table);
    q.columns(ENTRY_COLUMNS);
    if let Some(b) = &f.book {
        q.and_where(Expr::col(ProtocolEntries::Book).eq(b.as_str()));
    }
    if let Some(y) = f.year {
        q.and_where(Expr::col(ProtocolEntries::Year).eq(y));
    }
    if let Some(n) = f.number {
        q.and_where(Expr::col(ProtocolEntries::Number).eq(n));
    }
    if let Some(t) = f.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", t.replace(['%', '_'], ""));
        // Confidential and restricted entries never match a text search:
        // their subject and correspondent are not shown, so a match would
        // tell a searcher what they say.
        q.and_where(
            Expr::col(ProtocolEntries::Subject)
                .like(pattern.as_str())
                .or(Expr::col(ProtocolEntries::Correspondent).like(pattern.as_str())),
        )
        .and_where(Expr::col(ProtocolEntries::Confidential).eq(false))
        .and_where(Expr::col(ProtocolEntries::Restricted).eq(false));
    }
    page_by_key(tdb, q, at, page, per_page, (0, false)).await
}

//! Reading cases and tasks: the citizen's list, the staff agenda, the case
//! file, the reports. Everything goes through `TenantDb`, so no list,
//! count or search can see another municipality's rows.

use crate::engine::{CaseEvents, CaseId, Staff, TaskId};
use chrono::{DateTime, Utc};
use dimos_db::keyset::{self, Seek, SortKey};
use dimos_db::sea_query::Value as SqlValue;
use dimos_db::sea_query::{Expr, ExprTrait, Iden, Order, SelectStatement};
use dimos_db::{DbError, Reader, Scoped, TenantDb, TenantTx};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
pub(crate) enum Cases {
    Table,
    Id,
    Process,
    SnapshotId,
    Module,
    Applicant,
    ApplicantName,
    FiledBy,
    Subject,
    Data,
    Status,
    Step,
    Result,
    Reasoning,
    ProtocolBook,
    ProtocolYear,
    ProtocolNumber,
    SubmittedAt,
    DueAt,
    WaitingSince,
    WaitingUntil,
    PausedSeconds,
    ClosedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Tasks {
    Table,
    Id,
    CaseId,
    Step,
    Status,
    Assignee,
    AssigneeName,
    CreatedAt,
    DueAt,
    ClaimedAt,
    CompletedAt,
    Outcome,
    Escalated,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum TaskCandidates {
    Table,
    TaskId,
    Kind,
    Name,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CaseRow {
    pub id: Uuid,
    pub process: String,
    pub snapshot_id: Uuid,
    pub module: String,
    pub applicant: Uuid,
    pub applicant_name: String,
    pub filed_by: Option<Uuid>,
    pub subject: String,
    pub data: Json<Map<String, Value>>,
    pub status: String,
    pub step: String,
    pub result: Option<String>,
    pub reasoning: Option<String>,
    pub protocol_book: Option<String>,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i64>,
    pub submitted_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub waiting_until: Option<DateTime<Utc>>,
    pub paused_seconds: i64,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl CaseRow {
    pub fn case_id(&self) -> CaseId {
        CaseId(self.id)
    }

    /// `123/2026`, the number the citizen quotes.
    pub fn protocol_label(&self) -> Option<String> {
        protocol_label(self.protocol_number, self.protocol_year)
    }
}

/// `123/2026`: a protocol number as people quote it.
pub fn protocol_label(number: Option<i64>, year: Option<i32>) -> Option<String> {
    match (number, year) {
        (Some(n), Some(y)) => Some(format!("{n}/{y}")),
        _ => None,
    }
}

const CASE_COLUMNS: [Cases; 23] = [
    Cases::Id,
    Cases::Process,
    Cases::SnapshotId,
    Cases::Module,
    Cases::Applicant,
    Cases::ApplicantName,
    Cases::FiledBy,
    Cases::Subject,
    Cases::Data,
    Cases::Status,
    Cases::Step,
    Cases::Result,
    Cases::Reasoning,
    Cases::ProtocolBook,
    Cases::ProtocolYear,
    Cases::ProtocolNumber,
    Cases::SubmittedAt,
    Cases::DueAt,
    Cases::WaitingSince,
    Cases::WaitingUntil,
    Cases::PausedSeconds,
    Cases::ClosedAt,
    Cases::UpdatedAt,
];

pub(crate) fn case_select(tdb: &TenantDb) -> Scoped<SelectStatement> {
    let mut q = tdb.select(Cases::Table);
    q.columns(CASE_COLUMNS.map(|c| (Cases::Table, c)));
    q
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub step: String,
    pub status: String,
    pub assignee: Option<Uuid>,
    pub assignee_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub escalated: bool,
}

const TASK_COLUMNS: [Tasks; 12] = [
    Tasks::Id,
    Tasks::CaseId,
    Tasks::Step,
    Tasks::Status,
    Tasks::Assignee,
    Tasks::AssigneeName,
    Tasks::CreatedAt,
    Tasks::DueAt,
    Tasks::ClaimedAt,
    Tasks::CompletedAt,
    Tasks::Outcome,
    Tasks::Escalated,
];

fn task_select(tdb: &TenantDb) -> Scoped<SelectStatement> {
    let mut q = tdb.select(Tasks::Table);
    q.columns(TASK_COLUMNS.map(|c| (Tasks::Table, c)));
    q
}

pub async fn case(mut tdb: impl Reader, id: CaseId) -> Result<Option<CaseRow>, DbError> {
    let mut q = tdb.select(Cases::Table);
    q.columns(CASE_COLUMNS.map(|c| (Cases::Table, c)));
    q.and_where(Expr::col((Cases::Table, Cases::Id)).eq(id.0));
    tdb.fetch_optional(&q).await
}

pub async fn task(tdb: &TenantDb, id: TaskId) -> Result<Option<TaskRow>, DbError> {
    let mut q = task_select(tdb);
    q.and_where(Expr::col((Tasks::Table, Tasks::Id)).eq(id.0));
    tdb.fetch_optional(&q).await
}

pub(crate) async fn task_in(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: TaskId,
) -> Result<Option<TaskRow>, DbError> {
    let mut q = task_select(tdb);
    q.and_where(Expr::col((Tasks::Table, Tasks::Id)).eq(id.0));
    tx.fetch_optional(&q).await
}

pub(crate) async fn open_task_ids(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    case: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    let mut q = tdb.select(Tasks::Table);
    q.column(Tasks::Id)
        .and_where(Expr::col(Tasks::CaseId).eq(case))
        .and_where(Expr::col(Tasks::Status).eq("open"));
    let rows: Vec<(Uuid,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// (roles, departments) that may claim a task.
pub async fn candidates(
    tdb: &TenantDb,
    task: TaskId,
) -> Result<(Vec<String>, Vec<String>), DbError> {
    let mut q = tdb.select(TaskCandidates::Table);
    q.columns([TaskCandidates::Kind, TaskCandidates::Name])
        .and_where(Expr::col(TaskCandidates::TaskId).eq(task.0))
        .order_by(TaskCandidates::Name, Order::Asc);
    let rows: Vec<(String, String)> = tdb.fetch_all(&q).await?;
    let (roles, depts): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(k, _)| k == "role");
    Ok((
        roles.into_iter().map(|r| r.1).collect(),
        depts.into_iter().map(|r| r.1).collect(),
    ))
}

/// Which of `cases` ended with `result` (e.g. `withdrawn`), in one query.
pub async fn cases_with_result(
    tdb: &TenantDb,
    cases: &[Uuid],
    result: &str,
) -> Result<std::collections::BTreeSet<Uuid>, DbError> {
    if cases.is_empty() {
        return Ok(Default::default());
    }
    let mut q = tdb.select(Cases::Table);
    q.column((Cases::Table, Cases::Id))
        .and_where(Expr::col((Cases::Table, Cases::Id)).is_in(cases.iter().copied()))
        .and_where(Expr::col((Cases::Table, Cases::Result)).eq(result));
    let rows: Vec<(Uuid,)> = tdb.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The open task of a case at `step`, inside the caller's transaction.
pub async fn open_task_in(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    case: CaseId,
    step: &str,
) -> Result<Option<TaskRow>, DbError> {
    let mut q = task_select(tdb);
    q.and_where(Expr::col((Tasks::Table, Tasks::CaseId)).eq(case.0))
        .and_where(Expr::col((Tasks::Table, Tasks::Step)).eq(step))
        .and_where(Expr::col((Tasks::Table, Tasks::Status)).eq("open"));
    tx.fetch_optional(&q).await
}

/// The open tasks at `step` of many cases (a publication moving thousands
/// on): read a thousand cases at a time, not one statement per case.
pub async fn open_tasks_in(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    cases: &[CaseId],
    step: &str,
) -> Result<Vec<TaskRow>, DbError> {
    let mut out = vec![];
    for chunk in cases.chunks(1000) {
        let mut q = task_select(tdb);
        q.and_where(Expr::col((Tasks::Table, Tasks::CaseId)).is_in(chunk.iter().map(|c| c.0)))
            .and_where(Expr::col((Tasks::Table, Tasks::Step)).eq(step))
            .and_where(Expr::col((Tasks::Table, Tasks::Status)).eq("open"));
        out.extend(tx.fetch_all::<TaskRow>(&q).await?);
    }
    Ok(out)
}

pub async fn tasks_of_case(tdb: &TenantDb, case: CaseId) -> Result<Vec<TaskRow>, DbError> {
    let mut q = task_select(tdb);
    q.and_where(Expr::col((Tasks::Table, Tasks::CaseId)).eq(case.0))
        .order_by((Tasks::Table, Tasks::CreatedAt), Order::Asc);
    tdb.fetch_all(&q).await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EventRow {
    pub seq: i32,
    pub kind: String,
    pub step: String,
    pub at: DateTime<Utc>,
    pub actor: Option<Uuid>,
    pub actor_name: Option<String>,
    pub on_behalf_of: Option<Uuid>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    pub public: bool,
    pub payload: Json<Value>,
}

/// A case's history, oldest first; the citizen sees only public events.
pub async fn events(
    tdb: &TenantDb,
    case: CaseId,
    public_only: bool,
) -> Result<Vec<EventRow>, DbError> {
    let mut q = tdb.select(CaseEvents::Table);
    // Every inserted column but the case's own id.
    q.columns(crate::engine::EVENT_COLUMNS.into_iter().skip(1))
        .and_where(Expr::col(CaseEvents::CaseId).eq(case.0))
        .order_by(CaseEvents::Seq, Order::Asc);
    if public_only {
        q.and_where(Expr::col(CaseEvents::Public).eq(true));
    }
    tdb.fetch_all(&q).await
}

/// One page and the total.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// All the rows, or (with `more`) a lower bound.
    pub total: u64,
    /// The page's number, for its label ("page 3 of 40"): the rows are
    /// found by key, not by counting past the pages before.
    pub page: u64,
    pub per_page: u64,
    /// There are more than `total` rows (the count stopped there).
    pub more: bool,
    /// The key after which the next page starts, if there is one.
    pub next: Option<String>,
    /// The key before which the previous page ends, if there is one.
    pub prev: Option<String>,
}

impl<T> Page<T> {
    pub fn pages(&self) -> u64 {
        Ord::max(self.total.div_ceil(self.per_page), 1)
    }
}

/// A list's sort key as its page links carry it (`after=` / `before=`).
pub trait ListKey: Sized {
    type Row;
    fn of(row: &Self::Row) -> Self;
    fn values(&self) -> Vec<SqlValue>;
    fn token(&self) -> String;
    fn parse(token: &str) -> Option<Self>;
    fn sort() -> Vec<SortKey>;
}

/// Where in a list a page is: the first page, after a key or before one.
#[derive(Debug, Clone, PartialEq)]
pub enum Position<K> {
    First,
    After(K),
    Before(K),
}

/// A page link's key that is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadKey;

impl<K: ListKey> Position<K> {
    /// From a link's `after` and `before` (empty ones ignored).
    pub fn parse(after: Option<&str>, before: Option<&str>) -> Result<Self, BadKey> {
        fn given(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        match (given(after), given(before)) {
            (None, None) => Ok(Self::First),
            (Some(a), None) => K::parse(a).map(Self::After).ok_or(BadKey),
            (None, Some(b)) => K::parse(b).map(Self::Before).ok_or(BadKey),
            (Some(_), Some(_)) => Err(BadKey),
        }
    }

    fn seek(&self) -> Seek {
        match self {
            Self::First => Seek::First,
            Self::After(k) => Seek::After(k.values()),
            Self::Before(k) => Seek::Before(k.values()),
        }
    }
}

/// Reads one page of `q` by key, with its total and its neighbours' keys.
pub async fn page_by_key<K>(
    tdb: &TenantDb,
    mut q: Scoped<SelectStatement>,
    at: &Position<K>,
    number: u64,
    per_page: u64,
    (total, more): (u64, bool),
) -> Result<Page<K::Row>, DbError>
where
    K: ListKey,
    K::Row: dimos_db::FromRowAny,
{
    let seek = at.seek();
    keyset::apply(&mut q, &K::sort(), &seek, per_page);
    let w = keyset::finish(tdb.fetch_all(&q).await?, &seek, per_page);
    let page = match at {
        Position::First => 1,
        _ if !w.has_prev => 1,
        Position::After(_) => Ord::max(number, 2),
        Position::Before(_) => Ord::max(number, 1),
    };
    Ok(Page {
        next: w
            .has_next
            .then(|| w.rows.last().map(|r| K::of(r).token()))
            .flatten(),
        prev: w
            .has_prev
            .then(|| w.rows.first().map(|r| K::of(r).token()))
            .flatten(),
        items: w.rows,
        total,
        page,
        per_page,
        more,
    })
}

fn time_token(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A key's `~`-separated parts, exactly `N` of them.
pub fn key_parts<const N: usize>(token: &str) -> Option<[&str; N]> {
    token.split('~').collect::<Vec<_>>().try_into().ok()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Case lists' order: newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseKey {
    submitted_at: DateTime<Utc>,
    id: Uuid,
}

impl ListKey for CaseKey {
    type Row = CaseRow;
    fn of(row: &CaseRow) -> Self {
        Self {
            submitted_at: row.submitted_at,
            id: row.id,
        }
    }
    fn values(&self) -> Vec<SqlValue> {
        vec![self.submitted_at.into(), self.id.into()]
    }
    fn token(&self) -> String {
        format!("{}~{}", time_token(&self.submitted_at), self.id)
    }
    fn parse(token: &str) -> Option<Self> {
        let [at, id] = key_parts(token)?;
        Some(Self {
            submitted_at: parse_time(at)?,
            id: id.parse().ok()?,
        })
    }
    fn sort() -> Vec<SortKey> {
        vec![
            SortKey::desc(Expr::col((Cases::Table, Cases::SubmittedAt))),
            SortKey::desc(Expr::col((Cases::Table, Cases::Id))),
        ]
    }
}

/// The agenda's order: by due date (none last), then oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskKey {
    due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl ListKey for TaskKey {
    type Row = AgendaRow;
    fn of(row: &AgendaRow) -> Self {
        Self {
            due_at: row.due_at,
            created_at: row.created_at,
            id: row.id,
        }
    }
    fn values(&self) -> Vec<SqlValue> {
        vec![self.due_at.into(), self.created_at.into(), self.id.into()]
    }
    fn token(&self) -> String {
        let due = self
            .due_at
            .as_ref()
            .map_or_else(|| "-".to_owned(), time_token);
        format!("{due}~{}~{}", time_token(&self.created_at), self.id)
    }
    fn parse(token: &str) -> Option<Self> {
        let [due, created, id] = key_parts(token)?;
        Some(Self {
            due_at: match due {
                "-" => None,
                d => Some(parse_time(d)?),
            },
            created_at: parse_time(created)?,
            id: id.parse().ok()?,
        })
    }
    fn sort() -> Vec<SortKey> {
        vec![
            SortKey::asc_nulls_last(Expr::col((Tasks::Table, Tasks::DueAt))),
            SortKey::asc(Expr::col((Tasks::Table, Tasks::CreatedAt))),
            SortKey::asc(Expr::col((Tasks::Table, Tasks::Id))),
        ]
    }
}

async fn count(tdb: &TenantDb, mut q: Scoped<SelectStatement>) -> Result<u64, DbError> {
    q.clear_selects();
    q.expr(Expr::col(dimos_db::sea_query::Asterisk).count());
    let (n,): (i64,) = tdb.fetch_optional(&q).await?.unwrap_or((0,));
    Ok(u64::try_from(n).unwrap_or(0))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseFilter {
    All,
    Open,
    Closed,
}

/// The applicant's cases, newest first.
pub async fn cases_of(
    tdb: &TenantDb,
    applicant: Uuid,
    filter: CaseFilter,
    at: &Position<CaseKey>,
    page: u64,
    per_page: u64,
) -> Result<Page<CaseRow>, DbError> {
    let mut q = case_select(tdb);
    q.and_where(Expr::col((Cases::Table, Cases::Applicant)).eq(applicant));
    match filter {
        CaseFilter::All => {}
        CaseFilter::Open => {
            q.and_where(Expr::col((Cases::Table, Cases::Status)).ne("closed"));
        }
        CaseFilter::Closed => {
            q.and_where(Expr::col((Cases::Table, Cases::Status)).eq("closed"));
        }
    }
    let total = count(tdb, q.clone()).await?;
    page_by_key(tdb, q, at, page, per_page, (total, false)).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Assigned to me.
    Mine,
    /// Unclaimed, in the queues of my roles and departments.
    Available,
    /// Overdue tasks flagged to heads, in my departments' queues.
    Escalated,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AgendaRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub step: String,
    pub assignee: Option<Uuid>,
    pub assignee_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub escalated: bool,
    pub process: String,
    pub snapshot_id: Uuid,
    pub subject: String,
    pub applicant_name: String,
    pub protocol_number: Option<i64>,
    pub protocol_year: Option<i32>,
}

impl AgendaRow {
    /// The case's protocol number, `123/2026`.
    pub fn protocol_label(&self) -> Option<String> {
        protocol_label(self.protocol_number, self.protocol_year)
    }
}

/// Condition: the task's candidates include one of the person's roles or departments.
fn candidate_of(tdb: &TenantDb, who: &Staff) -> dimos_db::sea_query::SimpleExpr {
    let mut sub = tdb.select(TaskCandidates::Table);
    sub.expr(Expr::val(1))
        .and_where(
            Expr::col((TaskCandidates::Table, TaskCandidates::TaskId))
                .equals((Tasks::Table, Tasks::Id)),
        )
        .and_where(
            Expr::col((TaskCandidates::Table, TaskCandidates::Kind))
                .eq("role")
                .and(
                    Expr::col((TaskCandidates::Table, TaskCandidates::Name))
                        .is_in(who.roles.iter().cloned()),
                )
                .or(Expr::col((TaskCandidates::Table, TaskCandidates::Kind))
                    .eq("department")
                    .and(
                        Expr::col((TaskCandidates::Table, TaskCandidates::Name))
                            .is_in(who.departments.iter().cloned()),
                    )),
        )
        // `OFFSET 0` keeps PostgreSQL from turning the EXISTS into a semi
        // join: it underestimates a municipality's open tasks (its share of
        // the table times the share of open ones, while one municipality
        // holds most of them), so it sorted the whole queue by id to merge
        // it with the candidates (160 ms with 16,000 open tasks). As a
        // probe per task read in the index's order the page stops after
        // its rows (1 ms). SQLite needs the LIMIT beside the OFFSET.
        .limit(1)
        .offset(0);
    Expr::exists(sub.clone_inner())
}

/// A queue counts its tasks up to this many; beyond, the page says "more
/// than 1,000" (counting a queue of 10,000 was most of its page's cost).
pub const AGENDA_COUNT_LIMIT: u64 = 1000;

/// The staff agenda: open tasks, overdue ones first, then by due date
/// (tasks without one last).
pub async fn agenda(
    tdb: &TenantDb,
    who: &Staff,
    queue: Queue,
    process: Option<&str>,
    at: &Position<TaskKey>,
    page: u64,
    per_page: u64,
) -> Result<Page<AgendaRow>, DbError> {
    let mut q = tdb.select(Tasks::Table);
    q.and_where(Expr::col((Tasks::Table, Tasks::Status)).eq("open"));
    match queue {
        Queue::Mine => {
            q.and_where(Expr::col((Tasks::Table, Tasks::Assignee)).eq(who.account));
        }
        Queue::Available => {
            q.and_where(Expr::col((Tasks::Table, Tasks::Assignee)).is_null())
                .and_where(candidate_of(tdb, who));
        }
        Queue::Escalated => {
            q.and_where(Expr::col((Tasks::Table, Tasks::Escalated)).eq(true))
                .and_where(candidate_of(tdb, who));
        }
    }
    let join = |q: &mut Scoped<SelectStatement>| {
        q.join_scoped(
            Cases::Table,
            Expr::col((Cases::Table, Cases::Id)).equals((Tasks::Table, Tasks::CaseId)),
        );
    };
    // The count reads the tasks alone unless a process is chosen: joining
    // every open task to its case only to count them made a queue of
    // thousands read the whole cases table.
    let filtered = process.filter(|p| !p.is_empty());
    if let Some(p) = filtered {
        join(&mut q);
        q.and_where(Expr::col((Cases::Table, Cases::Process)).eq(p));
    }
    let counted = tdb.count_upto(&q, AGENDA_COUNT_LIMIT).await?;
    let (total, more) = (
        Ord::min(counted, AGENDA_COUNT_LIMIT),
        counted > AGENDA_COUNT_LIMIT,
    );
    if filtered.is_none() {
        join(&mut q);
    }
    q.columns(
        [
            Tasks::Id,
            Tasks::CaseId,
            Tasks::Step,
            Tasks::Assignee,
            Tasks::AssigneeName,
            Tasks::CreatedAt,
            Tasks::DueAt,
            Tasks::Escalated,
        ]
        .map(|c| (Tasks::Table, c)),
    )
    .columns(
        [
            Cases::Process,
            Cases::SnapshotId,
            Cases::Subject,
            Cases::ApplicantName,
            Cases::ProtocolNumber,
            Cases::ProtocolYear,
        ]
        .map(|c| (Cases::Table, c)),
    );
    // Overdue first, then by due date, tasks without one last, then the
    // oldest: exactly the order of the `tasks_open_order` index (tenant,
    // status, due_at, created_at, id), so a page is read from the index and
    // stops after `per_page` rows instead of sorting the whole queue.
    page_by_key(tdb, q, at, page, per_page, (total, more)).await
}

/// Whether a member of staff works on this case: a task of it is (or was)
/// theirs or in one of their queues.
pub async fn involved(tdb: &TenantDb, who: &Staff, case: CaseId) -> Result<bool, DbError> {
    let mut q = tdb.select(Tasks::Table);
    q.column((Tasks::Table, Tasks::Id))
        .and_where(Expr::col((Tasks::Table, Tasks::CaseId)).eq(case.0))
        .and_where(
            Expr::col((Tasks::Table, Tasks::Assignee))
                .eq(who.account)
                .or(candidate_of(tdb, who)),
        )
        .limit(1);
    Ok(tdb.fetch_optional::<(Uuid,)>(&q).await?.is_some())
}

#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub assignee: Option<Uuid>,
    pub assignee_name: Option<String>,
    pub open: u64,
    pub overdue: u64,
}

/// Open tasks of the given departments' queues, per person (and unclaimed).
pub async fn team_load(
    tdb: &TenantDb,
    departments: &[String],
    now: DateTime<Utc>,
) -> Result<(Vec<Load>, Vec<TaskRow>), DbError> {
    let mut q = task_select(tdb);
    let mut sub = tdb.select(TaskCandidates::Table);
    sub.expr(Expr::val(1))
        .and_where(
            Expr::col((TaskCandidates::Table, TaskCandidates::TaskId))
                .equals((Tasks::Table, Tasks::Id)),
        )
        .and_where(Expr::col((TaskCandidates::Table, TaskCandidates::Kind)).eq("department"))
        .and_where(
            Expr::col((TaskCandidates::Table, TaskCandidates::Name))
                .is_in(departments.iter().cloned()),
        );
    q.and_where(Expr::col((Tasks::Table, Tasks::Status)).eq("open"))
        .and_where(Expr::exists(sub.clone_inner()))
        .order_by((Tasks::Table, Tasks::DueAt), Order::Asc)
        .limit(1000);
    let tasks: Vec<TaskRow> = tdb.fetch_all(&q).await?;
    let mut by: std::collections::BTreeMap<Option<Uuid>, Load> = Default::default();
    for t in &tasks {
        let l = by.entry(t.assignee).or_insert_with(|| Load {
            assignee: t.assignee,
            assignee_name: t.assignee_name.clone(),
            open: 0,
            overdue: 0,
        });
        l.open += 1;
        if t.due_at.is_some_and(|d| d < now) {
            l.overdue += 1;
        }
    }
    Ok((by.into_values().collect(), tasks))
}

/// Staff search over all cases of the municipality (for those allowed to
/// read every case): by protocol number, subject or applicant; or, with
/// `applicant`, over that person's own.
pub async fn search(
    tdb: &TenantDb,
    applicant: Option<Uuid>,
    text: &str,
    process: Option<&str>,
    at: &Position<CaseKey>,
    page: u64,
    per_page: u64,
) -> Result<Page<CaseRow>, DbError> {
    let mut q = case_select(tdb);
    if let Some(a) = applicant {
        q.and_where(Expr::col((Cases::Table, Cases::Applicant)).eq(a));
    }
    let text = text.trim();
    if !text.is_empty() {
        let number = text
            .split('/')
            .next()
            .and_then(|n| n.trim().parse::<i64>().ok());
        let pattern = format!("%{}%", text.replace(['%', '_'], ""));
        let mut cond = Expr::col((Cases::Table, Cases::Subject))
            .like(pattern.as_str())
            .or(Expr::col((Cases::Table, Cases::ApplicantName)).like(pattern.as_str()));
        if let Some(n) = number {
            cond = cond.or(Expr::col((Cases::Table, Cases::ProtocolNumber)).eq(n));
        }
        q.and_where(cond);
    }
    if let Some(p) = process.filter(|p| !p.is_empty()) {
        q.and_where(Expr::col((Cases::Table, Cases::Process)).eq(p));
    }
    let total = count(tdb, q.clone()).await?;
    page_by_key(tdb, q, at, page, per_page, (total, false)).await
}

/// Everything the reports need about cases since `from`.
pub async fn cases_since(tdb: &TenantDb, from: DateTime<Utc>) -> Result<Vec<CaseRow>, DbError> {
    let mut q = case_select(tdb);
    q.and_where(Expr::col((Cases::Table, Cases::SubmittedAt)).gte(from))
        .order_by((Cases::Table, Cases::SubmittedAt), Order::Asc)
        .limit(100_000);
    tdb.fetch_all(&q).await
}

/// Open tasks with their candidate departments and roles, for the reports.
pub async fn open_task_queues(
    tdb: &TenantDb,
) -> Result<Vec<(Uuid, Option<DateTime<Utc>>, String, String)>, DbError> {
    let mut q = tdb.select(Tasks::Table);
    q.columns([(Tasks::Table, Tasks::Id), (Tasks::Table, Tasks::DueAt)])
        .columns([
            (TaskCandidates::Table, TaskCandidates::Kind),
            (TaskCandidates::Table, TaskCandidates::Name),
        ]);
    q.join_scoped(
        TaskCandidates::Table,
        Expr::col((TaskCandidates::Table, TaskCandidates::TaskId))
            .equals((Tasks::Table, Tasks::Id)),
    );
    q.and_where(Expr::col((Tasks::Table, Tasks::Status)).eq("open"));
    tdb.fetch_all(&q).await
}

//! Many cases moved on by one action (a nursery publication completing
//! thousands of tasks). Each case walks its definition exactly as it does
//! alone (`Run::advance`), but the writes are gathered and made in a few
//! statements: cases read and locked a thousand at a time, tasks closed by
//! one update per outcome, events, tasks and timers inserted 500 rows per
//! statement, cases updated once per group that changed alike, and the
//! sinks given every event at once. About 14 statements per case became a
//! few per thousand.

use super::{
    Actor, CaseEvents, CaseId, EVENT_COLUMNS, Engine, Event, EventSink, Run, TaskCandidates, Tasks,
    checked_outcome, jobs,
};
use crate::definition::Definition;
use crate::query::{CaseRow, Cases, TaskRow};
use chrono::{DateTime, Utc};
use dimos_db::sea_query::{Expr, ExprTrait, LockType, SimpleExpr};
use dimos_db::{TenantDb, TenantTx};
use dimos_kernel::Error;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// Rows per multi-row insert: 13 values a row stays well under either
/// database's limit on bound values.
const ROWS: usize = 500;
/// Ids per `IN (...)` list.
const IDS: usize = 1000;

/// An event to write: what the sinks are told, and the row's own columns.
pub(super) struct PendingEvent {
    pub(super) event: Event,
    actor_name: Option<String>,
    on_behalf_of: Option<Uuid>,
    comment: Option<String>,
}

/// What happened, as a history entry says it (the case and the time are
/// given beside it).
pub(super) struct What<'a> {
    pub(super) kind: &'a str,
    pub(super) step: &'a str,
    pub(super) actor: &'a Actor,
    pub(super) outcome: Option<&'a str>,
    pub(super) comment: Option<&'a str>,
    pub(super) public: bool,
    pub(super) payload: Value,
}

impl PendingEvent {
    pub(super) fn new(case: &CaseRow, seq: i32, what: What<'_>, now: DateTime<Utc>) -> Self {
        let actor = what.actor;
        PendingEvent {
            event: Event {
                case_id: CaseId(case.id),
                seq,
                process: case.process.clone(),
                applicant: case.applicant,
                applicant_name: case.applicant_name.clone(),
                subject: case.subject.clone(),
                protocol: case.protocol_label(),
                kind: what.kind.to_owned(),
                step: what.step.to_owned(),
                at: now,
                actor: actor.account,
                outcome: what.outcome.map(str::to_owned),
                public: what.public,
                payload: what.payload,
            },
            actor_name: (!actor.name.is_empty()).then(|| actor.name.clone()),
            on_behalf_of: actor.on_behalf_of,
            comment: what.comment.map(str::to_owned),
        }
    }

    /// The row's values in `EVENT_COLUMNS` order, its number given as an
    /// expression (a value, or the single path's subquery).
    pub(super) fn values(&self, seq: SimpleExpr) -> [SimpleExpr; 12] {
        let e = &self.event;
        [
            e.case_id.0.into(),
            seq,
            e.kind.clone().into(),
            e.step.clone().into(),
            e.at.into(),
            e.actor.into(),
            self.actor_name.clone().into(),
            self.on_behalf_of.into(),
            e.outcome.clone().into(),
            self.comment.clone().into(),
            e.public.into(),
            e.payload.clone().into(),
        ]
    }
}

pub(super) struct NewTask {
    id: Uuid,
    case_id: Uuid,
    step: String,
    created_at: DateTime<Utc>,
    due_at: Option<DateTime<Utc>>,
    candidates: Vec<(&'static str, String)>,
}

/// The writes of many cases' changes, not made yet.
#[derive(Default)]
pub(super) struct Batch {
    /// The last number in each case's history (read once for all, then
    /// counted here; the cases' rows are locked).
    seqs: HashMap<Uuid, i32>,
    events: Vec<PendingEvent>,
    tasks: Vec<NewTask>,
    pub(super) jobs: Vec<jobs::NewJob>,
    /// Each case as read, to write only what changed.
    before: HashMap<Uuid, CaseRow>,
    /// Cases that changed alike (the same columns to the same values),
    /// to update together.
    groups: BTreeMap<String, (Set, Vec<Uuid>)>,
}

impl Batch {
    pub(super) fn event(&mut self, case: &CaseRow, what: What<'_>, now: DateTime<Utc>) {
        let seq = self.seqs.entry(case.id).or_insert(0);
        *seq += 1;
        self.events.push(PendingEvent::new(case, *seq, what, now));
    }

    pub(super) fn task(
        &mut self,
        id: Uuid,
        case_id: Uuid,
        t: &crate::definition::Task,
        now: DateTime<Utc>,
        due_at: Option<DateTime<Utc>>,
    ) {
        self.tasks.push(NewTask::new(id, case_id, t, now, due_at));
    }

    /// A case's new state: what differs from the row as read.
    pub(super) fn save(&mut self, case: &CaseRow, now: DateTime<Utc>) -> Result<(), Error> {
        let Some(before) = self.before.get(&case.id) else {
            return Err(Error::internal("a case saved that was not read"));
        };
        let set = changes(before, case, now);
        let key = set
            .iter()
            .map(|(c, v)| format!("{}={v:?}", dimos_db::sea_query::Iden::to_string(c)))
            .collect::<Vec<_>>()
            .join(";");
        self.groups
            .entry(key)
            .or_insert_with(|| (set, vec![]))
            .1
            .push(case.id);
        Ok(())
    }

    /// Makes the gathered writes, then tells the sinks.
    async fn flush(
        self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        sinks: &[Arc<dyn EventSink>],
    ) -> Result<(), Error> {
        for chunk in self.events.chunks(ROWS) {
            let mut ins = tdb.insert(CaseEvents::Table, EVENT_COLUMNS);
            for p in chunk {
                ins.values(p.values(p.event.seq.into()));
            }
            tx.insert_rows(&ins).await?;
        }
        insert_tasks(tx, tdb, &self.tasks).await?;
        jobs::enqueue_many(tx, tdb, &self.jobs).await?;
        for (set, ids) in self.groups.into_values() {
            for chunk in ids.chunks(IDS) {
                let mut q = tdb.update(Cases::Table);
                q.values(set.clone())
                    .and_where(Expr::col(Cases::Id).is_in(chunk.iter().copied()));
                tx.execute(&q).await?;
            }
        }
        let events: Vec<Event> = self.events.into_iter().map(|p| p.event).collect();
        for s in sinks {
            s.on_events(tx, &events).await?;
        }
        Ok(())
    }
}

impl NewTask {
    pub(super) fn new(
        id: Uuid,
        case_id: Uuid,
        t: &crate::definition::Task,
        now: DateTime<Utc>,
        due_at: Option<DateTime<Utc>>,
    ) -> Self {
        let roles = t.roles.iter().collect::<BTreeSet<_>>();
        let departments = t.departments.iter().collect::<BTreeSet<_>>();
        let candidates = roles
            .into_iter()
            .map(|r| ("role", r.clone()))
            .chain(departments.into_iter().map(|d| ("department", d.clone())))
            .collect();
        NewTask {
            id,
            case_id,
            step: t.id.clone(),
            created_at: now,
            due_at,
            candidates,
        }
    }
}

/// Opens tasks with their candidates, 500 rows per statement.
pub(super) async fn insert_tasks(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    tasks: &[NewTask],
) -> Result<(), Error> {
    for chunk in tasks.chunks(ROWS) {
        let mut ins = tdb.insert(
            Tasks::Table,
            [
                Tasks::Id,
                Tasks::CaseId,
                Tasks::Step,
                Tasks::Status,
                Tasks::CreatedAt,
                Tasks::DueAt,
                Tasks::Escalated,
            ],
        );
        for t in chunk {
            ins.values([
                t.id.into(),
                t.case_id.into(),
                t.step.clone().into(),
                "open".into(),
                t.created_at.into(),
                t.due_at.into(),
                false.into(),
            ]);
        }
        tx.insert_rows(&ins).await?;
    }
    let candidates: Vec<(Uuid, &str, &str)> = tasks
        .iter()
        .flat_map(|t| t.candidates.iter().map(|(k, n)| (t.id, *k, n.as_str())))
        .collect();
    for chunk in candidates.chunks(ROWS) {
        let mut ins = tdb.insert(
            TaskCandidates::Table,
            [
                TaskCandidates::TaskId,
                TaskCandidates::Kind,
                TaskCandidates::Name,
            ],
        );
        for (task, kind, name) in chunk {
            ins.values([(*task).into(), (*kind).into(), (*name).into()]);
        }
        tx.insert_rows(&ins).await?;
    }
    Ok(())
}

/// Columns of a case and their new values.
type Set = Vec<(Cases, SimpleExpr)>;

/// What `save_case` would write that differs from the row as read, and
/// the time of the change.
fn changes(b: &CaseRow, a: &CaseRow, now: DateTime<Utc>) -> Set {
    let mut set: Set = vec![];
    if b.data.0 != a.data.0 {
        set.push((Cases::Data, Value::Object(a.data.0.clone()).into()));
    }
    macro_rules! col {
        ($field:ident, $col:expr) => {
            if b.$field != a.$field {
                set.push(($col, a.$field.clone().into()));
            }
        };
    }
    col!(status, Cases::Status);
    col!(step, Cases::Step);
    col!(result, Cases::Result);
    col!(reasoning, Cases::Reasoning);
    col!(protocol_book, Cases::ProtocolBook);
    col!(protocol_year, Cases::ProtocolYear);
    col!(protocol_number, Cases::ProtocolNumber);
    col!(due_at, Cases::DueAt);
    col!(waiting_since, Cases::WaitingSince);
    col!(waiting_until, Cases::WaitingUntil);
    col!(paused_seconds, Cases::PausedSeconds);
    col!(closed_at, Cases::ClosedAt);
    set.push((Cases::UpdatedAt, now.into()));
    set
}

impl Engine {
    /// Completes many module-owned tasks in the caller's transaction, each
    /// with its outcome and no comment, as
    /// [`Engine::complete_open_action_tx`] would one by one, in a few
    /// statements per thousand cases. Each task must be open (read in this
    /// transaction, e.g. by `query::open_tasks_in`) and belong to a
    /// different case. A task closed meanwhile or an invalid outcome is
    /// refused (`task-closed`, a validation error) before anything is
    /// written; on any error the caller's transaction must not commit.
    /// Sinks are told after every write, with the events in order.
    pub async fn complete_open_actions_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        done: Vec<(TaskRow, String)>,
        actor: &Actor,
    ) -> Result<(), Error> {
        if done.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut ids = BTreeSet::new();
        for (t, _) in &done {
            if !ids.insert(t.case_id) {
                return Err(Error::internal("two tasks of one case in one batch"));
            }
        }
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let mut b = Batch::default();
        for chunk in ids.chunks(IDS) {
            let mut q = crate::query::case_select(tdb);
            q.and_where(Expr::col((Cases::Table, Cases::Id)).is_in(chunk.iter().copied()))
                .lock(LockType::Update);
            for c in tx.fetch_all::<CaseRow>(&q).await? {
                b.before.insert(c.id, c);
            }
        }
        // Every completion checked before anything is written.
        let mut defs: HashMap<Uuid, Arc<Definition>> = HashMap::new();
        let mut moves = Vec::with_capacity(done.len());
        let mut by_outcome: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for (t, outcome) in done {
            let snapshot = b.before.get(&t.case_id).ok_or(Error::NotFound)?.snapshot_id;
            if let std::collections::hash_map::Entry::Vacant(slot) = defs.entry(snapshot) {
                slot.insert(self.snapshot_in(tx, tdb, snapshot).await?);
            }
            let def = defs
                .get(&snapshot)
                .ok_or_else(|| Error::internal("definition missing"))?;
            let (o, values) = checked_outcome(def, &t.step, true, &outcome, &BTreeMap::new(), "")?;
            by_outcome.entry(outcome.clone()).or_default().push(t.id);
            moves.push((t, outcome, o.next.clone(), values, def.clone()));
        }
        // Every task still open, before anything is written (the cases'
        // locks keep them so: completing a task locks its case first).
        let task_ids: Vec<Uuid> = moves.iter().map(|m| m.0.id).collect();
        let mut open = 0;
        for chunk in task_ids.chunks(IDS) {
            let mut q = tdb.select(Tasks::Table);
            q.column(Tasks::Id)
                .and_where(Expr::col(Tasks::Id).is_in(chunk.iter().copied()))
                .and_where(Expr::col(Tasks::Status).eq("open"));
            open += tx.fetch_all::<(Uuid,)>(&q).await?.len();
        }
        if open != task_ids.len() {
            return Err(Error::Conflict("task-closed"));
        }
        for (outcome, tasks) in &by_outcome {
            for chunk in tasks.chunks(IDS) {
                let mut q = tdb.update(Tasks::Table);
                q.value(Tasks::Status, "done")
                    .value(Tasks::Outcome, outcome.as_str())
                    .value(Tasks::CompletedAt, now)
                    .and_where(Expr::col(Tasks::Id).is_in(chunk.iter().copied()))
                    .and_where(Expr::col(Tasks::Status).eq("open"));
                if tx.execute(&q).await? != chunk.len() as u64 {
                    return Err(Error::Conflict("task-closed"));
                }
            }
        }
        jobs::cancel_for(tx, tdb, &task_ids).await?;
        for chunk in ids.chunks(IDS) {
            let mut q = tdb.select(CaseEvents::Table);
            q.column(CaseEvents::CaseId)
                .expr(Expr::col(CaseEvents::Seq).max())
                .and_where(Expr::col(CaseEvents::CaseId).is_in(chunk.iter().copied()))
                .group_by_col(CaseEvents::CaseId);
            for (case, seq) in tx.fetch_all::<(Uuid, i32)>(&q).await? {
                b.seqs.insert(case, seq);
            }
        }
        for (t, outcome, next, values, def) in moves {
            let mut case = b.before.get(&t.case_id).cloned().ok_or(Error::NotFound)?;
            let id = case.id;
            for (k, v) in &values {
                case.data.0.insert(k.clone(), v.clone());
            }
            let mut run: Run<'_> = self.run(tdb, &def, now);
            run.batch = Some(std::mem::take(&mut b));
            run.event(
                tx,
                &case,
                "task-completed",
                &t.step,
                actor,
                Some(&outcome),
                None,
                false,
                json!({"task": t.id, "form": values}),
            )
            .await?;
            run.advance(tx, &mut case, next).await?;
            b = run
                .batch
                .take()
                .ok_or_else(|| Error::internal("the batch went missing"))?;
            // Its changes are gathered: the row as read is not needed again.
            b.before.remove(&id);
        }
        b.flush(tx, tdb, &self.sinks).await
    }
}

//! Runs cases through their definitions. Every change to a case happens in
//! one transaction that locks the case row, records a domain event, tells
//! the event sinks (in the same transaction, so their outbox rows commit
//! with the change), schedules timers, and commits.

use crate::definition::{Definition, EndResult, Known, Op, Overrides, Step};
use crate::jobs::{self, Job, JobHandler};
use crate::protocol::{self, Direction, NewEntry};
use crate::query::{CaseRow, Cases, TaskCandidates, Tasks};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use dimos_db::sea_query::{Alias, Expr, ExprTrait, Func, Iden, LockType, OnConflict, SimpleExpr};
use dimos_db::{DbError, Reader, TenantDb, TenantTx};
use dimos_kernel::{Error, FieldError, SharedClock, TenantId};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

dimos_kernel::typed_id!(
    /// A case: one application running through one process.
    CaseId
);
dimos_kernel::typed_id!(
    /// A task of a case, waiting for or done by a person.
    TaskId
);

pub const TIMER_JOB: &str = "workflow.timer";

/// Guards against a definition bug slipping through validation.
const MAX_AUTOMATED_STEPS: usize = 64;

mod batch;

#[derive(Iden, Clone, Copy)]
pub(crate) enum WorkflowSnapshots {
    Table,
    Id,
    Process,
    Version,
    Hash,
    Definition,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum WorkflowOverrides {
    Table,
    Process,
    Overrides,
    UpdatedBy,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum CaseEvents {
    Table,
    CaseId,
    Seq,
    Kind,
    Step,
    At,
    Actor,
    ActorName,
    OnBehalfOf,
    Outcome,
    Comment,
    Public,
    Payload,
}

/// A history row's columns, as inserted (one by one or many at once).
pub(crate) const EVENT_COLUMNS: [CaseEvents; 12] = [
    CaseEvents::CaseId,
    CaseEvents::Seq,
    CaseEvents::Kind,
    CaseEvents::Step,
    CaseEvents::At,
    CaseEvents::Actor,
    CaseEvents::ActorName,
    CaseEvents::OnBehalfOf,
    CaseEvents::Outcome,
    CaseEvents::Comment,
    CaseEvents::Public,
    CaseEvents::Payload,
];

/// Module code a definition may call by name (`kind = "hook"`): reads the
/// case data and returns fields to set.
pub type HookFn = fn(&HookInput<'_>) -> Result<Map<String, Value>, String>;

pub struct HookInput<'a> {
    pub case_id: CaseId,
    pub data: &'a Map<String, Value>,
    pub protocol: Option<String>,
    pub now: DateTime<Utc>,
}

/// A transition, as consumers see it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub case_id: CaseId,
    /// Position in the case's history: with the case id, unique.
    pub seq: i32,
    pub process: String,
    pub applicant: Uuid,
    pub applicant_name: String,
    pub subject: String,
    pub protocol: Option<String>,
    pub kind: String,
    pub step: String,
    pub at: DateTime<Utc>,
    pub actor: Option<Uuid>,
    pub outcome: Option<String>,
    pub public: bool,
    pub payload: Value,
}

/// Notifications and statistics plug in here. Called inside the
/// transaction of the change, and given only that: a sink reads and writes
/// through `tx` (a second connection taken while the change holds its
/// locks starves the pool under load, so it is not on offer).
#[async_trait]
pub trait EventSink: Send + Sync {
    async fn on_event(&self, tx: &mut TenantTx<'_>, event: &Event) -> Result<(), Error>;

    /// The events of one action that moved many cases (a publication), in
    /// order, after all of that action's writes: one by one unless the
    /// sink reads once for them all.
    async fn on_events(&self, tx: &mut TenantTx<'_>, events: &[Event]) -> Result<(), Error> {
        for e in events {
            self.on_event(tx, e).await?;
        }
        Ok(())
    }
}

/// A member of staff as the engine needs to know them.
#[derive(Debug, Clone)]
pub struct Staff {
    pub account: Uuid,
    pub name: String,
    pub roles: BTreeSet<String>,
    pub departments: BTreeSet<String>,
}

impl Staff {
    /// This person, as the history names them.
    pub fn actor(&self) -> Actor {
        Actor {
            account: Some(self.account),
            name: self.name.clone(),
            on_behalf_of: None,
        }
    }

    pub fn is_candidate(&self, roles: &[String], departments: &[String]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
            || departments.iter().any(|d| self.departments.contains(d))
    }
}

/// Who did something, for the history.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account: Option<Uuid>,
    pub name: String,
    /// A member of staff acting for the citizen at the desk.
    pub on_behalf_of: Option<Uuid>,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            account: None,
            name: String::new(),
            on_behalf_of: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewCase {
    pub process: String,
    pub applicant: Uuid,
    pub applicant_name: String,
    /// Staff who filed it at the desk for the applicant.
    pub filed_by: Option<Uuid>,
    pub subject: String,
    pub data: Map<String, Value>,
    pub attachments: u32,
}

/// A case being filed in the caller's transaction: [`Engine::prepare`],
/// then [`Engine::open`], the caller's own writes, [`Engine::register`].
#[derive(Debug)]
pub struct Filing {
    /// Known before anything is written: objects can be stored for it first.
    pub case_id: CaseId,
    def: Definition,
    module: String,
    new: NewCase,
    now: DateTime<Utc>,
    case: Option<CaseRow>,
}

impl Filing {
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn applicant(&self) -> Uuid {
        self.new.applicant
    }
}

#[derive(Iden, Clone, Copy)]
enum CaseSubmissions {
    Table,
    Submission,
    CaseId,
}

#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub case_id: CaseId,
    pub protocol: Option<String>,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Registered {
    module: String,
    definition: Arc<Definition>,
}

pub struct Engine {
    clock: SharedClock,
    processes: BTreeMap<String, Registered>,
    known: Known,
    hooks: BTreeMap<String, HookFn>,
    sinks: Vec<Arc<dyn EventSink>>,
    snapshots: Mutex<HashMap<Uuid, Arc<Definition>>>,
    /// The stored snapshot of a content (tenant, hash), once known to be
    /// committed: a case then refers to it without writing it again.
    snapshot_ids: Mutex<HashMap<(TenantId, String), Uuid>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("processes", &self.processes.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn not_found(e: DbError) -> Error {
    Error::from(e)
}

impl Engine {
    /// Validates every definition; all problems are returned, each prefixed
    /// with the process it belongs to.
    pub fn new(
        clock: SharedClock,
        definitions: Vec<(String, Definition)>,
        roles: BTreeSet<String>,
        hooks: BTreeMap<String, HookFn>,
    ) -> Result<Engine, Vec<FieldError>> {
        let known = Known {
            roles,
            hooks: hooks.keys().cloned().collect(),
            departments: None,
        };
        let mut processes = BTreeMap::new();
        let mut errs = vec![];
        for (module, d) in definitions {
            if let Err(es) = d.validate(&known) {
                errs.extend(es.into_iter().map(|mut e| {
                    e.field = format!("{}: {}", d.process, e.field);
                    e
                }));
                continue;
            }
            if !d.process.starts_with(&format!("{module}.")) {
                errs.push(
                    FieldError::new(format!("{}: process", d.process), "invalid")
                        .with_detail(format!("must start with \"{module}.\"")),
                );
            }
            if processes.contains_key(&d.process) {
                errs.push(FieldError::new(d.process.clone(), "duplicate-or-invalid"));
            }
            processes.insert(
                d.process.clone(),
                Registered {
                    module,
                    definition: Arc::new(d),
                },
            );
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Engine {
            clock,
            processes,
            known,
            hooks,
            sinks: vec![],
            snapshots: Mutex::new(HashMap::new()),
            snapshot_ids: Mutex::new(HashMap::new()),
        })
    }

    pub fn add_sink(&mut self, sink: Arc<dyn EventSink>) {
        self.sinks.push(sink);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The processes shipped by the enabled modules, by id.
    pub fn processes(&self) -> impl Iterator<Item = (&str, &str, &Definition)> {
        self.processes
            .iter()
            .map(|(id, r)| (id.as_str(), r.module.as_str(), r.definition.as_ref()))
    }

    pub fn shipped(&self, process: &str) -> Result<&Definition, Error> {
        self.processes
            .get(process)
            .map(|r| r.definition.as_ref())
            .ok_or(Error::NotFound)
    }

    /// The job handler that fires this engine's timers.
    pub fn timer_handler(self: &Arc<Self>) -> Arc<dyn JobHandler> {
        Arc::new(TimerHandler(self.clone()))
    }

    pub async fn overrides(&self, tdb: &TenantDb, process: &str) -> Result<Overrides, Error> {
        let mut q = tdb.select(WorkflowOverrides::Table);
        q.column(WorkflowOverrides::Overrides)
            .and_where(Expr::col(WorkflowOverrides::Process).eq(process));
        Ok(tdb
            .fetch_optional::<(Json<Overrides>,)>(&q)
            .await?
            .map(|r| r.0.0)
            .unwrap_or_default())
    }

    /// The definition new cases of this municipality start with.
    pub async fn effective(&self, tdb: &TenantDb, process: &str) -> Result<Definition, Error> {
        let shipped = self.shipped(process)?;
        let o = self.overrides(tdb, process).await?;
        if o.is_empty() {
            return Ok(shipped.clone());
        }
        // Stored overrides were valid when saved; if a module upgrade made
        // them invalid, new cases fall back to the shipped definition and
        // the admin page shows why.
        match shipped.with_overrides(&o) {
            Ok(d) if d.validate(&self.known_roles_and_hooks()).is_ok() => Ok(d),
            _ => {
                tracing::warn!(process, "stored overrides no longer fit the definition");
                Ok(shipped.clone())
            }
        }
    }

    fn known_roles_and_hooks(&self) -> Known {
        self.known.clone()
    }

    /// Checks and stores a municipality's changes to a service, in the
    /// caller's transaction (with its audit entry). An empty set removes
    /// the overrides.
    pub async fn save_overrides(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        process: &str,
        o: &Overrides,
        departments: BTreeSet<String>,
        by: &str,
    ) -> Result<Definition, Error> {
        let shipped = self.shipped(process)?;
        let d = shipped.with_overrides(o).map_err(Error::Validation)?;
        let mut known = self.known.clone();
        known.departments = Some(departments);
        d.validate(&known).map_err(Error::Validation)?;
        if o.is_empty() {
            let mut q = tdb.delete(WorkflowOverrides::Table);
            q.and_where(Expr::col(WorkflowOverrides::Process).eq(process));
            tx.execute(&q).await?;
            return Ok(d);
        }
        let body = serde_json::to_value(o).map_err(Error::internal)?;
        let mut q = tdb.insert(
            WorkflowOverrides::Table,
            [
                WorkflowOverrides::Process,
                WorkflowOverrides::Overrides,
                WorkflowOverrides::UpdatedBy,
                WorkflowOverrides::UpdatedAt,
            ],
        );
        q.values([
            process.into(),
            body.into(),
            by.into(),
            self.clock.now().into(),
        ]);
        q.statement().on_conflict(
            OnConflict::columns([Alias::new(dimos_db::TENANT_ID), Alias::new("process")])
                .update_columns([
                    WorkflowOverrides::Overrides,
                    WorkflowOverrides::UpdatedBy,
                    WorkflowOverrides::UpdatedAt,
                ])
                .to_owned(),
        );
        tx.insert_rows(&q).await?;
        Ok(d)
    }

    /// The definition a case runs on (its snapshot, immutable, cached).
    pub async fn snapshot(&self, tdb: &TenantDb, id: Uuid) -> Result<Arc<Definition>, Error> {
        if let Some(d) = self.cached(id) {
            return Ok(d);
        }
        let found = tdb.fetch_optional(&snapshot_query(tdb, id)).await?;
        self.remember(id, found)
    }

    fn cached(&self, id: Uuid) -> Option<Arc<Definition>> {
        self.snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// Snapshots never change: once read, kept.
    fn remember(
        &self,
        id: Uuid,
        found: Option<(Json<Definition>,)>,
    ) -> Result<Arc<Definition>, Error> {
        let (Json(d),) = found.ok_or(Error::NotFound)?;
        let d = Arc::new(d);
        self.snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, d.clone());
        Ok(d)
    }

    /// As `snapshot`, inside a transaction (a snapshot stored by it is not
    /// visible to other connections yet).
    async fn snapshot_in(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        id: Uuid,
    ) -> Result<Arc<Definition>, Error> {
        if let Some(d) = self.cached(id) {
            return Ok(d);
        }
        let found = tx.fetch_optional(&snapshot_query(tdb, id)).await?;
        self.remember(id, found)
    }

    /// Stores the definition once per distinct content and returns its id.
    async fn store_snapshot(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        d: &Definition,
    ) -> Result<Uuid, Error> {
        let body = serde_json::to_value(d).map_err(Error::internal)?;
        let hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
        let known = (tdb.tenant_id(), hash.clone());
        if let Some(id) = self.snapshot_ids_lock().get(&known) {
            return Ok(*id);
        }
        let fresh = Uuid::now_v7();
        let mut ins = tdb.insert(
            WorkflowSnapshots::Table,
            [
                WorkflowSnapshots::Id,
                WorkflowSnapshots::Process,
                WorkflowSnapshots::Version,
                WorkflowSnapshots::Hash,
                WorkflowSnapshots::Definition,
                WorkflowSnapshots::CreatedAt,
            ],
        );
        ins.values([
            fresh.into(),
            d.process.clone().into(),
            i64::from(d.version).into(),
            hash.clone().into(),
            body.into(),
            self.clock.now().into(),
        ]);
        ins.statement().on_conflict(
            OnConflict::columns([Alias::new(dimos_db::TENANT_ID), Alias::new("hash")])
                .do_nothing()
                .to_owned(),
        );
        tx.insert_rows(&ins).await?;
        let mut q = tdb.select(WorkflowSnapshots::Table);
        q.column(WorkflowSnapshots::Id)
            .and_where(Expr::col(WorkflowSnapshots::Hash).eq(hash));
        let (id,): (Uuid,) = tx.fetch_optional(&q).await?.ok_or(Error::NotFound)?;
        // Another id than ours: it was stored (and committed) before this
        // transaction, so it can be remembered. Ours may still roll back.
        if id != fresh {
            self.snapshot_ids_lock().insert(known, id);
        }
        Ok(id)
    }

    fn snapshot_ids_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), Uuid>> {
        self.snapshot_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Files a new case and runs it to its first person or wait: the case,
    /// its protocol number (when the process registers one first) and its
    /// first task commit together.
    pub async fn start(&self, tdb: &TenantDb, new: NewCase) -> Result<Started, Error> {
        self.start_keyed(tdb, new, None).await
    }

    /// Starts a case once per `submission` (a key the form carries): a
    /// repeated submission (a retry, a double click, a reload) gets the
    /// case the first one started, never a second. The database's unique
    /// key decides, so it holds across replicas.
    pub async fn start_once(
        &self,
        tdb: &TenantDb,
        new: NewCase,
        submission: Uuid,
    ) -> Result<Started, Error> {
        self.start_keyed(tdb, new, Some(submission)).await
    }

    async fn start_keyed(
        &self,
        tdb: &TenantDb,
        new: NewCase,
        submission: Option<Uuid>,
    ) -> Result<Started, Error> {
        let mut filing = self.prepare(tdb, new).await?;
        let mut tx = tdb.begin().await?;
        if let Some(earlier) = self.open(&mut tx, tdb, &mut filing, submission).await? {
            return Ok(earlier);
        }
        let started = self.register(&mut tx, tdb, filing).await?;
        tx.commit().await?;
        Ok(started)
    }

    /// The first of three steps that file a case inside the caller's
    /// transaction, so that what belongs with it (its documents, a module's
    /// own row) commits with it or not at all: reads the process as it
    /// applies now and chooses the case's id. Nothing is written; call it
    /// before the transaction begins (it reads on a connection of its own).
    pub async fn prepare(&self, tdb: &TenantDb, new: NewCase) -> Result<Filing, Error> {
        let def = self.effective(tdb, &new.process).await?;
        let module = self
            .processes
            .get(&new.process)
            .map(|r| r.module.clone())
            .ok_or(Error::NotFound)?;
        Ok(Filing {
            case_id: CaseId::new(),
            def,
            module,
            new,
            now: self.clock.now(),
            case: None,
        })
    }

    /// Writes the case and its "submitted" event in `tx`. With a
    /// `submission` key already used, writes nothing and returns the case
    /// the earlier submission started (a retry gets the same case; the
    /// database's unique key decides, across replicas).
    pub async fn open(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        filing: &mut Filing,
        submission: Option<Uuid>,
    ) -> Result<Option<Started>, Error> {
        let id = filing.case_id;
        let (def, new, now) = (&filing.def, &filing.new, filing.now);
        if let Some(key) = submission {
            let mut q = tx.insert(
                CaseSubmissions::Table,
                [CaseSubmissions::Submission, CaseSubmissions::CaseId],
            );
            q.values([key.into(), id.0.into()]);
            q.statement()
                .on_conflict(OnConflict::new().do_nothing().to_owned());
            if tx.insert_rows(&q).await? == 0 {
                return self.started_by(tx, key, new).await.map(Some);
            }
        }
        let snapshot = self.store_snapshot(tx, tdb, def).await?;
        let due = now + Duration::days(i64::from(def.lead_time_days));
        let mut ins = tdb.insert(
            Cases::Table,
            [
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
                Cases::SubmittedAt,
                Cases::DueAt,
                Cases::PausedSeconds,
                Cases::UpdatedAt,
            ],
        );
        ins.values([
            id.0.into(),
            new.process.clone().into(),
            snapshot.into(),
            filing.module.clone().into(),
            new.applicant.into(),
            new.applicant_name.clone().into(),
            new.filed_by.into(),
            new.subject.clone().into(),
            Value::Object(new.data.clone()).into(),
            "active".into(),
            def.start().into(),
            now.into(),
            due.into(),
            0i64.into(),
            now.into(),
        ]);
        tx.insert_rows(&ins).await?;
        let case = load_case(tx, tdb, id).await?;
        let actor = Actor {
            account: Some(new.filed_by.unwrap_or(new.applicant)),
            name: new.applicant_name.clone(),
            on_behalf_of: new.filed_by.map(|_| new.applicant),
        };
        let mut run = Run {
            engine: self,
            tdb,
            def,
            now,
            attachments: new.attachments,
            reason: None,
            batch: None,
        };
        run.event(
            tx,
            &case,
            "submitted",
            def.start(),
            &actor,
            None,
            None,
            true,
            json!({}),
        )
        .await?;
        filing.case = Some(case);
        Ok(None)
    }

    /// Walks the case's first steps in `tx`: the protocol number is taken
    /// here, after what belongs with the case was written, so the
    /// counter's row stays locked only until the caller commits.
    pub async fn register(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        filing: Filing,
    ) -> Result<Started, Error> {
        let Filing {
            def,
            now,
            new,
            case,
            ..
        } = filing;
        let mut case = case.ok_or_else(|| Error::internal("register before open"))?;
        let mut run = Run {
            engine: self,
            tdb,
            def: &def,
            now,
            attachments: new.attachments,
            reason: None,
            batch: None,
        };
        run.advance(tx, &mut case, def.start().to_owned()).await?;
        Ok(Started {
            case_id: CaseId(case.id),
            protocol: case.protocol_label(),
            registered_at: now,
        })
    }

    /// The case an earlier submission with `key` started, when it was the
    /// same person's in the same process; None when the key is unused.
    pub async fn submitted_with(
        &self,
        mut r: impl Reader,
        key: Uuid,
        applicant: Uuid,
        process: &str,
    ) -> Result<Option<Started>, Error> {
        let mut q = r.select(CaseSubmissions::Table);
        q.column(CaseSubmissions::CaseId)
            .and_where(Expr::col(CaseSubmissions::Submission).eq(key));
        let Some((case_id,)) = r.fetch_optional::<(Uuid,)>(&q).await? else {
            return Ok(None);
        };
        let case = crate::query::case(r, CaseId(case_id))
            .await?
            .ok_or(Error::NotFound)?;
        if case.applicant != applicant || case.process != process {
            return Err(Error::Conflict("submission-used"));
        }
        Ok(Some(Started {
            case_id: CaseId(case.id),
            protocol: case.protocol_label(),
            registered_at: case.submitted_at,
        }))
    }

    async fn started_by(
        &self,
        tx: &mut TenantTx<'_>,
        key: Uuid,
        new: &NewCase,
    ) -> Result<Started, Error> {
        self.submitted_with(tx, key, new.applicant, &new.process)
            .await?
            .ok_or(Error::Conflict("submission-in-progress"))
    }

    /// Takes an open task from a queue the person belongs to.
    pub async fn claim(&self, tdb: &TenantDb, task: TaskId, who: &Staff) -> Result<(), Error> {
        let t = crate::query::task(tdb, task)
            .await?
            .ok_or(Error::NotFound)?;
        if t.status != "open" {
            return Err(Error::Conflict("task-closed"));
        }
        let (roles, depts) = crate::query::candidates(tdb, task).await?;
        if !who.is_candidate(&roles, &depts) {
            return Err(Error::Forbidden);
        }
        let now = self.clock.now();
        let mut tx = tdb.begin().await?;
        // The case's row first, as every change to a case takes it: a task
        // locked before its case deadlocks with a completion (or a
        // publication) that holds the case and wants the task.
        let case = load_case(&mut tx, tdb, CaseId(t.case_id)).await?;
        let mut q = tdb.update(Tasks::Table);
        q.value(Tasks::Assignee, who.account)
            .value(Tasks::AssigneeName, who.name.clone())
            .value(Tasks::ClaimedAt, now)
            .and_where(Expr::col(Tasks::Id).eq(task.0))
            .and_where(Expr::col(Tasks::Status).eq("open"))
            .and_where(Expr::col(Tasks::Assignee).is_null());
        if tx.execute(&q).await? != 1 {
            return Err(Error::Conflict("task-taken"));
        }
        let def = self.snapshot_in(&mut tx, tdb, case.snapshot_id).await?;
        let mut run = self.run(tdb, &def, now);
        let actor = who.actor();
        run.event(
            &mut tx,
            &case,
            "task-claimed",
            &t.step,
            &actor,
            None,
            None,
            false,
            json!({"task": t.id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a task back to its queue (only its holder may).
    pub async fn release(&self, tdb: &TenantDb, task: TaskId, who: &Staff) -> Result<(), Error> {
        self.set_assignee(tdb, task, None, &who.actor(), Some(who.account))
            .await
    }

    /// A department head or admin hands a task to someone (or back to the
    /// queue with `None`). Permission is the caller's to check.
    pub async fn assign(
        &self,
        tdb: &TenantDb,
        task: TaskId,
        to: Option<(Uuid, String)>,
        by: &Staff,
    ) -> Result<(), Error> {
        self.set_assignee(tdb, task, to, &by.actor(), None).await
    }

    /// The same, inside the caller's transaction (which may add the
    /// action's audit entry before committing).
    pub async fn assign_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        task: TaskId,
        to: Option<(Uuid, String)>,
        by: &Staff,
    ) -> Result<(), Error> {
        self.set_assignee_tx(tx, tdb, task, to, &by.actor(), None)
            .await
    }

    async fn set_assignee(
        &self,
        tdb: &TenantDb,
        task: TaskId,
        to: Option<(Uuid, String)>,
        actor: &Actor,
        must_hold: Option<Uuid>,
    ) -> Result<(), Error> {
        let mut tx = tdb.begin().await?;
        self.set_assignee_tx(&mut tx, tdb, task, to, actor, must_hold)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_assignee_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        task: TaskId,
        to: Option<(Uuid, String)>,
        actor: &Actor,
        must_hold: Option<Uuid>,
    ) -> Result<(), Error> {
        let t = crate::query::task_in(tx, tdb, task)
            .await?
            .ok_or(Error::NotFound)?;
        if t.status != "open" {
            return Err(Error::Conflict("task-closed"));
        }
        if let Some(holder) = must_hold
            && t.assignee != Some(holder)
        {
            return Err(Error::Forbidden);
        }
        let now = self.clock.now();
        // The case's row before the task's (see `claim`).
        let case = load_case(tx, tdb, CaseId(t.case_id)).await?;
        let mut q = tdb.update(Tasks::Table);
        q.value(Tasks::Assignee, to.as_ref().map(|t| t.0))
            .value(Tasks::AssigneeName, to.as_ref().map(|t| t.1.clone()))
            .value(Tasks::ClaimedAt, to.as_ref().map(|_| now))
            .and_where(Expr::col(Tasks::Id).eq(task.0))
            .and_where(Expr::col(Tasks::Status).eq("open"));
        if tx.execute(&q).await? != 1 {
            return Err(Error::Conflict("task-closed"));
        }
        let def = self.snapshot_in(tx, tdb, case.snapshot_id).await?;
        self.run(tdb, &def, now)
            .event(
                tx,
                &case,
                if to.is_some() { "task-assigned" } else { "task-released" },
                &t.step,
                actor,
                None,
                None,
                false,
                json!({"task": t.id, "to": to.as_ref().map(|t| t.0), "to_name": to.as_ref().map(|t| &t.1)}),
            )
            .await?;
        Ok(())
    }

    /// Completes the person's task with an outcome; the case moves on by
    /// itself until the next person, wait or end.
    pub async fn complete(
        &self,
        tdb: &TenantDb,
        task: TaskId,
        who: &Staff,
        outcome: &str,
        posted: &BTreeMap<String, String>,
        comment: &str,
    ) -> Result<(), Error> {
        let mut tx = tdb.begin().await?;
        self.complete_tx(&mut tx, tdb, task, who, outcome, posted, comment)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The same, inside the caller's transaction (which may add the
    /// decision's audit entry before committing).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        task: TaskId,
        who: &Staff,
        outcome: &str,
        posted: &BTreeMap<String, String>,
        comment: &str,
    ) -> Result<(), Error> {
        let t = crate::query::task_in(tx, tdb, task)
            .await?
            .ok_or(Error::NotFound)?;
        if t.status != "open" {
            return Err(Error::Conflict("task-closed"));
        }
        if t.assignee != Some(who.account) {
            return Err(Error::Conflict("task-not-yours"));
        }
        self.finish(
            tx,
            tdb,
            t,
            &who.actor(),
            Some(who.account),
            outcome,
            posted,
            comment,
            false,
        )
        .await
    }

    /// Completes a task whose work a module does (a step with an `action`),
    /// from the module's page or background job, whoever holds it; inside
    /// the caller's transaction.
    pub async fn complete_action_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        task: TaskId,
        actor: &Actor,
        outcome: &str,
        comment: &str,
    ) -> Result<(), Error> {
        let t = crate::query::task_in(tx, tdb, task)
            .await?
            .ok_or(Error::NotFound)?;
        if t.status != "open" {
            return Err(Error::Conflict("task-closed"));
        }
        self.complete_open_action_tx(tx, tdb, t, actor, outcome, comment)
            .await
    }

    /// As [`Engine::complete_action_tx`], for a task the caller read in
    /// this transaction (`query::open_tasks_in`: one read for many cases).
    /// The completion is still refused if the task is no longer open.
    pub async fn complete_open_action_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        t: crate::query::TaskRow,
        actor: &Actor,
        outcome: &str,
        comment: &str,
    ) -> Result<(), Error> {
        self.finish(
            tx,
            tdb,
            t,
            actor,
            None,
            outcome,
            &BTreeMap::new(),
            comment,
            true,
        )
        .await
    }

    /// The same, in a transaction of its own.
    pub async fn complete_action(
        &self,
        tdb: &TenantDb,
        task: TaskId,
        actor: &Actor,
        outcome: &str,
        comment: &str,
    ) -> Result<(), Error> {
        let mut tx = tdb.begin().await?;
        self.complete_action_tx(&mut tx, tdb, task, actor, outcome, comment)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes an open task with an outcome and moves its case on. `assignee`
    /// (a person completing their own task) guards the update; a module
    /// (`module_only`) may only complete the steps it owns.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        t: crate::query::TaskRow,
        actor: &Actor,
        assignee: Option<Uuid>,
        outcome: &str,
        posted: &BTreeMap<String, String>,
        comment: &str,
        module_only: bool,
    ) -> Result<(), Error> {
        let task = TaskId(t.id);
        let now = self.clock.now();
        let mut case = load_case(tx, tdb, CaseId(t.case_id)).await?;
        let def = self.snapshot_in(tx, tdb, case.snapshot_id).await?;
        let (o, values) = checked_outcome(&def, &t.step, module_only, outcome, posted, comment)?;
        let comment = comment.trim();
        let mut q = tdb.update(Tasks::Table);
        q.value(Tasks::Status, "done")
            .value(Tasks::Outcome, outcome)
            .value(Tasks::CompletedAt, now)
            .and_where(Expr::col(Tasks::Id).eq(task.0))
            .and_where(Expr::col(Tasks::Status).eq("open"));
        if let Some(a) = assignee {
            q.and_where(Expr::col(Tasks::Assignee).eq(a));
        }
        if tx.execute(&q).await? != 1 {
            return Err(Error::Conflict("task-closed"));
        }
        jobs::cancel_for(tx, tdb, &[t.id]).await?;
        for (k, v) in &values {
            case.data.0.insert(k.clone(), v.clone());
        }
        let mut run = self.run(tdb, &def, now);
        let public = o.comment_public && !comment.is_empty();
        run.event(
            tx,
            &case,
            "task-completed",
            &t.step,
            actor,
            Some(outcome),
            (!comment.is_empty()).then_some(comment),
            public,
            json!({"task": t.id, "form": values}),
        )
        .await?;
        if public {
            run.reason = Some(comment.to_owned());
        }
        run.advance(tx, &mut case, o.next.clone()).await?;
        Ok(())
    }

    /// The citizen answers a request (documents, information) before the
    /// deadline; the case resumes and its service-level clock restarts.
    pub async fn respond(
        &self,
        tdb: &TenantDb,
        case_id: CaseId,
        actor: &Actor,
        applicant: Uuid,
        message: &str,
    ) -> Result<(), Error> {
        let mut tx = tdb.begin().await?;
        self.respond_tx(&mut tx, tdb, case_id, actor, applicant, message)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The same, inside the caller's transaction (which may add the
    /// action's audit entry before committing).
    pub async fn respond_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        case_id: CaseId,
        actor: &Actor,
        applicant: Uuid,
        message: &str,
    ) -> Result<(), Error> {
        let message = message.trim();
        if message.chars().count() > 5000 {
            return Err(Error::Validation(vec![
                FieldError::new("message", "too-long").with_detail("5000"),
            ]));
        }
        let now = self.clock.now();
        let mut case = load_case(tx, tdb, case_id).await?;
        if case.applicant != applicant {
            return Err(Error::NotFound);
        }
        if case.status != "waiting" {
            return Err(Error::Conflict("case-not-waiting"));
        }
        let def = self.snapshot_in(tx, tdb, case.snapshot_id).await?;
        let Some(Step::Wait(w)) = def.step(&case.step) else {
            return Err(Error::Conflict("case-not-waiting"));
        };
        let next = w.on_response.clone();
        let step = case.step.clone();
        let mut run = self.run(tdb, &def, now);
        run.resume(&mut case);
        run.event(
            tx,
            &case,
            "citizen-responded",
            &step,
            actor,
            None,
            (!message.is_empty()).then_some(message),
            true,
            json!({}),
        )
        .await?;
        run.advance(tx, &mut case, next).await?;
        Ok(())
    }

    /// The applicant withdraws a case that is not yet decided.
    pub async fn withdraw(
        &self,
        tdb: &TenantDb,
        case_id: CaseId,
        actor: &Actor,
        applicant: Uuid,
        reason: &str,
    ) -> Result<(), Error> {
        let mut tx = tdb.begin().await?;
        self.withdraw_tx(&mut tx, tdb, case_id, actor, applicant, reason)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The same, inside the caller's transaction (which may add the
    /// action's audit entry before committing).
    pub async fn withdraw_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        case_id: CaseId,
        actor: &Actor,
        applicant: Uuid,
        reason: &str,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let mut case = load_case(tx, tdb, case_id).await?;
        if case.applicant != applicant {
            return Err(Error::NotFound);
        }
        if case.status == "closed" {
            return Err(Error::Conflict("case-closed"));
        }
        let def = self.snapshot_in(tx, tdb, case.snapshot_id).await?;
        let mut run = self.run(tdb, &def, now);
        run.resume(&mut case);
        let mut open = crate::query::open_task_ids(tx, tdb, case_id.0).await?;
        let mut q = tdb.update(Tasks::Table);
        q.value(Tasks::Status, "cancelled")
            .and_where(Expr::col(Tasks::CaseId).eq(case_id.0))
            .and_where(Expr::col(Tasks::Status).eq("open"));
        tx.execute(&q).await?;
        open.push(case_id.0);
        jobs::cancel_for(tx, tdb, &open).await?;
        let reason = reason.trim();
        case.status = "closed".into();
        case.result = Some("withdrawn".into());
        case.reasoning = (!reason.is_empty()).then(|| reason.to_owned());
        case.closed_at = Some(now);
        let step = case.step.clone();
        run.event(
            tx,
            &case,
            "withdrawn",
            &step,
            actor,
            None,
            (!reason.is_empty()).then_some(reason),
            true,
            json!({}),
        )
        .await?;
        save_case(tx, tdb, &case, now).await?;
        Ok(())
    }

    /// A note on the case file for staff (never shown to the citizen).
    pub async fn comment(
        &self,
        tdb: &TenantDb,
        case_id: CaseId,
        who: &Staff,
        text: &str,
    ) -> Result<(), Error> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Validation(vec![FieldError::new(
                "comment", "required",
            )]));
        }
        if text.chars().count() > 5000 {
            return Err(Error::Validation(vec![
                FieldError::new("comment", "too-long").with_detail("5000"),
            ]));
        }
        let now = self.clock.now();
        let mut tx = tdb.begin().await?;
        let case = load_case(&mut tx, tdb, case_id).await?;
        let def = self.snapshot_in(&mut tx, tdb, case.snapshot_id).await?;
        let step = case.step.clone();
        self.run(tdb, &def, now)
            .event(
                &mut tx,
                &case,
                "comment",
                &step,
                &who.actor(),
                None,
                Some(text),
                false,
                json!({}),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records something that happened to a case outside its steps (a
    /// document added), as an event in its history.
    pub async fn record_event(
        &self,
        tdb: &TenantDb,
        case_id: CaseId,
        kind: &str,
        actor: &Actor,
        public: bool,
        payload: Value,
    ) -> Result<(), Error> {
        let mut tx = tdb.begin().await?;
        self.record_event_tx(&mut tx, tdb, case_id, kind, actor, public, payload)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The same, inside the caller's transaction (a module's job handler).
    /// Sinks see it: `notify.<event>` sends that message to the applicant.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_event_tx(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        case_id: CaseId,
        kind: &str,
        actor: &Actor,
        public: bool,
        payload: Value,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let case = load_case(tx, tdb, case_id).await?;
        let def = self.snapshot_in(tx, tdb, case.snapshot_id).await?;
        let step = case.step.clone();
        self.run(tdb, &def, now)
            .event(tx, &case, kind, &step, actor, None, None, public, payload)
            .await?;
        Ok(())
    }

    /// Locks a case's row until the transaction ends (PostgreSQL; SQLite
    /// holds the database): code that changes a case's own rows and then
    /// its history takes the case first, in the order every change of the
    /// case takes its locks, so two changes never wait on each other.
    pub async fn lock_case(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        case_id: CaseId,
    ) -> Result<(), Error> {
        load_case(tx, tdb, case_id).await.map(drop)
    }

    /// An event of a case being filed (after [`Engine::open`], before
    /// [`Engine::register`]): the case and its definition are the filing's
    /// own, so nothing is read again.
    pub async fn record_filing_event(
        &self,
        tx: &mut TenantTx<'_>,
        tdb: &TenantDb,
        filing: &Filing,
        kind: &str,
        actor: &Actor,
        payload: Value,
    ) -> Result<(), Error> {
        let case = filing
            .case
            .as_ref()
            .ok_or_else(|| Error::internal("an event before the case is open"))?;
        self.run(tdb, &filing.def, filing.now)
            .event(tx, case, kind, &case.step, actor, None, None, true, payload)
            .await
    }

    fn run<'a>(&'a self, tdb: &'a TenantDb, def: &'a Definition, now: DateTime<Utc>) -> Run<'a> {
        Run {
            engine: self,
            tdb,
            def,
            now,
            attachments: 0,
            reason: None,
            batch: None,
        }
    }

    async fn fire(&self, tx: &mut TenantTx<'_>, tdb: &TenantDb, job: &Job) -> Result<(), Error> {
        let p = &job.payload.0;
        let case_id = p
            .get("case")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            .ok_or_else(|| Error::internal("timer without case"))?;
        let timer = p.get("timer").and_then(Value::as_str).unwrap_or_default();
        let step = p.get("step").and_then(Value::as_str).unwrap_or_default();
        let now = self.clock.now();
        let mut case = load_case(tx, tdb, CaseId(case_id)).await?;
        let def = self.snapshot_in(tx, tdb, case.snapshot_id).await?;
        let mut run = self.run(tdb, &def, now);
        match timer {
            "deadline" => {
                if case.status != "waiting" || case.step != step {
                    return Ok(());
                }
                let Some(Step::Wait(w)) = def.step(step) else {
                    return Ok(());
                };
                let next = w.on_timeout.clone();
                run.resume(&mut case);
                run.event(
                    tx,
                    &case,
                    "deadline-passed",
                    step,
                    &Actor::system(),
                    None,
                    None,
                    true,
                    json!({}),
                )
                .await?;
                run.advance(tx, &mut case, next).await?;
            }
            "remind" | "due" => {
                let task_id = p
                    .get("task")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<Uuid>().ok())
                    .ok_or_else(|| Error::internal("task timer without task"))?;
                let Some(t) = crate::query::task_in(tx, tdb, TaskId(task_id)).await? else {
                    return Ok(());
                };
                if t.status != "open" {
                    return Ok(());
                }
                let escalate = timer == "due"
                    && matches!(def.step(&t.step), Some(Step::Task(s)) if s.escalate);
                if escalate {
                    let mut q = tdb.update(Tasks::Table);
                    q.value(Tasks::Escalated, true)
                        .and_where(Expr::col(Tasks::Id).eq(task_id));
                    tx.execute(&q).await?;
                }
                let kind = match (timer, escalate) {
                    ("remind", _) => "task-reminder",
                    (_, true) => "task-escalated",
                    _ => "task-overdue",
                };
                run.event(
                    tx,
                    &case,
                    kind,
                    &t.step,
                    &Actor::system(),
                    None,
                    None,
                    false,
                    json!({"task": task_id, "assignee": t.assignee}),
                )
                .await?;
            }
            other => return Err(Error::internal(format!("unknown timer {other}"))),
        }
        Ok(())
    }
}

fn snapshot_query(
    tdb: &TenantDb,
    id: Uuid,
) -> dimos_db::Scoped<dimos_db::sea_query::SelectStatement> {
    let mut q = tdb.select(WorkflowSnapshots::Table);
    q.column(WorkflowSnapshots::Definition)
        .and_where(Expr::col(WorkflowSnapshots::Id).eq(id));
    q
}

struct TimerHandler(Arc<Engine>);

#[async_trait]
impl JobHandler for TimerHandler {
    async fn run(&self, tx: &mut TenantTx<'_>, tdb: &TenantDb, job: &Job) -> Result<(), Error> {
        self.0.fire(tx, tdb, job).await
    }
}

/// Reads a case and, on PostgreSQL, locks its row until the transaction
/// ends, so two changes to one case never interleave.
async fn load_case(tx: &mut TenantTx<'_>, tdb: &TenantDb, id: CaseId) -> Result<CaseRow, Error> {
    let mut q = crate::query::case_select(tdb);
    q.and_where(Expr::col((Cases::Table, Cases::Id)).eq(id.0))
        .lock(LockType::Update);
    tx.fetch_optional(&q)
        .await
        .map_err(not_found)?
        .ok_or(Error::NotFound)
}

async fn save_case(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    c: &CaseRow,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut q = tdb.update(Cases::Table);
    q.value(Cases::Data, Value::Object(c.data.0.clone()))
        .value(Cases::Status, c.status.clone())
        .value(Cases::Step, c.step.clone())
        .value(Cases::Result, c.result.clone())
        .value(Cases::Reasoning, c.reasoning.clone())
        .value(Cases::ProtocolBook, c.protocol_book.clone())
        .value(Cases::ProtocolYear, c.protocol_year)
        .value(Cases::ProtocolNumber, c.protocol_number)
        .value(Cases::DueAt, c.due_at)
        .value(Cases::WaitingSince, c.waiting_since)
        .value(Cases::WaitingUntil, c.waiting_until)
        .value(Cases::PausedSeconds, c.paused_seconds)
        .value(Cases::ClosedAt, c.closed_at)
        .value(Cases::UpdatedAt, now)
        .and_where(Expr::col(Cases::Id).eq(c.id));
    tx.execute(&q).await?;
    Ok(())
}

/// One change to one case, inside one transaction.
struct Run<'a> {
    engine: &'a Engine,
    tdb: &'a TenantDb,
    def: &'a Definition,
    now: DateTime<Utc>,
    attachments: u32,
    /// The public comment of the outcome that led here: the reasoning if
    /// the case ends rejected.
    reason: Option<String>,
    /// When many cases move at once: their writes, gathered to be made in
    /// a few statements (`batch`); otherwise each is made at once.
    batch: Option<batch::Batch>,
}

impl Run<'_> {
    /// Ends a wait: the paused time moves the service-level date.
    fn resume(&mut self, case: &mut CaseRow) {
        if let Some(since) = case.waiting_since.take() {
            let paused = Ord::max((self.now - since).num_seconds(), 0);
            case.paused_seconds += paused;
            case.due_at += Duration::seconds(paused);
        }
        case.waiting_until = None;
        if case.status == "waiting" {
            case.status = "active".into();
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn event(
        &mut self,
        tx: &mut TenantTx<'_>,
        case: &CaseRow,
        kind: &str,
        step: &str,
        actor: &Actor,
        outcome: Option<&str>,
        comment: Option<&str>,
        public: bool,
        payload: Value,
    ) -> Result<(), Error> {
        let what = batch::What {
            kind,
            step,
            actor,
            outcome,
            comment,
            public,
            payload,
        };
        if let Some(b) = self.batch.as_mut() {
            b.event(case, what, self.now);
            return Ok(());
        }
        let tdb = self.tdb;
        // The next number in the case's history, in the insert itself (one
        // statement, not a read then a write; the case's row is locked by
        // the change, and the key (case, seq) refuses a duplicate).
        let mut next = tdb.select(CaseEvents::Table);
        next.expr(Expr::expr(Func::if_null(Expr::col(CaseEvents::Seq).max(), 0)).add(1))
            .and_where(Expr::col(CaseEvents::CaseId).eq(case.id));
        let seq_of = SimpleExpr::SubQuery(None, Box::new(next.clone_inner().into()));
        let mut pending = batch::PendingEvent::new(case, 0, what, self.now);
        let mut ins = tdb.insert(CaseEvents::Table, EVENT_COLUMNS);
        ins.values(pending.values(seq_of));
        ins.statement().returning_col(CaseEvents::Seq);
        let (seq,): (i32,) = tx
            .insert_returning(&ins)
            .await?
            .ok_or_else(|| Error::internal("an event insert returned no row"))?;
        pending.event.seq = seq;
        let e = pending.event;
        for s in &self.engine.sinks {
            s.on_event(tx, &e).await?;
        }
        Ok(())
    }

    /// Walks automated steps from `step` until a task, a wait or an end,
    /// then saves the case.
    async fn advance(
        &mut self,
        tx: &mut TenantTx<'_>,
        case: &mut CaseRow,
        mut step: String,
    ) -> Result<(), Error> {
        let tdb = self.tdb;
        let def = self.def;
        let system = Actor::system();
        for _ in 0..MAX_AUTOMATED_STEPS {
            case.step = step.clone();
            let Some(s) = def.step(&step) else {
                return Err(Error::internal(format!("step {step} missing")));
            };
            match s {
                Step::Protocol(p) => {
                    let entry = protocol::register(
                        tx,
                        tdb,
                        self.now,
                        &NewEntry {
                            book: def.protocol_book.clone(),
                            direction: Direction::Incoming,
                            subject: format!("{} — {}", def.name.el, case.subject),
                            correspondent: case.applicant_name.clone(),
                            attachments: self.attachments,
                            restricted: p.restricted,
                            confidential: p.confidential,
                            personal_data: p.personal_data,
                            case_id: Some(case.id),
                            registered_by: "workflow".into(),
                        },
                    )
                    .await?;
                    if case.protocol_number.is_none() {
                        case.protocol_book = Some(entry.book.clone());
                        case.protocol_year = Some(entry.year);
                        case.protocol_number = Some(entry.number);
                    }
                    let label = format!("{}/{}", entry.number, entry.year);
                    self.event(
                        tx,
                        case,
                        "registered",
                        &step,
                        &system,
                        None,
                        None,
                        true,
                        json!({"protocol": label, "book": entry.book, "number": entry.number, "year": entry.year}),
                    )
                    .await?;
                    step = p.next.clone();
                }
                Step::Notify(n) => {
                    self.event(
                        tx,
                        case,
                        &format!("notify.{}", n.event),
                        &step,
                        &system,
                        None,
                        None,
                        false,
                        json!({"event": n.event, "message": n.message}),
                    )
                    .await?;
                    step = n.next.clone();
                }
                Step::Compute(c) => {
                    for (k, v) in &c.set {
                        case.data.0.insert(k.clone(), v.clone());
                    }
                    step = c.next.clone();
                }
                Step::Hook(h) => {
                    let f = self
                        .engine
                        .hooks
                        .get(&h.hook)
                        .ok_or_else(|| Error::internal(format!("hook {} missing", h.hook)))?;
                    let set = f(&HookInput {
                        case_id: CaseId(case.id),
                        data: &case.data.0,
                        protocol: case.protocol_label(),
                        now: self.now,
                    })
                    .map_err(|e| Error::internal(format!("hook {}: {e}", h.hook)))?;
                    for (k, v) in set {
                        case.data.0.insert(k, v);
                    }
                    step = h.next.clone();
                }
                Step::Gateway(g) => {
                    step = g
                        .branches
                        .iter()
                        .find(|b| matches(case.data.0.get(&b.field), b.op, &b.value))
                        .map_or_else(|| g.default.clone(), |b| b.next.clone());
                }
                Step::Task(t) => {
                    self.open_task(tx, case, t).await?;
                    self.event(
                        tx,
                        case,
                        "stage",
                        &step,
                        &system,
                        None,
                        None,
                        true,
                        json!({}),
                    )
                    .await?;
                    case.status = "active".into();
                    self.save(tx, case).await?;
                    return Ok(());
                }
                Step::Wait(w) => {
                    let until = self.now + Duration::days(i64::from(w.deadline_days));
                    case.status = "waiting".into();
                    case.waiting_since = Some(self.now);
                    case.waiting_until = Some(until);
                    self.enqueue(
                        tx,
                        Some(case.id),
                        until,
                        json!({"timer": "deadline", "case": case.id, "step": step}),
                    )
                    .await?;
                    self.event(
                        tx,
                        case,
                        "waiting",
                        &step,
                        &system,
                        None,
                        None,
                        true,
                        json!({"until": until, "request": self.reason}),
                    )
                    .await?;
                    self.save(tx, case).await?;
                    return Ok(());
                }
                Step::End(e) => {
                    case.status = "closed".into();
                    case.result = Some(e.result.as_str().into());
                    case.reasoning = match e.result {
                        EndResult::Rejected => self.reason.take(),
                        EndResult::Approved => None,
                    };
                    case.closed_at = Some(self.now);
                    let reasoning = case.reasoning.clone();
                    self.event(
                        tx,
                        case,
                        e.result.as_str(),
                        &step,
                        &system,
                        None,
                        None,
                        true,
                        json!({"reasoning": reasoning}),
                    )
                    .await?;
                    self.save(tx, case).await?;
                    return Ok(());
                }
            }
        }
        Err(Error::internal("too many automated steps in a row"))
    }

    async fn open_task(
        &mut self,
        tx: &mut TenantTx<'_>,
        case: &CaseRow,
        t: &crate::definition::Task,
    ) -> Result<(), Error> {
        let id = Uuid::now_v7();
        let due = t.due_days.map(|d| self.now + Duration::days(i64::from(d)));
        if let Some(b) = self.batch.as_mut() {
            b.task(id, case.id, t, self.now, due);
        } else {
            self.insert_task(tx, case.id, id, t, due).await?;
        }
        if let Some(due) = due {
            let base = json!({"case": case.id, "task": id, "step": t.id});
            if let Some(before) = t.remind_days_before {
                let mut p = base.clone();
                p["timer"] = "remind".into();
                let at = due - Duration::days(i64::from(before));
                self.enqueue(tx, Some(id), at, p).await?;
            }
            let mut p = base;
            p["timer"] = "due".into();
            self.enqueue(tx, Some(id), due, p).await?;
        }
        Ok(())
    }

    /// Plans a timer of the workflow's.
    async fn enqueue(
        &mut self,
        tx: &mut TenantTx<'_>,
        ref_id: Option<Uuid>,
        run_at: DateTime<Utc>,
        payload: Value,
    ) -> Result<(), Error> {
        match self.batch.as_mut() {
            Some(b) => b.jobs.push(jobs::NewJob {
                kind: TIMER_JOB.to_owned(),
                ref_id,
                run_at,
                payload,
            }),
            None => {
                jobs::enqueue(tx, self.tdb, TIMER_JOB, ref_id, run_at, payload).await?;
            }
        }
        Ok(())
    }

    /// Writes the case's new state.
    async fn save(&mut self, tx: &mut TenantTx<'_>, case: &CaseRow) -> Result<(), Error> {
        match self.batch.as_mut() {
            Some(b) => b.save(case, self.now)?,
            None => save_case(tx, self.tdb, case, self.now).await?,
        }
        Ok(())
    }

    async fn insert_task(
        &self,
        tx: &mut TenantTx<'_>,
        case: Uuid,
        id: Uuid,
        t: &crate::definition::Task,
        due: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        let task = batch::NewTask::new(id, case, t, self.now, due);
        batch::insert_tasks(tx, self.tdb, std::slice::from_ref(&task)).await
    }
}

/// The outcome a task's completion names, checked against its step: the
/// outcome exists, a module completes only its own steps, the comment and
/// the step's form are valid. Returns the outcome and the form's values.
fn checked_outcome<'d>(
    def: &'d Definition,
    step_id: &str,
    module_only: bool,
    outcome: &str,
    posted: &BTreeMap<String, String>,
    comment: &str,
) -> Result<(&'d crate::definition::Outcome, Map<String, Value>), Error> {
    let Some(Step::Task(step)) = def.step(step_id) else {
        return Err(Error::internal(format!("task step {step_id} missing")));
    };
    if module_only && step.action.is_none() {
        return Err(Error::Conflict("task-not-module"));
    }
    let Some(o) = step.outcomes.iter().find(|o| o.id == outcome) else {
        return Err(Error::Validation(vec![FieldError::new(
            "outcome", "invalid",
        )]));
    };
    let comment = comment.trim();
    let mut problems = vec![];
    if o.comment_required && comment.is_empty() {
        problems.push(FieldError::new("comment", "required"));
    }
    if comment.chars().count() > 5000 {
        problems.push(FieldError::new("comment", "too-long").with_detail("5000"));
    }
    let values = match step.form.as_deref().and_then(|f| def.form(f)) {
        Some(form) => match form.parse(posted) {
            Ok(v) => v,
            Err(e) => {
                problems.extend(e);
                Map::new()
            }
        },
        None => Map::new(),
    };
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    Ok((o, values))
}

/// Compares case data with a branch value: numbers as numbers, everything
/// else by equality (a missing field equals nothing).
fn matches(v: Option<&Value>, op: Op, want: &Value) -> bool {
    let Some(v) = v else {
        return op == Op::Ne;
    };
    if let (Some(a), Some(b)) = (v.as_f64(), want.as_f64()) {
        return match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
        };
    }
    match op {
        Op::Eq => v == want,
        Op::Ne => v != want,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_comparisons() {
        let n = json!(5);
        assert!(matches(Some(&n), Op::Gt, &json!(4)));
        assert!(!matches(Some(&n), Op::Lt, &json!(4.5)));
        assert!(matches(Some(&json!(true)), Op::Eq, &json!(true)));
        assert!(!matches(None, Op::Eq, &json!(true)));
        assert!(matches(None, Op::Ne, &json!(true)));
        assert!(!matches(Some(&json!("a")), Op::Gt, &json!("b")));
    }
}

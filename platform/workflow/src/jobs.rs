//! Timers and background jobs in the database. A replica takes one due job
//! with `FOR UPDATE SKIP LOCKED` (SQLite has one writer, so the immediate
//! transaction does the same), runs its handler inside that transaction and
//! marks it done there: the job's effects and its completion commit
//! together, so a job runs exactly once however many replicas poll, and a
//! crash before commit leaves it pending for the next poll.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use dimos_db::sea_query::{Expr, ExprTrait, Iden, LockBehavior, LockType, Order, Query};
use dimos_db::{Db, DbError, TenantDb, TenantTx};
use dimos_kernel::{Error, SharedClock, TenantId};
use serde_json::Value;
use sqlx::types::Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// After this many failures a job stops retrying and waits for a person.
pub const MAX_ATTEMPTS: i32 = 8;

#[derive(Iden, Clone, Copy)]
pub(crate) enum Jobs {
    Table,
    TenantId,
    Id,
    Kind,
    RefId,
    RunAt,
    Payload,
    Status,
    Attempts,
    LastError,
    DoneAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub run_at: DateTime<Utc>,
    pub payload: Json<Value>,
    pub attempts: i32,
}

#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs inside the transaction that marks the job done; an error rolls
    /// both back and the job is retried later.
    async fn run(&self, tx: &mut TenantTx<'_>, tdb: &TenantDb, job: &Job) -> Result<(), Error>;
}

/// Schedules a job in the caller's transaction (so it exists exactly when
/// the change that wants it does).
pub async fn enqueue(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    kind: &str,
    ref_id: Option<Uuid>,
    run_at: DateTime<Utc>,
    payload: Value,
) -> Result<Uuid, DbError> {
    let job = NewJob {
        kind: kind.to_owned(),
        ref_id,
        run_at,
        payload,
    };
    let id = Uuid::now_v7();
    insert_jobs(tx, tdb, &[(id, &job)]).await?;
    Ok(id)
}

/// A job to plan with [`enqueue_many`].
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub ref_id: Option<Uuid>,
    pub run_at: DateTime<Utc>,
    pub payload: Value,
}

/// Rows per multi-row insert: well under either database's limit on bound
/// values (7 columns and the tenant per row).
const ROWS_PER_INSERT: usize = 500;

/// Plans many jobs in a statement per 500 (a publication planning an
/// expiry for thousands of offers), in the caller's transaction.
pub async fn enqueue_many(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    jobs: &[NewJob],
) -> Result<(), DbError> {
    let jobs: Vec<(Uuid, &NewJob)> = jobs.iter().map(|j| (Uuid::now_v7(), j)).collect();
    insert_jobs(tx, tdb, &jobs).await
}

async fn insert_jobs(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    jobs: &[(Uuid, &NewJob)],
) -> Result<(), DbError> {
    for chunk in jobs.chunks(ROWS_PER_INSERT) {
        let mut q = tdb.insert(
            Jobs::Table,
            [
                Jobs::Id,
                Jobs::Kind,
                Jobs::RefId,
                Jobs::RunAt,
                Jobs::Payload,
                Jobs::Status,
                Jobs::Attempts,
            ],
        );
        for (id, j) in chunk {
            q.values([
                (*id).into(),
                j.kind.clone().into(),
                j.ref_id.into(),
                j.run_at.into(),
                j.payload.clone().into(),
                "pending".into(),
                0i32.into(),
            ]);
        }
        tx.insert_rows(&q).await?;
    }
    Ok(())
}

/// Cancels the pending jobs about these things (a task's timers once it
/// is done, a case's once it is withdrawn). Handlers still check that a job
/// is not moot: cancelling is tidiness, not correctness.
pub async fn cancel_for(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    refs: &[Uuid],
) -> Result<u64, DbError> {
    if refs.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for chunk in refs.chunks(1000) {
        let mut q = tdb.update(Jobs::Table);
        q.value(Jobs::Status, "cancelled")
            .and_where(Expr::col(Jobs::Status).eq("pending"))
            .and_where(Expr::col(Jobs::RefId).is_in(chunk.iter().copied()));
        n += tx.execute(&q).await?;
    }
    Ok(n)
}

pub struct Scheduler {
    db: Db,
    clock: SharedClock,
    handlers: BTreeMap<String, Arc<dyn JobHandler>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Scheduler {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Scheduler {
            db,
            clock,
            handlers: BTreeMap::new(),
        }
    }

    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    /// Runs due jobs until none is left or `max` ran; returns how many ran.
    pub async fn run_due(&self, max: usize) -> Result<usize, DbError> {
        let mut ran = 0;
        while ran < max {
            if !self.run_one().await? {
                break;
            }
            ran += 1;
        }
        Ok(ran)
    }

    /// Takes and runs one due job; `false` when nothing was due.
    async fn run_one(&self) -> Result<bool, DbError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let q = Query::select()
            .columns([
                Jobs::TenantId,
                Jobs::Id,
                Jobs::Kind,
                Jobs::RunAt,
                Jobs::Payload,
                Jobs::Attempts,
            ])
            .from(Jobs::Table)
            .and_where(Expr::col(Jobs::Status).eq("pending"))
            .and_where(Expr::col(Jobs::RunAt).lte(now))
            .order_by(Jobs::RunAt, Order::Asc)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let Some(job) = tx.fetch_optional::<Job>(&q).await? else {
            return Ok(false);
        };
        let tenant = TenantId(job.tenant_id);
        // The job names its tenant: the one place a handle is made from a
        // row rather than a request.
        #[allow(clippy::disallowed_methods)]
        let tdb = TenantDb::new(self.db.clone(), tenant);
        let mut ttx = TenantTx::adopt(tx, tenant);
        let span = tracing::info_span!("job", job_id = %job.id, kind = %job.kind, tenant = %tenant.0, attempt = job.attempts + 1);
        let outcome = match self.handlers.get(&job.kind) {
            Some(h) => {
                use tracing::Instrument;
                h.run(&mut ttx, &tdb, &job).instrument(span).await
            }
            None => Err(Error::internal(format!(
                "no handler for job kind {}",
                job.kind
            ))),
        };
        match outcome {
            Ok(()) => {
                let mut done = tdb.update(Jobs::Table);
                done.value(Jobs::Status, "done")
                    .value(Jobs::DoneAt, now)
                    .value(Jobs::Attempts, Expr::col(Jobs::Attempts).add(1))
                    .and_where(Expr::col(Jobs::Id).eq(job.id));
                ttx.execute(&done).await?;
                ttx.commit().await?;
            }
            Err(e) => {
                drop(ttx);
                let attempts = job.attempts + 1;
                tracing::warn!(job = %job.id, kind = %job.kind, attempts, error = %e, "job failed");
                // Exponential backoff: 1, 2, 4, … minutes.
                let retry = now + Duration::minutes(1i64 << attempts.clamp(0, 12));
                let mut fail = tdb.update(Jobs::Table);
                fail.value(Jobs::Attempts, attempts)
                    .value(Jobs::LastError, e.to_string())
                    .value(Jobs::RunAt, retry)
                    .value(
                        Jobs::Status,
                        if attempts >= MAX_ATTEMPTS {
                            "failed"
                        } else {
                            "pending"
                        },
                    )
                    .and_where(Expr::col(Jobs::Id).eq(job.id));
                tdb.execute(&fail).await?;
            }
        }
        Ok(true)
    }

    /// Polls for due jobs until stopped; a stop lets the jobs being run
    /// finish (see `dimos_db::background::Worker::stop`).
    pub fn spawn(self: Arc<Self>, every: std::time::Duration) -> dimos_db::background::Worker {
        dimos_db::background::spawn_every(every, "job scheduler", move || {
            let s = self.clone();
            async move { s.run_due(100).await.map(drop) }
        })
    }
}

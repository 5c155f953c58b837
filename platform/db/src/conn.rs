use crate::Backend;
use dimos_kernel::Error;
use sea_query::QueryStatementWriter;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{
    ConnectOptions, Connection, FromRow, PgConnection, PgPool, SqliteConnection, SqlitePool,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A row type that decodes from both backends; `#[derive(sqlx::FromRow)]`
/// on a struct whose fields decode on both gives this for free.
pub trait FromRowAny:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}
impl<T> FromRowAny for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// A statement this layer runs: built by sea-query (bound for either
/// dialect, or written out with its values for the statement capture).
pub trait Statement: SqlxBinder + QueryStatementWriter + Sync {}
impl<T: SqlxBinder + QueryStatementWriter + Sync> Statement for T {}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated: {0}")]
    Unique(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(sqlx::Error),
    /// A statement built for one tenant run through another's handle: a
    /// bug in our code, refused in every build (not only debug ones).
    #[error("statement scoped to another tenant")]
    WrongTenant,
    /// A task holding a transaction asked the pool for another connection
    /// (strict pools only: tests). Under load every request doing so holds
    /// one connection while waiting for a second, and the pool starves.
    #[error("a second connection was asked for while this task holds a transaction")]
    SecondConnection,
}

impl DbError {
    /// Whether a unique constraint on `column` was violated. SQLite names the
    /// columns (`tenants.slug`), PostgreSQL the constraint (`tenants_slug_key`);
    /// both contain the column name.
    pub fn is_unique_on(&self, column: &str) -> bool {
        matches!(self, DbError::Unique(what) if what.contains(column))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => DbError::Unique(
                d.constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| d.message().to_owned()),
            ),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                DbError::Unavailable(e.to_string())
            }
            // The server is going away, out of resources, or cancelled a
            // statement that ran past the timeout (PostgreSQL's SQLSTATE
            // classes 08, 53, 57), or chose this transaction as a deadlock's
            // or a serialization conflict's victim (40P01, 40001: rolled
            // back whole); SQLite's file is locked past the busy timeout.
            // Each passes: the client is told to retry (503).
            sqlx::Error::Database(d)
                if d.code().is_some_and(|c| {
                    c.starts_with("08")
                        || c.starts_with("53")
                        || c.starts_with("57")
                        || c == "40P01"
                        || c == "40001"
                }) || matches!(d.code().as_deref(), Some("5" | "6")) =>
            {
                DbError::Unavailable(e.to_string())
            }
            _ => DbError::Other(e),
        }
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unique(_) => Error::Conflict("duplicate"),
            DbError::Unavailable(msg) => {
                tracing::error!(error = %msg, "database unavailable");
                Error::Unavailable
            }
            DbError::Other(e) => Error::internal(e),
            DbError::WrongTenant => Error::internal("statement scoped to another tenant"),
            DbError::SecondConnection => Error::internal(
                "a second connection was asked for while this task holds a transaction",
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub sqlite_busy_timeout: Duration,
    /// PostgreSQL cancels a statement running longer (zero: never).
    pub statement_timeout: Duration,
    /// Statements slower than this are logged at WARN with their SQL.
    pub slow_statement: Duration,
    /// A task that holds a transaction and asks for a second connection
    /// gets an error instead of a warning (tests).
    pub strict_connections: bool,
    /// Appends every statement run, with its values written out, to this
    /// file (the load harness replays them with pgbench; tests EXPLAIN
    /// them). Holds personal data: never in production.
    pub capture: Option<std::path::PathBuf>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            slow_statement: Duration::from_millis(500),
            strict_connections: false,
            capture: None,
        }
    }
}

/// Which tasks hold a transaction of this pool now. A task that holds one
/// and asks for a second connection is how a pool starves: N requests each
/// holding one and waiting for another block each other until the acquire
/// timeout, while the first one's row locks stay taken.
#[derive(Debug, Default)]
struct Holders {
    tasks: Mutex<HashMap<tokio::task::Id, u32>>,
    strict: bool,
    /// How many times it happened (for `/metrics`).
    seen: AtomicU64,
}

impl Holders {
    fn enter(self: &Arc<Self>) -> Holding {
        let task = tokio::task::try_id();
        if let (Some(id), Ok(mut m)) = (task, self.tasks.lock()) {
            *m.entry(id).or_default() += 1;
        }
        Holding {
            holders: self.clone(),
            task,
        }
    }

    /// Before taking a connection from the pool.
    fn check(&self) -> Result<(), DbError> {
        let Some(id) = tokio::task::try_id() else {
            return Ok(());
        };
        let holds = self.tasks.lock().is_ok_and(|m| m.contains_key(&id));
        if !holds {
            return Ok(());
        }
        self.seen.fetch_add(1, Ordering::Relaxed);
        if self.strict {
            return Err(DbError::SecondConnection);
        }
        tracing::warn!(
            "a second database connection was taken while this request holds a transaction"
        );
        Ok(())
    }
}

/// Marks the current task as holding a transaction until dropped.
#[derive(Debug)]
struct Holding {
    holders: Arc<Holders>,
    task: Option<tokio::task::Id>,
}

impl Drop for Holding {
    fn drop(&mut self) {
        if let (Some(id), Ok(mut m)) = (self.task, self.holders.tasks.lock())
            && let Some(n) = m.get_mut(&id)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&id);
            }
        }
    }
}

/// Rows as a backend returned them.
pub(crate) enum RawRows {
    Pg(Vec<PgRow>),
    Sqlite(Vec<SqliteRow>),
}

#[derive(Clone, Debug)]
enum Pool {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

/// A pool of connections to the one database of this deployment.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    holders: Arc<Holders>,
    capture: Option<Arc<Capture>>,
}

/// Where [`DbOptions::capture`] writes: one record per statement, headed
/// by the task that ran it (`-- task <id>`), so one request's statements
/// can be told from the background work's.
#[derive(Debug)]
struct Capture {
    file: Mutex<std::fs::File>,
    backend: Backend,
}

impl Capture {
    fn record(&self, stmt: &impl Statement) {
        let sql = match self.backend {
            Backend::Postgres => stmt.to_string(PostgresQueryBuilder),
            Backend::Sqlite => stmt.to_string(SqliteQueryBuilder),
        };
        self.line(&sql);
    }

    fn line(&self, sql: &str) {
        use std::io::Write;
        let task = tokio::task::try_id()
            .map(|i| i.to_string())
            .unwrap_or_default();
        if let Ok(mut f) = self.file.lock() {
            // A failed write loses a line of a diagnostic file, no data.
            let _ = write!(f, "-- task {task}\n{sql};\n");
        }
    }
}

/// The pool's state, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
    /// Times a task holding a transaction asked for a second connection.
    pub second_connections: u64,
}

/// A borrowed connection of either backend: the one place where a query
/// meets a dialect.
pub(crate) enum Conn<'a> {
    Pg(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

impl Conn<'_> {
    fn build(&self, stmt: &impl Statement) -> (String, SqlxValues) {
        match self {
            Conn::Pg(_) => stmt.build_sqlx(PostgresQueryBuilder),
            Conn::Sqlite(_) => stmt.build_sqlx(SqliteQueryBuilder),
        }
    }

    /// Rows whose shape only the caller knows.
    pub(crate) async fn fetch_raw(&mut self, stmt: &impl Statement) -> Result<RawRows, DbError> {
        let (sql, values) = self.build(stmt);
        Ok(match self {
            Conn::Pg(c) => RawRows::Pg(sqlx::query_with(&sql, values).fetch_all(&mut **c).await?),
            Conn::Sqlite(c) => {
                RawRows::Sqlite(sqlx::query_with(&sql, values).fetch_all(&mut **c).await?)
            }
        })
    }

    pub(crate) async fn fetch_all<T: FromRowAny>(
        &mut self,
        stmt: &impl Statement,
    ) -> Result<Vec<T>, DbError> {
        let (sql, values) = self.build(stmt);
        Ok(match self {
            Conn::Pg(c) => {
                sqlx::query_as_with::<_, T, _>(&sql, values)
                    .fetch_all(&mut **c)
                    .await?
            }
            Conn::Sqlite(c) => {
                sqlx::query_as_with::<_, T, _>(&sql, values)
                    .fetch_all(&mut **c)
                    .await?
            }
        })
    }

    pub(crate) async fn fetch_optional<T: FromRowAny>(
        &mut self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        let (sql, values) = self.build(stmt);
        Ok(match self {
            Conn::Pg(c) => {
                sqlx::query_as_with::<_, T, _>(&sql, values)
                    .fetch_optional(&mut **c)
                    .await?
            }
            Conn::Sqlite(c) => {
                sqlx::query_as_with::<_, T, _>(&sql, values)
                    .fetch_optional(&mut **c)
                    .await?
            }
        })
    }

    pub(crate) async fn execute(&mut self, stmt: &impl Statement) -> Result<u64, DbError> {
        let (sql, values) = self.build(stmt);
        Ok(match self {
            Conn::Pg(c) => sqlx::query_with(&sql, values)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Conn::Sqlite(c) => sqlx::query_with(&sql, values)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        })
    }

    /// Plain SQL, several statements allowed: migrations only. (The future is
    /// not `Send`, a sqlx limitation, so it must not be spawned.)
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Pg(c) => {
                sqlx::raw_sql(sql).execute(&mut **c).await?;
            }
            Conn::Sqlite(c) => {
                sqlx::raw_sql(sql).execute(&mut **c).await?;
            }
        }
        Ok(())
    }
}

/// Runs `$body` with `$conn` bound to a fresh pooled connection.
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {{
        $db.holders.check()?;
        match &$db.pool {
            Pool::Pg(p) => {
                let mut c = p.acquire().await?;
                let mut $conn = Conn::Pg(&mut c);
                $body
            }
            Pool::Sqlite(p) => {
                let mut c = p.acquire().await?;
                let mut $conn = Conn::Sqlite(&mut c);
                $body
            }
        }
    }};
}

fn split_columns(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Db {
    /// Tables of this schema that have a column called `column` (the
    /// catalogue is read the dialect's own way: this is where dialects meet).
    pub async fn tables_with_column(&self, column: &str) -> Result<Vec<String>, DbError> {
        let rows: Vec<(String,)> = match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND column_name = $1 \
                     ORDER BY table_name",
                )
                .bind(column)
                .fetch_all(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
                     WHERE m.type = 'table' AND c.name = ?1 ORDER BY m.name",
                )
                .bind(column)
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every table of this schema (SQLite's own excepted).
    pub async fn tables(&self) -> Result<Vec<String>, DbError> {
        let rows: Vec<(String,)> = match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                     ORDER BY table_name",
                )
                .fetch_all(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    // Ordinary tables only: a full-text index (FTS5) is a
                    // virtual table over shadow tables, kept by triggers
                    // like an index and no component's to declare.
                    "SELECT name FROM pragma_table_list \
                     WHERE schema = 'main' AND type = 'table' \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                     ORDER BY name",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every unique index of the schema (primary keys included) as
    /// (table, index, columns), read in one statement. A column that is an
    /// expression is left out.
    pub async fn unique_indexes(&self) -> Result<Vec<(String, String, Vec<String>)>, DbError> {
        let rows: Vec<(String, String, String)> = match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT t.relname::text, ic.relname::text, array_to_string(ARRAY( \
                       SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) \
                       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                       ORDER BY k.pos), ',') \
                     FROM pg_index i \
                     JOIN pg_class t ON t.oid = i.indrelid \
                     JOIN pg_class ic ON ic.oid = i.indexrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE i.indisunique AND n.nspname = current_schema() \
                     ORDER BY 1, 2",
                )
                .fetch_all(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT m.name, il.name, group_concat(ii.name, ',') \
                     FROM sqlite_master m JOIN pragma_index_list(m.name) il \
                     JOIN pragma_index_info(il.name) ii \
                     WHERE m.type = 'table' AND il.\"unique\" = 1 \
                     GROUP BY m.name, il.name ORDER BY 1, 2",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(t, i, c)| (t, i, split_columns(&c)))
            .collect())
    }

    /// Every foreign key of the schema as (table, the table it points at,
    /// its own columns), read in one statement.
    pub async fn foreign_keys(&self) -> Result<Vec<(String, String, Vec<String>)>, DbError> {
        let rows: Vec<(String, String, String)> = match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT t.relname::text, \
                       (SELECT relname FROM pg_class WHERE oid = con.confrelid)::text, \
                       array_to_string(ARRAY( \
                         SELECT a.attname::text FROM unnest(con.conkey) AS k(attnum) \
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), ',') \
                     FROM pg_constraint con \
                     JOIN pg_class t ON t.oid = con.conrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE con.contype = 'f' AND n.nspname = current_schema() \
                     ORDER BY t.relname, con.conname",
                )
                .fetch_all(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT m.name, f.\"table\", group_concat(f.\"from\", ',') \
                     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
                     WHERE m.type = 'table' GROUP BY m.name, f.id ORDER BY 1, f.id",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(t, target, c)| (t, target, split_columns(&c)))
            .collect())
    }

    /// The columns of `table` with their declared types, in order: the
    /// SQL type names on PostgreSQL, the declared ones on SQLite.
    pub(crate) async fn column_types(&self, table: &str) -> Result<Vec<(String, String)>, DbError> {
        Ok(match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    /// Rows whose shape only the caller knows (moving a tenant's rows, a
    /// person's data across every table).
    pub(crate) async fn fetch_raw(&self, stmt: &impl Statement) -> Result<RawRows, DbError> {
        self.record(stmt);
        with_conn!(self, |c| c.fetch_raw(stmt).await)
    }

    /// Writes a consistent copy of a SQLite database to `path` while it is
    /// in use (`VACUUM INTO`); PostgreSQL is backed up with its own tools.
    pub async fn sqlite_copy_to(&self, path: &std::path::Path) -> Result<(), DbError> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("VACUUM INTO ?1")
                    .bind(path.to_string_lossy().into_owned())
                    .execute(p)
                    .await?;
                Ok(())
            }
            Pool::Pg(_) => Err(DbError::Other(sqlx::Error::Protocol(
                "PostgreSQL is backed up with pg_basebackup and WAL archiving (docs/operator-guide.md)".into(),
            ))),
        }
    }

    /// The number of rows in `table`.
    pub async fn count_rows(&self, table: &str) -> Result<i64, DbError> {
        let q = sea_query::Query::select()
            .expr(sea_query::Func::count(sea_query::Expr::col(
                sea_query::Asterisk,
            )))
            .from(sea_query::Alias::new(table))
            .to_owned();
        Ok(self.fetch_one::<(i64,)>(&q).await?.0)
    }

    /// The columns of `table`'s primary key, in key order.
    pub async fn primary_key(&self, table: &str) -> Result<Vec<String>, DbError> {
        let rows: Vec<(String,)> = match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT a.attname::text FROM pg_index i \
                     JOIN pg_class t ON t.oid = i.indrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) \
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                     WHERE i.indisprimary AND t.relname = $1 AND n.nspname = current_schema() \
                     ORDER BY k.pos",
                )
                .bind(table)
                .fetch_all(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
                    .bind(table)
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Connects to `postgres://…` or `sqlite://…` (the file and its folder are
    /// created if missing).
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db, DbError> {
        let slow = (log::LevelFilter::Warn, opts.slow_statement);
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let ms = opts.statement_timeout.as_millis().to_string();
            // A plan for the values at hand every time: rows are spread very
            // unevenly across tenants, and the generic plan PostgreSQL adopts
            // for a prepared statement after five runs (blind to which
            // tenant) took a staff queue from 2 ms to 15-70 ms a query.
            let mut settings = vec![("plan_cache_mode", "force_custom_plan")];
            if !opts.statement_timeout.is_zero() {
                settings.push(("statement_timeout", ms.as_str()));
            }
            let o = PgConnectOptions::from_str(url)?
                .application_name("dimos")
                .log_slow_statements(slow.0, slow.1)
                .options(settings);
            Pool::Pg(
                PgPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(o)
                    .await?,
            )
        } else if url.starts_with("sqlite:") {
            let o = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(opts.sqlite_busy_timeout)
                .foreign_keys(true)
                .log_slow_statements(slow.0, slow.1);
            if let Some(dir) = o
                .get_filename()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Unavailable(format!("{}: {e}", dir.display())))?;
            }
            // Processes starting together on one new file (replicas, a
            // command beside the server) meet its creation and the switch to
            // WAL, which need the file to themselves: a busy answer then is
            // a wait, for as long as a slow machine takes.
            let started = std::time::Instant::now();
            let pool = loop {
                match SqlitePoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(o.clone())
                    .await
                {
                    Ok(p) => break p,
                    Err(sqlx::Error::Database(d))
                        if d.code().as_deref() == Some("5")
                            && started.elapsed() < std::time::Duration::from_secs(60) =>
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            Pool::Sqlite(pool)
        } else {
            return Err(DbError::Unavailable(
                "DATABASE_URL must start with postgres:// or sqlite:".to_string(),
            ));
        };
        let backend = match pool {
            Pool::Pg(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        };
        let capture = match &opts.capture {
            Some(path) => Some(Arc::new(Capture {
                file: Mutex::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| DbError::Unavailable(format!("{}: {e}", path.display())))?,
                ),
                backend,
            })),
            None => None,
        };
        Ok(Db {
            pool,
            holders: Arc::new(Holders {
                strict: opts.strict_connections,
                ..Holders::default()
            }),
            capture,
        })
    }

    pub fn stats(&self) -> PoolStats {
        let (size, idle, max) = match &self.pool {
            Pool::Pg(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            Pool::Sqlite(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
        };
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
            second_connections: self.holders.seen.load(Ordering::Relaxed),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Pg(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        let q = sea_query::Query::select()
            .expr(sea_query::Expr::val(1))
            .to_owned();
        self.fetch_one::<(i32,)>(&q).await.map(drop)
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Pg(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }

    pub async fn fetch_all<T: FromRowAny>(&self, stmt: &impl Statement) -> Result<Vec<T>, DbError> {
        self.record(stmt);
        with_conn!(self, |c| c.fetch_all(stmt).await)
    }

    fn record(&self, stmt: &impl Statement) {
        if let Some(c) = &self.capture {
            c.record(stmt);
        }
    }

    pub async fn fetch_optional<T: FromRowAny>(
        &self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        self.record(stmt);
        with_conn!(self, |c| c.fetch_optional(stmt).await)
    }

    pub async fn fetch_one<T: FromRowAny>(&self, stmt: &impl Statement) -> Result<T, DbError> {
        self.fetch_optional(stmt)
            .await?
            .ok_or(DbError::Other(sqlx::Error::RowNotFound))
    }

    pub async fn execute(&self, stmt: &impl Statement) -> Result<u64, DbError> {
        self.record(stmt);
        with_conn!(self, |c| c.execute(stmt).await)
    }

    pub async fn begin(&self) -> Result<Tx<'static>, DbError> {
        self.holders.check()?;
        let inner = match &self.pool {
            Pool::Pg(p) => TxInner::Pg(p.begin().await?),
            // IMMEDIATE takes the write lock up front, so a transaction that
            // reads then writes waits (busy_timeout) instead of failing.
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        };
        Ok(self.pooled(inner))
    }

    /// A transaction on one of the pool's connections, noted as this
    /// task's (for the second-connection guard) and captured if asked.
    fn pooled(&self, inner: TxInner<'static>) -> Tx<'static> {
        if let Some(c) = &self.capture {
            c.line("BEGIN");
        }
        Tx {
            inner,
            _holding: Some(self.holders.enter()),
            capture: self.capture.clone(),
        }
    }

    /// A transaction that only reads (one consistent snapshot). On SQLite it
    /// does not take the write lock, so it never waits for writers.
    pub async fn begin_read(&self) -> Result<Tx<'static>, DbError> {
        self.holders.check()?;
        let inner = match &self.pool {
            Pool::Pg(p) => TxInner::Pg(p.begin().await?),
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin().await?),
        };
        Ok(self.pooled(inner))
    }

    /// A read-only transaction whose every statement sees the same
    /// snapshot (PostgreSQL's default sees a new one per statement): for
    /// reading many tables as of one moment.
    pub async fn begin_snapshot(&self) -> Result<Tx<'static>, DbError> {
        self.holders.check()?;
        let inner = match &self.pool {
            Pool::Pg(p) => TxInner::Pg(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin().await?),
        };
        Ok(self.pooled(inner))
    }

    /// A dedicated connection, for work that must stay on one session
    /// (advisory locks while migrating).
    pub(crate) async fn detach(&self) -> Result<Detached, DbError> {
        Ok(match &self.pool {
            Pool::Pg(p) => Detached::Pg(p.acquire().await?.detach()),
            Pool::Sqlite(p) => Detached::Sqlite(p.acquire().await?.detach()),
        })
    }
}

pub(crate) enum Detached {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Detached {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Detached::Pg(c) => Conn::Pg(c),
            Detached::Sqlite(c) => Conn::Sqlite(c),
        }
    }

    pub(crate) async fn begin(&mut self) -> Result<Tx<'_>, DbError> {
        let inner = match self {
            Detached::Pg(c) => TxInner::Pg(c.begin().await?),
            Detached::Sqlite(c) => TxInner::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
        };
        Ok(Tx {
            inner,
            _holding: None,
            capture: None,
        })
    }

    pub(crate) async fn close(self) {
        let _ = match self {
            Detached::Pg(c) => c.close().await,
            Detached::Sqlite(c) => c.close().await,
        };
    }
}

/// A transaction. Dropped without `commit` it rolls back.
pub struct Tx<'c> {
    inner: TxInner<'c>,
    /// The pool's note that this task holds a transaction (none for a
    /// detached connection's).
    _holding: Option<Holding>,
    capture: Option<Arc<Capture>>,
}

enum TxInner<'c> {
    Pg(sqlx::Transaction<'c, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
}

impl Tx<'_> {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Pg(t) => Conn::Pg(t),
            TxInner::Sqlite(t) => Conn::Sqlite(t),
        }
    }

    pub async fn fetch_all<T: FromRowAny>(
        &mut self,
        stmt: &impl Statement,
    ) -> Result<Vec<T>, DbError> {
        self.record(stmt);
        self.conn().fetch_all(stmt).await
    }

    pub async fn fetch_optional<T: FromRowAny>(
        &mut self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        self.record(stmt);
        self.conn().fetch_optional(stmt).await
    }

    pub async fn execute(&mut self, stmt: &impl Statement) -> Result<u64, DbError> {
        self.record(stmt);
        self.conn().execute(stmt).await
    }

    /// Rows whose shape only the caller knows (moving a tenant's rows).
    pub(crate) async fn fetch_raw(&mut self, stmt: &impl Statement) -> Result<RawRows, DbError> {
        self.record(stmt);
        self.conn().fetch_raw(stmt).await
    }

    fn record(&self, stmt: &impl Statement) {
        if let Some(c) = &self.capture {
            c.record(stmt);
        }
    }

    pub async fn commit(self) -> Result<(), DbError> {
        if let Some(c) = &self.capture {
            c.line("COMMIT");
        }
        match self.inner {
            TxInner::Pg(t) => t.commit().await?,
            TxInner::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
impl Db {
    /// A pool that never connects: for tests of statement building.
    pub(crate) fn lazy_sqlite_for_tests() -> Db {
        Db {
            pool: Pool::Sqlite(
                SqlitePoolOptions::new()
                    .connect_lazy("sqlite::memory:")
                    .expect("valid URL"),
            ),
            holders: Arc::default(),
            capture: None,
        }
    }
}

#[cfg(test)]
mod send_tests {
    fn assert_send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn futures_are_send() {
        let db = super::Db::lazy_sqlite_for_tests();
        let f = db.ping();
        assert_send(&f);
        let q = sea_query::Query::select()
            .expr(sea_query::Expr::val(1))
            .to_owned();
        let g = db.fetch_all::<(i64,)>(&q);
        assert_send(&g);
    }
}

#[cfg(test)]
mod second_connection_tests {
    use super::*;

    fn one() -> sea_query::SelectStatement {
        sea_query::Query::select()
            .expr(sea_query::Expr::val(1))
            .to_owned()
    }

    async fn db(strict: bool) -> Db {
        let opts = DbOptions {
            max_connections: 2,
            strict_connections: strict,
            ..DbOptions::default()
        };
        Db::connect("sqlite::memory:", &opts).await.unwrap()
    }

    // Requests run in tasks of their own; a test's body is not one.
    #[tokio::test]
    async fn a_task_holding_a_transaction_may_not_take_a_second_connection() {
        tokio::spawn(holding_strict()).await.unwrap();
    }

    async fn holding_strict() {
        let db = db(true).await;
        db.fetch_one::<(i32,)>(&one()).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.fetch_all::<(i32,)>(&one()).await.unwrap();
        assert!(matches!(
            db.fetch_one::<(i32,)>(&one()).await,
            Err(DbError::SecondConnection)
        ));
        assert!(matches!(db.begin().await, Err(DbError::SecondConnection)));
        // Another task is not this one.
        let other = db.clone();
        tokio::spawn(async move { other.fetch_one::<(i32,)>(&one()).await.map(drop) })
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        db.fetch_one::<(i32,)>(&one()).await.unwrap();
        assert_eq!(db.stats().second_connections, 2);
    }

    #[tokio::test]
    async fn outside_tests_it_is_counted_and_allowed() {
        tokio::spawn(holding_lenient()).await.unwrap();
    }

    async fn holding_lenient() {
        let db = db(false).await;
        let tx = db.begin().await.unwrap();
        db.fetch_one::<(i32,)>(&one()).await.unwrap();
        drop(tx);
        db.fetch_one::<(i32,)>(&one()).await.unwrap();
        assert_eq!(db.stats().second_connections, 1);
    }
}

#[cfg(test)]
mod starting_together_tests {
    use super::*;
    use sqlx::{Connection, Executor};

    /// Another process holds the new file (creating it, switching it to
    /// WAL, migrating) for longer than the busy timeout: connecting waits
    /// for it instead of failing a replica's start.
    #[tokio::test]
    async fn connecting_waits_for_another_process_holding_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
        let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
        holder.execute("BEGIN EXCLUSIVE").await.unwrap();
        holder.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
        let opts = DbOptions {
            max_connections: 1,
            sqlite_busy_timeout: Duration::from_millis(50),
            ..DbOptions::default()
        };
        let connecting = tokio::spawn(async move { Db::connect(&url, &opts).await.map(drop) });
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!connecting.is_finished(), "it waits while the file is held");
        holder.execute("COMMIT").await.unwrap();
        connecting.await.unwrap().unwrap();
    }
}

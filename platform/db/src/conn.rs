use crate::Backend;
use dimos_kernel::Error;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, FromRow, PgConnection, PgPool, SqliteConnection, SqlitePool};
use std::str::FromStr;
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
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub sqlite_busy_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
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
}

/// A borrowed connection of either backend: the one place where a query
/// meets a dialect.
pub(crate) enum Conn<'a> {
    Pg(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

impl Conn<'_> {
    fn build(&self, stmt: &impl SqlxBinder) -> (String, SqlxValues) {
        match self {
            Conn::Pg(_) => stmt.build_sqlx(PostgresQueryBuilder),
            Conn::Sqlite(_) => stmt.build_sqlx(SqliteQueryBuilder),
        }
    }

    pub(crate) async fn fetch_all<T: FromRowAny>(
        &mut self,
        stmt: &impl SqlxBinder,
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
        stmt: &impl SqlxBinder,
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

    pub(crate) async fn execute(&mut self, stmt: &impl SqlxBinder) -> Result<u64, DbError> {
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
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let o = PgConnectOptions::from_str(url)?.application_name("dimos");
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
                .foreign_keys(true);
            if let Some(dir) = o
                .get_filename()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Unavailable(format!("{}: {e}", dir.display())))?;
            }
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(o)
                    .await?,
            )
        } else {
            return Err(DbError::Unavailable(
                "DATABASE_URL must start with postgres:// or sqlite:".to_string(),
            ));
        };
        Ok(Db { pool })
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

    pub async fn fetch_all<T: FromRowAny>(
        &self,
        stmt: &impl SqlxBinder,
    ) -> Result<Vec<T>, DbError> {
        with_conn!(self, |c| c.fetch_all(stmt).await)
    }

    pub async fn fetch_optional<T: FromRowAny>(
        &self,
        stmt: &impl SqlxBinder,
    ) -> Result<Option<T>, DbError> {
        with_conn!(self, |c| c.fetch_optional(stmt).await)
    }

    pub async fn fetch_one<T: FromRowAny>(&self, stmt: &impl SqlxBinder) -> Result<T, DbError> {
        self.fetch_optional(stmt)
            .await?
            .ok_or(DbError::Other(sqlx::Error::RowNotFound))
    }

    pub async fn execute(&self, stmt: &impl SqlxBinder) -> Result<u64, DbError> {
        with_conn!(self, |c| c.execute(stmt).await)
    }

    pub async fn begin(&self) -> Result<Tx<'static>, DbError> {
        Ok(match &self.pool {
            Pool::Pg(p) => Tx::Pg(p.begin().await?),
            // IMMEDIATE takes the write lock up front, so a transaction that
            // reads then writes waits (busy_timeout) instead of failing.
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// A transaction that only reads (one consistent snapshot). On SQLite it
    /// does not take the write lock, so it never waits for writers.
    pub async fn begin_read(&self) -> Result<Tx<'static>, DbError> {
        Ok(match &self.pool {
            Pool::Pg(p) => Tx::Pg(p.begin().await?),
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
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
        Ok(match self {
            Detached::Pg(c) => Tx::Pg(c.begin().await?),
            Detached::Sqlite(c) => Tx::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
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
pub enum Tx<'c> {
    Pg(sqlx::Transaction<'c, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
}

impl Tx<'_> {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Pg(t) => Conn::Pg(t),
            Tx::Sqlite(t) => Conn::Sqlite(t),
        }
    }

    pub async fn fetch_all<T: FromRowAny>(
        &mut self,
        stmt: &impl SqlxBinder,
    ) -> Result<Vec<T>, DbError> {
        self.conn().fetch_all(stmt).await
    }

    pub async fn fetch_optional<T: FromRowAny>(
        &mut self,
        stmt: &impl SqlxBinder,
    ) -> Result<Option<T>, DbError> {
        self.conn().fetch_optional(stmt).await
    }

    pub async fn execute(&mut self, stmt: &impl SqlxBinder) -> Result<u64, DbError> {
        self.conn().execute(stmt).await
    }

    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Pg(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
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

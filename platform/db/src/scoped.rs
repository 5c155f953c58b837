//! Tenant-scoped statements. A `Scoped<S>` can only be made by a `TenantDb`,
//! already restricted to its tenant, and `TenantDb` executes nothing else:
//! forgetting the `tenant_id` filter is not possible through this API.

use crate::TENANT_ID;
use crate::conn::{Db, DbError, FromRowAny, Statement, Tx};
use dimos_kernel::TenantId;
use sea_query::{
    DeleteStatement, Expr, ExprTrait, IntoIden, IntoTableRef, JoinType, Query, SelectStatement,
    SimpleExpr, UpdateStatement,
};
use std::ops::{Deref, DerefMut};

/// A statement restricted to one tenant's rows.
#[derive(Debug, Clone)]
pub struct Scoped<S> {
    stmt: S,
    tenant: TenantId,
}

impl<S> Deref for Scoped<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.stmt
    }
}

/// Adding conditions, columns, ordering is fine: the tenant condition added
/// at construction stays (sea-query conditions can only be added).
impl<S> DerefMut for Scoped<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.stmt
    }
}

impl<S: Clone> Scoped<S> {
    /// The statement itself, to nest as a subquery of another scoped
    /// statement (it keeps its own tenant condition).
    pub fn clone_inner(&self) -> S {
        self.stmt.clone()
    }
}

impl Scoped<SelectStatement> {
    /// Joins another tenant-owned table, on the same tenant as well as `on`.
    pub fn join_scoped<T>(&mut self, table: T, on: SimpleExpr) -> &mut Self
    where
        T: IntoIden + Clone + 'static,
    {
        let tenant_cond = Expr::col((table.clone().into_iden(), TENANT_ID)).eq(self.tenant.uuid());
        self.stmt
            .join(JoinType::InnerJoin, table.into_iden(), on.and(tenant_cond));
        self
    }
}

/// An insert whose first column is always `tenant_id`.
#[derive(Debug, Clone)]
pub struct ScopedInsert {
    stmt: sea_query::InsertStatement,
    tenant: TenantId,
}

impl ScopedInsert {
    /// Adds one row; `values` follow the columns given to `TenantDb::insert`.
    pub fn values(&mut self, values: impl IntoIterator<Item = SimpleExpr>) -> &mut Self {
        let row = std::iter::once(SimpleExpr::from(self.tenant.uuid())).chain(values);
        // Column count mismatch is a programming error, caught by every test that inserts.
        self.stmt.values_panic(row);
        self
    }

    pub fn statement(&mut self) -> &mut sea_query::InsertStatement {
        &mut self.stmt
    }
}

/// The only door to tenant-owned data.
#[derive(Clone, Debug)]
pub struct TenantDb {
    db: Db,
    tenant: TenantId,
}

impl TenantDb {
    pub fn new(db: Db, tenant: TenantId) -> Self {
        TenantDb { db, tenant }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    pub fn select<T>(&self, table: T) -> Scoped<SelectStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        select_for(self.tenant, table)
    }

    pub fn insert<T, C, I>(&self, table: T, columns: I) -> ScopedInsert
    where
        T: IntoTableRef,
        C: IntoIden,
        I: IntoIterator<Item = C>,
    {
        insert_for(self.tenant, table, columns)
    }

    pub fn update<T>(&self, table: T) -> Scoped<UpdateStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        update_for(self.tenant, table)
    }

    pub fn delete<T>(&self, table: T) -> Scoped<DeleteStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        delete_for(self.tenant, table)
    }

    pub async fn fetch_all<T: FromRowAny>(
        &self,
        q: &Scoped<SelectStatement>,
    ) -> Result<Vec<T>, DbError> {
        self.check(q.tenant)?;
        self.db.fetch_all(&q.stmt).await
    }

    /// Rows whose shape only the caller knows: a person's data read from
    /// every declared table (`crate::portable`).
    pub async fn cells(
        &self,
        q: &Scoped<SelectStatement>,
        columns: &crate::portable::Columns,
    ) -> Result<Vec<Vec<crate::portable::Cell>>, DbError> {
        self.check(q.tenant)?;
        crate::portable::decode(self.db.fetch_raw(&q.stmt).await?, columns)
    }

    /// The columns of a table (the catalogue is no tenant's).
    pub async fn columns(&self, table: &str) -> Result<crate::portable::Columns, DbError> {
        self.db.columns(table).await
    }

    pub async fn fetch_optional<T: FromRowAny>(
        &self,
        q: &Scoped<SelectStatement>,
    ) -> Result<Option<T>, DbError> {
        self.check(q.tenant)?;
        self.db.fetch_optional(&q.stmt).await
    }

    pub async fn execute<S: Statement>(&self, q: &Scoped<S>) -> Result<u64, DbError> {
        self.check(q.tenant)?;
        self.db.execute(&q.stmt).await
    }

    pub async fn insert_rows(&self, q: &ScopedInsert) -> Result<u64, DbError> {
        self.check(q.tenant)?;
        self.db.execute(&q.stmt).await
    }

    /// The number of rows `q` selects, counting no further than `limit + 1`:
    /// a queue of thousands shows "more than `limit`" instead of paying a
    /// pass over every row on each page.
    pub async fn count_upto(
        &self,
        q: &Scoped<SelectStatement>,
        limit: u64,
    ) -> Result<u64, DbError> {
        use sea_query::{Alias, Asterisk};
        self.check(q.tenant)?;
        let mut inner = q.stmt.clone();
        inner.clear_selects();
        inner.expr(Expr::val(1)).clear_order_by().limit(limit + 1);
        let outer = Query::select()
            .expr(Expr::col(Asterisk).count())
            .from_subquery(inner, Alias::new("upto"))
            .to_owned();
        let (n,): (i64,) = self.db.fetch_one(&outer).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The condition "this row's folded text holds every word of the
    /// folded query" in this database's dialect (`crate::search`).
    pub fn text_match(
        &self,
        index: &crate::search::TextIndex,
        terms: &[String],
    ) -> Option<SimpleExpr> {
        crate::search::matches(self.db.backend(), self.tenant, index, terms)
    }

    pub async fn begin(&self) -> Result<TenantTx<'static>, DbError> {
        Ok(TenantTx {
            tx: self.db.begin().await?,
            tenant: self.tenant,
        })
    }

    fn check(&self, tenant: TenantId) -> Result<(), DbError> {
        same_tenant(tenant, self.tenant)
    }
}

fn select_for<T>(tenant: TenantId, table: T) -> Scoped<SelectStatement>
where
    T: IntoIden + Clone + 'static,
{
    let mut stmt = Query::select();
    stmt.from(table.clone().into_iden())
        .and_where(Expr::col((table.into_iden(), TENANT_ID)).eq(tenant.uuid()));
    Scoped { stmt, tenant }
}

fn insert_for<T, C, I>(tenant: TenantId, table: T, columns: I) -> ScopedInsert
where
    T: IntoTableRef,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Query::insert();
    stmt.into_table(table).columns(
        std::iter::once(TENANT_ID.into_iden()).chain(columns.into_iter().map(IntoIden::into_iden)),
    );
    ScopedInsert { stmt, tenant }
}

fn update_for<T>(tenant: TenantId, table: T) -> Scoped<UpdateStatement>
where
    T: IntoIden + Clone + 'static,
{
    let mut stmt = Query::update();
    stmt.table(table.clone().into_iden())
        .and_where(Expr::col((table.into_iden(), TENANT_ID)).eq(tenant.uuid()));
    Scoped { stmt, tenant }
}

fn delete_for<T>(tenant: TenantId, table: T) -> Scoped<DeleteStatement>
where
    T: IntoIden + Clone + 'static,
{
    let mut stmt = Query::delete();
    stmt.from_table(table.clone().into_iden())
        .and_where(Expr::col((table.into_iden(), TENANT_ID)).eq(tenant.uuid()));
    Scoped { stmt, tenant }
}

/// A statement built for one tenant and run through another's handle is a
/// bug in our code, never user input: refused, and logged loudly.
fn same_tenant(statement: TenantId, handle: TenantId) -> Result<(), DbError> {
    if statement == handle {
        Ok(())
    } else {
        tracing::error!(%statement, %handle, "statement scoped to another tenant refused");
        Err(DbError::WrongTenant)
    }
}

/// Reads one tenant's rows either on a connection of its own (`&TenantDb`)
/// or inside the caller's transaction (`&mut TenantTx`). A function that
/// only reads takes `impl Reader`, so code holding a transaction reads
/// through it instead of taking a second connection from the pool (two
/// connections per request starve the pool under load).
pub trait Reader: Send {
    fn tenant_id(&self) -> TenantId;

    fn select<T>(&self, table: T) -> Scoped<SelectStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        select_for(self.tenant_id(), table)
    }

    fn fetch_optional<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> impl Future<Output = Result<Option<T>, DbError>> + Send;

    fn fetch_all<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> impl Future<Output = Result<Vec<T>, DbError>> + Send;
}

impl Reader for &TenantDb {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    fn fetch_optional<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> impl Future<Output = Result<Option<T>, DbError>> + Send {
        TenantDb::fetch_optional(self, q)
    }

    fn fetch_all<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> impl Future<Output = Result<Vec<T>, DbError>> + Send {
        TenantDb::fetch_all(self, q)
    }
}

impl Reader for &mut TenantTx<'_> {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    fn fetch_optional<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> impl Future<Output = Result<Option<T>, DbError>> + Send {
        TenantTx::fetch_optional(self, q)
    }

    fn fetch_all<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> impl Future<Output = Result<Vec<T>, DbError>> + Send {
        TenantTx::fetch_all(self, q)
    }
}

/// A transaction over one tenant's data.
pub struct TenantTx<'c> {
    tx: Tx<'c>,
    tenant: TenantId,
}

impl<'c> TenantTx<'c> {
    /// Continues a transaction begun elsewhere (the scheduler locks a job
    /// first, then learns whose it is) as one tenant's.
    pub fn adopt(tx: Tx<'c>, tenant: TenantId) -> Self {
        TenantTx { tx, tenant }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The same statement builders as [`TenantDb`]'s, so a function given
    /// the transaction needs nothing else.
    pub fn select<T>(&self, table: T) -> Scoped<SelectStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        select_for(self.tenant, table)
    }

    pub fn insert<T, C, I>(&self, table: T, columns: I) -> ScopedInsert
    where
        T: IntoTableRef,
        C: IntoIden,
        I: IntoIterator<Item = C>,
    {
        insert_for(self.tenant, table, columns)
    }

    pub fn update<T>(&self, table: T) -> Scoped<UpdateStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        update_for(self.tenant, table)
    }

    pub fn delete<T>(&self, table: T) -> Scoped<DeleteStatement>
    where
        T: IntoIden + Clone + 'static,
    {
        delete_for(self.tenant, table)
    }

    pub async fn fetch_optional<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> Result<Option<T>, DbError> {
        same_tenant(q.tenant, self.tenant)?;
        self.tx.fetch_optional(&q.stmt).await
    }

    pub async fn fetch_all<T: FromRowAny>(
        &mut self,
        q: &Scoped<SelectStatement>,
    ) -> Result<Vec<T>, DbError> {
        same_tenant(q.tenant, self.tenant)?;
        self.tx.fetch_all(&q.stmt).await
    }

    pub async fn execute<S: Statement>(&mut self, q: &Scoped<S>) -> Result<u64, DbError> {
        same_tenant(q.tenant, self.tenant)?;
        self.tx.execute(&q.stmt).await
    }

    pub async fn insert_rows(&mut self, q: &ScopedInsert) -> Result<u64, DbError> {
        same_tenant(q.tenant, self.tenant)?;
        self.tx.execute(&q.stmt).await
    }

    /// An insert (or upsert) with `RETURNING`: the row it wrote.
    pub async fn insert_returning<T: FromRowAny>(
        &mut self,
        q: &ScopedInsert,
    ) -> Result<Option<T>, DbError> {
        same_tenant(q.tenant, self.tenant)?;
        self.tx.fetch_optional(&q.stmt).await
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await
    }

    /// Takes this tenant's lock called `name` until the transaction ends:
    /// other transactions taking it wait. Built from an UPDATE of a row, so
    /// it is the same statement on both databases.
    pub async fn lock(&mut self, tdb: &TenantDb, name: &str) -> Result<(), DbError> {
        use sea_query::{Alias, OnConflict};
        let mut init = tdb.insert(
            Alias::new("named_locks"),
            [Alias::new("name"), Alias::new("taken")],
        );
        init.values([name.into(), 0i64.into()]);
        init.statement().on_conflict(
            OnConflict::columns([Alias::new(TENANT_ID), Alias::new("name")])
                .do_nothing()
                .to_owned(),
        );
        self.insert_rows(&init).await?;
        let mut take = tdb.update(Alias::new("named_locks"));
        take.value(Alias::new("taken"), Expr::col(Alias::new("taken")).add(1))
            .and_where(Expr::col(Alias::new("name")).eq(name));
        self.execute(&take).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    fn tdb() -> (TenantId, TenantDb) {
        let t = TenantId::new();
        (
            t,
            TenantDb {
                db: Db::lazy_sqlite_for_tests(),
                tenant: t,
            },
        )
    }

    #[tokio::test]
    async fn a_statement_of_another_tenant_is_refused_in_every_build() {
        let (_, a) = tdb();
        let (_, b) = tdb();
        let mut q = a.select("widgets");
        q.column("name");
        // No debug_assert: the same error in release builds.
        assert!(matches!(
            b.fetch_all::<(String,)>(&q).await,
            Err(DbError::WrongTenant)
        ));
        assert!(matches!(
            b.execute(&a.delete("widgets")).await,
            Err(DbError::WrongTenant)
        ));
        let mut ins = a.insert("widgets", ["name"]);
        ins.values(["x".into()]);
        assert!(matches!(
            b.insert_rows(&ins).await,
            Err(DbError::WrongTenant)
        ));
        // Through a transaction too; its own builders are its tenant's.
        let mut tx = b.begin().await.unwrap();
        assert!(matches!(
            tx.execute(&a.update("widgets")).await,
            Err(DbError::WrongTenant)
        ));
        let (mine, _) = tx.select("widgets").build(SqliteQueryBuilder);
        let (theirs, _) = b.select("widgets").build(SqliteQueryBuilder);
        assert_eq!(mine, theirs);
    }

    #[tokio::test]
    async fn every_statement_is_filtered_by_tenant() {
        let (t, db) = tdb();
        let mut q = db.select("widgets");
        q.column("name").and_where(Expr::col("name").eq("x"));
        let (sql, _) = q.build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"SELECT "name" FROM "widgets" WHERE "widgets"."tenant_id" = $1 AND "name" = $2"#
        );
        let (sql, vals) = db
            .update("widgets")
            .value("name", "y")
            .to_owned()
            .build(SqliteQueryBuilder);
        assert!(sql.ends_with(r#"WHERE "widgets"."tenant_id" = ?"#), "{sql}");
        assert_eq!(vals.0.len(), 2);
        let (sql, _) = db.delete("widgets").build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"DELETE FROM "widgets" WHERE "widgets"."tenant_id" = $1"#
        );
        let mut ins = db.insert("widgets", ["name"]);
        ins.values([Expr::val("z")]);
        let (sql, vals) = ins.stmt.build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"INSERT INTO "widgets" ("tenant_id", "name") VALUES ($1, $2)"#
        );
        assert_eq!(vals.0[0], sea_query::Value::Uuid(Some(t.uuid())));
    }

    #[tokio::test]
    async fn scoped_joins_match_the_tenant_too() {
        let (_, db) = tdb();
        let mut q = db.select("a");
        q.column(("a", "x"));
        q.join_scoped("b", Expr::col(("a", "b_id")).equals(("b", "id")));
        let (sql, _) = q.build(PostgresQueryBuilder);
        assert!(
            sql.contains(r#"INNER JOIN "b" ON "a"."b_id" = "b"."id" AND "b"."tenant_id" = $1"#),
            "{sql}"
        );
    }
}

#[cfg(test)]
mod count_tests {
    use super::*;
    use crate::DbOptions;
    use sea_query::{Alias, Expr};

    #[tokio::test]
    async fn count_upto_stops_after_the_limit_and_counts_only_the_tenant() {
        // A shared in-memory database: the table made on one connection is
        // seen by the pool's.
        let opts = DbOptions::default();
        let url = format!(
            "sqlite:file:count-{}?mode=memory&cache=shared",
            TenantId::new()
        );
        let db = Db::connect(&url, &opts).await.unwrap();
        let (mine, theirs) = (TenantId::new(), TenantId::new());
        let create = Query::select().expr(Expr::val(1)).to_owned();
        db.fetch_one::<(i32,)>(&create).await.unwrap();
        let mut c = db.detach().await.unwrap();
        c.conn()
            .execute_raw("CREATE TABLE things (tenant_id BLOB NOT NULL, n INTEGER NOT NULL)")
            .await
            .unwrap();
        c.close().await;
        for (tenant, rows) in [(mine, 25), (theirs, 40)] {
            let t = TenantDb {
                db: db.clone(),
                tenant,
            };
            for n in 0..rows {
                let mut ins = t.insert(Alias::new("things"), [Alias::new("n")]);
                ins.values([Expr::val(n)]);
                t.insert_rows(&ins).await.unwrap();
            }
        }
        let t = TenantDb {
            db: db.clone(),
            tenant: mine,
        };
        let q = t.select(Alias::new("things"));
        assert_eq!(
            t.count_upto(&q, 10).await.unwrap(),
            11,
            "stops at limit + 1"
        );
        assert_eq!(
            t.count_upto(&q, 100).await.unwrap(),
            25,
            "only this tenant's"
        );
    }
}

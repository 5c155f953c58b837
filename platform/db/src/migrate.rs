//! Forward-only schema migrations for the platform and every module.
//!
//! Each component (the platform, each module) numbers its own migrations.
//! A migration has one SQL text per dialect. The applied ones are recorded
//! with a checksum; editing an applied migration stops start-up, since the
//! fix for a bad migration is a new one.

use crate::Backend;
use crate::conn::{Db, DbError, Detached};
use sea_query::{Expr, ExprTrait, Query};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => self.postgres,
            Backend::Sqlite => self.sqlite,
        }
    }

    fn checksum(&self, backend: Backend) -> String {
        hex::encode(Sha256::digest(self.sql(backend).as_bytes()))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    /// `platform` or a module id.
    pub component: &'static str,
    pub migrations: &'static [Migration],
    /// The tenant-owned tables these migrations create: what tenant export,
    /// a citizen's data export and retention work over without knowing the
    /// component. [`check_tenant_tables`] holds the schema to them.
    pub tenant_tables: &'static [TenantTable],
    /// Tables without a `tenant_id` (the platform's registry, sessions).
    /// Only the platform has any: a module's every table is a tenant's.
    pub global_tables: &'static [GlobalTable],
}

/// Where a table lives when the database is spread over several servers
/// (Citus; `docs/scaling.md`). On one server this changes nothing, but the
/// schema is kept so that the step needs no migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Spread by `tenant_id`, every such table colocated: one tenant's rows
    /// of every table on the same server, so its transactions stay local.
    ByTenant,
    /// Spread by another column (sessions, by their id).
    By(&'static str),
    /// Copied to every server: small, read by every request, written
    /// rarely (the registry of tenants and their domains).
    Reference,
    /// Kept on the coordinator only (migration bookkeeping).
    Coordinator,
}

/// What a column of a personal table holds that leads to the person a row
/// is about (for a citizen's own data export and for retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// The person's account id.
    Account,
    /// `account:<id>`, as audit entries name who acted.
    Actor,
    /// `taxid:<tax id>`, as role grants and departments name a person.
    TaxSubject,
    /// The `id` of a row of that (declared) table about the person.
    RowOf(&'static str),
    /// `<prefix>:<id>` of a row of that table (the audit trail's records).
    RecordOf(&'static str, &'static str),
}

/// A column that leads to the person a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub column: &'static str,
    pub holds: Holds,
}

/// The person's account id in `column`.
pub const fn account(column: &'static str) -> Link {
    Link {
        column,
        holds: Holds::Account,
    }
}

/// `account:<id>` in `column`.
pub const fn actor(column: &'static str) -> Link {
    Link {
        column,
        holds: Holds::Actor,
    }
}

/// `taxid:<tax id>` in `column`.
pub const fn tax_subject(column: &'static str) -> Link {
    Link {
        column,
        holds: Holds::TaxSubject,
    }
}

/// The id of a row of `table` about the person, in `column`.
pub const fn row_of(column: &'static str, table: &'static str) -> Link {
    Link {
        column,
        holds: Holds::RowOf(table),
    }
}

/// `<prefix>:<id>` of a row of `table` about the person, in `column`.
pub const fn record_of(column: &'static str, prefix: &'static str, table: &'static str) -> Link {
    Link {
        column,
        holds: Holds::RecordOf(prefix, table),
    }
}

/// Whom a table's rows are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// The municipality's own settings and records.
    Nobody,
    /// A personal table that has not said yet: refused at start-up.
    Unsaid,
    /// One person per row, found through any of `links`; rows whose column
    /// `hidden.0` equals `hidden.1` (staff-only notes, internal documents)
    /// stay out of the person's own download.
    Person {
        links: &'static [Link],
        hidden: Option<(&'static str, bool)>,
    },
    /// People not linked to an account (a child placed in an emergency) or
    /// several in one row (a placement run's snapshot): the municipality's
    /// data protection officer answers requests about them.
    Unlinked,
}

/// A tenant-owned table and whether its rows hold personal data.
#[derive(Debug, Clone, Copy)]
pub struct TenantTable {
    pub name: &'static str,
    pub personal_data: bool,
    /// [`Placement::ByTenant`] but for the registry's own tables.
    pub placement: Placement,
    pub about: About,
    /// What happens to its rows that lead to a case when the case's
    /// retention runs out.
    pub retention: Retention,
}

/// What clearing a case whose retention ran out does to a table's rows
/// that lead to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Deleted (a document and its file, a permit, an application).
    Delete,
    /// Kept as they are: the protocol book (kept by law), the audit trail
    /// (a hash chain), the tasks (who did what, when).
    Keep,
    /// These columns emptied (what staff noted on a case).
    Clear(&'static [(&'static str, Blank)]),
}

/// What an emptied column holds (the declaration says: SQLite's columns do
/// not tell JSON from text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blank {
    Null,
    /// `""`.
    Text,
    /// `{}`.
    Json,
}

impl TenantTable {
    /// A table whose rows are about people (exported with a citizen's data,
    /// subject to retention); say whom with [`TenantTable::about`].
    pub const fn personal(name: &'static str) -> Self {
        TenantTable {
            name,
            personal_data: true,
            placement: Placement::ByTenant,
            about: About::Unsaid,
            retention: Retention::Delete,
        }
    }

    /// A table of the municipality's own settings and records.
    pub const fn municipal(name: &'static str) -> Self {
        TenantTable {
            name,
            personal_data: false,
            placement: Placement::ByTenant,
            about: About::Nobody,
            retention: Retention::Keep,
        }
    }

    /// The same table, copied to every server instead of spread (the
    /// registry reads it across tenants, e.g. to find a tenant by domain).
    pub const fn reference(self) -> Self {
        TenantTable {
            placement: Placement::Reference,
            ..self
        }
    }

    /// Each row is about the person any of `links` leads to.
    pub const fn about(self, links: &'static [Link]) -> Self {
        TenantTable {
            about: About::Person {
                links,
                hidden: None,
            },
            ..self
        }
    }

    /// Rows whose `column` is `value` stay out of the person's download.
    pub const fn hidden_when(self, column: &'static str, value: bool) -> Self {
        TenantTable {
            about: match self.about {
                About::Person { links, .. } => About::Person {
                    links,
                    hidden: Some((column, value)),
                },
                other => other,
            },
            ..self
        }
    }

    /// Rows leading to a case stay when its retention runs out.
    pub const fn kept(self) -> Self {
        TenantTable {
            retention: Retention::Keep,
            ..self
        }
    }

    /// These columns of rows leading to a case are emptied when its
    /// retention runs out.
    pub const fn cleared(self, columns: &'static [(&'static str, Blank)]) -> Self {
        TenantTable {
            retention: Retention::Clear(columns),
            ..self
        }
    }

    /// Rows about people not linked to an account, or about several.
    pub const fn about_unlinked(self) -> Self {
        TenantTable {
            about: About::Unlinked,
            ..self
        }
    }
}

/// A table that belongs to no tenant, and where it lives.
#[derive(Debug, Clone, Copy)]
pub struct GlobalTable {
    pub name: &'static str,
    pub placement: Placement,
}

/// The migrations' own bookkeeping table, present in every schema.
pub const BOOKKEEPING: GlobalTable = GlobalTable {
    name: "dimos_migrations",
    placement: Placement::Coordinator,
};

/// Every table the sets declare with its placement: the global ones first
/// (tenant-owned reference tables point at them).
fn placements(sets: &[MigrationSet]) -> Vec<(&'static str, Placement, bool)> {
    let tenant = sets
        .iter()
        .flat_map(|s| s.tenant_tables.iter().map(|t| (t.name, t.placement, true)));
    let global = sets
        .iter()
        .flat_map(|s| s.global_tables.iter().map(|t| (t.name, t.placement, false)));
    global
        .chain(tenant)
        .chain(std::iter::once((
            BOOKKEEPING.name,
            BOOKKEEPING.placement,
            false,
        )))
        .collect()
}

/// What is wrong with the schema, one line each (empty when all is well).
/// Every table is declared, tenant-owned or global; a tenant-owned table
/// has a `tenant_id` and its primary key starts with it; and the schema can
/// be spread over servers by tenant (Citus): every unique index of a spread
/// table includes the column it is spread by, and a foreign key either
/// stays within a tenant (it includes `tenant_id`) or points at a reference
/// table. Start-up refuses a schema with any problem.
pub async fn check_tenant_tables(db: &Db, sets: &[MigrationSet]) -> Result<Vec<String>, DbError> {
    let mut declared: std::collections::BTreeMap<&str, (&str, Placement, bool)> =
        std::collections::BTreeMap::new();
    for s in sets {
        for t in s.tenant_tables {
            declared.insert(t.name, (s.component, t.placement, true));
        }
        for t in s.global_tables {
            declared.insert(t.name, (s.component, t.placement, false));
        }
    }
    declared.insert(BOOKKEEPING.name, ("platform", BOOKKEEPING.placement, false));
    let mut problems = vec![];
    let with_tenant = db.tables_with_column(crate::TENANT_ID).await?;
    let all = db.tables().await?;
    // The catalogue read once, not table by table (this runs at every start).
    let unique = db.unique_indexes().await?;
    let foreign = db.foreign_keys().await?;
    for table in &all {
        if declared.contains_key(table.as_str()) {
            continue;
        }
        problems.push(if with_tenant.contains(table) {
            format!("table {table} has a tenant_id column but no component declares it (tenant_tables)")
        } else {
            format!(
                "table {table} has no tenant_id column and is not one of the platform's global tables"
            )
        });
    }
    let linked: Vec<&str> = sets
        .iter()
        .flat_map(|s| s.tenant_tables)
        .filter(|t| matches!(t.about, About::Person { .. }))
        .map(|t| t.name)
        .collect();
    for s in sets {
        for t in s.tenant_tables {
            match t.about {
                About::Unsaid => problems.push(format!(
                    "{}: table {} holds personal data: say whom its rows are about (.about(…) or .about_unlinked())",
                    s.component, t.name
                )),
                About::Person { links, .. } => {
                    for l in links {
                        if let Holds::RowOf(other) | Holds::RecordOf(_, other) = l.holds
                            && !linked.contains(&other)
                        {
                            problems.push(format!(
                                "{}: {}.{} leads to {other}, which is not about a person",
                                s.component, t.name, l.column
                            ));
                        }
                    }
                }
                About::Nobody | About::Unlinked => {}
            }
        }
    }
    for (table, (component, placement, tenant_owned)) in &declared {
        if !all.iter().any(|p| p == table) {
            if *table != BOOKKEEPING.name {
                problems.push(format!(
                    "{component} declares table {table}, which does not exist"
                ));
            }
            continue;
        }
        let has_tenant = with_tenant.iter().any(|p| p == table);
        if *tenant_owned && !has_tenant {
            problems.push(format!(
                "{component} declares table {table}, which has no tenant_id column"
            ));
            continue;
        }
        if *tenant_owned {
            let key = db.primary_key(table).await?;
            if key.first().map(String::as_str) != Some(crate::TENANT_ID) {
                problems.push(format!(
                    "table {table} ({component}): primary key ({}) must start with tenant_id",
                    key.join(", ")
                ));
            }
        }
        let spread_by = match placement {
            Placement::ByTenant => Some(crate::TENANT_ID),
            Placement::By(column) => Some(*column),
            Placement::Reference | Placement::Coordinator => None,
        };
        if let Some(column) = spread_by {
            for (_, index, columns) in unique.iter().filter(|u| u.0 == **table) {
                if !columns.iter().any(|c| c == column) {
                    problems.push(format!(
                        "table {table} ({component}): unique index {index} ({}) must include {column}, the column it is spread by",
                        columns.join(", ")
                    ));
                }
            }
        }
        for (_, target, columns) in foreign.iter().filter(|f| f.0 == **table) {
            let target_placement = declared.get(target.as_str()).map(|d| d.1);
            let fine = match (placement, target_placement) {
                (_, Some(Placement::Reference)) => true,
                (Placement::ByTenant, Some(Placement::ByTenant)) => {
                    columns.iter().any(|c| c == crate::TENANT_ID)
                }
                _ => false,
            };
            if !fine {
                problems.push(format!(
                    "table {table} ({component}): foreign key ({}) to {target} must stay within a tenant (include tenant_id, both tables spread by tenant) or point at a reference table",
                    columns.join(", ")
                ));
            }
        }
    }
    Ok(problems)
}

/// The statements that spread this schema over a Citus cluster, run once on
/// the coordinator after the migrations (`dimos schema citus`).
pub fn citus_ddl(sets: &[MigrationSet]) -> String {
    let tables = placements(sets);
    let mut out = String::from(
        "-- Spreads the Dimos schema over a Citus cluster (docs/scaling.md).\n\
         -- Run on the coordinator once, after `dimos migrate`.\n\
         CREATE EXTENSION IF NOT EXISTS citus;\n\n\
         -- Copied to every server: the registry, read by every request.\n",
    );
    for (name, placement, _) in &tables {
        if *placement == Placement::Reference {
            out.push_str(&format!("SELECT create_reference_table('{name}');\n"));
        }
    }
    out.push_str(
        "\n-- Spread by tenant, colocated: a tenant's rows of every table on one server.\n",
    );
    let mut first: Option<&str> = None;
    for (name, placement, _) in &tables {
        if *placement != Placement::ByTenant {
            continue;
        }
        match first {
            None => {
                out.push_str(&format!(
                    "SELECT create_distributed_table('{name}', 'tenant_id');\n"
                ));
                first = Some(name);
            }
            Some(anchor) => out.push_str(&format!(
                "SELECT create_distributed_table('{name}', 'tenant_id', colocate_with => '{anchor}');\n"
            )),
        }
    }
    let others: Vec<_> = tables
        .iter()
        .filter_map(|(name, p, _)| match p {
            Placement::By(column) => Some((name, column)),
            _ => None,
        })
        .collect();
    if !others.is_empty() {
        out.push_str("\n-- Spread by their own key.\n");
        for (name, column) in others {
            out.push_str(&format!(
                "SELECT create_distributed_table('{name}', '{column}', colocate_with => 'none');\n"
            ));
        }
    }
    out.push_str("\n-- Left on the coordinator:");
    for (name, placement, _) in &tables {
        if *placement == Placement::Coordinator {
            out.push_str(&format!(" {name}"));
        }
    }
    out.push_str(".\n");
    out
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {component} {version} ({name}) was changed after it was applied; add a new migration instead"
    )]
    Changed {
        component: String,
        version: i64,
        name: String,
    },
    #[error(
        "migrations of {component} are not numbered 1, 2, 3…: found {found} at position {expected}"
    )]
    Numbering {
        component: String,
        expected: i64,
        found: i64,
    },
    #[error("migration {component} {version} ({name}) failed: {source}")]
    Failed {
        component: String,
        version: i64,
        name: String,
        source: DbError,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> Self {
        MigrateError::Db(e.into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub component: String,
    pub version: i64,
    pub name: String,
}

#[derive(sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    checksum: String,
}

/// An applied migration must be the one in the binary: the fix for a bad
/// migration is a new one.
fn same_as_applied(
    set: &MigrationSet,
    m: &Migration,
    row: &AppliedRow,
    sum: &str,
) -> Result<(), MigrateError> {
    if row.checksum == sum {
        Ok(())
    } else {
        Err(MigrateError::Changed {
            component: set.component.into(),
            version: m.version,
            name: m.name.into(),
        })
    }
}

const BOOKKEEPING_PG: &str = "CREATE TABLE IF NOT EXISTS dimos_migrations (
    component TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version))";
const BOOKKEEPING_SQLITE: &str = "CREATE TABLE IF NOT EXISTS dimos_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (component, version))";
/// Arbitrary constant key of the advisory lock held while migrating.
const PG_LOCK_KEY: i64 = 0x4449_4d4f_535f_4d49;

/// Applies every pending migration of `sets`, in order. Safe to run from
/// several processes at once: PostgreSQL serialises them with an advisory
/// lock, SQLite with its write lock.
pub async fn migrate(db: &Db, sets: &[MigrationSet]) -> Result<Vec<Applied>, MigrateError> {
    for set in sets {
        for (i, m) in set.migrations.iter().enumerate() {
            let expected = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
            if m.version != expected {
                return Err(MigrateError::Numbering {
                    component: set.component.into(),
                    expected,
                    found: m.version,
                });
            }
        }
    }
    let backend = db.backend();
    let mut conn = db.detach().await?;
    let result = run(&mut conn, backend, sets).await;
    conn.close().await;
    result
}

async fn run(
    conn: &mut Detached,
    backend: Backend,
    sets: &[MigrationSet],
) -> Result<Vec<Applied>, MigrateError> {
    match backend {
        Backend::Postgres => {
            // Lock first: CREATE TABLE IF NOT EXISTS is not safe against a
            // concurrent CREATE from another replica starting at the same time.
            conn.conn()
                .execute_raw(&format!("SELECT pg_advisory_lock({PG_LOCK_KEY})"))
                .await?;
            conn.conn().execute_raw(BOOKKEEPING_PG).await?;
        }
        Backend::Sqlite => conn.conn().execute_raw(BOOKKEEPING_SQLITE).await?,
    }
    let mut applied = vec![];
    let outcome = async {
        for set in sets {
            let q = Query::select()
                .columns(["version", "checksum"])
                .from("dimos_migrations")
                .and_where(Expr::col("component").eq(set.component))
                .to_owned();
            let done: Vec<AppliedRow> = conn.conn().fetch_all(&q).await?;
            let newer: Vec<i64> = done
                .iter()
                .map(|r| r.version)
                .filter(|v| !set.migrations.iter().any(|m| m.version == *v))
                .collect();
            if !newer.is_empty() {
                // Fine while a rolling upgrade is under way (expand steps
                // leave this release working); after a contract step an
                // older release must not come back.
                tracing::warn!(
                    component = set.component,
                    versions = ?newer,
                    "the database has migrations of a newer release than this one"
                );
            }
            for m in set.migrations {
                let sum = m.checksum(backend);
                if let Some(row) = done.iter().find(|r| r.version == m.version) {
                    same_as_applied(set, m, row, &sum)?;
                    continue;
                }
                let fail = |source| MigrateError::Failed {
                    component: set.component.into(),
                    version: m.version,
                    name: m.name.into(),
                    source,
                };
                let mut tx = conn.begin().await?;
                // Another process may have applied it since the list was
                // read: SQLite has no advisory lock, but this transaction
                // holds its write lock, so the answer here is final.
                let again = Query::select()
                    .columns(["version", "checksum"])
                    .from("dimos_migrations")
                    .and_where(Expr::col("component").eq(set.component))
                    .and_where(Expr::col("version").eq(m.version))
                    .to_owned();
                if let Some(row) = tx.fetch_optional::<AppliedRow>(&again).await? {
                    same_as_applied(set, m, &row, &sum)?;
                    continue;
                }
                tx.conn().execute_raw(m.sql(backend)).await.map_err(fail)?;
                let record = Query::insert()
                    .into_table("dimos_migrations")
                    .columns(["component", "version", "name", "checksum"])
                    .values_panic([
                        set.component.into(),
                        m.version.into(),
                        m.name.into(),
                        sum.into(),
                    ])
                    .to_owned();
                tx.execute(&record).await.map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                tracing::info!(
                    component = set.component,
                    version = m.version,
                    name = m.name,
                    "migration applied"
                );
                applied.push(Applied {
                    component: set.component.into(),
                    version: m.version,
                    name: m.name.into(),
                });
            }
        }
        Ok(())
    }
    .await;
    if backend == Backend::Postgres {
        conn.conn()
            .execute_raw(&format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})"))
            .await?;
    }
    outcome.map(|()| applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DbOptions;

    const V1: Migration = Migration {
        version: 1,
        name: "widgets",
        postgres: "CREATE TABLE widgets (id BIGINT PRIMARY KEY)",
        sqlite: "CREATE TABLE widgets (id INTEGER PRIMARY KEY)",
    };

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn applies_once_and_refuses_edited_migrations() {
        let (_dir, db) = sqlite().await;
        let set = MigrationSet {
            component: "test",
            migrations: &[V1],
            tenant_tables: &[],
            global_tables: &[],
        };
        assert_eq!(migrate(&db, &[set]).await.unwrap().len(), 1);
        assert!(migrate(&db, &[set]).await.unwrap().is_empty());

        const EDITED: [Migration; 1] = [Migration {
            sqlite: "CREATE TABLE widgets (id TEXT)",
            ..V1
        }];
        let edited = MigrationSet {
            component: "test",
            migrations: &EDITED,
            tenant_tables: &[],
            global_tables: &[],
        };
        assert!(matches!(
            migrate(&db, &[edited]).await,
            Err(MigrateError::Changed { version: 1, .. })
        ));
    }

    /// A rolling upgrade: the next release applied its migration, and a
    /// replica of the running release restarts before it is replaced.
    #[tokio::test]
    async fn the_previous_release_starts_on_a_newer_schema() {
        let (_dir, db) = sqlite().await;
        const NEXT: [Migration; 2] = [
            V1,
            Migration {
                version: 2,
                name: "gadgets",
                postgres: "",
                sqlite: "ALTER TABLE widgets ADD COLUMN colour TEXT",
            },
        ];
        let set = |migrations| MigrationSet {
            component: "test",
            migrations,
            tenant_tables: &[],
            global_tables: &[],
        };
        assert_eq!(migrate(&db, &[set(&[V1])]).await.unwrap().len(), 1);
        assert_eq!(migrate(&db, &[set(&NEXT)]).await.unwrap().len(), 1);
        assert!(migrate(&db, &[set(&[V1])]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failing_migration_changes_nothing() {
        let (_dir, db) = sqlite().await;
        const BAD: [Migration; 2] = [
            V1,
            Migration {
                version: 2,
                name: "broken",
                postgres: "",
                sqlite: "CREATE TABLE gadgets (id INTEGER); CREATE TABLE oops (",
            },
        ];
        let set = MigrationSet {
            component: "test",
            migrations: &BAD,
            tenant_tables: &[],
            global_tables: &[],
        };
        let err = migrate(&db, &[set]).await.unwrap_err();
        assert!(
            matches!(err, MigrateError::Failed { version: 2, .. }),
            "{err}"
        );
        let tables: Vec<(String,)> = db
            .fetch_all(
                &Query::select()
                    .column("name")
                    .from("sqlite_master")
                    .and_where(Expr::col("name").eq("gadgets"))
                    .to_owned(),
            )
            .await
            .unwrap();
        assert!(
            tables.is_empty(),
            "the failed migration's first statement must be rolled back"
        );
    }

    #[tokio::test]
    async fn numbering_gaps_are_rejected() {
        let (_dir, db) = sqlite().await;
        const GAP: [Migration; 1] = [Migration { version: 2, ..V1 }];
        let set = MigrationSet {
            component: "test",
            migrations: &GAP,
            tenant_tables: &[],
            global_tables: &[],
        };
        assert!(matches!(
            migrate(&db, &[set]).await,
            Err(MigrateError::Numbering { .. })
        ));
    }
}

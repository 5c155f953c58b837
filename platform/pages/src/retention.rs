//! Retention: a municipality keeps each service's case files for the years
//! the service says (`retention_years` of its definition; the municipal
//! admin may change it on the service's page), counted from the case's
//! closing. Then a job clears the file: the applicant's name, the subject,
//! the form's data and the reasoning, what staff noted on it, every
//! document (rows and files), and every row of a personal table that leads
//! to the case (a permit, an application and its results), in one
//! transaction per case with an entry in the audit trail. What stays: that
//! the case existed, its service, dates, outcome and protocol number (the
//! protocol book is kept by law), and the audit trail.
//!
//! Safe on every replica at once: a case is claimed by the UPDATE that
//! marks it cleared, which only one transaction can make.

use chrono::{DateTime, Months, Utc};
use dimos_db::migrate::{About, Blank, Holds, MigrationSet, Retention, TenantTable};
use dimos_db::portable::Columns;
use dimos_db::sea_query::{Alias, Expr, ExprTrait, SimpleExpr};
use dimos_db::{Db, TenantDb};
use dimos_identity::{AuditEntry, AuditLog};
use dimos_kernel::Error;
use dimos_web::state::AppState;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Cases cleared per statement batch.
const BATCH: u64 = 100;

/// One table a case's clearing touches.
struct Step {
    table: &'static TenantTable,
    /// Whether another table's rows lead to its rows (then their ids are
    /// needed), and whether its rows name files in the object store.
    linked_to: bool,
    object_key: bool,
}

/// The tables a case's clearing touches, each after the tables its links
/// lead to. The same for every municipality: made once a run, from the
/// catalogue, before any transaction begins.
struct Plan {
    steps: Vec<Step>,
}

async fn plan(db: &Db, sets: &[MigrationSet]) -> Result<Plan, Error> {
    let mut pending: Vec<&'static TenantTable> = sets
        .iter()
        .flat_map(|s| s.tenant_tables.iter())
        .filter(|t| {
            t.name != "cases"
                && matches!(t.about, About::Person { links, .. }
                    if links.iter().any(|l| matches!(l.holds, Holds::RowOf(_))))
        })
        .collect();
    let mut reached = vec!["cases"];
    let mut tables = vec![];
    loop {
        let before = pending.len();
        let mut next = vec![];
        for t in pending {
            let About::Person { links, .. } = t.about else {
                continue;
            };
            if links
                .iter()
                .any(|l| matches!(l.holds, Holds::RowOf(o) if reached.contains(&o)))
            {
                reached.push(t.name);
                tables.push(t);
            } else {
                next.push(t);
            }
        }
        pending = next;
        if pending.len() == before || pending.is_empty() {
            break;
        }
    }
    let mut steps = vec![];
    for &table in &tables {
        let columns: Columns = db.columns(table.name).await?;
        let has = |name: &str| columns.iter().any(|(c, _)| c == name);
        let linked_to = has("id")
            && tables.iter().any(|t| {
                matches!(t.about, About::Person { links, .. }
                    if links.iter().any(|l| l.holds == Holds::RowOf(table.name)))
            });
        steps.push(Step {
            table,
            linked_to,
            object_key: has("object_key"),
        });
    }
    Ok(Plan { steps })
}

/// Clears every case of this municipality whose retention has run out;
/// returns how many.
async fn run_for(
    state: &AppState,
    tdb: &TenantDb,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let mut cleared = 0;
    let processes: Vec<String> = state
        .workflow()
        .processes()
        .map(|(p, _, _)| p.to_owned())
        .collect();
    for process in processes {
        let def = state.workflow().effective(tdb, &process).await?;
        let Some(cutoff) =
            now.checked_sub_months(Months::new(def.retention_years.saturating_mul(12)))
        else {
            continue;
        };
        loop {
            let mut q = tdb.select(Alias::new("cases"));
            q.column(Alias::new("id"))
                .and_where(Expr::col(Alias::new("process")).eq(process.as_str()))
                .and_where(Expr::col(Alias::new("closed_at")).lt(cutoff))
                .and_where(Expr::col(Alias::new("anonymised_at")).is_null())
                .limit(BATCH);
            let due: Vec<(Uuid,)> = tdb.fetch_all(&q).await?;
            let n = due.len();
            for (id,) in due {
                if clear(state, tdb, plan, id, now).await? {
                    cleared += 1;
                }
            }
            if (n as u64) < BATCH {
                break;
            }
        }
    }
    Ok(cleared)
}

/// Every municipality's due cases (the hourly job).
#[allow(clippy::disallowed_methods)] // the platform's own job: works across tenants
pub async fn run(state: &AppState) -> Result<usize, Error> {
    let now = state.workflow().now();
    let plan = plan(state.db(), &state.modules().migration_sets()).await?;
    let mut n = 0;
    for t in state.registry().tenants() {
        n += run_for(state, &state.tenant_db(t.id), &plan, now).await?;
    }
    Ok(n)
}

/// What a cleared column holds: nothing, in the form it allows.
fn blank(b: Blank) -> SimpleExpr {
    match b {
        Blank::Text => Expr::val(""),
        Blank::Json => Expr::val(serde_json::json!({})),
        Blank::Null => Expr::cust("NULL"),
    }
}

async fn clear(
    state: &AppState,
    tdb: &TenantDb,
    plan: &Plan,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let mut tx = tdb.begin().await?;
    let mut claim = tdb.update(Alias::new("cases"));
    claim
        .value(Alias::new("anonymised_at"), now)
        .value(Alias::new("applicant_name"), "")
        .value(Alias::new("subject"), "")
        .value(Alias::new("data"), serde_json::json!({}))
        .value(Alias::new("reasoning"), Option::<String>::None)
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .and_where(Expr::col(Alias::new("anonymised_at")).is_null());
    if tx.execute(&claim).await? == 0 {
        // Another replica cleared it first.
        return Ok(false);
    }
    let mut ids: BTreeMap<&str, Vec<Uuid>> = BTreeMap::from([("cases", vec![id])]);
    let mut objects = vec![];
    let mut counts = serde_json::Map::new();
    for step in &plan.steps {
        let table = step.table;
        let About::Person { links, .. } = table.about else {
            continue;
        };
        let mut any = dimos_db::sea_query::Cond::any();
        let mut conditions = 0;
        for l in links {
            if let Holds::RowOf(other) = l.holds
                && let Some(found) = ids.get(other).filter(|f| !f.is_empty())
            {
                any = any.add(Expr::col(Alias::new(l.column)).is_in(found.clone()));
                conditions += 1;
            }
        }
        if conditions == 0 {
            continue;
        }
        if step.linked_to {
            let mut q = tdb.select(Alias::new(table.name));
            q.column(Alias::new("id")).cond_where(any.clone());
            let found: Vec<(Uuid,)> = tx.fetch_all(&q).await?;
            ids.insert(table.name, found.into_iter().map(|r| r.0).collect());
        }
        let n = match table.retention {
            Retention::Keep => continue,
            Retention::Clear(cols) => {
                let mut q = tdb.update(Alias::new(table.name));
                for (c, b) in cols {
                    q.value(Alias::new(*c), blank(*b));
                }
                q.cond_where(any);
                tx.execute(&q).await?
            }
            Retention::Delete => {
                if step.object_key {
                    let mut q = tdb.select(Alias::new(table.name));
                    q.column(Alias::new("object_key")).cond_where(any.clone());
                    let keys: Vec<(String,)> = tx.fetch_all(&q).await?;
                    objects.extend(keys.into_iter().map(|k| k.0));
                }
                let mut q = tdb.delete(Alias::new(table.name));
                q.cond_where(any);
                tx.execute(&q).await?
            }
        };
        counts.insert(table.name.to_owned(), n.into());
    }
    let entry = AuditEntry::new("system:retention", "retention_cleared")
        .record(format!("case:{id}"))
        .detail(serde_json::Value::Object(counts));
    AuditLog::append_in(&mut tx, tdb, &entry).await?;
    tx.commit().await?;
    // The files after the rows: one left behind is swept as an orphan.
    for key in objects {
        if let Err(e) = state.objects().delete(&key).await {
            tracing::warn!(key, error = %e, "a cleared document's file stays until the orphan sweep");
        }
    }
    Ok(true)
}

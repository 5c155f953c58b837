//! Everything a municipality holds about one person (GDPR articles 15 and
//! 20), read from the declared tables: each personal table says which of
//! its columns lead to the person (`TenantTable::about`), so a module's
//! tables are in the download without code of its own.

use dimos_db::TenantDb;
use dimos_db::migrate::{About, Holds, MigrationSet, TenantTable};
use dimos_db::portable::{Cell, Columns, Kind};
use dimos_db::sea_query::{Alias, Cond, Expr, ExprTrait, Value};
use dimos_kernel::Error;
use std::collections::BTreeMap;

/// The person: their account id and tax id (role grants name them by it).
#[derive(Debug, Clone)]
pub struct Person<'a> {
    pub account: uuid::Uuid,
    pub tax_id: Option<&'a str>,
}

/// A cell as people read JSON: UUIDs, times and nested JSON alike on both
/// databases (SQLite keeps them as bytes and text).
fn readable(cell: Cell) -> serde_json::Value {
    use serde_json::Value as J;
    match cell {
        Cell::Null => J::Null,
        Cell::Bool(b) => J::Bool(b),
        Cell::Int(i) => J::from(i),
        Cell::Float(f) => J::from(f),
        Cell::Text(s) => {
            let nested = (s.starts_with('{') || s.starts_with('['))
                .then(|| serde_json::from_str::<J>(&s).ok())
                .flatten();
            nested.unwrap_or(J::String(s))
        }
        Cell::Bytes(b) => match uuid::Uuid::from_slice(&b) {
            Ok(u) => J::String(u.to_string()),
            Err(_) => J::String(hex::encode(b)),
        },
        Cell::Uuid(u) => J::String(u.to_string()),
        Cell::Time(t) => J::String(t.to_rfc3339()),
        Cell::Date(d) => J::String(d.to_string()),
        Cell::Json(j) => j,
    }
}

/// The value a link column is compared with, typed as the column is.
fn value_for(kind: Kind, id: uuid::Uuid) -> Value {
    match kind {
        Kind::Text => Value::String(Some(id.to_string())),
        _ => Value::Uuid(Some(id)),
    }
}

/// The tables about one person, each after the tables its links lead to.
fn in_order(sets: &[MigrationSet]) -> Result<Vec<&'static TenantTable>, Error> {
    let mut pending: Vec<&'static TenantTable> = sets
        .iter()
        .flat_map(|s| s.tenant_tables.iter())
        .filter(|t| matches!(t.about, About::Person { .. }))
        .collect();
    let mut done: Vec<&'static TenantTable> = vec![];
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|t| {
            let About::Person { links, .. } = t.about else {
                return false;
            };
            let ready = links.iter().all(|l| match l.holds {
                Holds::RowOf(other) | Holds::RecordOf(_, other) => {
                    done.iter().any(|d| d.name == other)
                }
                _ => true,
            });
            if ready {
                done.push(t);
            }
            !ready
        });
        if pending.len() == before {
            break;
        }
    }
    // Tables whose links go round in a circle would be left out of the
    // download: a declaration error, refused rather than silent.
    if let Some(t) = pending.first() {
        return Err(Error::internal(format!(
            "{}: its links to other tables go round in a circle",
            t.name
        )));
    }
    Ok(done)
}

/// Every row of every personal table about `person`, by table, without
/// sealed keys and without what `hidden_when` keeps back.
pub async fn collect(
    tdb: &TenantDb,
    sets: &[MigrationSet],
    person: &Person<'_>,
) -> Result<BTreeMap<&'static str, Vec<serde_json::Value>>, Error> {
    let mut ids: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for table in in_order(sets)? {
        let About::Person { links, hidden } = table.about else {
            continue;
        };
        let columns: Columns = tdb.columns(table.name).await?;
        let kind_of = |c: &str| columns.iter().find(|(n, _)| n == c).map(|(_, k)| *k);
        let mut any = Cond::any();
        let mut conditions = 0;
        for l in links {
            let col = Expr::col(Alias::new(l.column));
            let Some(kind) = kind_of(l.column) else {
                return Err(Error::internal(format!(
                    "{}.{} is declared but does not exist",
                    table.name, l.column
                )));
            };
            match l.holds {
                Holds::Account => any = any.add(col.eq(value_for(kind, person.account))),
                Holds::Actor => any = any.add(col.eq(format!("account:{}", person.account))),
                Holds::TaxSubject => {
                    let Some(tax) = person.tax_id else { continue };
                    any = any.add(col.eq(format!("taxid:{tax}")));
                }
                Holds::RowOf(other) => {
                    let found = ids.get(other).cloned().unwrap_or_default();
                    if found.is_empty() {
                        continue;
                    }
                    any = any.add(col.is_in(found));
                }
                Holds::RecordOf(prefix, other) => {
                    let found: Vec<String> = ids
                        .get(other)
                        .into_iter()
                        .flatten()
                        .filter_map(|v| match v {
                            Value::Uuid(Some(u)) => Some(format!("{prefix}:{u}")),
                            _ => None,
                        })
                        .collect();
                    if found.is_empty() {
                        continue;
                    }
                    any = any.add(col.is_in(found));
                }
            }
            conditions += 1;
        }
        let rows = if conditions == 0 {
            vec![]
        } else {
            let mut q = tdb.select(Alias::new(table.name));
            q.columns(columns.iter().map(|(c, _)| Alias::new(c)))
                .cond_where(any);
            if let Some((column, value)) = hidden {
                q.and_where(Expr::col(Alias::new(column)).ne(value));
            }
            tdb.cells(&q, &columns).await?
        };
        if let Some(i) = columns.iter().position(|(c, _)| c == "id") {
            ids.insert(
                table.name,
                rows.iter()
                    .filter_map(|r| r[i].clone().coerce(Kind::Uuid).ok())
                    .filter_map(|c| match c {
                        Cell::Uuid(u) => Some(Value::Uuid(Some(u))),
                        _ => None,
                    })
                    .collect(),
            );
        }
        let json: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .zip(row)
                    .filter(|((c, _), _)| {
                        c != dimos_db::TENANT_ID
                            && !dimos_signing::SEALED_COLUMNS
                                .iter()
                                .any(|(t, s)| *t == table.name && s == c)
                    })
                    .map(|((c, _), cell)| (c.clone(), readable(cell)))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        out.insert(table.name, json);
    }
    Ok(out)
}

/// The tables whose rows are about people not linked to an account: what
/// the download says it cannot contain (the officer answers for them).
pub fn unlinked(sets: &[MigrationSet]) -> Vec<&'static str> {
    sets.iter()
        .flat_map(|s| s.tenant_tables.iter())
        .filter(|t| matches!(t.about, About::Unlinked))
        .map(|t| t.name)
        .collect()
}

//! Keyset pagination: a page starts after the last row of the page before
//! it (or ends before the first row of the page after it), compared on the
//! list's sort key. A deep page reads only its own rows from the index that
//! serves the order; `OFFSET` reads, and throws away, every row before it.
//!
//! The sort key must end in a unique column (an id) so that rows with equal
//! leading values are neither skipped nor repeated.

use sea_query::{Expr, ExprTrait, NullOrdering, Order, SelectStatement, SimpleExpr, Value};

/// One column of a list's sort key.
#[derive(Debug, Clone)]
pub struct SortKey {
    col: SimpleExpr,
    order: Order,
    /// The column can be NULL, and NULLs come last in `order`.
    nulls_last: bool,
}

impl SortKey {
    pub fn asc(col: impl Into<SimpleExpr>) -> Self {
        Self {
            col: col.into(),
            order: Order::Asc,
            nulls_last: false,
        }
    }

    pub fn desc(col: impl Into<SimpleExpr>) -> Self {
        Self {
            col: col.into(),
            order: Order::Desc,
            nulls_last: false,
        }
    }

    /// A column that can be NULL, ascending, with its NULLs last.
    pub fn asc_nulls_last(col: impl Into<SimpleExpr>) -> Self {
        Self {
            col: col.into(),
            order: Order::Asc,
            nulls_last: true,
        }
    }
}

/// Where a page is: the first one, the rows after a key (next), or the
/// rows before a key (previous). The key holds one value per [`SortKey`];
/// a NULL of a nullable column is `Value::…(None)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Seek {
    First,
    After(Vec<Value>),
    Before(Vec<Value>),
}

fn is_null(v: &Value) -> bool {
    // sea-query's values hold their NULLs as `None` of their own type.
    matches!(
        v,
        Value::Bool(None)
            | Value::TinyInt(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::TinyUnsigned(None)
            | Value::SmallUnsigned(None)
            | Value::Unsigned(None)
            | Value::BigUnsigned(None)
            | Value::Float(None)
            | Value::Double(None)
            | Value::String(None)
            | Value::Char(None)
            | Value::Bytes(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::Uuid(None)
            | Value::Json(None)
    )
}

/// `col` equal to `v` (NULL equals NULL here: a key position).
fn same(k: &SortKey, v: &Value) -> SimpleExpr {
    if is_null(v) {
        Expr::expr(k.col.clone()).is_null()
    } else {
        Expr::expr(k.col.clone()).eq(v.clone())
    }
}

/// `col` strictly beyond `v` in the direction read: `forward` follows the
/// list's order, backward goes against it. `None` when nothing can be.
fn beyond(k: &SortKey, v: &Value, forward: bool) -> Option<SimpleExpr> {
    let greater = matches!(k.order, Order::Asc) == forward;
    let col = || Expr::expr(k.col.clone());
    if !k.nulls_last {
        return Some(if greater {
            col().gt(v.clone())
        } else {
            col().lt(v.clone())
        });
    }
    // NULLs sit after every value in the list's order.
    match (is_null(v), forward) {
        (true, true) => None,
        (true, false) => Some(col().is_not_null()),
        (false, true) => Some(col().gt(v.clone()).or(col().is_null())),
        (false, false) => Some(col().lt(v.clone())),
    }
}

/// The condition "beyond the key" for a whole sort key, lexicographically:
/// `k1 > v1 OR (k1 = v1 AND k2 > v2) OR …`, with the first column's bound
/// repeated alone (`k1 >= v1`) so that the database can start the index
/// range there instead of filtering from the list's beginning.
fn condition(keys: &[SortKey], values: &[Value], forward: bool) -> Option<SimpleExpr> {
    let mut any: Option<SimpleExpr> = None;
    for i in 0..keys.len() {
        let Some(mut term) = beyond(&keys[i], &values[i], forward) else {
            continue;
        };
        for j in (0..i).rev() {
            term = same(&keys[j], &values[j]).and(term);
        }
        any = Some(match any {
            None => term,
            Some(a) => a.or(term),
        });
    }
    let any = any?;
    let first = &keys[0];
    let v = &values[0];
    let bound = match beyond(first, v, forward) {
        Some(b) => b.or(same(first, v)),
        None => same(first, v),
    };
    Some(bound.and(any))
}

/// Restricts `q` to one page: orders it by `keys` (reversed when reading
/// backwards), starts it after (or before) the key, and asks for
/// `per_page + 1` rows so the caller can tell whether more follow. Pass the
/// rows to [`finish`].
///
/// A key of the wrong length reads the first page (it cannot come from
/// one of our own links).
pub fn apply(q: &mut SelectStatement, keys: &[SortKey], seek: &Seek, per_page: u64) {
    let (values, forward) = match seek {
        Seek::First => (None, true),
        Seek::After(v) => (Some(v), true),
        Seek::Before(v) => (Some(v), false),
    };
    if let Some(values) = values.filter(|v| v.len() == keys.len() && !keys.is_empty()) {
        match condition(keys, values, forward) {
            Some(c) => {
                q.and_where(c);
            }
            // Nothing lies beyond the key.
            None => {
                q.and_where(Expr::val(1).eq(0));
            }
        }
    }
    for k in keys {
        let order = match (&k.order, forward) {
            (Order::Asc, true) | (Order::Desc, false) => Order::Asc,
            _ => Order::Desc,
        };
        if k.nulls_last {
            let nulls = if forward {
                NullOrdering::Last
            } else {
                NullOrdering::First
            };
            q.order_by_expr_with_nulls(k.col.clone(), order, nulls);
        } else {
            q.order_by_expr(k.col.clone(), order);
        }
    }
    q.limit(per_page + 1);
}

/// The rows of a page read by [`apply`], in the list's order, and whether
/// there is a page before and after them.
#[derive(Debug)]
pub struct Window<T> {
    pub rows: Vec<T>,
    pub has_prev: bool,
    pub has_next: bool,
}

pub fn finish<T>(mut rows: Vec<T>, seek: &Seek, per_page: u64) -> Window<T> {
    let per_page = usize::try_from(per_page).unwrap_or(usize::MAX);
    let extra = rows.len() > per_page;
    rows.truncate(per_page);
    match seek {
        Seek::First => Window {
            rows,
            has_prev: false,
            has_next: extra,
        },
        Seek::After(_) => Window {
            rows,
            has_prev: true,
            has_next: extra,
        },
        Seek::Before(_) => {
            rows.reverse();
            Window {
                rows,
                has_prev: extra,
                has_next: true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{Alias, PostgresQueryBuilder, Query, SqliteQueryBuilder};

    fn col(name: &str) -> SimpleExpr {
        Expr::col(Alias::new(name))
    }

    fn sql(seek: &Seek, keys: &[SortKey]) -> String {
        let mut q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("t"))
            .to_owned();
        apply(&mut q, keys, seek, 25);
        q.to_string(PostgresQueryBuilder)
    }

    #[test]
    fn the_next_page_starts_after_the_key_with_a_range_on_the_first_column() {
        let keys = [SortKey::desc(col("at")), SortKey::desc(col("id"))];
        let s = sql(
            &Seek::After(vec![Value::Int(Some(5)), Value::Int(Some(9))]),
            &keys,
        );
        assert_eq!(
            s,
            r#"SELECT "id" FROM "t" WHERE ("at" < 5 OR "at" = 5) AND ("at" < 5 OR ("at" = 5 AND "id" < 9)) ORDER BY "at" DESC, "id" DESC LIMIT 26"#
        );
    }

    #[test]
    fn the_previous_page_reads_backwards() {
        let keys = [SortKey::desc(col("at")), SortKey::desc(col("id"))];
        let s = sql(
            &Seek::Before(vec![Value::Int(Some(5)), Value::Int(Some(9))]),
            &keys,
        );
        assert_eq!(
            s,
            r#"SELECT "id" FROM "t" WHERE ("at" > 5 OR "at" = 5) AND ("at" > 5 OR ("at" = 5 AND "id" > 9)) ORDER BY "at" ASC, "id" ASC LIMIT 26"#
        );
    }

    #[test]
    fn nulls_last_columns_keep_their_nulls_at_the_end() {
        let keys = [SortKey::asc_nulls_last(col("due")), SortKey::asc(col("id"))];
        // After a row with a date: later dates, or no date at all.
        let s = sql(
            &Seek::After(vec![Value::Int(Some(3)), Value::Int(Some(1))]),
            &keys,
        );
        assert!(
            s.contains(r#"("due" > 3 OR "due" IS NULL OR ("due" = 3 AND "id" > 1))"#),
            "{s}"
        );
        assert!(
            s.ends_with(r#"ORDER BY "due" ASC NULLS LAST, "id" ASC LIMIT 26"#),
            "{s}"
        );
        // After a row without one: only rows without one, later ids.
        let s = sql(
            &Seek::After(vec![Value::Int(None), Value::Int(Some(1))]),
            &keys,
        );
        assert!(
            s.contains(r#"WHERE "due" IS NULL AND ("due" IS NULL AND "id" > 1)"#),
            "{s}"
        );
        // Before a row without one: every dated row, or earlier undated.
        let s = sql(
            &Seek::Before(vec![Value::Int(None), Value::Int(Some(1))]),
            &keys,
        );
        assert!(s.contains(r#""due" IS NOT NULL"#), "{s}");
        assert!(
            s.ends_with(r#"ORDER BY "due" DESC NULLS FIRST, "id" DESC LIMIT 26"#),
            "{s}"
        );
    }

    #[test]
    fn a_key_of_the_wrong_length_reads_the_first_page() {
        let keys = [SortKey::desc(col("at")), SortKey::desc(col("id"))];
        let s = sql(&Seek::After(vec![Value::Int(Some(5))]), &keys);
        assert!(!s.contains("WHERE"), "{s}");
        let mut q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("t"))
            .to_owned();
        apply(&mut q, &keys, &Seek::First, 10);
        assert!(q.to_string(SqliteQueryBuilder).ends_with("LIMIT 11"));
    }

    /// Walking a list forwards to its end, then backwards to its start,
    /// by keys, on a real database: every row once, in order, whatever
    /// the duplicate leading values and the NULLs.
    #[tokio::test]
    async fn walking_pages_both_ways_visits_every_row_once() {
        use crate::{Db, DbOptions};
        let url = format!(
            "sqlite:file:keyset-{}?mode=memory&cache=shared",
            uuid::Uuid::new_v4()
        );
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        let probe = Query::select().expr(Expr::val(1)).to_owned();
        db.fetch_one::<(i32,)>(&probe).await.unwrap();
        let mut c = db.detach().await.unwrap();
        c.conn()
            .execute_raw("CREATE TABLE t (due INTEGER, id INTEGER NOT NULL)")
            .await
            .unwrap();
        c.close().await;
        let rows: Vec<(Option<i32>, i32)> = (0..53)
            .map(|i| (if i % 7 == 0 { None } else { Some(i % 5) }, i))
            .collect();
        for (due, id) in &rows {
            let ins = Query::insert()
                .into_table(Alias::new("t"))
                .columns([Alias::new("due"), Alias::new("id")])
                .values_panic([Expr::val(*due), Expr::val(*id)])
                .to_owned();
            db.execute(&ins).await.unwrap();
        }
        let mut expected = rows.clone();
        expected.sort_by_key(|(d, id)| (d.is_none(), *d, *id));
        let keys = [SortKey::asc_nulls_last(col("due")), SortKey::asc(col("id"))];
        let key = |r: &(Option<i32>, i32)| vec![Value::Int(r.0), Value::Int(Some(r.1))];
        let read = async |seek: &Seek| {
            let mut q = Query::select()
                .columns([Alias::new("due"), Alias::new("id")])
                .from(Alias::new("t"))
                .to_owned();
            apply(&mut q, &keys, seek, 10);
            let rows: Vec<(Option<i32>, i32)> = db.fetch_all(&q).await.unwrap();
            finish(rows, seek, 10)
        };
        let mut seek = Seek::First;
        let mut forward = vec![];
        let mut pages = 0;
        loop {
            let w = read(&seek).await;
            assert_eq!(w.has_prev, pages > 0);
            pages += 1;
            forward.extend(w.rows.iter().copied());
            if !w.has_next {
                break;
            }
            seek = Seek::After(key(w.rows.last().unwrap()));
        }
        assert_eq!(forward, expected);
        assert_eq!(pages, 6);
        // Back from the last page's first row.
        let mut backward = vec![];
        let mut seek = Seek::Before(key(&expected[50]));
        loop {
            let w = read(&seek).await;
            assert!(w.has_next);
            backward.splice(0..0, w.rows.iter().copied());
            if !w.has_prev {
                break;
            }
            seek = Seek::Before(key(w.rows.first().unwrap()));
        }
        assert_eq!(backward, expected[..50]);
    }
}

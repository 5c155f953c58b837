//! A tenant's rows in a form both backends read and write, for moving a
//! municipality between deployments (`dimos tenants export` / `import`).
//! Reading says what each cell holds (PostgreSQL's column types; SQLite's
//! stored values), writing turns a cell into what the target column holds,
//! and comparing does the same on both sides, so a move from SQLite to
//! PostgreSQL and back is checked cell by cell.

use crate::conn::{Conn, RawRows};
use crate::{Backend, Db, DbError, TENANT_ID, Tx};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sea_query::{Alias, Expr, ExprTrait, Query};
use serde::{Deserialize, Serialize};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// What a column holds. On SQLite, whose columns are loosely typed, only
/// the stored kinds (int, float, text, bytes) appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bool,
    /// BIGINT (and every SQLite integer).
    Int,
    /// PostgreSQL's INTEGER: bound as 4 bytes, as the application binds
    /// it (a statement the application prepared with the same text keeps
    /// its parameter types, and 8 bytes would not fit).
    Int32,
    Float,
    Text,
    Bytes,
    Uuid,
    Time,
    Date,
    Json,
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    #[serde(rename = "n")]
    Null,
    #[serde(rename = "o")]
    Bool(bool),
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "f")]
    Float(f64),
    #[serde(rename = "s")]
    Text(String),
    #[serde(rename = "b", with = "hex_bytes")]
    Bytes(Vec<u8>),
    #[serde(rename = "u")]
    Uuid(uuid::Uuid),
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    #[serde(rename = "d")]
    Date(NaiveDate),
    #[serde(rename = "j")]
    Json(serde_json::Value),
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// A table's columns as a database describes them.
pub type Columns = Vec<(String, Kind)>;

/// Parses a timestamp as either backend writes it as text.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            DateTime::parse_from_str(s, "%F %T%.f%#z")
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%F %T%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

impl Cell {
    /// This cell as a column of `kind` holds it; an error says why not.
    /// Times keep microseconds, what PostgreSQL stores.
    pub fn coerce(self, kind: Kind) -> Result<Cell, String> {
        use Cell as C;
        use Kind as K;
        Ok(match (self, kind) {
            (C::Null, _) => C::Null,
            (C::Time(t), K::Time) => C::Time(t.trunc_subsecs(6)),
            (C::Bool(b), K::Bool) => C::Bool(b),
            (C::Int(i), K::Int) => C::Int(i),
            (C::Int(i), K::Int32) => {
                i32::try_from(i).map_err(|_| format!("{i} does not fit a 4-byte integer"))?;
                C::Int(i)
            }
            (C::Float(f), K::Float) => C::Float(f),
            (C::Text(s), K::Text) => C::Text(s),
            (C::Bytes(b), K::Bytes) => C::Bytes(b),
            (C::Uuid(u), K::Uuid) => C::Uuid(u),
            (C::Date(d), K::Date) => C::Date(d),
            (C::Json(j), K::Json) => C::Json(j),
            (C::Int(i), K::Bool) => C::Bool(i != 0),
            (C::Bool(b), K::Int | K::Int32) => C::Int(i64::from(b)),
            #[allow(clippy::cast_precision_loss)] // only where a column is a float
            (C::Int(i), K::Float) => C::Float(i as f64),
            (C::Bytes(b), K::Uuid) => C::Uuid(
                uuid::Uuid::from_slice(&b).map_err(|_| format!("{} bytes are no UUID", b.len()))?,
            ),
            (C::Text(s), K::Uuid) => {
                C::Uuid(uuid::Uuid::parse_str(&s).map_err(|_| format!("{s:?} is no UUID"))?)
            }
            (C::Text(s), K::Time) => C::Time(
                parse_time(&s)
                    .ok_or_else(|| format!("{s:?} is no timestamp"))?
                    .trunc_subsecs(6),
            ),
            (C::Text(s), K::Date) => C::Date(
                NaiveDate::parse_from_str(&s, "%F").map_err(|_| format!("{s:?} is no date"))?,
            ),
            (C::Text(s), K::Json) => {
                C::Json(serde_json::from_str(&s).map_err(|e| format!("not JSON: {e}"))?)
            }
            (C::Uuid(u), K::Bytes) => C::Bytes(u.as_bytes().to_vec()),
            (C::Uuid(u), K::Text) => C::Text(u.to_string()),
            (C::Time(t), K::Text) => {
                C::Text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
            }
            (C::Date(d), K::Text) => C::Text(d.format("%F").to_string()),
            (C::Json(j), K::Text) => C::Text(j.to_string()),
            (c, k) => return Err(format!("{c:?} does not fit a {k:?} column")),
        })
    }

    /// The value to bind for a column of `kind` (a NULL typed as the
    /// column is, which PostgreSQL needs).
    fn value(self, kind: Kind) -> sea_query::Value {
        use sea_query::Value as V;
        match self {
            Cell::Null => match kind {
                Kind::Bool => V::Bool(None),
                Kind::Int => V::BigInt(None),
                Kind::Int32 => V::Int(None),
                Kind::Float => V::Double(None),
                Kind::Text => V::String(None),
                Kind::Bytes => V::Bytes(None),
                Kind::Uuid => V::Uuid(None),
                Kind::Time => V::ChronoDateTimeUtc(None),
                Kind::Date => V::ChronoDate(None),
                Kind::Json => V::Json(None),
            },
            Cell::Bool(b) => V::Bool(Some(b)),
            // In range: `coerce` checked it for a 4-byte column.
            Cell::Int(i) if kind == Kind::Int32 => V::Int(i32::try_from(i).ok()),
            Cell::Int(i) => V::BigInt(Some(i)),
            Cell::Float(f) => V::Double(Some(f)),
            Cell::Text(s) => V::String(Some(s)),
            Cell::Bytes(b) => V::Bytes(Some(b)),
            Cell::Uuid(u) => V::Uuid(Some(u)),
            Cell::Time(t) => V::ChronoDateTimeUtc(Some(t)),
            Cell::Date(d) => V::ChronoDate(Some(d)),
            Cell::Json(j) => V::Json(Some(Box::new(j))),
        }
    }
}

fn kind_of_pg(data_type: &str) -> Option<Kind> {
    Some(match data_type {
        "boolean" => Kind::Bool,
        "integer" => Kind::Int32,
        "bigint" => Kind::Int,
        "real" | "double precision" => Kind::Float,
        "text" | "character varying" | "character" => Kind::Text,
        "bytea" => Kind::Bytes,
        "uuid" => Kind::Uuid,
        "timestamp with time zone" => Kind::Time,
        "date" => Kind::Date,
        "json" | "jsonb" => Kind::Json,
        _ => return None,
    })
}

/// SQLite's affinity rules (section 3.1 of its datatype page).
fn kind_of_sqlite(declared: &str) -> Kind {
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        Kind::Int
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        Kind::Text
    } else if d.is_empty() || d.contains("BLOB") {
        Kind::Bytes
    } else {
        Kind::Float
    }
}

impl Db {
    /// The columns of `table`, in their order.
    pub async fn columns(&self, table: &str) -> Result<Columns, DbError> {
        let declared = self.column_types(table).await?;
        match self.backend() {
            Backend::Postgres => declared
                .into_iter()
                .map(|(c, t)| match kind_of_pg(&t) {
                    Some(k) => Ok((c, k)),
                    None => Err(DbError::Other(sqlx::Error::Protocol(format!(
                        "{table}.{c}: columns of type {t} cannot be moved between deployments"
                    )))),
                })
                .collect(),
            Backend::Sqlite => Ok(declared
                .into_iter()
                .map(|(c, t)| {
                    let k = kind_of_sqlite(&t);
                    (c, k)
                })
                .collect()),
        }
    }
}

fn pg_row(r: &sqlx::postgres::PgRow, columns: &Columns) -> Result<Vec<Cell>, sqlx::Error> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            fn get<'r, T>(r: &'r sqlx::postgres::PgRow, i: usize) -> Result<Option<T>, sqlx::Error>
            where
                T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
            {
                r.try_get::<Option<T>, _>(i)
            }
            let cell = match kind {
                Kind::Bool => get::<bool>(r, i)?.map(Cell::Bool),
                Kind::Int32 => get::<i32>(r, i)?.map(|v| Cell::Int(v.into())),
                Kind::Int => get::<i64>(r, i)?.map(Cell::Int),
                Kind::Float => match r.column(i).type_info().name() {
                    "FLOAT4" => get::<f32>(r, i)?.map(|v| Cell::Float(v.into())),
                    _ => get::<f64>(r, i)?.map(Cell::Float),
                },
                Kind::Text => get::<String>(r, i)?.map(Cell::Text),
                Kind::Bytes => get::<Vec<u8>>(r, i)?.map(Cell::Bytes),
                Kind::Uuid => get::<uuid::Uuid>(r, i)?.map(Cell::Uuid),
                Kind::Time => get::<DateTime<Utc>>(r, i)?.map(Cell::Time),
                Kind::Date => get::<NaiveDate>(r, i)?.map(Cell::Date),
                Kind::Json => get::<serde_json::Value>(r, i)?.map(Cell::Json),
            };
            Ok(cell.unwrap_or(Cell::Null))
        })
        .collect()
}

/// SQLite's cells as stored: the column's declared type does not bind.
fn sqlite_row(r: &sqlx::sqlite::SqliteRow, n: usize) -> Result<Vec<Cell>, sqlx::Error> {
    (0..n)
        .map(|i| {
            let raw = r.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            let stored = raw.type_info().name().to_owned();
            Ok(match stored.as_str() {
                "INTEGER" => Cell::Int(r.try_get(i)?),
                "REAL" => Cell::Float(r.try_get(i)?),
                "BLOB" => Cell::Bytes(r.try_get(i)?),
                _ => Cell::Text(r.try_get(i)?),
            })
        })
        .collect()
}

/// The statement reading `table`'s rows whose `column` equals `value`.
fn select_where(
    table: &str,
    columns: &Columns,
    column: &str,
    value: sea_query::Value,
) -> sea_query::SelectStatement {
    Query::select()
        .columns(columns.iter().map(|(c, _)| Alias::new(c)))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).eq(value))
        .to_owned()
}

pub(crate) fn decode(rows: RawRows, columns: &Columns) -> Result<Vec<Vec<Cell>>, DbError> {
    let rows: Result<Vec<Vec<Cell>>, sqlx::Error> = match rows {
        RawRows::Pg(rows) => rows.iter().map(|r| pg_row(r, columns)).collect(),
        RawRows::Sqlite(rows) => rows.iter().map(|r| sqlite_row(r, columns.len())).collect(),
    };
    rows.map_err(DbError::from)
}

impl Tx<'_> {
    /// Deletes every row of one tenant in a tenant-owned `table`.
    pub async fn delete_tenant_rows(
        &mut self,
        table: &str,
        tenant: uuid::Uuid,
    ) -> Result<u64, DbError> {
        let q = Query::delete()
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new(TENANT_ID)).eq(tenant))
            .to_owned();
        self.execute(&q).await
    }

    /// Every row of one tenant in a tenant-owned `table`.
    pub async fn tenant_rows(
        &mut self,
        table: &str,
        columns: &Columns,
        tenant: uuid::Uuid,
    ) -> Result<Vec<Vec<Cell>>, DbError> {
        self.rows_where(
            table,
            columns,
            TENANT_ID,
            sea_query::Value::Uuid(Some(tenant)),
        )
        .await
    }

    /// Every row of `table` whose `column` equals `value` (a platform
    /// table's rows about one tenant: its own row, its operator trail).
    pub async fn rows_where(
        &mut self,
        table: &str,
        columns: &Columns,
        column: &str,
        value: sea_query::Value,
    ) -> Result<Vec<Vec<Cell>>, DbError> {
        let q = select_where(table, columns, column, value);
        decode(self.fetch_raw(&q).await?, columns)
    }

    /// Inserts `rows` (cells in the order of `columns` as the archive
    /// named them) into `table`, whose columns here are `target`: each
    /// cell made what the target column holds. An error names the table,
    /// column and row. With `keep_existing`, a row whose key is here
    /// already is left as it is (a history that stayed behind).
    pub async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[String],
        target: &Columns,
        rows: Vec<Vec<Cell>>,
        keep_existing: bool,
    ) -> Result<u64, InsertError> {
        let mut kinds = Vec::with_capacity(columns.len());
        for c in columns {
            let k = target
                .iter()
                .find(|(name, _)| name == c)
                .map(|(_, k)| *k)
                .ok_or_else(|| InsertError::Shape(format!("{table} has no column {c} here")))?;
            kinds.push(k);
        }
        if let Some((missing, _)) = target.iter().find(|(name, _)| !columns.contains(name)) {
            return Err(InsertError::Shape(format!(
                "{table}.{missing} is not in the archive"
            )));
        }
        let sqlite = matches!(self.conn(), Conn::Sqlite(_));
        // Well under both backends' limits on bound parameters.
        let per_statement = (10_000 / columns.len().max(1)).max(1);
        let mut inserted = 0;
        let mut rows = rows.into_iter().enumerate().peekable();
        while rows.peek().is_some() {
            let mut q = Query::insert()
                .into_table(Alias::new(table))
                .columns(columns.iter().map(Alias::new))
                .to_owned();
            for (n, row) in rows.by_ref().take(per_statement) {
                if row.len() != columns.len() {
                    return Err(InsertError::Shape(format!(
                        "{table}, row {}: {} cells for {} columns",
                        n + 1,
                        row.len(),
                        columns.len()
                    )));
                }
                let mut values = Vec::with_capacity(row.len());
                for ((cell, kind), column) in row.into_iter().zip(&kinds).zip(columns) {
                    // SQLite stores what sqlx writes for the cell's own
                    // kind (as the application writes it); PostgreSQL
                    // takes the column's.
                    let cell = if sqlite {
                        cell
                    } else {
                        cell.coerce(*kind).map_err(|e| {
                            InsertError::Shape(format!("{table}.{column}, row {}: {e}", n + 1))
                        })?
                    };
                    values.push(Expr::val(cell.value(*kind)));
                }
                q.values(values)
                    .map_err(|e| InsertError::Shape(format!("{table}: {e}")))?;
            }
            if keep_existing {
                q.on_conflict(sea_query::OnConflict::new().do_nothing().to_owned());
            }
            inserted += self.execute(&q).await?;
        }
        Ok(inserted)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("{0}")]
    Shape(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Whether two dumps of a table hold the same rows (in any order), each
/// cell compared as a column of `kinds` holds it; the first difference.
pub fn same_rows(kinds: &[Kind], left: &[Vec<Cell>], right: &[Vec<Cell>]) -> Result<(), String> {
    let canonical = |rows: &[Vec<Cell>]| -> Result<Vec<String>, String> {
        let mut out = rows
            .iter()
            .map(|row| {
                let cells = row
                    .iter()
                    .zip(kinds)
                    .map(|(c, k)| c.clone().coerce(*k))
                    .collect::<Result<Vec<_>, _>>()?;
                serde_json::to_string(&cells).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort();
        Ok(out)
    };
    let (l, r) = (canonical(left)?, canonical(right)?);
    if l.len() != r.len() {
        return Err(format!("{} rows against {}", l.len(), r.len()));
    }
    match l.iter().zip(&r).find(|(a, b)| a != b) {
        None => Ok(()),
        Some((a, b)) => Err(format!("a row differs:\n  {a}\n  {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_text_becomes_postgres_values_and_back() {
        let t = "2026-12-07T05:04:01.123456789+00:00";
        let time = Cell::Text(t.into()).coerce(Kind::Time).unwrap();
        let Cell::Time(at) = time.clone() else {
            panic!("{time:?}")
        };
        assert_eq!(
            at.timestamp_subsec_nanos(),
            123_456_000,
            "microseconds kept"
        );
        assert_eq!(
            time.coerce(Kind::Text).unwrap(),
            Cell::Text("2026-12-07T05:04:01.123456+00:00".into())
        );
        let u = uuid::Uuid::new_v4();
        assert_eq!(
            Cell::Bytes(u.as_bytes().to_vec())
                .coerce(Kind::Uuid)
                .unwrap(),
            Cell::Uuid(u)
        );
        assert_eq!(Cell::Int(1).coerce(Kind::Bool).unwrap(), Cell::Bool(true));
        assert_eq!(
            Cell::Text(r#"{"b":1,"a":[2]}"#.into())
                .coerce(Kind::Json)
                .unwrap(),
            Cell::Json(serde_json::json!({"a":[2],"b":1}))
        );
        assert!(Cell::Text("soon".into()).coerce(Kind::Time).is_err());
        assert!(Cell::Bytes(vec![1, 2]).coerce(Kind::Uuid).is_err());
        assert!(Cell::Float(1.5).coerce(Kind::Uuid).is_err());
    }

    #[test]
    fn cells_survive_their_json_form() {
        let row = vec![
            Cell::Null,
            Cell::Bool(false),
            Cell::Int(-7),
            Cell::Float(0.25),
            Cell::Text("Δήμος \u{0}\n".into()),
            Cell::Bytes(vec![0, 255, 16]),
            Cell::Uuid(uuid::Uuid::new_v4()),
            Cell::Time(
                DateTime::parse_from_rfc3339("2026-12-07T05:04:01.123456Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            Cell::Date(NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()),
            Cell::Json(serde_json::json!({"x": [1, "y", null]})),
        ];
        let line = serde_json::to_string(&row).unwrap();
        assert!(!line.contains('\n'), "one row, one line");
        let back: Vec<Cell> = serde_json::from_str(&line).unwrap();
        assert_eq!(back, row);
    }

    #[test]
    fn comparison_ignores_order_and_representation_not_content() {
        let u = uuid::Uuid::new_v4();
        let kinds = [Kind::Uuid, Kind::Bool];
        let pg = vec![
            vec![Cell::Uuid(u), Cell::Bool(true)],
            vec![Cell::Uuid(uuid::Uuid::nil()), Cell::Null],
        ];
        let sqlite = vec![
            vec![Cell::Bytes(vec![0; 16]), Cell::Null],
            vec![Cell::Bytes(u.as_bytes().to_vec()), Cell::Int(1)],
        ];
        assert_eq!(same_rows(&kinds, &pg, &sqlite), Ok(()));
        let changed = vec![sqlite[0].clone(), vec![sqlite[1][0].clone(), Cell::Int(0)]];
        assert!(same_rows(&kinds, &pg, &changed).is_err());
        assert!(same_rows(&kinds, &pg, &sqlite[..1]).is_err());
    }

    #[test]
    fn declared_sqlite_types_follow_its_affinity_rules() {
        assert_eq!(kind_of_sqlite("INTEGER"), Kind::Int);
        assert_eq!(kind_of_sqlite("BIGINT"), Kind::Int);
        assert_eq!(kind_of_sqlite("TEXT"), Kind::Text);
        assert_eq!(kind_of_sqlite("BLOB"), Kind::Bytes);
        assert_eq!(kind_of_sqlite("REAL"), Kind::Float);
    }
}

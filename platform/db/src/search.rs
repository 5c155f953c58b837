//! Full-text search over a column of folded text, where its two dialects
//! meet: PostgreSQL's text search (the `simple` configuration over a GIN
//! index on `to_tsvector('simple', column)`) and SQLite's FTS5 (a table the
//! migration keeps in step with triggers, tokenizer `unicode61
//! remove_diacritics 2`). The caller folds the text it stores and the
//! query alike (accents, case, final sigma: `dimos_kernel::greek::fold`),
//! so both engines see the same words; every word of a query must match,
//! as the start of a word of the text.

use crate::Backend;
use dimos_kernel::TenantId;
use sea_query::{Expr, SimpleExpr};

/// A searchable column and, on SQLite, the FTS5 table that indexes it
/// (columns `tenant`, `rid` — the row's id — and `body`).
#[derive(Debug, Clone, Copy)]
pub struct TextIndex {
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    pub fts_table: &'static str,
}

/// Most words a query may have (a longer one is cut).
pub const MAX_TERMS: usize = 8;

/// The words of a folded query as both engines split text: runs of
/// letters and digits; nothing else reaches either query language.
pub fn terms(folded: &str) -> Vec<String> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(64).collect())
        .take(MAX_TERMS)
        .collect()
}

/// The text to store for a row, from its folded text: the same runs of
/// letters and digits [`terms`] makes of a query, one space between them
/// (so both engines split it into the same words: PostgreSQL's parser
/// would keep `12/2026` or an e-mail address as one word), at most
/// `max_chars` characters (a PostgreSQL `tsvector` holds at most 1 MB).
pub fn index_text(folded: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for w in folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let n = w.chars().count().min(64);
        if len + n + 1 > max_chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            len += 1;
        }
        out.extend(w.chars().take(64));
        len += n;
    }
    out
}

/// The condition "the row's text holds every one of `terms`" (each as a
/// word's beginning), for a statement over `index.table`; `None` when
/// there are no terms.
pub fn matches(
    backend: Backend,
    tenant: TenantId,
    index: &TextIndex,
    terms: &[String],
) -> Option<SimpleExpr> {
    if terms.is_empty() {
        return None;
    }
    Some(match backend {
        Backend::Postgres => {
            let query = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Expr::cust_with_values(
                format!(
                    "to_tsvector('simple', \"{}\".\"{}\") @@ to_tsquery('simple', $1)",
                    index.table, index.column
                ),
                [query],
            )
        }
        Backend::Sqlite => {
            let query = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            Expr::cust_with_values(
                format!(
                    "\"{t}\".\"{id}\" IN (SELECT rid FROM \"{f}\" WHERE \"{f}\" MATCH ? AND tenant = ?)",
                    t = index.table,
                    id = index.id_column,
                    f = index.fts_table
                ),
                [
                    sea_query::Value::from(query),
                    sea_query::Value::from(tenant.uuid()),
                ],
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_letters_and_digits_reach_the_query_languages() {
        assert_eq!(
            terms("αιτηση: \"x\" & y* 12/2026 (οδος)"),
            ["αιτηση", "x", "y", "12", "2026", "οδος"]
        );
        assert!(terms(" &|!:*()'\"-").is_empty());
        assert_eq!(terms(&"α ".repeat(50)).len(), MAX_TERMS);
    }

    #[test]
    fn stored_text_is_split_as_queries_are() {
        assert_eq!(
            index_text("α.π. 45/28-11-2026 info@alimos.gr «κλαδεμα»·", 1000),
            "α π 45 28 11 2026 info alimos gr κλαδεμα"
        );
        assert_eq!(index_text("λεξη λεξη λεξη", 10), "λεξη λεξη");
        assert!(index_text(&"α".repeat(500), 1000).chars().count() == 64);
    }

    #[test]
    fn each_dialect_gets_its_own_condition() {
        let idx = TextIndex {
            table: "t",
            id_column: "id",
            column: "search_text",
            fts_table: "t_fts",
        };
        let tenant = TenantId(uuid::Uuid::nil());
        let words = terms("αιτηση στεγη");
        let pg = sea_query::Query::select()
            .expr(Expr::val(1))
            .and_where(matches(Backend::Postgres, tenant, &idx, &words).unwrap())
            .to_owned()
            .to_string(sea_query::PostgresQueryBuilder);
        assert!(
            pg.contains("to_tsvector('simple', \"t\".\"search_text\") @@ to_tsquery('simple', 'αιτηση:* & στεγη:*')"),
            "{pg}"
        );
        let lite = sea_query::Query::select()
            .expr(Expr::val(1))
            .and_where(matches(Backend::Sqlite, tenant, &idx, &words).unwrap())
            .to_owned()
            .to_string(sea_query::SqliteQueryBuilder);
        assert!(
            lite.contains("\"t\".\"id\" IN (SELECT rid FROM \"t_fts\" WHERE \"t_fts\" MATCH '\"αιτηση\"* \"στεγη\"*' AND tenant ="),
            "{lite}"
        );
        assert!(matches(Backend::Sqlite, tenant, &idx, &[]).is_none());
    }
}

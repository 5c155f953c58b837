//! Query plans on a large database: the pages a citizen and staff reach by
//! clicking, over a PostgreSQL database seeded by the load harness's own
//! script, with every statement the server ran captured (with its values)
//! and EXPLAINed. A sequential scan of a large tenant-owned table fails the
//! test: it is the list that times out when a municipality has a million
//! cases (Open Zaak's case list, their issue #1647).

use crate::flows::{page, person};
use dimos_it::{Backend, Options, TestApp, fresh_postgres_database};
use serde_json::Value;
use sqlx::Connection;

/// The tables that grow with use; scanning one that is still small (under
/// 5,000 rows here) is the planner's right choice.
const LARGE: &[&str] = &[
    "cases",
    "case_events",
    "documents",
    "notifications",
    "tasks",
    "task_candidates",
    "protocol_entries",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_people_click_through_use_indexes_on_a_large_database() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("statements.sql");
    let url = fresh_postgres_database().await;
    let path = capture.clone();
    let app = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            database_url: Some(url.clone()),
            tweak: Box::new(move |c| c.database.capture_statements = Some(path)),
            ..Options::default()
        },
    )
    .await;
    // The server's connections plan each statement for its values: the
    // generic plan a prepared statement falls back to (blind to the
    // tenant) read a whole table of candidates for a staff queue.
    let setting = dimos_db::sea_query::Query::select()
        .expr(dimos_db::sea_query::Expr::cust(
            "current_setting('plan_cache_mode')",
        ))
        .to_owned();
    let (mode,): (String,) = app.state.db().fetch_one(&setting).await.unwrap();
    assert_eq!(mode, "force_custom_plan");
    let host = crate::parking::tenant(&app).await;
    // Another municipality holds most of the rows, as in a national
    // deployment.
    dimos_it::tenant_with_grants(&app, "beta", "Βήτα", &[]).await;
    // One real application first: the citizen's account and the process's
    // snapshot the seeded cases refer to.
    let (cookie, csrf) = crate::submissions::citizens(&app, &host, 1).await.remove(0);
    let key = uuid::Uuid::new_v4().to_string();
    let form = crate::submissions::form(&csrf, &key, "ΙΚΥ-1234");
    assert_eq!(
        crate::submissions::send(&app, &host, &cookie, form).await.0,
        303
    );

    let tenant: String = app
        .sql_value("SELECT id::text FROM tenants WHERE slug = 'alpha'")
        .await;
    let citizen: String = app
        .sql_value("SELECT id::text FROM accounts WHERE tax_id = '100000027'")
        .await;
    let script =
        std::fs::read_to_string(dimos_it::workspace_root().join("bench/seed-postgres.sql"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('\\'))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(":'alimos'", &format!("'{tenant}'"))
            .replace(":'citizen'", &format!("'{citizen}'"))
            .replace(":total", "40000");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&script).execute(&mut conn).await.unwrap();

    // From here on, only what the pages run.
    std::fs::write(&capture, "").unwrap();
    let mut citizen = person(&app, &host, "citizen-verified").await;
    for path in ["/cases", "/cases?filter=open"] {
        let (status, _) = page(&mut citizen, &host, path).await;
        assert_eq!(status, 200, "{path}");
    }
    // Deeper pages by their links (keyset: after the last row shown).
    assert_eq!(click_next(&mut citizen, &host, "/cases", 2).await, 2);
    let (_, html) = page(&mut citizen, &host, "/cases").await;
    let case = html
        .split("/cases/")
        .nth(1)
        .unwrap()
        .chars()
        .take(36)
        .collect::<String>();
    let (status, _) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert_eq!(status, 200);
    let mut staff = person(&app, &host, "technical-employee").await;
    for path in ["/staff/agenda", "/staff/agenda?queue=available"] {
        let (status, _) = page(&mut staff, &host, path).await;
        assert_eq!(status, 200, "{path}");
    }
    assert_eq!(
        click_next(&mut staff, &host, "/staff/agenda?queue=available", 5).await,
        5
    );

    let captured = std::fs::read_to_string(&capture).unwrap();
    let mut selects: Vec<String> = captured
        .split("-- task ")
        .filter_map(|record| record.split_once('\n').map(|(_, sql)| sql.trim()))
        .filter(|sql| sql.starts_with("SELECT"))
        .map(|sql| sql.trim_end_matches(';').to_owned())
        .collect();
    selects.sort();
    selects.dedup();
    assert!(
        selects.len() > 10,
        "the pages ran {} selects",
        selects.len()
    );
    // A table the planner may rightly scan is a small one.
    let mut large = vec![];
    for table in LARGE {
        let (rows,): (f32,) = sqlx::query_as("SELECT reltuples FROM pg_class WHERE relname = $1")
            .bind(table)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if rows >= 5000.0 {
            large.push(*table);
        }
    }
    let (cases,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(
        large.contains(&"cases") && large.contains(&"case_events"),
        "{large:?} ({cases} cases)"
    );
    let mut scans = vec![];
    for sql in &selects {
        let (plan,): (Value,) = sqlx::query_as(&format!("EXPLAIN (FORMAT JSON) {sql}"))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
        for table in seq_scans(&plan) {
            if large.contains(&table.as_str()) {
                scans.push(format!("{table}: {sql}"));
            }
        }
    }
    assert!(
        scans.is_empty(),
        "sequential scans of large tables:\n{}",
        scans.join("\n\n")
    );
}

/// The relations a plan reads by sequential scan.
fn seq_scans(plan: &Value) -> Vec<String> {
    let mut out = vec![];
    match plan {
        Value::Object(m) => {
            if m.get("Node Type").and_then(Value::as_str) == Some("Seq Scan")
                && let Some(r) = m.get("Relation Name").and_then(Value::as_str)
            {
                out.push(r.to_owned());
            }
            for v in m.values() {
                out.extend(seq_scans(v));
            }
        }
        Value::Array(a) => a.iter().for_each(|v| out.extend(seq_scans(v))),
        _ => {}
    }
    out
}

/// Follows a list's "next" link up to `n` times from `start`; the number
/// of pages reached by it.
async fn click_next(b: &mut dimos_it::Browser<'_>, host: &str, start: &str, n: usize) -> usize {
    let mut path = start.to_owned();
    for i in 0..n {
        let (status, html) = page(b, host, &path).await;
        assert_eq!(status, 200, "{path}");
        let Some(at) = html.find("rel=\"next\"") else {
            return i;
        };
        let tag = &html[html[..at].rfind('<').unwrap()..];
        let href = tag
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        path = href.replace("&amp;", "&");
    }
    let (status, _) = page(b, host, &path).await;
    assert_eq!(status, 200, "{path}");
    n
}

//! The submission path under load and faults, as issue 16 found it: a
//! crowd on a small pool, a citizen retrying after a lost answer, and the
//! object store down. A submission exists whole (the case, its documents,
//! its protocol number, its message) or not at all, and never twice.

use crate::flows::{page, person};
use dimos_it::{Backend, Options, TestApp, csrf_of, on_both_backends};
use std::sync::Arc;

on_both_backends!(
    twenty_citizens_submit_at_once_through_a_pool_of_two,
    a_retried_submission_files_one_case,
    a_citizen_pages_through_every_application_by_the_links,
    a_session_that_cannot_be_saved_answers_503_and_the_retry_files_nothing_twice,
);

const FIELDS: &[(&str, &str)] = &[
    ("full_name", "Γιώργος Νικολάου"),
    ("email", "giorgos@example.gr"),
    ("mobile", "69 1234 5678"),
    ("location", "Αριστοτέλους 53, Άλιμος"),
    ("delivery", "pickup"),
];

/// The application form with two documents, as a browser sends it.
pub(crate) fn form(csrf: &str, key: &str, plate: &str) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.to_owned())
        .text("_submission", key.to_owned())
        .text("plate", plate.to_owned());
    for (k, v) in FIELDS {
        form = form.text(*k, *v);
    }
    for (kind, name) in [
        ("disability-certificate", "ΚΕΠΑ.pdf"),
        ("vehicle-registration", "Άδεια κυκλοφορίας.pdf"),
    ] {
        form = form.part(
            format!("doc-{kind}"),
            reqwest::multipart::Part::bytes(format!("%PDF-1.7\n% {plate} {kind}\n").into_bytes())
                .file_name(name),
        );
    }
    form
}

/// `n` signed-in citizens' cookies and form tokens.
pub(crate) async fn citizens(app: &TestApp, host: &str, n: usize) -> Vec<(String, String)> {
    let mut out = vec![];
    for _ in 0..n {
        let mut b = person(app, host, "citizen-verified").await;
        let (status, html) = page(&mut b, host, "/parking/apply").await;
        assert_eq!(status, 200);
        out.push((b.cookie_header(host).unwrap(), csrf_of(&html)));
    }
    out
}

pub(crate) async fn send(
    app: &TestApp,
    host: &str,
    cookie: &str,
    form: reqwest::multipart::Form,
) -> (u16, String) {
    let res = app
        .post(host, "/parking/apply")
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let to = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to)
}

pub(crate) async fn count(app: &TestApp, sql: &str) -> i64 {
    app.sql_value::<i64>(sql).await
}

/// Twenty people submit at once with a pool of two connections (the
/// shipped configuration otherwise). Before issue 16 a request held its
/// transaction (and the protocol counter) while the notification took a
/// second connection: with the pool exhausted every request waited out
/// the acquire timeout and most answered 5xx after committing.
async fn twenty_citizens_submit_at_once_through_a_pool_of_two(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.database.max_connections = 2),
            ..Options::default()
        },
    )
    .await;
    let host = crate::parking::tenant(&app).await;
    let people = citizens(&app, &host, 20).await;
    let app = Arc::new(app);
    let mut handles = vec![];
    for (i, (cookie, csrf)) in people.into_iter().enumerate() {
        let (app, host) = (app.clone(), host.clone());
        handles.push(tokio::spawn(async move {
            let key = uuid::Uuid::new_v4().to_string();
            send(
                &app,
                &host,
                &cookie,
                form(&csrf, &key, &format!("ΙΚΥ-{:04}", 1000 + i)),
            )
            .await
        }));
    }
    let mut cases = std::collections::BTreeSet::new();
    for h in handles {
        let (status, to) = h.await.unwrap();
        assert_eq!(status, 303, "every submission is acknowledged");
        assert!(to.starts_with("/cases/"), "{to}");
        cases.insert(to);
    }
    assert_eq!(cases.len(), 20);
    let filed = "SELECT COUNT(*) FROM cases WHERE process = 'parking.permit'";
    assert_eq!(count(&app, filed).await, 20);
    let documents = "SELECT COUNT(*) FROM documents WHERE case_id IS NOT NULL";
    assert_eq!(
        count(&app, documents).await,
        40,
        "each case with both documents"
    );
    // Gap-free: the numbers are exactly 1..20.
    let numbers = "SELECT COUNT(DISTINCT protocol_number) FROM cases \
                   WHERE protocol_number BETWEEN 1 AND 20";
    assert_eq!(count(&app, numbers).await, 20);
    let max = "SELECT MAX(protocol_number) FROM cases";
    assert_eq!(count(&app, max).await, 20);
    // Each case's "registered" message queued with it.
    let messages = "SELECT COUNT(*) FROM notifications WHERE event = 'registered'";
    assert_eq!(count(&app, messages).await, 20);
}

/// A citizen whose answer was lost sends the same form again (and a
/// double click sends it twice at once): one case, one protocol number,
/// its two documents once.
async fn a_retried_submission_files_one_case(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let (cookie, csrf) = citizens(&app, &host, 1).await.remove(0);
    let key = uuid::Uuid::new_v4().to_string();
    let first = send(&app, &host, &cookie, form(&csrf, &key, "ΙΚΥ-1234")).await;
    assert_eq!(first.0, 303);
    let again = send(&app, &host, &cookie, form(&csrf, &key, "ΙΚΥ-1234")).await;
    assert_eq!(again, first, "the retry is shown the same case");
    // Twice at once with a new key.
    let key = uuid::Uuid::new_v4().to_string();
    let (a, b2) = tokio::join!(
        send(&app, &host, &cookie, form(&csrf, &key, "ΙΚΥ-5678")),
        send(&app, &host, &cookie, form(&csrf, &key, "ΙΚΥ-5678")),
    );
    // One wins; the other waits for it and is shown the same case (or, if
    // it arrives while the first is still being written, is told so).
    let ok: Vec<&(u16, String)> = [&a, &b2].into_iter().filter(|r| r.0 == 303).collect();
    assert!(!ok.is_empty(), "{a:?} {b2:?}");
    if ok.len() == 2 {
        assert_eq!(a.1, b2.1);
    } else {
        let other = if a.0 == 303 { &b2 } else { &a };
        assert_eq!(other.0, 409, "{other:?}");
    }
    let filed = "SELECT COUNT(*) FROM cases WHERE process = 'parking.permit'";
    assert_eq!(count(&app, filed).await, 2);
    let documents = "SELECT COUNT(*) FROM documents";
    assert_eq!(count(&app, documents).await, 4, "no document stored twice");
    assert_eq!(
        count(&app, "SELECT MAX(protocol_number) FROM cases").await,
        2,
        "no number spent on a duplicate"
    );
    // Nothing left in the store either: 4 objects.
    let objects = walk(&app.data_dir.join("objects"));
    assert_eq!(objects, 4, "stored objects");
    // A key used by one person is not another's way into that case.
    let mut other = person(&app, &host, "parent-01").await;
    let (_, html) = page(&mut other, &host, "/parking/apply").await;
    let cookie = other.cookie_header(&host).unwrap();
    let (status, _) = send(
        &app,
        &host,
        &cookie,
        form(&csrf_of(&html), &key, "ΙΚΥ-9999"),
    )
    .await;
    assert_eq!(status, 409);
}

/// The pages of a list are found by key (after the last row shown, before
/// the first), not by counting rows: following "next" to the end and
/// "previous" back shows every application once, in order, while new ones
/// arrive in between (an OFFSET page would shift and repeat a row).
async fn a_citizen_pages_through_every_application_by_the_links(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (_, html) = page(&mut citizen, &host, "/parking/apply").await;
    let (cookie, csrf) = (citizen.cookie_header(&host).unwrap(), csrf_of(&html));
    let file = async |n: usize| {
        let key = uuid::Uuid::new_v4().to_string();
        let plate = format!("ΙΚΥ-{:04}", 1000 + n);
        let (status, _) = send(&app, &host, &cookie, form(&csrf, &key, &plate)).await;
        assert_eq!(status, 303);
    };
    for n in 0..45 {
        file(n).await;
    }
    let ids = |html: &str| -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for part in html.split("href=\"/cases/").skip(1) {
            let id: String = part.chars().take(36).collect();
            if uuid::Uuid::parse_str(&id).is_ok() && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    };
    let link = |html: &str, rel: &str| -> Option<String> {
        let at = html.find(&format!("rel=\"{rel}\""))?;
        let tag_start = html[..at].rfind('<')?;
        let tag = &html[tag_start..html[at..].find('>')? + at];
        let href = tag.split("href=\"").nth(1)?.split('"').next()?;
        Some(href.replace("&amp;", "&"))
    };
    let mut forward: Vec<Vec<String>> = vec![];
    let mut forward_html: Vec<String> = vec![];
    let mut path = "/cases".to_owned();
    loop {
        let (status, html) = page(&mut citizen, &host, &path).await;
        assert_eq!(status, 200, "{path}");
        forward.push(ids(&html));
        forward_html.push(html.clone());
        if forward.len() == 1 {
            // A new application while the citizen reads the first page:
            // it goes before it, and the next page is not shifted by it.
            file(45).await;
        }
        match link(&html, "next") {
            Some(next) => path = next,
            None => break,
        }
        assert!(forward.len() < 10, "the pages never end");
    }
    assert_eq!(forward.len(), 3);
    assert_eq!(
        forward.iter().map(Vec::len).collect::<Vec<_>>(),
        [20, 20, 5]
    );
    let seen: Vec<String> = forward.concat();
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 45, "no application shown twice or skipped");
    let stored: i64 = count(
        &app,
        "SELECT COUNT(*) FROM cases WHERE process = 'parking.permit'",
    )
    .await;
    assert_eq!(stored, 46);
    // Newest first: the plates were filed in order.
    let plates: Vec<String> = forward_html
        .iter()
        .flat_map(|h| {
            h.split("ΙΚΥ-")
                .skip(1)
                .map(|p| p.chars().take(4).collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut expected: Vec<String> = (1000..1045).rev().map(|n| n.to_string()).collect();
    expected.dedup();
    let mut shown = plates.clone();
    shown.dedup();
    assert_eq!(shown, expected, "newest first");
    // Back from the last page: the same pages, then the first page with
    // the application filed meanwhile at its top.
    let (_, last) = page(&mut citizen, &host, &path).await;
    let mut back = link(&last, "prev").expect("a previous page");
    let (_, html) = page(&mut citizen, &host, &back).await;
    assert_eq!(ids(&html), forward[1]);
    back = link(&html, "prev").expect("the first page");
    let (_, html) = page(&mut citizen, &host, &back).await;
    assert_eq!(ids(&html)[..], forward[0][..], "the page before the second");
    // Before it now: only the application filed meanwhile.
    back = link(&html, "prev").expect("the newer application");
    let (_, html) = page(&mut citizen, &host, &back).await;
    assert_eq!(ids(&html).len(), 1);
    assert!(html.contains("ΙΚΥ-1045"));
    assert!(
        link(&html, "prev").is_none(),
        "nothing before the first page"
    );
    // A key none of our links carries is a clear error, not a 500.
    for bad in [
        "after=x",
        "before=2026-13-01~1",
        "after=%00",
        "after=a&before=b",
    ] {
        let (status, _) = page(&mut citizen, &host, &format!("/cases?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
}

/// The session is saved after the handler ran; when its store (the
/// database) refuses the write, the session layer's own answer was a bare
/// 500 although the action had committed. It is a 503 with `Retry-After`,
/// and the retry it asks for is shown the same case.
async fn a_session_that_cannot_be_saved_answers_503_and_the_retry_files_nothing_twice(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let (cookie, csrf) = citizens(&app, &host, 1).await.remove(0);
    // The sessions table stops taking writes (reads still work).
    if matches!(b, Backend::Postgres) {
        app.raw_sql(
            "CREATE FUNCTION refuse_session_writes() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'sessions are read-only'; END $$",
        )
        .await;
        app.raw_sql(
            "CREATE TRIGGER refuse_session_writes BEFORE INSERT OR UPDATE ON sessions \
             FOR EACH ROW EXECUTE FUNCTION refuse_session_writes()",
        )
        .await;
    } else {
        for op in ["INSERT", "UPDATE"] {
            app.raw_sql(&format!(
                "CREATE TRIGGER refuse_session_{op} BEFORE {op} ON sessions \
                 BEGIN SELECT RAISE(ABORT, 'sessions are read-only'); END"
            ))
            .await;
        }
    }
    // A visitor beginning to sign in (a new session).
    let res = app.get(&host, "/auth/login?next=/").send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    // A submission: filed, but its session not saved.
    let key = uuid::Uuid::new_v4().to_string();
    let res = app
        .post(&host, "/parking/apply")
        .header("cookie", &cookie)
        .multipart(form(&csrf, &key, "ΙΚΥ-1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let filed = "SELECT COUNT(*) FROM cases WHERE process = 'parking.permit'";
    assert_eq!(count(&app, filed).await, 1);
    if matches!(b, Backend::Postgres) {
        app.raw_sql("DROP TRIGGER refuse_session_writes ON sessions")
            .await;
    } else {
        app.raw_sql("DROP TRIGGER refuse_session_INSERT").await;
        app.raw_sql("DROP TRIGGER refuse_session_UPDATE").await;
    }
    // The retry is shown the case the first try filed.
    let (status, to) = send(&app, &host, &cookie, form(&csrf, &key, "ΙΚΥ-1234")).await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/cases/"), "{to}");
    assert_eq!(count(&app, filed).await, 1, "nothing filed twice");
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            match (p.is_dir(), p.file_name().and_then(|n| n.to_str())) {
                // Uploads being received wait here, not objects.
                (true, Some("tmp")) => 0,
                (true, _) => walk(&p),
                (false, _) => 1,
            }
        })
        .sum()
}

//! A sample process (the example module's "request to publish a notice")
//! run end to end over HTTP by a citizen and three members of staff in
//! different roles, checking the citizen's timeline and each person's
//! agenda at every step; then rejection, withdrawal, the admin's service
//! settings, the protocol book under concurrency from two app processes,
//! and that nothing of one municipality shows in another.

use crate::flows::{
    agenda, citizen_case, claim, complete, has_case, page, person, post, submit, timeline, upload,
};
use chrono::Datelike;
use dimos_it::{
    Backend, Options, TestApp, csrf_of, fresh_postgres_database, on_both_backends,
    tenant_with_grants,
};
use serde_json::{Value, json};
use std::sync::Arc;

on_both_backends!(
    a_sample_process_runs_end_to_end_with_three_roles,
    rejection_withdrawal_and_the_citizen_deadline,
    the_admin_adjusts_a_service_and_bad_changes_are_refused,
    nothing_of_one_municipality_shows_in_another,
);

const GRANTS: &[(&str, &str)] = &[
    ("technical-employee", "technical-employee"),
    ("council-secretary", "council-secretary"),
    ("mayor", "mayor"),
    ("municipal-admin", "municipal-admin"),
    ("kep-officer", "protocol-officer"),
];

async fn tenant(app: &TestApp, slug: &str) -> String {
    tenant_with_grants(app, slug, slug, GRANTS).await;
    app.enable_module(slug, "example", json!({})).await;
    format!("{slug}.localhost")
}

async fn a_sample_process_runs_end_to_end_with_three_roles(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app, "alpha").await;
    let mut citizen = person(&app, &host, "citizen").await;
    let mut tech = person(&app, &host, "technical-employee").await;
    let mut secretary = person(&app, &host, "council-secretary").await;
    let mut mayor = person(&app, &host, "mayor").await;

    let (case, protocol) = submit(&mut citizen, &host, "Συναυλία στην πλατεία").await;
    let year = chrono::Utc::now().year();
    assert_eq!(protocol, format!("1/{year}"));
    let (_, list) = page(&mut citizen, &host, "/cases").await;
    assert!(list.contains(&protocol) && list.contains("Έλεγχος από την αρμόδια υπηρεσία"));
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["waiting_on"], "municipality");
    assert_eq!(
        timeline(&c),
        [
            "Η αίτηση υποβλήθηκε",
            &format!("Πρωτοκολλήθηκε με αριθμό {protocol}"),
            "Έλεγχος από την αρμόδια υπηρεσία"
        ]
    );
    let (status, receipt) = page(&mut citizen, &host, &format!("/cases/{case}/receipt")).await;
    assert_eq!(status, 200);
    assert!(receipt.contains(&protocol) && receipt.contains("ν. 2690/1999"));

    // Only the technical service's queue has the new request.
    assert!(has_case(
        &agenda(&mut tech, &host, "available").await,
        &case
    ));
    assert!(!has_case(
        &agenda(&mut secretary, &host, "available").await,
        &case
    ));
    assert!(!has_case(
        &agenda(&mut mayor, &host, "available").await,
        &case
    ));
    // The secretary is not involved yet: the case file is not theirs to read.
    let (status, _) = page(&mut secretary, &host, &format!("/staff/cases/{case}")).await;
    assert_eq!(status, 404);

    let task = claim(&mut tech, &host, &case).await;
    assert!(has_case(&agenda(&mut tech, &host, "mine").await, &case));
    // Asking for more information needs the form and a comment for the citizen.
    let (status, html) =
        complete(&mut tech, &host, &case, &task, &[("outcome", "more-info")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("Το πεδίο είναι υποχρεωτικό"), "{html}");
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "more-info"),
            ("assessment", "Λείπει η εξουσιοδότηση του συλλόγου"),
            ("comment", "Στείλτε την εξουσιοδότηση του συλλόγου"),
        ],
    )
    .await;
    assert_eq!(status, 200);

    // The citizen sees what is asked, by when, and answers.
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["waiting_on"], "citizen");
    assert!(c["case"]["deadline"].is_string());
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(html.contains("Στείλτε την εξουσιοδότηση του συλλόγου"));
    assert!(html.contains("Αναμένεται από εσάς"));
    // Internal work is not shown to the citizen: no claims, no staff names.
    assert!(!html.contains("Ανάληψη") && !html.contains("Λείπει η εξουσιοδότηση του συλλόγου"));
    let csrf = csrf_of(&html);
    let (status, _, html) = post(
        &mut citizen,
        &host,
        &format!("/cases/{case}/respond"),
        &csrf,
        &[("message", "Την κατέθεσα στο ΚΕΠ")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Η απάντησή σας στάλθηκε"));

    // Back to the technical service, which accepts it.
    let task = claim(&mut tech, &host, &case).await;
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[("outcome", "accept"), ("assessment", "Πλήρης")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(!has_case(&agenda(&mut tech, &host, "mine").await, &case));
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["stage"], "Προγραμματισμός από τη γραμματεία");

    // The secretariat schedules it, not urgent: the mayor decides.
    assert!(!has_case(
        &agenda(&mut mayor, &host, "available").await,
        &case
    ));
    let task = claim(&mut secretary, &host, &case).await;
    let (status, html) = complete(
        &mut secretary,
        &host,
        &case,
        &task,
        &[("outcome", "forward"), ("publish_on", "31/12/2026")],
    )
    .await;
    assert_eq!(status, 422, "a date in the wrong format is refused");
    assert!(html.contains("ΕΕΕΕ-ΜΜ-ΗΗ"));
    let (status, _) = complete(
        &mut secretary,
        &host,
        &case,
        &task,
        &[("outcome", "forward"), ("publish_on", "2026-12-31")],
    )
    .await;
    assert_eq!(status, 200);
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["stage"], "Προς έγκριση από τον δήμαρχο");

    let task = claim(&mut mayor, &host, &case).await;
    let (status, _) = complete(&mut mayor, &host, &case, &task, &[("outcome", "approve")]).await;
    assert_eq!(status, 200);

    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["result"], "approved");
    assert_eq!(c["case"]["status"], "closed");
    let mut t = timeline(&c);
    assert!(t[4].starts_with("Αναμένεται απάντηση έως "), "{t:?}");
    t.remove(4);
    assert_eq!(
        t,
        [
            "Η αίτηση υποβλήθηκε".to_owned(),
            format!("Πρωτοκολλήθηκε με αριθμό {protocol}"),
            "Έλεγχος από την αρμόδια υπηρεσία".to_owned(),
            "Μήνυμα από τον δήμο".to_owned(),
            "Ο αιτών απάντησε".to_owned(),
            "Έλεγχος από την αρμόδια υπηρεσία".to_owned(),
            "Προγραμματισμός από τη γραμματεία".to_owned(),
            "Προς έγκριση από τον δήμαρχο".to_owned(),
            "Η αίτηση εγκρίθηκε".to_owned(),
        ]
    );
    // Every agenda is empty again; the staff case file has the whole story.
    for b in [&mut tech, &mut secretary, &mut mayor] {
        assert_eq!(agenda(b, &host, "mine").await["total"], 0);
        assert_eq!(agenda(b, &host, "available").await["total"], 0);
    }
    let (status, file) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    assert_eq!(status, 200);
    assert!(
        file.contains(&format!("ΑΝ-{protocol}")),
        "the module hook ran"
    );
    assert!(
        file.contains("Λείπει η εξουσιοδότηση του συλλόγου"),
        "staff see internal notes"
    );
    // In English too.
    let (_, en) = page(&mut citizen, &host, &format!("/lang/en?next=/cases/{case}")).await;
    assert!(en.contains("Application approved") && en.contains("Registered under protocol number"));
}

async fn rejection_withdrawal_and_the_citizen_deadline(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    let host = tenant(&app, "alpha").await;
    let mut citizen = person(&app, &host, "citizen").await;
    let mut tech = person(&app, &host, "technical-employee").await;

    // Rejection: the reasoning reaches the citizen.
    let (case, _) = submit(&mut citizen, &host, "Διαφήμιση καταστήματος").await;
    let task = claim(&mut tech, &host, &case).await;
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "reject"),
            ("assessment", "Εμπορικό"),
            ("comment", "Ο πίνακας δεν δέχεται διαφημίσεις"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["result"], "rejected");
    assert_eq!(c["case"]["reasoning"], "Ο πίνακας δεν δέχεται διαφημίσεις");

    // Withdrawal needs the box ticked; afterwards the task leaves every queue.
    let (case, _) = submit(&mut citizen, &host, "Εκδήλωση").await;
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    let csrf = csrf_of(&html);
    let (status, _, _) = post(
        &mut citizen,
        &host,
        &format!("/cases/{case}/withdraw"),
        &csrf,
        &[],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _, html) = post(
        &mut citizen,
        &host,
        &format!("/cases/{case}/withdraw"),
        &csrf,
        &[("confirm", "yes"), ("reason", "Ακυρώθηκε η εκδήλωση")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Η αίτηση αποσύρθηκε"));
    assert!(!has_case(
        &agenda(&mut tech, &host, "available").await,
        &case
    ));
    let (status, _, _) = post(
        &mut citizen,
        &host,
        &format!("/cases/{case}/withdraw"),
        &csrf,
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 409, "a closed case cannot be withdrawn again");

    // The citizen does not answer in time: the case closes by itself.
    let (case, _) = submit(&mut citizen, &host, "Ανακοίνωση συλλόγου").await;
    let task = claim(&mut tech, &host, &case).await;
    complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "more-info"),
            ("assessment", "x"),
            ("comment", "Λείπει η εξουσιοδότηση"),
        ],
    )
    .await;
    clock.advance(chrono::Duration::days(11));
    assert!(app.state.scheduler().run_due(100).await.unwrap() >= 1);
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["result"], "rejected");
    assert_eq!(c["case"]["stage"], "Έληξε η προθεσμία συμπλήρωσης");
    assert!(timeline(&c).contains(&"Η προθεσμία απάντησης έληξε".to_owned()));

    // The overdue review of the earlier case is flagged; reports count it.
    let (_, list) = page(&mut citizen, &host, "/cases?filter=closed").await;
    assert!(list.contains("Απορρίφθηκε") && list.contains("Αποσύρθηκε"));
}

async fn the_admin_adjusts_a_service_and_bad_changes_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app, "alpha").await;
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (status, html) = page(&mut admin, &host, "/admin/services").await;
    assert_eq!(status, 200);
    assert!(html.contains("/admin/services/example.request"));
    let (_, html) = page(&mut admin, &host, "/admin/services/example.request").await;
    let csrf = csrf_of(&html);
    // A zero deadline and an unknown department are refused with clear errors.
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/services/example.request",
        &csrf,
        &[("lead_time_days", "0")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("εκτός ορίων"), "{html}");
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/services/example.request",
        &csrf,
        &[("lead_time_days", "15"), ("dept.review.nowhere", "on")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("steps[review].departments") && html.contains("Άγνωστο τμήμα"),
        "{html}"
    );

    // Skipping the mayor's optional approval takes effect for new cases.
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/services/example.request",
        &csrf,
        &[
            ("lead_time_days", "20"),
            ("skip.approve", "on"),
            ("due.review", "2"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Οι ρυθμίσεις αποθηκεύτηκαν"));
    let mut citizen = person(&app, &host, "citizen").await;
    let mut tech = person(&app, &host, "technical-employee").await;
    let mut secretary = person(&app, &host, "council-secretary").await;
    let (case, _) = submit(&mut citizen, &host, "Χωρίς δήμαρχο").await;
    let task = claim(&mut tech, &host, &case).await;
    complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[("outcome", "accept"), ("assessment", "ok")],
    )
    .await;
    let task = claim(&mut secretary, &host, &case).await;
    complete(
        &mut secretary,
        &host,
        &case,
        &task,
        &[("outcome", "forward")],
    )
    .await;
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["result"], "approved", "no mayor step any more");
    // The audit trail records the change.
    let (res, _) = admin.get(&admin.url(&host, "/admin/audit")).await;
    let audit = res.text().await.unwrap();
    assert!(audit.contains("service_configured") && audit.contains("task_completed"));
}

async fn nothing_of_one_municipality_shows_in_another(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alpha = tenant(&app, "alpha").await;
    let beta = tenant(&app, "beta").await;
    let mut citizen = person(&app, &alpha, "citizen").await;
    let (case, protocol) = submit(&mut citizen, &alpha, "Μόνο για τον Άλφα").await;

    let mut b_citizen = person(&app, &beta, "citizen").await;
    let mut b_tech = person(&app, &beta, "technical-employee").await;
    let mut b_admin = person(&app, &beta, "municipal-admin").await;
    let mut b_protocol = person(&app, &beta, "kep-officer").await;
    // The same person is a citizen of both: beta shows none of alpha's cases.
    let (res, _) = b_citizen.get(&b_citizen.url(&beta, "/api/cases")).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["total"], 0);
    for path in [
        format!("/cases/{case}"),
        format!("/api/cases/{case}"),
        format!("/cases/{case}/receipt"),
    ] {
        let (status, _) = page(&mut b_citizen, &beta, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(agenda(&mut b_tech, &beta, "available").await["total"], 0);
    let (status, _) = page(&mut b_tech, &beta, &format!("/staff/cases/{case}")).await;
    assert_eq!(status, 404);
    let (_, search) = page(&mut b_admin, &beta, "/staff/cases?q=Άλφα").await;
    assert!(!search.contains("Μόνο για τον Άλφα"));
    let (_, csv) = page(&mut b_admin, &beta, "/staff/reports.csv").await;
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    let (_, book) = page(&mut b_protocol, &beta, "/staff/protocol").await;
    assert!(!book.contains("Μόνο για τον Άλφα"));
    // Claiming alpha's task through beta is a 404 as well.
    let mut a_tech = person(&app, &alpha, "technical-employee").await;
    let task = agenda(&mut a_tech, &alpha, "available").await["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, html) = page(&mut b_tech, &beta, "/staff/agenda").await;
    let csrf = csrf_of(&html);
    let (status, _, _) = post(
        &mut b_tech,
        &beta,
        &format!("/staff/tasks/{task}/claim"),
        &csrf,
        &[],
    )
    .await;
    assert_eq!(status, 404);
    // Beta's book starts at 1 too.
    let (_, beta_case) = submit(&mut b_citizen, &beta, "Του Βήτα").await;
    assert_eq!(beta_case, protocol);
    // Alpha's admin sees it in search and reports.
    let mut a_admin = person(&app, &alpha, "municipal-admin").await;
    let (_, search) = page(&mut a_admin, &alpha, "/staff/cases?q=Άλφα").await;
    assert!(search.contains("Μόνο για τον Άλφα"));
    let (_, csv) = page(&mut a_admin, &alpha, "/staff/reports.csv").await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
}

/// 500 registrations at once, half through each of two app processes on
/// one PostgreSQL database: exactly the numbers 1..500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protocol_numbers_stay_gap_free_across_two_processes() {
    let url = fresh_postgres_database().await;
    let first = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            database_url: Some(url.clone()),
            ..Options::default()
        },
    )
    .await;
    let second = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            database_url: Some(url.clone()),
            ..Options::default()
        },
    )
    .await;
    let host = tenant(&first, "alpha").await;
    // The second process learns of the new tenant within its refresh interval.
    for _ in 0..50 {
        if second.get(&host, "/").send().await.unwrap().status() == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Sessions live in the database: one sign-in works on both processes.
    let mut officer = person(&first, &host, "kep-officer").await;
    let (_, html) = page(&mut officer, &host, "/staff/protocol").await;
    let csrf = csrf_of(&html);
    let cookie = officer.cookie_header(&host).unwrap();
    let apps = Arc::new([first, second]);
    let sem = Arc::new(tokio::sync::Semaphore::new(40));
    let mut handles = vec![];
    for i in 0..500 {
        let (apps, sem, cookie, csrf, host) = (
            apps.clone(),
            sem.clone(),
            cookie.clone(),
            csrf.clone(),
            host.clone(),
        );
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let app = &apps[i % 2];
            let res = app
                .post(&host, "/staff/protocol")
                .header("cookie", cookie)
                .form(&[
                    ("_csrf", csrf.as_str()),
                    ("direction", "incoming"),
                    ("subject", &format!("Έγγραφο {i}")),
                    ("correspondent", "Πολίτης"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                303,
                "{}",
                res.text().await.unwrap_or_default()
            );
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let numbers: Vec<(i64,)> =
        sqlx::query_as("SELECT number FROM protocol_entries ORDER BY number")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let numbers: Vec<i64> = numbers.into_iter().map(|r| r.0).collect();
    assert_eq!(numbers, (1..=500).collect::<Vec<_>>());
    // Each number with its audit entry (written in the same transaction).
    let audited: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'protocol_registered'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(audited.0, 500);
}

on_both_backends!(citizens_upload_documents_and_staff_read_them);

async fn citizens_upload_documents_and_staff_read_them(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| {
                c.storage.max_upload_bytes = 4000;
                c.storage.max_case_bytes = 6000;
            }),
            ..Options::default()
        },
    )
    .await;
    let host = tenant(&app, "alpha").await;
    let other = tenant(&app, "beta").await;
    let mut citizen = person(&app, &host, "citizen").await;
    let (case, _) = submit(&mut citizen, &host, "Με δικαιολογητικά").await;
    let mut pdf = b"%PDF-1.7\n% Greek: \xce\xb1\n".to_vec();
    pdf.resize(3000, b' ');

    let (status, _) = upload(
        &mut citizen,
        &app,
        &host,
        &case,
        "Εξουσιοδότηση.pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(status, 303);
    // An HTML page named like a PDF is refused, whatever it is called.
    let (status, html) = upload(
        &mut citizen,
        &app,
        &host,
        &case,
        "scan.pdf",
        b"<html><script>alert(1)</script></html>".to_vec(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Αυτός ο τύπος αρχείου δεν γίνεται δεκτός"),
        "{html}"
    );
    // Too large for one upload; then too much for the case.
    let (status, html) = upload(
        &mut citizen,
        &app,
        &host,
        &case,
        "big.pdf",
        [pdf.clone(), pdf.clone()].concat(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("πολύ μεγάλο"));
    let (status, _) = upload(&mut citizen, &app, &host, &case, "second.pdf", pdf.clone()).await;
    assert_eq!(status, 303, "6000 bytes in all: exactly the case's limit");
    let (status, html) = upload(
        &mut citizen,
        &app,
        &host,
        &case,
        "third.pdf",
        pdf[..100].to_vec(),
    )
    .await;
    assert_eq!(status, 422, "over the case's limit");
    assert!(html.contains("πολύ μεγάλο"));

    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains("Εξουσιοδότηση.pdf")
            && html.contains("Υποβλήθηκε έγγραφο: Εξουσιοδότηση.pdf")
    );
    let href = html
        .split(&format!("/cases/{case}/documents/"))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (res, _) = citizen
        .get(&citizen.url(&host, &format!("/cases/{case}/documents/{href}")))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);

    // The object is stored under the tenant's prefix, named by us.
    let objects = app.data_dir.join("objects");
    let stored: Vec<_> = std::fs::read_dir(&objects)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored
            .iter()
            .all(|s| !s.contains("pdf") && !s.contains("Εξουσιοδότηση"))
    );

    // Staff working on the case read it, and that is audited; others cannot.
    let mut mayor = person(&app, &host, "mayor").await;
    let path = format!("/staff/cases/{case}/documents/{href}");
    let (status, _) = page(&mut mayor, &host, &path).await;
    assert_eq!(status, 404, "not the mayor's case (yet)");
    let mut tech = person(&app, &host, "technical-employee").await;
    let (res, _) = tech.get(&tech.url(&host, &path)).await;
    assert_eq!(res.status(), 200);
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (res, _) = admin.get(&admin.url(&host, "/admin/audit")).await;
    assert!(res.text().await.unwrap().contains("document_viewed"));
    let mut stranger = person(&app, &other, "citizen").await;
    let (status, _) = page(
        &mut stranger,
        &other,
        &format!("/cases/{case}/documents/{href}"),
    )
    .await;
    assert_eq!(status, 404);
}

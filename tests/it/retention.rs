//! Retention: the municipal admin sets how long a service's closed case
//! files are kept; once that has run out the hourly job clears them (the
//! applicant's name and data, staff notes, documents and their files, the
//! module's rows), keeps what the law and statistics need (protocol entry,
//! dates, outcome, the audit trail), leaves an audit entry, and leaves
//! open cases and cases still within their period alone. Run twice (as two
//! replicas would), it clears once.

use crate::flows::{claim, complete, page, person, post};
use dimos_db::portable::{Cell, Kind};
use dimos_it::{Backend, Options, TestApp, csrf_of, on_both_backends, workspace_root};

on_both_backends!(a_closed_case_is_cleared_when_its_retention_runs_out);

const HOST: &str = "alimos.localhost";

/// Rows of `table` whose `column` is the case `case`.
async fn of_case(
    app: &TestApp,
    table: &str,
    column: &str,
    case: &str,
) -> Vec<std::collections::BTreeMap<String, Cell>> {
    let (columns, all) = app.table_rows("alimos", table).await;
    let i = columns.iter().position(|(c, _)| c == column).unwrap();
    let case = Cell::Uuid(uuid::Uuid::parse_str(case).unwrap());
    all.into_iter()
        .filter(|r| r[i].clone().coerce(Kind::Uuid).as_ref() == Ok(&case))
        .map(|r| columns.iter().map(|(c, _)| c.clone()).zip(r).collect())
        .collect()
}

async fn a_closed_case_is_cleared_when_its_retention_runs_out(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    // The admin keeps parking files 2 years, on the service's page.
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (status, html) = page(&mut admin, HOST, "/admin/services/parking.permit").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("name=\"retention_years\" value=\"5\""),
        "the shipped 5 years"
    );
    let lead = html
        .split("name=\"lead_time_days\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, html) = post(
        &mut admin,
        HOST,
        "/admin/services/parking.permit",
        &csrf_of(&html),
        &[("lead_time_days", lead.as_str()), ("retention_years", "2")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, html) = page(&mut admin, HOST, "/admin/services/parking.permit").await;
    assert!(html.contains("name=\"retention_years\" value=\"2\""));

    // Her application: a clerk notes something, then she withdraws it.
    let mut her = person(&app, HOST, "citizen-verified").await;
    let (hers, _) = crate::parking::apply(&app, &mut her, HOST, "ΚΗΝ5050").await;
    let mut tech = person(&app, HOST, "technical-employee").await;
    let task = claim(&mut tech, HOST, &hers).await;
    let (status, _) = complete(
        &mut tech,
        HOST,
        &hers,
        &task,
        &[
            ("outcome", "missing"),
            ("comment", "Λείπει η γνωμάτευση ΚΕΠΑ της κ. Παπαδοπούλου"),
        ],
    )
    .await;
    assert!(status == 200 || status == 422, "{status}");
    let (_, html) = page(&mut her, HOST, &format!("/cases/{hers}")).await;
    let (status, _, _) = post(
        &mut her,
        HOST,
        &format!("/cases/{hers}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "Μετακομίζω")],
    )
    .await;
    assert_eq!(status, 200);
    // His stays open.
    let mut him = person(&app, HOST, "parent-02").await;
    let (his, _) = crate::parking::apply(&app, &mut him, HOST, "ΚΗΝ6060").await;
    let her_docs = of_case(&app, "documents", "case_id", &hers).await;
    assert!(!her_docs.is_empty());
    let keys: Vec<String> = her_docs
        .iter()
        .map(|d| match &d["object_key"] {
            Cell::Text(k) => k.clone(),
            c => panic!("{c:?}"),
        })
        .collect();

    // A year on: within the period, nothing happens.
    clock.advance(chrono::Duration::days(366));
    assert_eq!(dimos_pages::retention::run(&app.state).await.unwrap(), 0);
    // Two years and a day after closing: cleared, once.
    clock.advance(chrono::Duration::days(366));
    assert_eq!(dimos_pages::retention::run(&app.state).await.unwrap(), 1);
    assert_eq!(
        dimos_pages::retention::run(&app.state).await.unwrap(),
        0,
        "a second replica finds nothing"
    );

    // Gone: her documents (rows and files), her name and data, the note.
    assert!(
        of_case(&app, "documents", "case_id", &hers)
            .await
            .is_empty()
    );
    for k in &keys {
        assert!(
            dimos_server::transfer::read_object(app.state.objects().as_ref(), k)
                .await
                .is_err(),
            "{k} is deleted"
        );
    }
    let (columns, cases) = app.table_rows("alimos", "cases").await;
    let at = |c: &str| columns.iter().position(|(n, _)| n == c).unwrap();
    let case_of = |id: &str| {
        cases
            .iter()
            .find(|r| {
                r[at("id")].clone().coerce(Kind::Uuid)
                    == Ok(Cell::Uuid(uuid::Uuid::parse_str(id).unwrap()))
            })
            .unwrap()
            .clone()
    };
    let cleared = case_of(&hers);
    assert_eq!(cleared[at("applicant_name")], Cell::Text(String::new()));
    assert_eq!(cleared[at("subject")], Cell::Text(String::new()));
    assert_eq!(
        cleared[at("data")].clone().coerce(Kind::Json),
        Ok(Cell::Json(serde_json::json!({})))
    );
    assert_ne!(cleared[at("anonymised_at")], Cell::Null);
    let flat = format!(
        "{cleared:?}{:?}",
        of_case(&app, "case_events", "case_id", &hers).await
    );
    assert!(
        !flat.contains("ΚΕΠΑ") && !flat.contains("ΚΗΝ") && !flat.contains("5050"),
        "{flat}"
    );
    // Kept: the protocol entry, the outcome, the audit entry saying so.
    assert_eq!(
        of_case(&app, "protocol_entries", "case_id", &hers)
            .await
            .len(),
        1
    );
    assert_eq!(cleared[at("result")], Cell::Text("withdrawn".into()));
    let (acols, trail) = app.table_rows("alimos", "audit_log").await;
    let action = acols.iter().position(|(c, _)| c == "action").unwrap();
    let record = acols.iter().position(|(c, _)| c == "record").unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e[action] == Cell::Text("retention_cleared".into())
                && e[record] == Cell::Text(format!("case:{hers}")))
    );
    // His open case is as it was.
    let open = case_of(&his);
    assert_eq!(open[at("anonymised_at")], Cell::Null);
    assert!(!of_case(&app, "documents", "case_id", &his).await.is_empty());
    // She still finds her case, by its number, without its contents.
    let (status, html) = page(&mut her, HOST, &format!("/cases/{hers}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("ΚΗΝ") && !html.contains("5050"));
    app.stop().await;
}

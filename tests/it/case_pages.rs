//! What citizens and staff read on a case page: the service's documents as
//! a checklist (uploaded, missing with an upload beside it, replaced), the
//! same checklist beside the staff's task, and values in words.

use crate::flows::{claim, page, person, send_multipart};
use dimos_it::{Backend, TestApp, csrf_of, on_both_backends};

on_both_backends!(the_documents_checklist_follows_the_case_file);

/// The `<li>` of the checklist that names `label`.
fn item<'h>(html: &'h str, label: &str) -> &'h str {
    let list = html.split("dimos-checklist\"").nth(1).expect("a checklist");
    list.split("</li>")
        .find(|li| li.contains(label))
        .unwrap_or_else(|| panic!("{label} in the checklist: {list}"))
}

async fn the_documents_checklist_follows_the_case_file(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let mut citizen = person(&app, &host, "citizen-verified").await;
    // Applies with the KEPA assessment only.
    let (case, _) = crate::parking::apply(&app, &mut citizen, &host, "ΙΚΑ1234").await;
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(item(&html, "Γνωμάτευση ΚΕΠΑ").contains("Υποβλήθηκε"));
    let residence = item(&html, "Αποδεικτικό κατοικίας");
    assert!(residence.contains("Λείπει"), "{residence}");
    // The upload beside a missing document files it under that document.
    assert!(
        residence.contains("name=\"kind\" value=\"residence\""),
        "{residence}"
    );
    assert!(item(&html, "Άδεια οδήγησης").contains("προαιρετικό"));

    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf_of(&html))
        .text("kind", "residence")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n% bill\n".to_vec()).file_name("ΔΕΗ.pdf"),
        );
    let res = send_multipart(
        &citizen,
        &app,
        &host,
        &format!("/cases/{case}/documents"),
        form,
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(
        item(&html, "Αποδεικτικό κατοικίας").contains("Υποβλήθηκε"),
        "{html}"
    );

    // Staff read the case from their queue before taking it on, then the
    // same checklist beside the task, and the delivery in words.
    let mut tech = person(&app, &host, "technical-employee").await;
    let (_, queue) = page(&mut tech, &host, "/staff/agenda?queue=available").await;
    assert!(
        queue.contains(&format!("href=\"/staff/cases/{case}\"")),
        "{queue}"
    );
    let (status, before) = page(&mut tech, &host, &format!("/staff/cases/{case}")).await;
    assert_eq!(status, 200);
    assert!(
        before.contains("Αποδεικτικό κατοικίας") && before.contains("/claim"),
        "{before}"
    );
    claim(&mut tech, &host, &case).await;
    let (_, html) = page(&mut tech, &host, &format!("/staff/cases/{case}")).await;
    let side = html.split("dimos-col-side").nth(1).expect("a side column");
    assert!(
        item(side, "Αποδεικτικό κατοικίας").contains("Υποβλήθηκε"),
        "{side}"
    );
    assert!(
        item(side, "Άδεια κυκλοφορίας οχήματος").contains("Λείπει"),
        "{side}"
    );
    let main = html.split("dimos-col-side").next().unwrap();
    assert!(
        main.contains("dimos-task"),
        "the task stands in the main column"
    );
    assert!(
        main.contains("Με ταχυδρομείο") && !main.contains(">post<"),
        "{main}"
    );
}

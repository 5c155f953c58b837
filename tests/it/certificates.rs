//! The certificates module, written only against the module kit: a
//! verified citizen clicks from the home page to the application, files it
//! (twice, by accident: one case), a clerk checks the file and issues the
//! certificate, signed, from the platform's task page; the citizen
//! downloads it and OpenSSL verifies the signature. The municipal admin
//! changes the module's settings on the generated page. Another
//! municipality sees none of it.

use crate::flows::{claim, complete, page, person, post, published_signature_verifies};
use dimos_it::{Backend, TestApp, csrf_of, on_both_backends, tax_id, tenant_with_grants};
use serde_json::json;

on_both_backends!(
    a_certificate_is_applied_for_checked_issued_signed_and_downloaded,
    the_admin_changes_the_settings_on_the_generated_page,
);

const GRANTS: &[(&str, &str)] = &[
    // The registry clerk, who signs what the registry issues.
    ("kep-officer", "kep-officer"),
    ("kep-officer", "department-head"),
    ("municipal-admin", "municipal-admin"),
];

async fn tenants(app: &TestApp) -> String {
    tenant_with_grants(app, "alpha", "Άλφα", GRANTS).await;
    app.enable_module(
        "alpha",
        "certificates",
        json!({ "signatory_title": "Ο Προϊστάμενος Δημοτολογίου" }),
    )
    .await;
    tenant_with_grants(app, "beta", "Βήτα", &[]).await;
    app.enable_module("beta", "certificates", json!({})).await;
    "alpha.localhost".into()
}

/// The first link on the page whose address starts with `starts`.
fn link(html: &str, starts: &str) -> String {
    let at = html
        .find(&format!("href=\"{starts}"))
        .unwrap_or_else(|| panic!("a link to {starts}… in {html}"));
    html[at + 6..].split('"').next().unwrap().to_owned()
}

fn value_of(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("field {name} in {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

async fn a_certificate_is_applied_for_checked_issued_signed_and_downloaded(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenants(&app).await;

    // Someone not signed in comes back to the form after signing in.
    let res = app.get(&host, "/certificates/apply").send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/auth/login?next=%2Fcertificates%2Fapply"
    );

    // An unverified citizen is told what to do, not shown the form.
    let mut unverified = person(&app, &host, "citizen").await;
    let (status, html) = page(&mut unverified, &host, "/certificates/apply").await;
    assert_ne!(status, 200);
    assert!(!html.contains("_submission"), "{html}");

    // Click, don't type: home page → the service → the application.
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (_, home) = page(&mut citizen, &host, "/").await;
    let service = link(&home, "/certificates");
    let (status, html) = page(&mut citizen, &host, &service).await;
    assert_eq!(status, 200, "{html}");
    let (status, form) = page(&mut citizen, &host, &link(&html, "/certificates/apply")).await;
    assert_eq!(status, 200, "{form}");
    assert!(
        form.contains("Πιστοποιητικό οικογενειακής κατάστασης"),
        "{form}"
    );
    let (csrf, submission) = (csrf_of(&form), value_of(&form, "_submission"));

    // Missing and bad answers come back on the form, nothing filed.
    let (status, _, html) = post(
        &mut citizen,
        &host,
        "/certificates/apply",
        &csrf,
        &[("_submission", &submission), ("kind", "passport")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("f-father_name"), "{html}");
    assert!(html.contains("Το πεδίο είναι υποχρεωτικό"), "{html}");

    // A form that lost its key comes back with the answers, not filed.
    let (status, _, html) = post(
        &mut citizen,
        &host,
        "/certificates/apply",
        &csrf,
        &[("father_name", "Γεώργιος")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("Η φόρμα δεν ήρθε ολόκληρη"), "{html}");
    assert!(html.contains("value=\"Γεώργιος\""), "{html}");

    let answers = [
        ("_submission", submission.as_str()),
        ("kind", "family-status"),
        ("father_name", "Γεώργιος"),
        ("birth_date", "1985-04-12"),
        ("purpose", "Για κατάθεση σε παιδικό σταθμό"),
    ];
    let (status, url, html) =
        post(&mut citizen, &host, "/certificates/apply", &csrf, &answers).await;
    assert_eq!(status, 200, "{html}");
    let case = url
        .split("/cases/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // The same form sent again (a retry, a double click): the same case.
    let (_, again, _) = post(&mut citizen, &host, "/certificates/apply", &csrf, &answers).await;
    assert!(again.contains(&case), "{again}");
    let (_, list) = page(&mut citizen, &host, "/api/cases").await;
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["total"], 1, "one case: {list}");

    // The clerk checks the file and finds it complete.
    let mut clerk = person(&app, &host, "kep-officer").await;
    let task = claim(&mut clerk, &host, &case).await;
    let (status, html) =
        complete(&mut clerk, &host, &case, &task, &[("outcome", "complete")]).await;
    assert_eq!(status, 200, "{html}");

    // Issuing needs a signing certificate: said on the form, nothing filed.
    let task = claim(&mut clerk, &host, &case).await;
    let issue = [
        ("outcome", "issued"),
        ("registry_entry", "Δημοτολόγιο Άλφα, μερίδα 1234"),
        (
            "certified",
            "Μαρία Παπαδοπούλου, σύζυγος\nΝίκος Παπαδόπουλος, τέκνο",
        ),
    ];
    let (status, html) = complete(&mut clerk, &host, &case, &task, &issue).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("δεν έχετε δικαίωμα υπογραφής"), "{html}");
    let filed: i64 = app
        .sql_value("SELECT COUNT(*) FROM documents WHERE kind = 'certificates.certificate'")
        .await;
    assert_eq!(filed, 0, "no document without its decision");

    let mut admin = person(&app, &host, "municipal-admin").await;
    let (_, html) = page(&mut admin, &host, "/admin/signing").await;
    let (status, _, _) = post(
        &mut admin,
        &host,
        "/admin/signing/issue",
        &csrf_of(&html),
        &[("tax_id", tax_id("kep-officer"))],
    )
    .await;
    assert_eq!(status, 200);
    let (status, html) = complete(&mut clerk, &host, &case, &task, &issue).await;
    assert_eq!(status, 200, "{html}");

    // The citizen sees the case closed and downloads the signed certificate.
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(html.contains("Εκδόθηκε"), "{html}");
    let doc = link(&html, &format!("/cases/{case}/documents/"));
    let reference: String = html
        .split("/verify/")
        .nth(1)
        .unwrap()
        .chars()
        .take(14)
        .collect();
    let (res, _) = citizen.get(&citizen.url(&host, &doc)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    // It carries the code it is verified by (printed, and in its
    // properties where a program reads it).
    assert!(
        String::from_utf8_lossy(&pdf).contains(&format!("/verify/{reference}")),
        "the verification address in the PDF"
    );
    assert!(
        published_signature_verifies(&app, &host, &reference, &pdf).await,
        "OpenSSL verifies it"
    );
    let audited: i64 = app
        .sql_value("SELECT COUNT(*) FROM audit_log WHERE action = 'task_completed'")
        .await;
    assert_eq!(
        audited, 2,
        "each decision audited once, the refused one not"
    );

    // Another municipality: the same case and document are not there.
    let mut other = person(&app, "beta.localhost", "citizen-verified").await;
    let (status, _) = page(&mut other, "beta.localhost", &format!("/cases/{case}")).await;
    assert_eq!(status, 404);
    let (status, _) = page(&mut other, "beta.localhost", &doc).await;
    assert_eq!(status, 404);
}

async fn the_admin_changes_the_settings_on_the_generated_page(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenants(&app).await;
    let mut admin = person(&app, &host, "municipal-admin").await;
    // Staff hub → the services' parameters → this module's generated page.
    let (_, hub) = page(&mut admin, &host, "/staff").await;
    let (status, list) = page(&mut admin, &host, &link(&hub, "/admin/settings")).await;
    assert_eq!(status, 200, "{list}");
    let (status, form) = page(
        &mut admin,
        &host,
        &link(&list, "/admin/settings/certificates"),
    )
    .await;
    assert_eq!(status, 200, "{form}");
    // The operator's default is shown as the default.
    assert!(form.contains("Ο Προϊστάμενος Δημοτολογίου"), "{form}");
    let csrf = csrf_of(&form);

    let long = "α".repeat(600);
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/settings/certificates",
        &csrf,
        &[("footer", &long), ("show_purpose", "maybe")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("f-show_purpose-error"), "{html}");
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/settings/certificates",
        &csrf,
        &[("footer", &long), ("show_purpose", "false")],
    )
    .await;
    assert_eq!(status, 422, "the schema's own check: {html}");
    assert!(html.contains("f-footer-error"), "{html}");
    let stored: i64 = app.sql_value("SELECT COUNT(*) FROM module_settings").await;
    assert_eq!(stored, 0, "nothing saved from a refused form");

    let (status, url, html) = post(
        &mut admin,
        &host,
        "/admin/settings/certificates",
        &csrf,
        &[
            ("signatory_title", "Η Ληξίαρχος"),
            ("show_purpose", "false"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(url.ends_with("?done=saved"), "{url}");
    assert!(html.contains("value=\"Η Ληξίαρχος\""), "{html}");
    let audited: i64 = app
        .sql_value("SELECT COUNT(*) FROM audit_log WHERE action = 'module_settings_changed'")
        .await;
    assert_eq!(audited, 1);

    // Emptying a field goes back to the operator's default.
    let (_, _, html) = post(
        &mut admin,
        &host,
        "/admin/settings/certificates",
        &csrf,
        &[("signatory_title", ""), ("show_purpose", "false")],
    )
    .await;
    assert!(!html.contains("value=\"Η Ληξίαρχος\""), "{html}");

    // The default typed again is no override: nothing stays stored.
    let (status, _, _) = post(
        &mut admin,
        &host,
        "/admin/settings/certificates",
        &csrf,
        &[
            ("signatory_title", "Ο Προϊστάμενος Δημοτολογίου"),
            ("show_purpose", "true"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let stored: i64 = app.sql_value("SELECT COUNT(*) FROM module_settings").await;
    assert_eq!(stored, 0, "only what differs from the defaults is kept");

    // Staff without the permission, and a module the tenant did not
    // enable, are refused.
    let mut clerk = person(&app, &host, "kep-officer").await;
    let (status, _) = page(&mut clerk, &host, "/admin/settings/certificates").await;
    assert_eq!(status, 403);
    let (status, _) = page(&mut admin, &host, "/admin/settings/nurseries").await;
    assert_eq!(status, 404);
}

//! Digital signatures through HTTP: the municipal admin issues a signing
//! certificate, a member of staff signs a citizen's document, OpenSSL (not
//! written by us) verifies the downloaded signature against the
//! municipality's CA, a tampered file fails both OpenSSL and our public
//! verification page, and a revocation shows on that page. Also: the CA is
//! created at onboarding, staff add internal documents, citizens replace a
//! document while the case is open.

use crate::flows::{openssl_verifies, page, person, post, submit, unescape, upload};
use dimos_it::{Backend, TestApp, csrf_of, on_both_backends, tax_id, tenant_with_grants};
use serde_json::json;

on_both_backends!(
    a_signed_document_verifies_with_openssl_and_revocation_shows,
    staff_add_internal_documents_and_citizens_replace_theirs,
);

const GRANTS: &[(&str, &str)] = &[
    ("technical-employee", "technical-employee"),
    ("council-secretary", "council-secretary"),
    ("mayor", "mayor"),
    // Reads every case, so may sign any of them.
    ("mayor", "department-head"),
    ("municipal-admin", "municipal-admin"),
];

async fn tenant(app: &TestApp, slug: &str) -> String {
    tenant_with_grants(app, slug, slug, GRANTS).await;
    app.enable_module(slug, "example", json!({})).await;
    format!("{slug}.localhost")
}

fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% {text}\n%%EOF\n").into_bytes()
}

/// The reference code of the n-th signature shown on a page.
fn reference(html: &str, n: usize) -> String {
    html.split("/verify/")
        .skip(1)
        .nth(n)
        .unwrap_or_else(|| panic!("a verification link: {html}"))
        .chars()
        .take(14)
        .collect()
}

/// The first document link of a case page (`prefix` ends with `documents/`).
fn document_id(html: &str, prefix: &str) -> String {
    html.split(prefix)
        .nth(1)
        .unwrap_or_else(|| panic!("a document link {prefix}: {html}"))
        .chars()
        .take(36)
        .collect()
}

/// Posts one file (as `file`, with the form's token) as `who`; the status.
async fn post_file(
    app: &TestApp,
    who: &dimos_it::Browser<'_>,
    (host, path): (&str, &str),
    csrf: &str,
    (name, bytes): (&str, Vec<u8>),
) -> u16 {
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    app.post(host, path)
        .header("cookie", who.cookie_header(host).unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts the public check form; returns the page.
async fn check(
    app: &TestApp,
    host: &str,
    reference: &str,
    file: Vec<u8>,
    signature: Option<Vec<u8>>,
) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file).file_name("document.pdf"),
    );
    if let Some(sig) = signature {
        form = form.part(
            "signature",
            reqwest::multipart::Part::bytes(sig).file_name("signature.p7s"),
        );
    }
    let res = app
        .post(host, &format!("/verify/{reference}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, unescape(res.text().await.unwrap()))
}

async fn a_signed_document_verifies_with_openssl_and_revocation_shows(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app, "alpha").await;
    let other = tenant(&app, "beta").await;

    // The CA was made when the municipality was onboarded, before anyone
    // asked for a certificate.
    let mut admin = person(&app, &host, "municipal-admin").await;
    let mut made = false;
    for _ in 0..200 {
        let (status, html) = page(&mut admin, &host, "/admin/signing").await;
        assert_eq!(status, 200);
        if html.contains("Σειριακός αριθμός") {
            assert!(html.contains("Αρχή υπογραφών") && html.contains("alpha"));
            made = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(made, "the signing CA exists after onboarding");

    let mut citizen = person(&app, &host, "citizen").await;
    let (case, _) = submit(&mut citizen, &host, "Άδεια με υπογραφή").await;
    // What the applicant sends is theirs: it is never signed in the
    // municipality's name (finding 9 of issue 14).
    let (status, _) = upload(
        &mut citizen,
        &app,
        &host,
        &case,
        "Αίτηση.pdf",
        pdf("Ό,τι γράψει ο αιτών"),
    )
    .await;
    assert_eq!(status, 303);
    let mut mayor = person(&app, &host, "mayor").await;
    let (_, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    let staff_doc = format!("/staff/cases/{case}/documents/");
    let theirs = document_id(&html, &staff_doc);
    // The decision is the municipality's own document.
    let doc = pdf("Απόφαση 17/2026 — Δήμος Άλφα");
    let status = post_file(
        &app,
        &mayor,
        (&host, &format!("/staff/cases/{case}/documents")),
        &csrf_of(&html),
        ("Απόφαση.pdf", doc.clone()),
    )
    .await;
    assert_eq!(status, 303);

    // No certificate yet: signing is refused with a clear message.
    let (status, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("χρειάζεστε πιστοποιητικό υπογραφής"),
        "{html}"
    );
    let doc_id = html
        .split(&staff_doc)
        .skip(1)
        .map(|s| s.chars().take(36).collect::<String>())
        .find(|id| id.len() == 36 && *id != theirs)
        .unwrap();
    let sign_path = format!("/staff/cases/{case}/documents/{doc_id}/sign");
    let (status, _, html) = post(&mut mayor, &host, &sign_path, &csrf_of(&html), &[]).await;
    assert_eq!(status, 409);
    assert!(
        html.contains("Δεν έχετε πιστοποιητικό υπογραφής σε ισχύ"),
        "{html}"
    );
    // Someone without the signing permission cannot even try.
    let mut tech = person(&app, &host, "technical-employee").await;
    let (_, html) = page(&mut tech, &host, "/staff/agenda").await;
    let (status, _, _) = post(&mut tech, &host, &sign_path, &csrf_of(&html), &[]).await;
    assert_eq!(status, 403);

    // The admin issues one; bad tax numbers and people who may not sign
    // get a clear error.
    let (_, html) = page(&mut admin, &host, "/admin/signing").await;
    let csrf = csrf_of(&html);
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/signing/issue",
        &csrf,
        &[("tax_id", "123")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Μη έγκυρο ΑΦΜ"), "{html}");
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/signing/issue",
        &csrf,
        &[("tax_id", tax_id("citizen"))],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("δικαίωμα υπογραφής"), "{html}");
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/signing/issue",
        &csrf,
        &[("tax_id", tax_id("mayor"))],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Το πιστοποιητικό εκδόθηκε") && html.contains("Σε ισχύ"));

    // Not what the applicant sent: no button, and a clear refusal.
    let (_, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    assert!(!html.contains(&format!("{staff_doc}{theirs}/sign")));
    assert!(html.contains(&format!("{staff_doc}{doc_id}/sign")));
    let (status, _, refused) = post(
        &mut mayor,
        &host,
        &format!("{staff_doc}{theirs}/sign"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 422);
    assert!(refused.contains("το υπέβαλε ο αιτών"), "{refused}");

    // The mayor signs.
    let (_, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    let (status, _, html) = post(&mut mayor, &host, &sign_path, &csrf_of(&html), &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Υπογράφηκε ψηφιακά από"), "{html}");
    let code = reference(&html, 0);
    // Once is enough.
    let (status, _, _) = post(&mut mayor, &host, &sign_path, &csrf_of(&html), &[]).await;
    assert_eq!(status, 409);
    // The citizen sees it on their case, with the code.
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(html.contains(&code) && html.contains("Υπογράφηκε ψηφιακά το έγγραφο"));

    // Anyone downloads the signature and the CA; OpenSSL agrees.
    let sig = app
        .get(&host, &format!("/verify/{code}/signature.p7s"))
        .send()
        .await
        .unwrap();
    assert_eq!(sig.status(), 200);
    assert_eq!(sig.headers()["content-type"], "application/pkcs7-signature");
    let sig = sig.bytes().await.unwrap().to_vec();
    let ca = app.get(&host, "/signing/ca.pem").send().await.unwrap();
    assert_eq!(ca.status(), 200);
    let ca = ca.text().await.unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("signature.p7s"), &sig).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    assert!(
        openssl_verifies(dir.path(), &doc),
        "OpenSSL verifies the file"
    );
    let mut tampered = doc.clone();
    tampered[12] ^= 1;
    assert!(
        !openssl_verifies(dir.path(), &tampered),
        "OpenSSL refuses a tampered file"
    );
    // Another municipality's CA does not vouch for it.
    let beta_ca = app.get(&other, "/signing/ca.pem").send().await.unwrap();
    std::fs::write(dir.path().join("ca.pem"), beta_ca.text().await.unwrap()).unwrap();
    assert!(!openssl_verifies(dir.path(), &doc));

    // Our public page: the right file passes, a tampered one does not.
    let (status, html) = page(&mut Browser::new(&app), &host, &format!("/verify/{code}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Σε ισχύ") && html.contains("Υπογράφων"));
    let (status, html) = check(&app, &host, &code, doc.clone(), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("Η υπογραφή είναι έγκυρη"), "{html}");
    let (_, html) = check(&app, &host, &code, tampered.clone(), None).await;
    assert!(html.contains("δεν είναι αυτό που υπογράφηκε"), "{html}");
    // With the signature file the person has (DER), the same answers.
    let (_, html) = check(&app, &host, &code, doc.clone(), Some(sig.clone())).await;
    assert!(html.contains("Η υπογραφή είναι έγκυρη"), "{html}");
    let (_, html) = check(
        &app,
        &host,
        &code,
        doc.clone(),
        Some(b"not a signature".to_vec()),
    )
    .await;
    assert!(html.contains("δεν είναι έγκυρη υπογραφή"), "{html}");
    let (status, html) = check(&app, &host, &code, Vec::new(), None).await;
    assert_eq!(status, 422);
    assert!(html.contains("Επιλέξτε το έγγραφο"));
    // Typed codes are forgiving; unknown ones and other municipalities' are not found.
    let (res, url) = {
        let mut anon = Browser::new(&app);
        let url = anon.url(
            &host,
            &format!("/verify?ref={}", code.to_lowercase().replace('-', " ")),
        );
        let res = anon.request(reqwest::Method::GET, &url, None).await;
        anon.follow(res, url).await
    };
    assert_eq!(res.status(), 200);
    assert!(url.ends_with(&format!("/verify/{code}")), "{url}");
    let (status, _) = page(&mut Browser::new(&app), &other, &format!("/verify/{code}")).await;
    assert_eq!(status, 404, "another municipality knows nothing of it");
    let (status, _) = page(&mut Browser::new(&app), &host, "/verify/AAAA-BBBB-CCCC").await;
    assert_eq!(status, 404);

    // The admin revokes the certificate: the page says so, and the mayor
    // can no longer sign.
    let (_, html) = page(&mut admin, &host, "/admin/signing").await;
    let serial = html
        .split("name=\"serial\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/signing/revoke",
        &csrf_of(&html),
        &[("serial", &serial), ("reason", "left-office")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Αποχώρηση από τη θέση"));
    let (_, html) = check(&app, &host, &code, doc.clone(), None).await;
    assert!(
        html.contains("Ανακλήθηκε") && html.contains("ανακλήθηκε στις"),
        "{html}"
    );
    assert!(
        html.contains("το πιστοποιητικό του υπογράφοντος δεν είναι σε ισχύ"),
        "{html}"
    );
    assert!(!html.contains("Η υπογραφή είναι έγκυρη"));
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains(&code) && html.contains("Ανακλήθηκε"),
        "the case shows it too"
    );
    let (_, html) = page(&mut admin, &host, "/admin/audit").await;
    assert!(html.contains("signing_certificate_revoked") && html.contains("document_signed"));

    // In English too.
    let mut anon = Browser::new(&app);
    page(&mut anon, &host, "/lang/en").await;
    let (_, html) = page(&mut anon, &host, &format!("/verify/{code}")).await;
    assert!(
        html.contains("Revoked") && html.contains("Signer"),
        "{html}"
    );
}

async fn staff_add_internal_documents_and_citizens_replace_theirs(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app, "alpha").await;
    let mut citizen = person(&app, &host, "citizen").await;
    let (case, _) = submit(&mut citizen, &host, "Αντικατάσταση").await;
    let (status, _) = upload(&mut citizen, &app, &host, &case, "Παλιό.pdf", pdf("v1")).await;
    assert_eq!(status, 303);

    // The citizen replaces it: the new one shows, the old one is kept in
    // the file for staff.
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    let old = document_id(&html, &format!("/cases/{case}/documents/"));
    let status = post_file(
        &app,
        &citizen,
        (&host, &format!("/cases/{case}/documents/{old}/replace")),
        &csrf_of(&html),
        ("Νέο.pdf", pdf("v2")),
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains("Νέο.pdf") && !html.contains(">Παλιό.pdf<"),
        "{html}"
    );
    assert!(html.contains("Αντικαταστάθηκε το έγγραφο: Παλιό.pdf"));
    let (status, _) = page(
        &mut citizen,
        &host,
        &format!("/cases/{case}/documents/{old}"),
    )
    .await;
    assert_eq!(status, 200, "the citizen can still fetch what they sent");

    let mut mayor = person(&app, &host, "mayor").await;
    let (_, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    assert!(html.contains("Παλιό.pdf") && html.contains("Νέο.pdf"));
    assert!(html.contains("αντικαταστάθηκε"), "{html}");

    // Staff add a document; an internal one stays out of the citizen's view.
    for (name, internal) in [("Εισήγηση.pdf", true), ("Βεβαίωση.pdf", false)] {
        let (_, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
        let mut form = reqwest::multipart::Form::new().text("_csrf", csrf_of(&html));
        if internal {
            form = form.text("internal", "on");
        }
        let form = form.part(
            "file",
            reqwest::multipart::Part::bytes(pdf(name)).file_name(name.to_owned()),
        );
        let res = app
            .post(&host, &format!("/staff/cases/{case}/documents"))
            .header("cookie", mayor.cookie_header(&host).unwrap())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{name}");
    }
    let (_, html) = page(&mut mayor, &host, &format!("/staff/cases/{case}")).await;
    assert!(html.contains("Εισήγηση.pdf") && html.contains("Εσωτερικό"));
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(html.contains("Βεβαίωση.pdf"), "{html}");
    assert!(
        !html.contains("Εισήγηση"),
        "internal documents stay internal"
    );
    // A citizen cannot replace what the municipality issued.
    let issued = html
        .split(&format!("/cases/{case}/documents/"))
        .filter(|s| !s.starts_with(&old))
        .map(|s| s.chars().take(36).collect::<String>())
        .find(|id| html.contains(&format!("{id}\" download>Βεβαίωση.pdf")))
        .expect("the issued document's link");
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf_of(&html))
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf("x")).file_name("x.pdf"),
        );
    let res = app
        .post(&host, &format!("/cases/{case}/documents/{issued}/replace"))
        .header("cookie", citizen.cookie_header(&host).unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

use dimos_it::Browser;

//! The parking application asked in steps: one question page at a time,
//! answers kept across pages, a page to check them (each with a link to
//! change it) where the documents are attached and the case is filed.

use crate::flows::{page, person, post, send_multipart, unescape};
use dimos_it::{Backend, TestApp, csrf_of, on_both_backends};

on_both_backends!(a_citizen_applies_in_steps_and_checks_the_answers);

/// The hidden fields of the check page's form (answers, kept files).
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|s| {
            let name = s.split('"').next()?.to_owned();
            let value = s.split("value=\"").nth(1)?.split('"').next()?.to_owned();
            (name != "_csrf").then_some((name, value))
        })
        .collect()
}

async fn a_citizen_applies_in_steps_and_checks_the_answers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let mut citizen = person(&app, &host, "citizen-verified").await;
    // Nothing answered yet: the check page sends to the first open question.
    let res = citizen
        .request(
            reqwest::Method::GET,
            &citizen.url(&host, "/parking/apply/check"),
            None,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/parking/apply/")
    );

    let (status, html) = page(&mut citizen, &host, "/parking/apply").await;
    assert_eq!(status, 200);
    assert!(html.contains("Βήμα 1 από 4"), "{html}");
    let csrf = csrf_of(&html);
    // A wrong answer stays on its page, named; nothing else is asked yet.
    let (status, url, html) = post(
        &mut citizen,
        &host,
        "/parking/apply/applicant",
        &csrf,
        &[
            ("full_name", "Γιώργος Νικολάου"),
            ("email", "giorgos@example.gr"),
            ("mobile", "210 1234567"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{url}");
    assert!(html.contains("Δώστε ελληνικό κινητό"), "{html}");
    assert!(
        !html.contains("αριθμό κυκλοφορίας"),
        "later questions are not judged yet"
    );
    assert!(html.contains("<title>Σφάλμα: "), "{html}");
    let (_, url, _) = post(
        &mut citizen,
        &host,
        "/parking/apply/applicant",
        &csrf,
        &[
            ("full_name", "Γιώργος Νικολάου"),
            ("email", "giorgos@example.gr"),
            ("mobile", "69 1234 5678"),
        ],
    )
    .await;
    assert!(url.ends_with("/parking/apply/space"), "{url}");
    let (_, url, _) = post(
        &mut citizen,
        &host,
        "/parking/apply/space",
        &csrf,
        &[
            ("location", "Αριστοτέλους 53, Άλιμος"),
            ("plate", "iky 1234"),
        ],
    )
    .await;
    assert!(url.ends_with("/parking/apply/delivery"), "{url}");
    let (_, url, html) = post(
        &mut citizen,
        &host,
        "/parking/apply/delivery",
        &csrf,
        &[
            ("delivery", "post"),
            ("delivery_address", "Ποσειδώνος 10, Άλιμος"),
        ],
    )
    .await;
    assert!(url.ends_with("/parking/apply/check"), "{url}");
    // Every answer, in words, with a link back to change it.
    for answer in [
        "Γιώργος Νικολάου",
        "Αριστοτέλους 53, Άλιμος",
        "iky 1234",
        "Με ταχυδρομείο",
        "Ποσειδώνος 10, Άλιμος",
    ] {
        assert!(html.contains(answer), "{answer}: {html}");
    }
    assert!(
        html.contains("href=\"/parking/apply/space?return=check\""),
        "{html}"
    );
    // A change returns to the check page.
    let (_, url, html) = post(
        &mut citizen,
        &host,
        "/parking/apply/space?return=check",
        &csrf,
        &[
            ("location", "Αριστοτέλους 55, Άλιμος"),
            ("plate", "iky 1234"),
        ],
    )
    .await;
    assert!(url.ends_with("/parking/apply/check"), "{url}");
    assert!(html.contains("Αριστοτέλους 55, Άλιμος"));

    // The check page's own form files the case, with the documents.
    let mut form = reqwest::multipart::Form::new().text("_csrf", csrf_of(&html));
    for name in [
        "full_name",
        "email",
        "mobile",
        "location",
        "plate",
        "delivery",
        "delivery_address",
    ] {
        let value = html
            .split(&format!("type=\"hidden\" name=\"{name}\" value=\""))
            .nth(1)
            .unwrap_or_else(|| panic!("{name} carried by the form"))
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        form = form.text(name, value);
    }
    // Every answer is carried by the form (checked above).
    drop(form);
    // A good file and a refused one: the form comes back, the good one kept.
    let bad_try = hidden_fields(&html)
        .into_iter()
        .fold(
            reqwest::multipart::Form::new().text("_csrf", csrf_of(&html)),
            |f, (k, v)| f.text(k, v),
        )
        .part(
            "doc-disability-certificate",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n% KEPA\n".to_vec()).file_name("kepa.pdf"),
        )
        .part(
            "doc-residence",
            reqwest::multipart::Part::bytes(b"<html>not a pdf</html>".to_vec())
                .file_name("bill.pdf"),
        );
    let res = send_multipart(&citizen, &app, &host, "/parking/apply", bad_try).await;
    assert_eq!(res.status(), 422);
    let html = unescape(res.text().await.unwrap());
    assert!(html.contains("id=\"f-doc-residence-error\""), "{html}");
    let kept = html
        .split("name=\"kept-disability-certificate\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("the good file is kept: {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(html.contains("kepa.pdf"), "{html}");
    // Sent again without choosing it again: the case has it.
    let form = hidden_fields(&html).into_iter().fold(
        reqwest::multipart::Form::new().text("_csrf", csrf_of(&html)),
        |f, (k, v)| f.text(k, v),
    );
    assert!(html.contains(&kept));
    let res = send_multipart(&citizen, &app, &host, "/parking/apply", form).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = page(&mut citizen, &host, &to).await;
    assert!(html.contains("Η αίτησή σας υποβλήθηκε"), "{html}");
    assert!(
        html.contains("Αριστοτέλους 55, Άλιμος")
            || html.contains("IKY-1234")
            || html.contains("ΙΚΥ-1234"),
        "{html}"
    );
    assert!(
        html.contains("kepa.pdf"),
        "the kept file is the case's: {html}"
    );
    // The draft is gone with the filed case.
    let (_, html) = page(&mut citizen, &host, "/parking/apply/space").await;
    assert!(!html.contains("Αριστοτέλους 55"), "{html}");
}

on_both_backends!(a_file_kept_for_a_form_never_sent_is_swept_a_day_later);

/// A file kept while the form came back with errors, and the person never
/// came back: a day later the sweep removes its row and its object.
async fn a_file_kept_for_a_form_never_sent_is_swept_a_day_later(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (_, html) = page(&mut citizen, &host, "/parking/apply").await;
    // A whole application in one request whose plate is wrong: 422, the
    // file kept.
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf_of(&html))
        .text("full_name", "Γιώργος Νικολάου")
        .text("email", "giorgos@example.gr")
        .text("mobile", "69 1234 5678")
        .text("location", "Αριστοτέλους 53, Άλιμος")
        .text("plate", "12")
        .text("delivery", "pickup")
        .part(
            "doc-disability-certificate",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n% KEPA\n".to_vec()).file_name("kepa.pdf"),
        );
    let res = send_multipart(&citizen, &app, &host, "/parking/apply", form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let id: uuid::Uuid = html
        .split("name=\"kept-disability-certificate\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let tenant = app
        .state
        .registry()
        .tenants()
        .into_iter()
        .find(|t| t.slug() == "alpha")
        .unwrap();
    let tdb = app.tenant_db(tenant.id).await;
    let doc = dimos_storage::documents::get(&tdb, id)
        .await
        .unwrap()
        .expect("kept");
    assert!(doc.case_id.is_none());
    let now = chrono::Utc::now();
    dimos_storage::sweep_orphans(app.state.objects().as_ref(), &tdb, now)
        .await
        .unwrap();
    assert!(
        dimos_storage::documents::get(&tdb, id)
            .await
            .unwrap()
            .is_some(),
        "kept for a day"
    );
    let removed = dimos_storage::sweep_orphans(
        app.state.objects().as_ref(),
        &tdb,
        now + chrono::Duration::days(2),
    )
    .await
    .unwrap();
    assert!(removed >= 1);
    assert!(
        dimos_storage::documents::get(&tdb, id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.state.objects().get(&doc.object_key).await.is_err(),
        "the object is gone too"
    );
}

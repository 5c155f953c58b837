//! The parking application asked in steps: one question page at a time,
//! answers kept across pages, a page to check them (each with a link to
//! change it) where the documents are attached and the case is filed.

use crate::flows::{page, person, post, send_multipart};
use dimos_it::{Backend, TestApp, csrf_of, on_both_backends};

on_both_backends!(a_citizen_applies_in_steps_and_checks_the_answers);

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
    form = form.part(
        "doc-disability-certificate",
        reqwest::multipart::Part::bytes(b"%PDF-1.7\n% KEPA\n".to_vec()).file_name("kepa.pdf"),
    );
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
    // The draft is gone with the filed case.
    let (_, html) = page(&mut citizen, &host, "/parking/apply/space").await;
    assert!(!html.contains("Αριστοτέλους 55"), "{html}");
}

//! The process as a picture, on the pages people read: the service page
//! (the municipality's process, as citizens meet it), the case page (where
//! the case stands) and the municipal admin's settings (what the
//! municipality changed).

use crate::flows::{page, person, post};
use dimos_it::{Backend, Browser, TestApp, csrf_of, on_both_backends};

on_both_backends!(the_process_is_drawn_for_citizens_and_the_admin);

async fn the_process_is_drawn_for_citizens_and_the_admin(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let mut anyone = Browser::new(&app);
    let (status, html) = page(&mut anyone, &host, "/parking").await;
    assert_eq!(status, 200);
    let figure = html
        .split("<figure class=\"dimos-process\">")
        .nth(1)
        .expect("a picture");
    let figure = figure.split("</figure>").next().unwrap();
    assert!(figure.contains("<svg") && figure.contains("aria-hidden=\"true\""));
    // The text alternative lists the usual stages in order, with days.
    let items: Vec<&str> = figure
        .split("<li>")
        .skip(1)
        .map(|li| li.split("</li>").next().unwrap())
        .collect();
    assert!(items[0].starts_with("Έλεγχος δικαιολογητικών"), "{items:?}");
    assert!(
        items
            .iter()
            .any(|i| i.starts_with("Αυτοψία στη θέση στάθμευσης")),
        "{items:?}"
    );
    assert!(items.iter().any(|i| i.contains("συνήθως")), "{items:?}");
    assert!(
        !items.iter().any(|i| i.contains("Αναμονή δικαιολογητικών")),
        "the usual path: {items:?}"
    );

    // The citizen's case stands at the document check.
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (case, _) = crate::parking::apply(&app, &mut citizen, &host, "ΙΚΑ1234").await;
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains("<li>Έλεγχος δικαιολογητικών από την Τεχνική Υπηρεσία (συνήθως"),
        "{html}"
    );
    assert!(html.contains("εδώ βρίσκεται τώρα"), "{html}");

    // The municipality switches the inspection off: the admin sees it
    // marked, citizens no longer see it.
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (_, html) = page(&mut admin, &host, "/admin/services/parking.permit").await;
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/admin/services/parking.permit",
        &csrf_of(&html),
        &[("skip.inspect", "on")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<li>Αυτοψία στη θέση στάθμευσης (συνήθως"),
        "{html}"
    );
    assert!(html.contains("δεν εφαρμόζεται στον δήμο"), "{html}");
    let (_, html) = page(&mut anyone, &host, "/parking").await;
    assert!(!html.contains("<li>Αυτοψία"), "{html}");
}

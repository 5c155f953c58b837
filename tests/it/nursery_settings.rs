//! The nurseries' points table as a list of criteria, each added, changed
//! or removed on a page of its own, in words (no internal ids, no blanking
//! of a long form's fields); the public table follows.

use crate::flows::{page, person, post};
use dimos_it::{Backend, Browser, TestApp, csrf_of, on_both_backends};

on_both_backends!(the_admin_adds_changes_and_removes_criteria_one_at_a_time);

/// The public page's row for `label`, if any.
async fn public_row(app: &TestApp, host: &str, label: &str) -> Option<String> {
    let mut anyone = Browser::new(app);
    let (_, html) = page(&mut anyone, host, "/nurseries").await;
    html.split(label)
        .nth(1)
        .map(|r| r.split("</tr>").next().unwrap().to_owned())
}

async fn the_admin_adds_changes_and_removes_criteria_one_at_a_time(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::nurseries::tenant(&app, "alpha").await;
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (status, html) = page(&mut admin, &host, "/nurseries/settings").await;
    assert_eq!(status, 200);
    assert!(html.contains("Εργαζόμενη μητέρα"), "{html}");
    assert!(
        !html.contains("<input class=\"govgr-input"),
        "a list, not a form of ids"
    );
    let change = html
        .split("href=\"/nurseries/settings/criteria/")
        .nth(1)
        .map(|s| {
            format!(
                "/nurseries/settings/criteria/{}",
                s.split('"').next().unwrap()
            )
        })
        .unwrap();

    // Change: a wrong number is refused on its field; a right one is kept.
    let (_, form) = page(&mut admin, &host, &change).await;
    let csrf = csrf_of(&form);
    let el = form
        .split("id=\"f-el\" name=\"el\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let en = form
        .split("id=\"f-en\" name=\"en\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, html) = post(
        &mut admin,
        &host,
        &change,
        &csrf,
        &[("el", &el), ("en", &en), ("points", "εξήντα")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("id=\"f-points-error\""), "{html}");
    let (status, url, html) = post(
        &mut admin,
        &host,
        &change,
        &csrf,
        &[("el", &el), ("en", &en), ("points", "77")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(url.ends_with("/nurseries/settings?done=changed"), "{url}");
    assert!(html.contains("Το κριτήριο άλλαξε."));
    assert!(public_row(&app, &host, &el).await.unwrap().contains(">77<"));

    // Add: named in both languages, with what proves it.
    let (_, form) = page(&mut admin, &host, "/nurseries/settings/criteria/new").await;
    let doc = form
        .split("name=\"docs\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, url, html) = post(
        &mut admin,
        &host,
        "/nurseries/settings/criteria/new",
        &csrf_of(&form),
        &[
            ("el", "Ορφανό παιδί"),
            ("en", "Orphan child"),
            ("points", "50"),
            ("docs", &doc),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(url.ends_with("done=added"), "{url}");
    assert!(
        html.contains("href=\"/nurseries/settings/criteria/orphan-child\""),
        "{html}"
    );
    assert!(
        public_row(&app, &host, "Ορφανό παιδί")
            .await
            .unwrap()
            .contains(">50<")
    );

    // Remove, after a question that says what it is worth.
    let (_, html) = page(
        &mut admin,
        &host,
        "/nurseries/settings/criteria/orphan-child/remove",
    )
    .await;
    assert!(
        html.contains("Αφαίρεση του κριτηρίου «Ορφανό παιδί»;") && html.contains("50 μόρια"),
        "{html}"
    );
    let (status, url, html) = post(
        &mut admin,
        &host,
        "/nurseries/settings/criteria/orphan-child/remove",
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(url.ends_with("done=removed"), "{url}");
    assert!(!html.contains("Ορφανό παιδί"), "{html}");
    assert!(public_row(&app, &host, "Ορφανό παιδί").await.is_none());
    // An unknown criterion is not found.
    let (status, _) = page(
        &mut admin,
        &host,
        "/nurseries/settings/criteria/orphan-child",
    )
    .await;
    assert_eq!(status, 404);
}

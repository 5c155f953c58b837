//! Links people click on every page: the language switch and Σύνδεση bring
//! them back to the page they were on (inside modules too), `/x/` reaches
//! `/x`, and a refused upload's page keeps the signed-in header.

use crate::flows::{page, person};
use dimos_it::{Backend, Browser, Options, TestApp, on_both_backends};

on_both_backends!(switches_return_to_the_page_and_errors_keep_the_header);

fn href_of(html: &str, starts: &str) -> String {
    let at = html
        .find(&format!("href=\"{starts}"))
        .unwrap_or_else(|| panic!("a link to {starts}…"));
    html[at + 6..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        // As a browser reads the attribute.
        .replace("&#x2f;", "/")
}

async fn switches_return_to_the_page_and_errors_keep_the_header(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.http.body_limit_bytes = 64 * 1024),
            ..Options::default()
        },
    )
    .await;
    let host = crate::parking::tenant(&app).await;
    let mut anyone = Browser::new(&app);
    // A module's page with a trailing slash is the page without it.
    let res = anyone
        .request(reqwest::Method::GET, &anyone.url(&host, "/parking/"), None)
        .await;
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/parking");
    // `//host/` never becomes an off-site redirect.
    let res = anyone
        .request(
            reqwest::Method::GET,
            &anyone.url(&host, "//evil.example/"),
            None,
        )
        .await;
    assert_ne!(res.status(), 308);

    let (_, html) = page(&mut anyone, &host, "/parking").await;
    let switch = href_of(&html, "/lang/en");
    assert_eq!(switch, "/lang/en?next=%2Fparking");
    let (res, url) = anyone.get(&anyone.url(&host, &switch)).await;
    assert!(url.ends_with("/parking"), "{url}");
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\""));
    let login = href_of(&html, "/auth/login");
    assert_eq!(login, "/auth/login?next=/parking");
    let (res, url) = anyone
        .sign_in(&host, "citizen-verified", "%2Fparking")
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        url.ends_with("/parking"),
        "signed in, back on the page: {url}"
    );

    // An upload over the limit: 413, and the page still shows who is signed in.
    let citizen = person(&app, &host, "citizen-verified").await;
    let res = app
        .post(&host, "/parking/apply")
        .header("cookie", citizen.cookie_header(&host).unwrap())
        .header("content-type", "multipart/form-data; boundary=x")
        .body(vec![b'a'; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Γιώργος Νικολάου") && html.contains("action=\"/auth/logout\""),
        "{html}"
    );
}

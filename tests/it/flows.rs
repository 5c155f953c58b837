//! Steps most HTTP tests take: sign in as a demo person, read a page,
//! post a form with its CSRF token, file the example module's request,
//! upload a document.

use dimos_it::{Browser, TestApp, csrf_of};
use reqwest::Method;
use serde_json::Value;

/// Posts a multipart form with the person's session cookie; no redirects
/// followed.
pub(crate) async fn send_multipart(
    b: &Browser<'_>,
    app: &TestApp,
    host: &str,
    path: &str,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    app.post(host, path)
        .header("cookie", b.cookie_header(host).unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn person<'a>(app: &'a TestApp, host: &str, who: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    let (res, _) = b.sign_in(host, who, "/").await;
    assert_eq!(res.status(), 200, "{who} signs in");
    b
}

pub(crate) async fn page(b: &mut Browser<'_>, host: &str, path: &str) -> (u16, String) {
    let (res, _) = b.get(&b.url(host, path)).await;
    let status = res.status().as_u16();
    (status, unescape(res.text().await.unwrap()))
}

/// Templates escape `/` and `'` in text as `&#x2f;` and `&#x27;`
/// (harmless in browsers); tests compare plain text.
pub(crate) fn unescape(html: String) -> String {
    html.replace("&#x2f;", "/").replace("&#x27;", "'")
}

/// Posts a form (with the page's CSRF token) and follows the redirect.
pub(crate) async fn post(
    b: &mut Browser<'_>,
    host: &str,
    path: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let mut form = vec![("_csrf", csrf)];
    form.extend_from_slice(fields);
    let url = b.url(host, path);
    let res = b.request(Method::POST, &url, Some(&form)).await;
    let (res, url) = b.follow(res, url).await;
    let status = res.status().as_u16();
    (status, url, unescape(res.text().await.unwrap()))
}

/// The citizen files a request; returns (case id, protocol label).
pub(crate) async fn submit(citizen: &mut Browser<'_>, host: &str, title: &str) -> (String, String) {
    let (status, html) = page(citizen, host, "/example/requests/new").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let (status, url, html) = post(
        citizen,
        host,
        "/example/requests",
        &csrf,
        &[("title", title), ("text", "Κείμενο της ανακοίνωσης")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let id = url
        .split("/cases/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let protocol = html
        .split("Αριθμός πρωτοκόλλου: ")
        .nth(1)
        .expect("the protocol number is on the confirmation")
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    (id, protocol)
}

pub(crate) async fn upload(
    b: &mut Browser<'_>,
    app: &TestApp,
    host: &str,
    case: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, String) {
    let (_, html) = page(b, host, &format!("/cases/{case}")).await;
    let csrf = csrf_of(&html);
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf)
        .text("kind", "authorisation")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    let res = send_multipart(b, app, host, &format!("/cases/{case}/documents"), form).await;
    let status = res.status().as_u16();
    (status, unescape(res.text().await.unwrap()))
}

pub(crate) async fn agenda(b: &mut Browser<'_>, host: &str, queue: &str) -> Value {
    let (res, _) = b
        .get(&b.url(host, &format!("/api/staff/agenda?queue={queue}")))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Takes the open task of a case from the person's available queue.
pub(crate) async fn claim(b: &mut Browser<'_>, host: &str, case: &str) -> String {
    let tasks = agenda(b, host, "available").await;
    let task = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["case_id"] == case)
        .unwrap_or_else(|| panic!("case {case} in the queue: {tasks}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, html) = page(b, host, "/staff/agenda?queue=available").await;
    let csrf = csrf_of(&html);
    let (status, url, _) = post(b, host, &format!("/staff/tasks/{task}/claim"), &csrf, &[]).await;
    assert_eq!(status, 200);
    assert!(url.ends_with(&format!("/staff/cases/{case}")), "{url}");
    task
}

pub(crate) async fn complete(
    b: &mut Browser<'_>,
    host: &str,
    case: &str,
    task: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let (_, html) = page(b, host, &format!("/staff/cases/{case}")).await;
    let csrf = csrf_of(&html);
    let (status, _, html) = post(
        b,
        host,
        &format!("/staff/tasks/{task}/complete"),
        &csrf,
        fields,
    )
    .await;
    (status, html)
}

pub(crate) async fn citizen_case(b: &mut Browser<'_>, host: &str, case: &str) -> Value {
    let (res, _) = b.get(&b.url(host, &format!("/api/cases/{case}"))).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub(crate) fn timeline(case: &Value) -> Vec<String> {
    case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn has_case(agenda: &Value, case: &str) -> bool {
    agenda["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["case_id"] == case)
}

/// An email as the tests read it: its headers and both parts.
pub(crate) struct Parsed {
    pub headers: std::collections::BTreeMap<String, String>,
    pub text: String,
    pub html: String,
}

pub(crate) fn parse(raw: &[u8]) -> Parsed {
    use mailparse::MailHeaderMap;
    let m = mailparse::parse_mail(raw).unwrap();
    let headers = ["From", "To", "Subject", "Message-ID", "Reply-To"]
        .iter()
        .filter_map(|h| m.headers.get_first_value(h).map(|v| (h.to_string(), v)))
        .collect();
    assert_eq!(m.ctype.mimetype, "multipart/alternative", "both parts");
    let part = |t: &str| {
        m.subparts
            .iter()
            .find(|p| p.ctype.mimetype == t)
            .map(|p| p.get_body().unwrap())
            .unwrap_or_else(|| panic!("no {t} part"))
    };
    Parsed {
        headers,
        text: part("text/plain"),
        html: part("text/html"),
    }
}

/// Delivers every notification that is due, waiting for any the app's own
/// delivery loop holds at that moment (it runs alongside the test).
pub(crate) async fn settle(app: &TestApp) {
    use dimos_db::sea_query::{Alias, Condition, Expr, ExprTrait, Query};
    let db = app.db().await;
    for _ in 0..100 {
        app.state.outbox().deliver_due(1000).await.unwrap();
        let now = app.state.workflow().now();
        let q = Query::select()
            .expr(Expr::col(Alias::new("id")).count())
            .from(Alias::new("notifications"))
            .cond_where(
                Condition::any()
                    .add(Expr::col(Alias::new("status")).eq("sending"))
                    .add(
                        Condition::all()
                            .add(Expr::col(Alias::new("status")).eq("pending"))
                            .add(Expr::col(Alias::new("next_attempt_at")).lte(now)),
                    ),
            )
            .to_owned();
        let (left,): (i64,) = db.fetch_one(&q).await.unwrap();
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("notifications still being delivered after 5 s");
}

/// OpenSSL (which we did not write) checks `signature.p7s` in `dir` over
/// `content` against the CA in `ca.pem` there.
pub(crate) fn openssl_verifies(dir: &std::path::Path, content: &[u8]) -> bool {
    std::fs::write(dir.join("content.pdf"), content).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
        ])
        .arg("-in")
        .arg(dir.join("signature.p7s"))
        .arg("-content")
        .arg(dir.join("content.pdf"))
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .arg("-out")
        .arg(dir.join("out"))
        .output()
        .expect("openssl runs (infra/test.sh installs it)");
    out.status.success()
}

/// Whether OpenSSL verifies `content` against the signature published at
/// `/verify/<reference>/signature.p7s` and the municipality's CA, fetched
/// as anyone would.
pub(crate) async fn published_signature_verifies(
    app: &TestApp,
    host: &str,
    reference: &str,
    content: &[u8],
) -> bool {
    let sig = app
        .get(host, &format!("/verify/{reference}/signature.p7s"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let ca = app
        .get(host, "/signing/ca.pem")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("signature.p7s"), &sig).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    openssl_verifies(dir.path(), content)
}

//! Issue 14, the bad-input sweep: every route of the route table and every
//! form field the pages render receive a corpus of hostile values, as
//! anonymous, a citizen, a municipal admin and the operator. Not one answer
//! may be a 5xx (a panic is caught and answered 500, so it counts too), and
//! the server must be healthy afterwards.

use crate::flows::{person, submit};
use dimos_it::{Backend, Browser, Options, TestApp, workspace_root};
use reqwest::Method;
use scraper::{Html, Selector};
use std::collections::{BTreeSet, HashSet, VecDeque};

/// Hostile values, already percent-encoded (so invalid UTF-8 can be sent).
pub fn corpus() -> Vec<String> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut v: Vec<String> = [
        "\u{0}",
        "a\u{1}b",
        "\u{1b}[31mred",
        "\u{7f}",
        "line\r\nInjected: header",
        "\u{202E}fdp.exe",
        "../../../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "' OR '1'='1' --",
        "<script>alert(1)</script>",
        "{{ 7*7 }}",
        "99999999999999999999999999",
        "-1",
        "",
        "%",
        "\u{feff}\u{fffe}😀",
        "00000000-0000-0000-0000-000000000000",
    ]
    .iter()
    .map(|s| enc(s))
    .collect();
    // Not UTF-8 at all, and an over-long value.
    v.push("%FF%FE%C0%AF".into());
    v.push("x".repeat(8_000));
    v
}

/// A form as a page renders it.
#[derive(Debug, Clone)]
pub struct FormSpec {
    pub action: String,
    pub method: String,
    pub multipart: bool,
    pub fields: Vec<(String, String, String)>, // name, type, value
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

/// Walks `host` from `/` as `b` (at most `bound` pages), collecting links'
/// targets and every form (deduplicated by action pattern and field names).
pub async fn collect_forms(
    b: &mut Browser<'_>,
    host: &str,
    bound: usize,
) -> (Vec<FormSpec>, BTreeSet<String>) {
    let origin = url::Url::parse(&b.url(host, "/")).unwrap();
    let mut queue = VecDeque::from([origin.clone()]);
    let mut seen: HashSet<String> = HashSet::from([origin.path().to_owned()]);
    let mut forms = vec![];
    let mut form_keys = HashSet::new();
    let mut visited = 0;
    let mut pages = BTreeSet::new();
    while let Some(url) = queue.pop_front() {
        if visited >= bound {
            break;
        }
        visited += 1;
        let res = b.request(Method::GET, url.as_str(), None).await;
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !res.status().is_success() || !ct.starts_with("text/html") {
            continue;
        }
        pages.insert(url.path().to_owned());
        let html = res.text().await.unwrap_or_default();
        let doc = Html::parse_document(&html);
        for a in doc.select(&sel("a[href]")) {
            let href = a.value().attr("href").unwrap_or("");
            if let Ok(u) = url.join(href)
                && u.host_str() == origin.host_str()
                && u.port() == origin.port()
                && !u.path().contains("/auth/")
                && !u.path().starts_with("/lang/")
                && seen.insert(u.path().to_owned())
            {
                queue.push_back(u);
            }
        }
        for form in doc.select(&sel("form")) {
            let e = form.value();
            let action = url
                .join(e.attr("action").unwrap_or(""))
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            let method = e.attr("method").unwrap_or("get").to_ascii_lowercase();
            let multipart = e
                .attr("enctype")
                .is_some_and(|t| t.starts_with("multipart"));
            let mut fields = vec![];
            for f in form.select(&sel("input[name], select[name], textarea[name]")) {
                let fe = f.value();
                let kind = if fe.name() == "input" {
                    fe.attr("type").unwrap_or("text").to_owned()
                } else {
                    fe.name().to_owned()
                };
                if matches!(kind.as_str(), "submit" | "button" | "image" | "reset") {
                    continue;
                }
                fields.push((
                    fe.attr("name").unwrap_or("").to_owned(),
                    kind,
                    fe.attr("value").unwrap_or("").to_owned(),
                ));
            }
            // Ending the session would leave the rest of the sweep anonymous.
            if action.ends_with("/logout") || action.ends_with("/logout-everywhere") {
                continue;
            }
            let key = format!(
                "{method} {} {:?}",
                pattern_of(&action),
                fields.iter().map(|f| &f.0).collect::<Vec<_>>()
            );
            if form_keys.insert(key) {
                forms.push(FormSpec {
                    action,
                    method,
                    multipart,
                    fields,
                });
            }
        }
    }
    (forms, pages)
}

/// `/staff/cases/0190…/documents` → `/staff/cases/{}/documents`, so one
/// form per route is swept, not one per record.
fn pattern_of(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.len() >= 8 && seg.chars().any(|c| c.is_ascii_digit()) {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Fills every `{param}` (and `{*rest}`) of a route pattern with `value`
/// (already percent-encoded).
pub fn fill(pattern: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push_str(if value.is_empty() { "x" } else { value });
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// One request; returns its status, or a description of what broke.
pub async fn send(
    app: &TestApp,
    host: &str,
    method: Method,
    path_and_query: &str,
    cookie: Option<&str>,
    body: Option<(String, Vec<u8>)>,
) -> u16 {
    let mut req = app.req(method, host, path_and_query);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some((ct, bytes)) = body {
        req = req.header("content-type", ct).body(bytes);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            // The body must arrive whole, too.
            match res.bytes().await {
                Ok(_) => status,
                Err(_) => 599,
            }
        }
        Err(e) if e.is_timeout() => 598,
        Err(_) => 597,
    }
}

fn urlencoded(fields: &[(String, String)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={v}",
                url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A multipart body by hand: values are sent as the raw bytes they decode
/// to (invalid UTF-8 included), file fields get a small PDF with the value
/// as its file name.
fn multipart(fields: &[(String, String, String)], value: &str) -> (String, Vec<u8>) {
    let boundary = "dimosSweepBoundary7MA4YWxk";
    let raw: Vec<u8> =
        percent_encoding::percent_decode(value.replace('+', " ").as_bytes()).collect();
    let mut body = Vec::new();
    for (name, kind, own) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if kind == "file" {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"").as_bytes(),
            );
            body.extend_from_slice(&raw);
            body.extend_from_slice(
                b"\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n%sweep\n\r\n",
            );
        } else {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            );
            if name == "_csrf" {
                body.extend_from_slice(own.as_bytes());
            } else {
                body.extend_from_slice(&raw);
            }
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Every form, with every field set to each hostile value in turn (the
/// session's CSRF token kept, so the request reaches the handler).
pub async fn sweep_forms(
    app: &TestApp,
    host: &str,
    cookie: Option<&str>,
    forms: &[FormSpec],
    corpus: &[String],
    failures: &mut Vec<String>,
) -> usize {
    let mut n = 0;
    for f in forms {
        for value in corpus {
            let status = if f.method == "get" {
                let q = f
                    .fields
                    .iter()
                    .filter(|(_, k, _)| k != "file")
                    .map(|(name, _, _)| {
                        format!(
                            "{}={value}",
                            url::form_urlencoded::byte_serialize(name.as_bytes())
                                .collect::<String>()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                send(
                    app,
                    host,
                    Method::GET,
                    &format!("{}?{q}", f.action),
                    cookie,
                    None,
                )
                .await
            } else if f.multipart {
                let (ct, body) = multipart(&f.fields, value);
                send(app, host, Method::POST, &f.action, cookie, Some((ct, body))).await
            } else {
                let pairs: Vec<(String, String)> = f
                    .fields
                    .iter()
                    .map(|(name, _, own)| {
                        if name == "_csrf" {
                            (name.clone(), own.clone())
                        } else {
                            (name.clone(), value.clone())
                        }
                    })
                    .collect();
                send(
                    app,
                    host,
                    Method::POST,
                    &f.action,
                    cookie,
                    Some((
                        "application/x-www-form-urlencoded".into(),
                        urlencoded(&pairs),
                    )),
                )
                .await
            };
            n += 1;
            if status >= 500 {
                failures.push(format!(
                    "{host} {} {} with {:.40}: {status}",
                    f.method, f.action, value
                ));
            }
        }
    }
    n
}

/// Every route pattern of `paths`, its parameters filled with each hostile
/// value, hostile values in the query too, by GET and by POST.
pub async fn sweep_routes(
    app: &TestApp,
    host: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    paths: &[String],
    corpus: &[String],
    failures: &mut Vec<String>,
) -> usize {
    let mut n = 0;
    for pattern in paths {
        for value in corpus {
            let path = fill(pattern, value);
            let target = format!(
                "{path}?q={value}&next={value}&page={value}&id={value}&after={value}&before={value}"
            );
            for method in [Method::GET, Method::POST] {
                let body = (method == Method::POST).then(|| {
                    let token = csrf.unwrap_or("");
                    (
                        "application/x-www-form-urlencoded".to_owned(),
                        format!("_csrf={token}&id={value}&text={value}&status={value}")
                            .into_bytes(),
                    )
                });
                let status = send(app, host, method.clone(), &target, cookie, body).await;
                n += 1;
                if status >= 500 {
                    failures.push(format!("{host} {method} {target:.120}: {status}"));
                }
            }
        }
    }
    n
}

dimos_it::on_both_backends!(every_route_and_every_form_field_refuses_hostile_input_cleanly);

async fn every_route_and_every_form_field_refuses_hostile_input_cleanly(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 100_000),
            ..Options::default()
        },
    )
    .await;
    app.enable_module("alimos", "example", serde_json::json!({}))
        .await;
    let host = "alimos.localhost";
    // Records to reach: a parking application and a request.
    {
        let mut citizen = person(&app, host, "citizen-verified").await;
        crate::parking::apply(&app, &mut citizen, host, "ΙΚΑ1234").await;
        submit(&mut citizen, host, "Αίτημα για τον κρατήρα").await;
        let mut office = person(&app, host, "kep-officer").await;
        crate::edms::register_letter(&app, &mut office).await;
    }
    let table = dimos_pages::router::route_table(&app.state);
    let corpus = corpus();
    // Route parameters and queries get the sharpest part of the corpus;
    // form fields get all of it.
    let sharp: Vec<String> = corpus
        .iter()
        .filter(|v| {
            [
                "%00",
                "%01",
                "%7F",
                "%E2%80%AE",
                "..%2F",
                "%FF",
                "-1",
                "00000000",
                "%25",
            ]
            .iter()
            .any(|m| v.starts_with(m) || v.contains(m))
                || v.len() > 5_000
        })
        .cloned()
        .collect();
    let mut failures = vec![];
    let mut requests = 0;

    for who in [None, Some("citizen-verified"), Some("municipal-admin")] {
        let mut b = match who {
            Some(w) => person(&app, host, w).await,
            None => Browser::new(&app),
        };
        let cookie = b.cookie_header(host);
        let (forms, _) = collect_forms(&mut b, host, 120).await;
        let csrf = forms
            .iter()
            .flat_map(|f| f.fields.iter())
            .find(|(n, _, _)| n == "_csrf")
            .map(|(_, _, v)| v.clone());
        if who != Some("citizen-verified") {
            requests += sweep_routes(
                &app,
                host,
                cookie.as_deref(),
                csrf.as_deref(),
                &table.tenant,
                &sharp,
                &mut failures,
            )
            .await;
        }
        requests += sweep_forms(
            &app,
            host,
            cookie.as_deref(),
            &forms,
            &corpus,
            &mut failures,
        )
        .await;
    }
    // The operator's console (open to loopback in the demo) and the portal.
    let mut op = Browser::new(&app);
    let (forms, _) = collect_forms(&mut op, "admin.localhost", 60).await;
    requests += sweep_routes(
        &app,
        "admin.localhost",
        None,
        None,
        &table.operator,
        &sharp,
        &mut failures,
    )
    .await;
    requests += sweep_forms(
        &app,
        "admin.localhost",
        None,
        &forms,
        &corpus,
        &mut failures,
    )
    .await;
    requests += sweep_routes(
        &app,
        "localhost",
        None,
        None,
        &table.portal,
        &sharp,
        &mut failures,
    )
    .await;
    requests += sweep_routes(
        &app,
        "nowhere.example",
        None,
        None,
        &table.any_host,
        &sharp,
        &mut failures,
    )
    .await;

    // Duplicated headers and truncated bodies, sent as bytes.
    let p = app.port();
    for raw in [
        format!(
            "GET / HTTP/1.1\r\nHost: {host}:{p}\r\nHost: admin.localhost:{p}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET / HTTP/1.1\r\nHost: {host}:{p}\r\nCookie: dimos_lang=en\r\nCookie: dimos_lang=\u{1}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "POST /account/notifications HTTP/1.1\r\nHost: {host}:{p}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nmobile=69"
        ),
        format!(
            "POST /parking/apply HTTP/1.1\r\nHost: {host}:{p}\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: 60\r\nConnection: close\r\n\r\n--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb"
        ),
        format!(
            "POST /staff/verify HTTP/1.1\r\nHost: {host}:{p}\r\nContent-Type: multipart/form-data\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        ),
    ] {
        let answer = crate::security::raw_http(&app, &raw).await;
        requests += 1;
        if answer.starts_with("HTTP/1.1 5") {
            failures.push(format!("raw {:.60}: {:.40}", raw, answer));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {requests} hostile requests answered 5xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(requests > 3000, "the sweep sent only {requests} requests");
    // Healthy afterwards.
    assert_eq!(app.get(host, "/").send().await.unwrap().status(), 200);
    assert_eq!(
        app.get("127.0.0.1", "/readyz")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_lists_every_kind_of_route() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let t = dimos_pages::router::route_table(&app.state);
    for p in [
        "/",
        "/auth/callback",
        "/staff/cases/{id}",
        "/parking/apply",
        "/nurseries/results",
        "/example/requests",
    ] {
        assert!(t.tenant.contains(&p.to_owned()), "{p} in {:?}", t.tenant);
    }
    assert!(
        t.operator.contains(&"/api/v1/tenants".to_owned()),
        "{:?}",
        t.operator
    );
    assert!(
        t.portal.contains(&"/dev-idp/authorize".to_owned()),
        "{:?}",
        t.portal
    );
    assert!(t.any_host.contains(&"/healthz".to_owned()));
    assert!(t.tenant.len() > 60, "{} tenant routes", t.tenant.len());
}

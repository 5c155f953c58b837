//! Issue 14: the server tried as an attacker would, with any HTTP client,
//! providers of different trust, and a proxy in front. Each test names the
//! finding it guards.

use crate::faulty_idp::{self, Fault, FaultyIdp};
use dimos_it::{Backend, Browser, Options, TestApp, csrf_of, tenant_body, tenant_with_staff};
use reqwest::Method;
use serde_json::json;

/// Production-like: no development provider; `national` is the deployment's
/// provider (citizens, operators); `muni-sso` is Alpha's own provider for
/// its staff. Both assert the same tax id, which is an operator's and holds
/// the municipal admin role in Beta and in Alpha.
struct TwoProviders {
    app: TestApp,
    _setup: TestApp,
    _national: FaultyIdp,
    _muni: FaultyIdp,
}

/// A production-like app (`tweak` turns the development provider off, so
/// the operator API is closed) over a database whose tenants were created
/// by a first, demo-mode replica (`_setup`, kept running: its data folder
/// holds a SQLite database).
pub async fn production(
    b: Backend,
    tweak: impl Fn(&mut dimos_kernel::config::Config) + Send + Sync + Clone + 'static,
    tenants: Vec<serde_json::Value>,
) -> (TestApp, TestApp) {
    let t = tweak.clone();
    let setup = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                t(c);
                c.identity.dev_provider = dimos_kernel::config::DevProvider::Auto;
                c.http.trusted_proxies.clear();
            }),
            ..Options::default()
        },
    )
    .await;
    for body in tenants {
        setup.create_tenant(body).await;
    }
    let app = TestApp::spawn_with(
        b,
        Options {
            database_url: Some(setup.database_url.clone()),
            tweak: Box::new(tweak),
            ..Options::default()
        },
    )
    .await;
    (app, setup)
}

async fn two_providers(b: Backend) -> TwoProviders {
    let national = faulty_idp::spawn(Fault::None).await;
    let muni = faulty_idp::spawn(Fault::None).await;
    let (n, m) = (national.issuer.clone(), muni.issuer.clone());
    let grants = json!([{ "tax_id": faulty_idp::TAX_ID, "role": "municipal-admin" }]);
    let mut alpha = tenant_body("alpha", "Άλφα");
    alpha["identity"] = json!({ "staff": "muni-sso" });
    alpha["grants"] = grants.clone();
    let mut beta = tenant_body("beta", "Βήτα");
    beta["grants"] = grants;
    let (app, setup) = production(
        b,
        move |c| {
            c.identity.dev_provider = dimos_kernel::config::DevProvider::Off;
            c.identity
                .providers
                .insert("national".into(), faulty_idp::provider_config(&n));
            c.identity
                .providers
                .insert("muni-sso".into(), faulty_idp::provider_config(&m));
            c.identity.default_provider = "national".into();
            c.identity.operators = vec![faulty_idp::TAX_ID.into()];
        },
        vec![alpha, beta],
    )
    .await;
    TwoProviders {
        app,
        _setup: setup,
        _national: national,
        _muni: muni,
    }
}

/// Begins a sign-in on `host` (`login` is the path and query), lets the
/// provider answer, and stops before the callback: returns the callback's
/// path and query, and the session cookie.
async fn half_sign_in(browser: &mut Browser<'_>, host: &str, login: &str) -> (String, String) {
    let res = browser
        .request(Method::GET, &browser.url(host, login), None)
        .await;
    assert_eq!(res.status(), 303, "login redirects to the provider");
    let authorize = res.headers()["location"].to_str().unwrap().to_owned();
    let back = browser.request(Method::GET, &authorize, None).await;
    assert_eq!(back.status(), 303, "the provider redirects back");
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&callback).unwrap();
    assert_eq!(url.host_str(), Some(host), "the callback is on {host}");
    let path = format!("{}?{}", url.path(), url.query().unwrap());
    (path, browser.cookie_header(host).unwrap())
}

/// Begins a staff sign-in on Alpha and takes its callback, with the
/// session cookie, to `host`; returns the answer and the cookie.
async fn finish_elsewhere(app: &TestApp, host: &str) -> (reqwest::Response, String) {
    let mut attacker = Browser::new(app);
    let (callback, cookie) = half_sign_in(
        &mut attacker,
        "alpha.localhost",
        "/auth/login?as=staff&next=/",
    )
    .await;
    let res = app
        .get(host, &callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    (res, cookie)
}

dimos_it::on_both_backends!(a_sign_in_begun_on_one_host_is_never_finished_on_another);

/// Finding 1: a session cookie copied to another host used to finish the
/// code flow there: the operator console from a municipality's own
/// provider, or another municipality's admin roles.
async fn a_sign_in_begun_on_one_host_is_never_finished_on_another(b: Backend) {
    let t = two_providers(b).await;
    let app = &t.app;

    // Begun on Alpha through Alpha's staff provider, finished on the admin host.
    let (res, cookie) = finish_elsewhere(app, "admin.localhost").await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("wrong_host"));
    for path in ["/", "/api/v1/tenants"] {
        let res = app
            .get("admin.localhost", path)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 200, "no operator session: {path}");
    }

    // Begun on Alpha, finished on Beta (where the tax id is the admin).
    let (res, cookie) = finish_elsewhere(app, "beta.localhost").await;
    assert_eq!(res.status(), 401);
    let res = app
        .get("beta.localhost", "/staff/cases")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "not signed in on Beta: sent to sign in");
    // The failure is in Beta's audit trail with its reason; nobody signed in.
    let audit = audit_actions(app, "beta").await;
    assert!(
        audit.contains(&"sign_in_failed wrong_host".to_owned()),
        "{audit:?}"
    );
    assert!(
        !audit.iter().any(|a| a.starts_with("sign_in ")),
        "{audit:?}"
    );

    // The same flow finished where it began works.
    let mut person = Browser::new(app);
    let (callback, _) = half_sign_in(
        &mut person,
        "alpha.localhost",
        "/auth/login?as=staff&next=/account",
    )
    .await;
    let url = person.url("alpha.localhost", &callback);
    let (page, at) = person.get(&url).await;
    assert_eq!(page.status(), 200, "{at}");
    assert!(at.ends_with("/account"));
    // Alpha's audit names the provider that vouched for the person.
    let details = audit_details(app, "alpha").await;
    assert!(
        details
            .iter()
            .any(|(a, d)| a == "sign_in" && d["provider"] == "muni-sso"),
        "{details:?}"
    );

    // The admin host signs in through the operators' provider only.
    let res = app
        .get("admin.localhost", "/auth/login")
        .send()
        .await
        .unwrap();
    let to = res.headers()["location"].to_str().unwrap();
    assert!(to.starts_with(&t._national.issuer), "{to}");
}

dimos_it::on_both_backends!(roles_granted_to_a_tax_id_count_only_through_the_staff_provider);

/// Finding 1 (trust): Alpha's staff sign in through `muni-sso`; the same tax
/// id asserted by the citizens' provider is a citizen there, not an admin.
async fn roles_granted_to_a_tax_id_count_only_through_the_staff_provider(b: Backend) {
    let t = two_providers(b).await;
    let app = &t.app;
    let mut citizen = Browser::new(app);
    let (callback, _) = half_sign_in(&mut citizen, "alpha.localhost", "/auth/login?next=/").await;
    let (page, _) = citizen
        .get(&citizen.url("alpha.localhost", &callback))
        .await;
    assert_eq!(page.status(), 200);
    let res = citizen
        .request(
            Method::GET,
            &citizen.url("alpha.localhost", "/staff/cases"),
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        403,
        "the citizens' provider makes nobody staff"
    );

    let mut staff = Browser::new(app);
    let (callback, _) = half_sign_in(
        &mut staff,
        "alpha.localhost",
        "/auth/login?as=staff&next=/staff/cases",
    )
    .await;
    let (page, at) = staff.get(&staff.url("alpha.localhost", &callback)).await;
    assert_eq!(page.status(), 200, "{at}");
    assert!(at.ends_with("/staff/cases"));

    // On Beta (no staff provider of its own) the national provider is the
    // staff provider: the grant holds.
    let mut admin = Browser::new(app);
    let (callback, _) = half_sign_in(
        &mut admin,
        "beta.localhost",
        "/auth/login?next=/staff/cases",
    )
    .await;
    let (page, _) = admin.get(&admin.url("beta.localhost", &callback)).await;
    assert_eq!(page.status(), 200);
}

async fn audit_details(app: &TestApp, slug: &str) -> Vec<(String, serde_json::Value)> {
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let t = app.state.registry().store().require(slug).await.unwrap();
    let tdb = dimos_db::TenantDb::new(db, t.id);
    dimos_identity::AuditLog::entries(&tdb, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.detail))
        .collect()
}

async fn audit_actions(app: &TestApp, slug: &str) -> Vec<String> {
    audit_details(app, slug)
        .await
        .into_iter()
        .map(|(a, d)| format!("{a} {}", d["reason"].as_str().unwrap_or("")))
        .collect()
}

dimos_it::on_both_backends!(redirect_targets_stay_on_the_host);

/// Finding 2: `next=/%09/evil.example` left the site once a browser dropped
/// the tab. Every hostile target either is refused at the edge (control
/// characters) or ends as a path on the same host.
async fn redirect_targets_stay_on_the_host(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    for next in [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%00",
        "/%01x",
        "/%7f",
    ] {
        for path in [
            format!("/lang/en?next={next}"),
            format!("/auth/login?next={next}"),
        ] {
            let res = app.get("alpha.localhost", &path).send().await.unwrap();
            assert_eq!(res.status(), 400, "{path}");
            assert!(res.headers().get("location").is_none(), "{path}");
        }
    }
    for next in [
        "//evil.example",
        "/%5Cevil.example",
        "/.//evil.example",
        "/x/..//evil.example",
        "https://evil.example/",
        "/%5C/evil.example",
    ] {
        let res = app
            .get("alpha.localhost", &format!("/lang/en?next={next}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{next}");
        let to = res.headers()["location"].to_str().unwrap();
        let resolved = url::Url::parse("http://alpha.localhost/")
            .unwrap()
            .join(to)
            .unwrap();
        assert_eq!(
            resolved.host_str(),
            Some("alpha.localhost"),
            "{next} -> {to}"
        );
    }
    // After signing in, too: the target is checked when the sign-in begins.
    let mut person = Browser::new(&app);
    let (_, at) = person
        .sign_in("alpha.localhost", "citizen-verified", "/.//evil.example")
        .await;
    assert!(at.starts_with(&person.url("alpha.localhost", "/")), "{at}");
}

dimos_it::on_both_backends!(hostile_input_is_refused_at_the_edge_with_a_clear_error);

/// Finding 16: NUL in a search, a form field or a redirect target gave 500
/// (PostgreSQL refuses NUL in text); an oversized chunked body gave 400;
/// invalid UTF-8 in a form was stored as U+FFFD; two Host headers were served.
async fn hostile_input_is_refused_at_the_edge_with_a_clear_error(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    app.enable_module("alpha", "parking", json!({})).await;
    let mut staff = Browser::new(&app);
    staff
        .sign_in("alpha.localhost", "municipal-admin", "/staff")
        .await;
    let cookie = staff.cookie_header("alpha.localhost").unwrap();
    for path in [
        "/staff/cases?q=%00",
        "/staff/protocol?q=%00",
        "/parking/register?q=%00",
        "/staff/cases?q=%C0%AF",
        "/%01x",
        "/%7f",
        "/parking/%00",
        "/staff/cases?q=abc%E2%80%AEgpj",
    ] {
        let res = app
            .get("alpha.localhost", path)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("<html lang=\"el\""), "an error page: {body}");
    }
    // A form field with NUL, or with bytes that are not UTF-8.
    let page = staff
        .get(&staff.url("alpha.localhost", "/account"))
        .await
        .0
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    for body in [
        format!("_csrf={csrf}&mobile=69%0012345678"),
        format!("_csrf={csrf}&mobile=%FF%FE"),
    ] {
        let res = app
            .post("alpha.localhost", "/account/notifications")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
    }
    // Multipart text fields too (file contents are the documents' business).
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .text("name", "Μαρία\u{0}");
    let res = app
        .post("alpha.localhost", "/parking/apply")
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // 12 MiB, chunked (no Content-Length): 413, not 400.
    let answer = raw_chunked_post(
        &app,
        "alpha.localhost",
        "/account/notifications",
        &cookie,
        12,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Two Host headers: which one would the proxy have routed by? Refused.
    let raw = raw_http(
        &app,
        &format!(
            "GET / HTTP/1.1\r\nHost: alpha.localhost:{p}\r\nHost: admin.localhost:{p}\r\nConnection: close\r\n\r\n",
            p = app.port()
        ),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");

    // JSON strings too (the operator's API; PostgreSQL refuses NUL).
    let mut body = tenant_body("nul", "Ν\u{0}ΟΥΛ");
    body["contact"] = json!({ "phone": "210\u{202E}1234" });
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .put("admin.localhost", "/api/v1/tenants/alpha/modules/parking")
        .json(&json!({ "validity_years": 3, "x\u{1}": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // The server is healthy afterwards.
    assert_eq!(
        app.get("alpha.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// POSTs `mib` MiB of form data in chunks (no Content-Length).
pub async fn raw_chunked_post(
    app: &TestApp,
    host: &str,
    path: &str,
    cookie: &str,
    mib: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n",
        app.port()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..mib {
        // The server may answer and close before the end: that is the point.
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends bytes as they are (no client normalises them) and reads the answer.
pub async fn raw_http(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

dimos_it::on_both_backends!(behind_a_trusted_proxy_each_client_is_itself);

/// Finding 3: behind the proxy every citizen shared one rate-limit bucket
/// and every audit entry carried the proxy's address. Forwarded addresses
/// are believed from trusted proxies only.
async fn behind_a_trusted_proxy_each_client_is_itself(b: Backend) {
    let (app, _setup) = production(
        b,
        |c| {
            c.http.trusted_proxies = vec!["127.0.0.1/32".into()];
            c.identity.sign_in_attempts_per_minute = 2;
        },
        vec![tenant_body("alpha", "Άλφα")],
    )
    .await;
    let login = |client: &str| {
        app.get("alpha.localhost", "/auth/login")
            .header("x-forwarded-for", format!("6.6.6.6, {client}"))
            .send()
    };
    assert_eq!(login("198.51.100.1").await.unwrap().status(), 303);
    assert_eq!(login("198.51.100.1").await.unwrap().status(), 303);
    assert_eq!(login("198.51.100.1").await.unwrap().status(), 429);
    // Another citizen behind the same proxy has a bucket of their own; the
    // left-hand entry (the client's own claim) is not who they are.
    assert_eq!(login("198.51.100.2").await.unwrap().status(), 303);

    // The audit trail records the client, not the proxy.
    let res = app
        .get("alpha.localhost", "/auth/login?next=/")
        .header("x-forwarded-for", "203.0.113.50")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (callback, cookie) = {
        // Finish through the development provider as a browser would.
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
        let authorize = res.headers()["location"].to_str().unwrap().to_owned();
        let query = authorize.split_once('?').unwrap().1.to_owned();
        let mut form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        form.push(("person".into(), "citizen-verified".into()));
        let post = app
            .post("localhost", "/dev-idp/authorize")
            .form(&form)
            .send()
            .await
            .unwrap();
        let to = url::Url::parse(post.headers()["location"].to_str().unwrap()).unwrap();
        (format!("{}?{}", to.path(), to.query().unwrap()), cookie)
    };
    let res = app
        .get("alpha.localhost", &callback)
        .header("cookie", &cookie)
        .header("x-forwarded-for", "203.0.113.50")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let t = app.state.registry().store().require("alpha").await.unwrap();
    let entries = dimos_identity::AuditLog::entries(&dimos_db::TenantDb::new(db, t.id), 10)
        .await
        .unwrap();
    let sign_in = entries.iter().find(|e| e.action == "sign_in").unwrap();
    assert_eq!(sign_in.source.as_deref(), Some("203.0.113.50"));

    // With a proxy configured, loopback is no longer a free pass to the
    // demo's open console (every visitor would be "loopback").
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&tenant_body("beta", "Βήτα"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Without trusted proxies, forwarded headers change nothing.
    let plain = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 2),
            ..Options::default()
        },
    )
    .await;
    plain.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut last = 0;
    for i in 0..3 {
        last = plain
            .get("alpha.localhost", "/auth/login")
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429, "a spoofed header buys no new bucket");
}

/// Finding 4: the development provider on a real domain (anyone signs in
/// as anyone, the demo operator included) is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_provider_is_refused_on_a_real_domain() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = dimos_kernel::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        base_domain: "dimos.example.gr".into(),
        ..Default::default()
    };
    config.identity.dev_provider = dimos_kernel::config::DevProvider::On;
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("dev_provider"), "{err}");
    let err = match dimos_server::Application::build(config.clone(), vec![]).await {
        Ok(_) => panic!("the application must refuse to start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("development identity provider"), "{err}");
    // A staging deployment says so explicitly.
    config.identity.allow_dev_provider_on_public_domain = true;
    config.validate().unwrap();
}

dimos_it::on_both_backends!(operator_sessions_follow_the_operator_list_and_need_the_token);

/// Finding 6: a removed operator kept the console for 12 hours; the
/// console's token was checked for URL-encoded bodies only.
async fn operator_sessions_follow_the_operator_list_and_need_the_token(b: Backend) {
    let idp = faulty_idp::spawn(Fault::None).await;
    let issuer = idp.issuer.clone();
    let config = move |operators: Vec<String>| {
        let issuer = issuer.clone();
        move |c: &mut dimos_kernel::config::Config| {
            c.identity.dev_provider = dimos_kernel::config::DevProvider::Off;
            c.identity
                .providers
                .insert("national".into(), faulty_idp::provider_config(&issuer));
            c.identity.default_provider = "national".into();
            c.identity.operators = operators.clone();
        }
    };
    let (app, _setup) = production(
        b,
        config(vec![faulty_idp::TAX_ID.into()]),
        vec![tenant_body("alpha", "Άλφα")],
    )
    .await;
    let mut operator = Browser::new(&app);
    let (page, _) = operator
        .get(&operator.url("admin.localhost", "/tenants/alpha"))
        .await;
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&page.text().await.unwrap());
    let cookie = operator.cookie_header("admin.localhost").unwrap();

    // Whatever the content type claims, a form without the token is refused.
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ] {
        let body = if ct.starts_with("multipart") {
            "--x\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nsuspended\r\n--x--\r\n"
                .to_owned()
        } else {
            "status=suspended".to_owned()
        };
        let res = app
            .post("admin.localhost", "/tenants/alpha/status")
            .header("cookie", &cookie)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{ct}");
    }
    let res = app
        .post("admin.localhost", "/tenants/alpha/status")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&status=active"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "with the token it works");

    // "Sign out everywhere" from a second device ends the first one too.
    let mut laptop = Browser::new(&app);
    let (page, _) = laptop.get(&laptop.url("admin.localhost", "/")).await;
    let laptop_csrf = csrf_of(&page.text().await.unwrap());
    let laptop_cookie = laptop.cookie_header("admin.localhost").unwrap();
    let res = app
        .post("admin.localhost", "/auth/logout-everywhere")
        .header("cookie", &laptop_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={laptop_csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    for c in [&cookie, &laptop_cookie] {
        let res = app
            .get("admin.localhost", "/api/v1/tenants")
            .header("cookie", c)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "every session ended");
    }
    // Signing in again works, and that new session is the one the
    // restart below is about.
    let mut operator = Browser::new(&app);
    let (page, _) = operator
        .get(&operator.url("admin.localhost", "/tenants/alpha"))
        .await;
    assert_eq!(page.status(), 200);
    let cookie = operator.cookie_header("admin.localhost").unwrap();

    // The same database, restarted without this operator: the session ends.
    let replica = TestApp::spawn_with(
        b,
        Options {
            database_url: Some(app.database_url.clone()),
            tweak: Box::new(config(vec![])),
            ..Options::default()
        },
    )
    .await;
    let res = replica
        .get("admin.localhost", "/api/v1/tenants")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

dimos_it::on_both_backends!(metrics_are_private);

/// Finding 13: `/metrics` answered anyone on the admin host and unknown
/// hosts. Now: a listener of its own, or a bearer token.
async fn metrics_are_private(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| {
                c.http.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
                c.http.metrics_token = Some(dimos_kernel::config::Secret::new("s3cret-token"));
            }),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    app.get("alpha.localhost", "/").send().await.unwrap();
    for host in [
        "127.0.0.1",
        "admin.localhost",
        "alpha.localhost",
        "nowhere.example",
    ] {
        let res = app.get(host, "/metrics").send().await.unwrap();
        assert_eq!(res.status(), 401, "{host}");
        let res = app
            .get(host, "/metrics")
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{host}");
    }
    let text = app
        .get("127.0.0.1", "/metrics")
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("dimos_tenants 1"), "{text}");
    assert!(
        text.contains("dimos_http_requests_total{method=\"GET\",status=\"200\",host=\"tenant\"}"),
        "{text}"
    );
    let own = app.metrics_addr.expect("the metrics listener");
    let text = reqwest::get(format!("http://{own}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Latency per route template (a bounded set), never per path.
    assert!(
        text.contains("dimos_http_request_duration_seconds_count{method=\"GET\",route=\"/\"} 1"),
        "{text}"
    );
    assert!(!text.contains("route=\"/cases/0"), "{text}");
    // The pool: its size and the count the starvation guard keeps.
    assert!(text.contains("dimos_db_pool_max "), "{text}");
    assert!(text.contains("dimos_db_second_connections 0"), "{text}");
}

/// Signs in on a fresh municipality through a provider with `fault`;
/// returns the final status, the page, the audit trail and the account's
/// assurance level (if an account was made).
async fn sign_in_through(
    b: Backend,
    fault: Fault,
    acr_levels: &[(&str, &str)],
) -> (u16, String, Vec<String>, Option<String>) {
    let idp = faulty_idp::spawn(fault).await;
    let issuer = idp.issuer.clone();
    let levels: std::collections::BTreeMap<String, String> = acr_levels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                let mut p = faulty_idp::provider_config(&issuer);
                p.acr_levels = levels;
                c.identity.providers.insert("external".into(), p);
                c.identity.default_provider = "external".into();
            }),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut browser = Browser::new(&app);
    let (res, _) = browser
        .get(&browser.url("alpha.localhost", "/auth/login?next=/account"))
        .await;
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    let audit = audit_actions(&app, "alpha").await;
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let t = app.state.registry().store().require("alpha").await.unwrap();
    let accounts =
        dimos_identity::accounts::by_tax_id(&dimos_db::TenantDb::new(db, t.id), faulty_idp::TAX_ID)
            .await
            .unwrap();
    let assurance = accounts.first().map(|a| a.assurance().as_str().to_owned());
    (status, body, audit, assurance)
}

dimos_it::on_both_backends!(openid_details_issue_time_issuer_in_the_response_and_assurance);

/// Finding 14: a token issued ten years ahead was accepted; the `iss`
/// response parameter was ignored; `acr` was never asked for.
async fn openid_details_issue_time_issuer_in_the_response_and_assurance(b: Backend) {
    let (status, body, audit, account) = sign_in_through(b, Fault::FutureIat, &[]).await;
    assert_eq!(status, 401);
    assert!(body.contains("invalid_id_token"), "{body}");
    assert_eq!(audit, ["sign_in_failed invalid_id_token"]);
    assert_eq!(account, None);

    for fault in [Fault::MixUpIss, Fault::MissingIss] {
        let (status, body, audit, account) = sign_in_through(b, fault, &[]).await;
        assert_eq!(status, 401, "{fault:?}");
        assert!(body.contains("issuer_mismatch"), "{fault:?}: {body}");
        assert_eq!(audit, ["sign_in_failed issuer_mismatch"], "{fault:?}");
        assert_eq!(account, None);
    }
    let (status, _, _, account) = sign_in_through(b, Fault::WithIss, &[]).await;
    assert_eq!(status, 200, "a provider naming itself correctly signs in");
    assert_eq!(account.as_deref(), Some("low"));

    // A provider that sends `acr` only on request: Dimos asks, so the
    // citizen is recognised as verified.
    let (status, _, _, account) = sign_in_through(
        b,
        Fault::AcrOnRequest,
        &[
            (faulty_idp::ACR, "substantial"),
            ("urn:test:loa:low", "low"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(account.as_deref(), Some("substantial"));
}

async fn account_id<'a>(app: &'a TestApp, who: &str) -> (Browser<'a>, String) {
    let mut b = Browser::new(app);
    b.sign_in("alpha.localhost", who, "/").await;
    let (page, _) = b.get(&b.url("alpha.localhost", "/account/export")).await;
    let v: serde_json::Value = page.json().await.unwrap();
    let id = v["account"]["id"].as_str().unwrap().to_owned();
    (b, id)
}

dimos_it::on_both_backends!(desk_assistance_is_bounded_rechecked_and_only_for_citizens);

/// Finding 7: assistance had no time limit and survived a revoked
/// permission; the target could be staff; officers could verify themselves.
async fn desk_assistance_is_bounded_rechecked_and_only_for_citizens(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let host = "alpha.localhost";
    let (_, citizen) = account_id(&app, "citizen").await;
    let (_, colleague) = account_id(&app, "technical-employee").await;
    let (mut officer, own) = account_id(&app, "kep-officer").await;
    let (page, _) = officer.get(&officer.url(host, "/staff/verify")).await;
    let csrf = csrf_of(&page.text().await.unwrap());
    let officer_cookie = officer.cookie_header(host).unwrap();
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let cookie = officer_cookie.clone();
        let app = &app;
        async move {
            let body: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish();
            let res = app
                .post(host, path)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // Not for another member of staff, and nobody vouches for themselves.
    let (status, html) = post(
        "/staff/assist/start",
        vec![("_csrf", csrf.clone()), ("account", colleague.clone())],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("ανήκει σε υπάλληλο"), "{html}");
    let (status, html) = post(
        "/staff/verify/confirm",
        vec![
            ("_csrf", csrf.clone()),
            ("account", own.clone()),
            ("document_type", "passport".into()),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("για τον δικό σας λογαριασμό"), "{html}");

    // Bounded in time: half an hour later the officer is themselves again.
    let (status, _) = post(
        "/staff/assist/start",
        vec![("_csrf", csrf.clone()), ("account", citizen.clone())],
    )
    .await;
    assert_eq!(status, 303);
    let banner = "Ενεργείτε για λογαριασμό του πολίτη";
    let account = officer.url(host, "/account");
    assert!(
        officer
            .get(&account)
            .await
            .0
            .text()
            .await
            .unwrap()
            .contains(banner)
    );
    clock.advance(chrono::Duration::minutes(31));
    assert!(
        !officer
            .get(&account)
            .await
            .0
            .text()
            .await
            .unwrap()
            .contains(banner)
    );

    // Re-checked on every request: revoking the role ends it at once.
    let (status, _) = post(
        "/staff/assist/start",
        vec![("_csrf", csrf.clone()), ("account", citizen.clone())],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        officer
            .get(&account)
            .await
            .0
            .text()
            .await
            .unwrap()
            .contains(banner)
    );
    let t = app.state.registry().store().require("alpha").await.unwrap();
    app.state
        .access()
        .revoke(
            &app.tenant_db(t.id).await,
            &dimos_identity::access::tax_id_subject(dimos_it::tax_id("kep-officer")),
            "kep-officer",
        )
        .await
        .unwrap();
    assert!(
        !officer
            .get(&account)
            .await
            .0
            .text()
            .await
            .unwrap()
            .contains(banner)
    );
}

dimos_it::on_both_backends!(anonymous_requests_never_make_a_signing_key);

/// Finding 8: `/signing/ca.pem` on a municipality without a CA generated
/// an RSA key on the anonymous request.
async fn anonymous_requests_never_make_a_signing_key(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.signing.ca_at_onboarding = false),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut tasks = vec![];
    for _ in 0..5 {
        tasks.push(app.get("alpha.localhost", "/signing/ca.pem").send());
    }
    for res in futures_like(tasks).await {
        assert_eq!(res.status(), 404);
    }
    let t = app.state.registry().store().require("alpha").await.unwrap();
    let ca = app
        .state
        .signing()
        .authority(&app.tenant_db(t.id).await)
        .await
        .unwrap();
    assert!(ca.is_none(), "no key was made");
}

async fn futures_like(
    reqs: Vec<impl std::future::Future<Output = reqwest::Result<reqwest::Response>>>,
) -> Vec<reqwest::Response> {
    let mut out = vec![];
    for r in reqs {
        out.push(r.await.unwrap());
    }
    out
}

/// Alpha, whose admin keeps the protocol book, signed in: the app, the
/// admin's cookie and form token.
async fn protocol_office(b: Backend) -> (TestApp, String, String) {
    let app = TestApp::spawn(b).await;
    dimos_it::tenant_with_grants(
        &app,
        "alpha",
        "Άλφα",
        &[
            ("municipal-admin", "protocol-officer"),
            ("municipal-admin", "municipal-admin"),
        ],
    )
    .await;
    let (cookie, csrf) = {
        let mut officer = Browser::new(&app);
        officer
            .sign_in("alpha.localhost", "municipal-admin", "/")
            .await;
        let (page, _) = officer
            .get(&officer.url("alpha.localhost", "/staff/protocol"))
            .await;
        let csrf = csrf_of(&page.text().await.unwrap());
        (officer.cookie_header("alpha.localhost").unwrap(), csrf)
    };
    (app, cookie, csrf)
}

/// Registers an incoming letter in Alpha's protocol book; the status.
async fn register_entry(
    app: &TestApp,
    (cookie, csrf): (&str, &str),
    subject: &str,
    correspondent: &str,
    confidential: bool,
) -> u16 {
    let mut fields = vec![
        ("_csrf", csrf),
        ("direction", "incoming"),
        ("subject", subject),
        ("correspondent", correspondent),
        ("attachments", "0"),
    ];
    if confidential {
        fields.push(("confidential", "on"));
    }
    app.post("alpha.localhost", "/staff/protocol")
        .header("cookie", cookie)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

dimos_it::on_both_backends!(confidential_protocol_entries_are_no_search_oracle);

/// Finding 11: the protocol search matched confidential subjects and
/// showed their correspondent.
async fn confidential_protocol_entries_are_no_search_oracle(b: Backend) {
    let (app, cookie, csrf) = protocol_office(b).await;
    let host = "alpha.localhost";
    for (subject, correspondent, confidential) in [
        ("Πειθαρχική υπόθεση Χ", "Γεώργιος Κρυφός", true),
        ("Αίτηση για φωτισμό", "Ελένη Φανερή", false),
    ] {
        let status =
            register_entry(&app, (&cookie, &csrf), subject, correspondent, confidential).await;
        assert_eq!(status, 303);
    }
    let page = |path: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            app.get(host, &path)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let search = |q: &str| {
        format!(
            "/staff/protocol?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    for q in ["Πειθαρχική", "Κρυφός"] {
        let html = page(search(q)).await;
        assert!(
            html.contains("Καμία καταχώριση."),
            "a search on a confidential entry's {q:?} finds nothing: {html}"
        );
    }
    assert!(!page(search("Φανερή")).await.contains("Καμία καταχώριση."));
    // The list shows the entry exists, nothing of what it says.
    let html = page("/staff/protocol".into()).await;
    assert!(
        !html.contains("Κρυφός") && !html.contains("Πειθαρχική"),
        "{html}"
    );
    assert!(html.contains("Φανερή") && html.contains("φωτισμό"));
}

/// Found by the attacker's try: slow or idle connections were never timed
/// out, so 20 000 of them held every file descriptor ("slowloris"). Now a
/// client has `http.header_read_timeout_secs` to send a request's headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            tweak: Box::new(|c| c.http.header_read_timeout_secs = 1),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let closed_within = |secs: u64, mut s: tokio::net::TcpStream| async move {
        let mut buf = [0u8; 256];
        let t = std::time::Instant::now();
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(secs), s.read(&mut buf)).await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
                Ok(Ok(_)) => continue, // a 408 page before closing is fine
                Err(_) => return None,
            }
        }
    };
    // Idle: connects and says nothing.
    let idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    assert!(
        closed_within(5, idle).await.is_some(),
        "an idle connection is closed"
    );
    // Trickling headers, one line a while.
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(
        format!("GET / HTTP/1.1\r\nHost: alpha.localhost:{}\r\n", app.port()).as_bytes(),
    )
    .await
    .unwrap();
    let mut cut = false;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if slow.write_all(b"X-Slow: yes\r\n").await.is_err() {
            cut = true;
            break;
        }
    }
    if !cut {
        cut = closed_within(3, slow).await.is_some();
    }
    assert!(cut, "a client trickling headers is cut off");
    // Everyone else is served.
    assert_eq!(
        app.get("alpha.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

dimos_it::on_both_backends!(what_the_attacker_s_try_found_is_closed);

/// The rest of what the attacker's try found: JSON endpoints took
/// `text/plain; charset=+json` (a type browsers send cross-site without a
/// preflight); the development provider redirected to any scheme; `/\x/`
/// redirected to `/\x`; a client's request id was written into pages as sent.
async fn what_the_attacker_s_try_found_is_closed(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let host = "alpha.localhost";
    let mut admin = Browser::new(&app);
    admin.sign_in(host, "municipal-admin", "/").await;
    let cookie = admin.cookie_header(host).unwrap();
    for ct in [
        "text/plain; charset=+json",
        "text/plain;+json",
        "application/x-www-form-urlencoded; a=+json",
    ] {
        let res = app
            .post(host, "/admin/api/grants")
            .header("cookie", &cookie)
            .header("content-type", ct)
            .body(format!(
                r#"{{"tax_id":"{}","role":"kep-officer"}}"#,
                dimos_it::tax_id("citizen")
            ))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(res.status().as_u16(), 400 | 403 | 415 | 422),
            "{ct}: {}",
            res.status()
        );
    }
    let granted: serde_json::Value = app
        .get(host, "/admin/api/access")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !granted.to_string().contains(dimos_it::tax_id("citizen")),
        "nothing was granted: {granted}"
    );

    // The development provider sends people only back to our own hosts.
    let port = app.port();
    for bad in [
        format!("javascript://{host}:{port}/auth/callback?%0Aalert(1)//"),
        format!("http://{host}:1/auth/callback"),
        format!("http://{host}:{port}/auth/callback?x=1"),
        format!("https://{host}:{port}/auth/callback"),
    ] {
        let res = app
            .post("localhost", "/dev-idp/authorize")
            .form(&[
                ("response_type", "code"),
                ("client_id", "dimos-dev"),
                ("redirect_uri", bad.as_str()),
                ("state", "s"),
                ("person", "citizen"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        let res = app
            .get(
                "localhost",
                &format!(
                    "/dev-idp/logout?post_logout_redirect_uri={}",
                    url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["location"], "/", "{bad}");
    }
    // …and operators sign in through it to the admin host.
    let mut operator = Browser::new(&app);
    let (res, at) = operator
        .sign_in("admin.localhost", "national-operator", "/")
        .await;
    assert_eq!(res.status(), 200, "{at}");
    assert_eq!(at, operator.url("admin.localhost", "/"));

    // `/\evil.example/` is not redirected to `/\evil.example`.
    let raw = crate::security::raw_http(
        &app,
        &format!(
            "GET /\\evil.example/ HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(!raw.to_ascii_lowercase().contains("location: /\\"), "{raw}");

    // A request id that is not an id is replaced.
    let res = app
        .get(host, "/nowhere")
        .header("x-request-id", "<b>hello</b> world")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    let res = app
        .get(host, "/nowhere")
        .header("x-request-id", "proxy-1234.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "proxy-1234.abc");
}

dimos_it::on_both_backends!(an_action_and_its_audit_entry_exist_together_or_not_at_all);

/// Finding 15 (where an action holds its transaction): the audit entry is
/// written in it. With the trail unwritable, registering in the protocol
/// book fails whole: no number is taken without its entry.
async fn an_action_and_its_audit_entry_exist_together_or_not_at_all(b: Backend) {
    let (app, cookie, csrf) = protocol_office(b).await;
    let register =
        |subject: &'static str| register_entry(&app, (&cookie, &csrf), subject, "Κάποιος", false);
    assert_eq!(register("Πρώτο").await, 303);
    let count = |table: &'static str| {
        let app = &app;
        async move {
            app.sql_value::<i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .await
        }
    };
    let (entries, audited) = (count("protocol_entries").await, count("audit_log").await);
    // The trail cannot be written: the registration fails whole.
    assert_eq!(with_audit_unwritable(&app, register("Δεύτερο")).await, 500);
    assert_eq!(
        count("protocol_entries").await,
        entries,
        "no number without its entry"
    );
    assert_eq!(count("audit_log").await, audited);
    // And once it can, both are written.
    assert_eq!(register("Τρίτο").await, 303);
    assert_eq!(count("protocol_entries").await, entries + 1);
    assert_eq!(count("audit_log").await, audited + 1);
}

/// Runs `action` while the audit trail cannot be written (its table renamed
/// away, as someone with database access could), then puts it back.
async fn with_audit_unwritable<T>(
    app: &TestApp,
    action: impl std::future::Future<Output = T>,
) -> T {
    app.raw_sql("ALTER TABLE audit_log RENAME TO audit_log_away")
        .await;
    let out = action.await;
    app.raw_sql("ALTER TABLE audit_log_away RENAME TO audit_log")
        .await;
    out
}

dimos_it::on_both_backends!(a_withdrawal_and_its_audit_entry_exist_together_or_not_at_all);

/// Finding 15 for a workflow step: the withdrawal runs in the handler's
/// transaction with its entry; with the trail unwritable, the case stays
/// open.
async fn a_withdrawal_and_its_audit_entry_exist_together_or_not_at_all(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    app.enable_module("alpha", "example", json!({})).await;
    let host = "alpha.localhost";
    let mut citizen = crate::flows::person(&app, host, "citizen").await;
    let (case, _) = crate::flows::submit(&mut citizen, host, "Εκδήλωση").await;
    let (page, _) = citizen
        .get(&citizen.url(host, &format!("/cases/{case}")))
        .await;
    let csrf = csrf_of(&page.text().await.unwrap());
    let withdraw = |cookie: String| {
        let (app, csrf, case) = (&app, csrf.clone(), case.clone());
        async move {
            app.post(host, &format!("/cases/{case}/withdraw"))
                .header("cookie", cookie)
                .form(&[
                    ("_csrf", csrf.as_str()),
                    ("confirm", "yes"),
                    ("reason", "Ακυρώθηκε"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let cookie = citizen.cookie_header(host).unwrap();
    assert_eq!(
        with_audit_unwritable(&app, withdraw(cookie.clone())).await,
        500
    );
    let status = |c: &serde_json::Value| c["case"]["status"].as_str().unwrap_or("").to_owned();
    let api = |cookie: String| {
        let (app, case) = (&app, case.clone());
        async move {
            app.get(host, &format!("/api/cases/{case}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    assert_ne!(
        status(&api(cookie.clone()).await),
        "closed",
        "not withdrawn without its entry"
    );
    assert_eq!(withdraw(cookie.clone()).await, 303);
    assert_eq!(status(&api(cookie).await), "closed");
}

dimos_it::on_both_backends!(a_decision_and_its_audit_entry_exist_together_or_not_at_all);

/// Finding 15 for staff: completing a task (a decision) and its entry are
/// one transaction; with the trail unwritable the task is still open.
async fn a_decision_and_its_audit_entry_exist_together_or_not_at_all(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    app.enable_module("alpha", "example", json!({})).await;
    let host = "alpha.localhost";
    let mut citizen = crate::flows::person(&app, host, "citizen").await;
    let (case, _) = crate::flows::submit(&mut citizen, host, "Συναυλία").await;
    let mut tech = crate::flows::person(&app, host, "technical-employee").await;
    let task = crate::flows::claim(&mut tech, host, &case).await;
    let decide = [("outcome", "accept"), ("assessment", "Πλήρης")];
    let (status, _) = with_audit_unwritable(
        &app,
        crate::flows::complete(&mut tech, host, &case, &task, &decide),
    )
    .await;
    assert_eq!(status, 500);
    let mine = crate::flows::agenda(&mut tech, host, "mine").await;
    assert!(
        mine.to_string().contains(&task),
        "the task is still the technician's, undecided: {mine}"
    );
    let (status, _) = crate::flows::complete(&mut tech, host, &case, &task, &decide).await;
    assert_eq!(status, 200);
}

dimos_it::on_both_backends!(
    documents_signatures_and_access_changes_are_written_with_their_audit_entry
);

/// Finding 15 for the rest of what staff and citizens do: an upload, a
/// signing certificate issued and revoked, a signature, a role granted.
/// With the trail unwritable each fails whole (nothing of it is stored);
/// once the trail is back, the same request succeeds.
async fn documents_signatures_and_access_changes_are_written_with_their_audit_entry(b: Backend) {
    let app = TestApp::spawn(b).await;
    // The mayor reads every case, so may sign in any of them.
    let mut grants = dimos_it::STAFF.to_vec();
    grants.push(("mayor", "department-head"));
    dimos_it::tenant_with_grants(&app, "alpha", "Άλφα", &grants).await;
    app.enable_module("alpha", "example", json!({})).await;
    let host = "alpha.localhost";
    let mut citizen = crate::flows::person(&app, host, "citizen").await;
    let (case, _) = crate::flows::submit(&mut citizen, host, "Με έγγραφα").await;
    let citizen_csrf = csrf_of(&crate::flows::page(&mut citizen, host, "/account").await.1);
    let citizen_cookie = citizen.cookie_header(host).unwrap();
    let mut mayor = crate::flows::person(&app, host, "mayor").await;
    let mayor_csrf = csrf_of(
        &crate::flows::page(&mut mayor, host, "/staff/agenda")
            .await
            .1,
    );
    let mayor_cookie = mayor.cookie_header(host).unwrap();
    let mut admin = crate::flows::person(&app, host, "municipal-admin").await;
    let admin_csrf = csrf_of(
        &crate::flows::page(&mut admin, host, "/admin/access")
            .await
            .1,
    );
    let admin_cookie = admin.cookie_header(host).unwrap();
    let count = |sql: &'static str| app.sql_value::<i64>(sql);
    let upload = |path: String, cookie: &str, csrf: &str, text: &str| {
        let form = reqwest::multipart::Form::new()
            .text("_csrf", csrf.to_owned())
            .text("kind", "authorisation")
            .part(
                "file",
                reqwest::multipart::Part::bytes(
                    format!("%PDF-1.7\n% {text}\n%%EOF\n").into_bytes(),
                )
                .file_name("έγγραφο.pdf"),
            );
        let req = app
            .post(host, &path)
            .header("cookie", cookie.to_owned())
            .multipart(form);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let form = |path: String, cookie: &str, fields: Vec<(&'static str, String)>| {
        let req = app
            .post(host, &path)
            .header("cookie", cookie.to_owned())
            .form(&fields);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    const DOCS: &str = "SELECT COUNT(*) FROM documents";
    const EVENTS: &str = "SELECT COUNT(*) FROM case_events";
    const AUDIT: &str = "SELECT COUNT(*) FROM audit_log";

    // The citizen's upload: no document row, no case event.
    let citizen_docs = format!("/cases/{case}/documents");
    let before = (count(DOCS).await, count(EVENTS).await, count(AUDIT).await);
    let status = with_audit_unwritable(
        &app,
        upload(citizen_docs.clone(), &citizen_cookie, &citizen_csrf, "α"),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(
        (count(DOCS).await, count(EVENTS).await, count(AUDIT).await),
        before,
        "an upload without its entry stores nothing"
    );
    assert_eq!(
        upload(citizen_docs, &citizen_cookie, &citizen_csrf, "α").await,
        303
    );
    assert_eq!(count(DOCS).await, before.0 + 1);
    assert_eq!(count(AUDIT).await, before.2 + 1);

    // A signing certificate for the mayor.
    const CERTS: &str = "SELECT COUNT(*) FROM signing_certificates";
    let issue = || {
        form(
            "/admin/signing/issue".into(),
            &admin_cookie,
            vec![
                ("_csrf", admin_csrf.clone()),
                ("tax_id", dimos_it::tax_id("mayor").into()),
            ],
        )
    };
    let before = count(CERTS).await;
    assert_eq!(with_audit_unwritable(&app, issue()).await, 500);
    assert_eq!(
        count(CERTS).await,
        before,
        "no certificate without its entry"
    );
    assert_eq!(issue().await, 303);
    assert_eq!(count(CERTS).await, before + 1);

    // The mayor's decision, signed: no signature, no case event.
    let staff_docs = format!("/staff/cases/{case}/documents");
    let documents = |html: String| -> std::collections::BTreeSet<String> {
        html.split(&format!("{staff_docs}/"))
            .skip(1)
            .map(|s| s.chars().take(36).collect())
            .collect()
    };
    let case_page = format!("/staff/cases/{case}");
    let before = documents(crate::flows::page(&mut mayor, host, &case_page).await.1);
    assert_eq!(
        upload(staff_docs.clone(), &mayor_cookie, &mayor_csrf, "Απόφαση").await,
        303
    );
    let after = documents(crate::flows::page(&mut mayor, host, &case_page).await.1);
    let decision = after
        .difference(&before)
        .next()
        .expect("the decision is on the case page")
        .clone();
    const SIGNATURES: &str = "SELECT COUNT(*) FROM signatures";
    let sign = || {
        form(
            format!("/staff/cases/{case}/documents/{decision}/sign"),
            &mayor_cookie,
            vec![("_csrf", mayor_csrf.clone())],
        )
    };
    let before = (count(SIGNATURES).await, count(EVENTS).await);
    assert_eq!(with_audit_unwritable(&app, sign()).await, 500);
    assert_eq!(
        (count(SIGNATURES).await, count(EVENTS).await),
        before,
        "no signature without its entry"
    );
    assert_eq!(sign().await, 303);
    assert_eq!(count(SIGNATURES).await, before.0 + 1);

    // The certificate revoked.
    const REVOKED: &str = "SELECT COUNT(*) FROM signing_certificates WHERE revoked_at IS NOT NULL";
    let serial: String = app
        .sql_value("SELECT serial FROM signing_certificates WHERE revoked_at IS NULL")
        .await;
    let revoke = || {
        form(
            "/admin/signing/revoke".into(),
            &admin_cookie,
            vec![
                ("_csrf", admin_csrf.clone()),
                ("serial", serial.clone()),
                ("reason", "left-office".into()),
            ],
        )
    };
    let before = count(REVOKED).await;
    assert_eq!(with_audit_unwritable(&app, revoke()).await, 500);
    assert_eq!(
        count(REVOKED).await,
        before,
        "no revocation without its entry"
    );
    assert_eq!(revoke().await, 303);
    assert_eq!(count(REVOKED).await, before + 1);

    // A role granted to the citizen: not held without its entry.
    const GRANTS: &str = "SELECT COUNT(*) FROM role_grants";
    let grant = || {
        form(
            "/admin/access/grant".into(),
            &admin_cookie,
            vec![
                ("_csrf", admin_csrf.clone()),
                ("tax_id", dimos_it::tax_id("citizen").into()),
                ("role", "kep-officer".into()),
            ],
        )
    };
    let before = count(GRANTS).await;
    assert_eq!(with_audit_unwritable(&app, grant()).await, 500);
    assert_eq!(count(GRANTS).await, before, "no role without its entry");
    let (res, _) = citizen.get(&citizen.url(host, "/staff/verify")).await;
    assert_eq!(res.status(), 403, "and the citizen cannot use it");
    assert_eq!(grant().await, 303);
    assert_eq!(count(GRANTS).await, before + 1);
    let (res, _) = citizen.get(&citizen.url(host, "/staff/verify")).await;
    assert_eq!(res.status(), 200, "once granted with its entry, it works");
}

dimos_it::on_both_backends!(every_form_the_pages_render_refuses_a_missing_or_wrong_token);

/// CSRF by construction (issue 15): every form a citizen and a municipal
/// admin reach from the home page, posted as rendered but with the token
/// missing or another one, is refused (403) and writes nothing, in the
/// platform and in every module, without a list of forms to keep.
async fn every_form_the_pages_render_refuses_a_missing_or_wrong_token(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(dimos_it::workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    app.enable_module("alimos", "example", json!({})).await;
    let host = "alimos.localhost";
    {
        let mut citizen = crate::flows::person(&app, host, "citizen-verified").await;
        crate::parking::apply(&app, &mut citizen, host, "ΙΚΑ1234").await;
        crate::flows::submit(&mut citizen, host, "Αίτημα").await;
    }
    let audit = || app.sql_value::<i64>("SELECT COUNT(*) FROM audit_log");
    let mut checked = 0;
    for who in ["citizen-verified", "municipal-admin"] {
        let mut person = crate::flows::person(&app, host, who).await;
        let cookie = person.cookie_header(host).unwrap();
        let (forms, _) = crate::hostile::collect_forms(&mut person, host, 120).await;
        for f in forms
            .iter()
            .filter(|f| f.method.eq_ignore_ascii_case("post") && !f.multipart)
            .filter(|f| f.fields.iter().any(|(n, _, _)| n == "_csrf"))
        {
            for token in [None, Some("not-the-session-token")] {
                let pairs: Vec<(String, String)> = f
                    .fields
                    .iter()
                    .filter_map(|(name, _, value)| match (name.as_str(), token) {
                        ("_csrf", None) => None,
                        ("_csrf", Some(t)) => Some((name.clone(), t.to_owned())),
                        _ => Some((name.clone(), value.clone())),
                    })
                    .collect();
                let before = audit().await;
                let res = app
                    .post(host, &f.action)
                    .header("cookie", cookie.clone())
                    .form(&pairs)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    res.status(),
                    403,
                    "{who}: {} with token {token:?}",
                    f.action
                );
                assert_eq!(audit().await, before, "{who}: {} wrote", f.action);
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 40,
        "forms of the platform and the modules: {checked}"
    );
}

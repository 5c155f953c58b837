//! Notifications against real peers on loopback: a real SMTP server
//! (PyPI aiosmtpd, started here), a local HTTP SMS gateway, and the fault
//! case — the SMTP server is down while 100 cases are registered, the app
//! restarts, the server comes back — after which every message arrives
//! exactly once.

use crate::flows::{Parsed, parse, settle};
use dimos_db::sea_query::ExprTrait;
use dimos_it::{Backend, Browser, Options, TestApp, csrf_of, on_both_backends, tenant_with_grants};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_backends!(
    emails_reach_a_real_smtp_server_in_greek_with_both_parts,
    nothing_is_lost_when_smtp_is_down_and_the_app_restarts,
    sms_goes_through_an_http_gateway_with_segments_counted,
    sms_reach_the_mobile_typed_in_an_application,
);

/// aiosmtpd, storing every message it accepts in a maildir.
struct Smtp {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// STARTTLS with this certificate and key, when set.
    tls: Option<(PathBuf, PathBuf)>,
    /// AUTH required with this user and password, when set.
    auth: Option<(String, String)>,
    _tmp: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    /// A server that is not running yet (its port is chosen).
    fn stopped() -> Smtp {
        let tmp = tempfile::tempdir().unwrap();
        Smtp {
            port: free_port(),
            dir: tmp.path().join("mail"),
            child: None,
            tls: None,
            auth: None,
            _tmp: tmp,
        }
    }

    async fn start(&mut self) {
        let mut cmd = Command::new("python3");
        if let Some((user, password)) = &self.auth {
            cmd.arg(dimos_it::workspace_root().join("tests/python/smtp_auth.py"))
                .arg(self.port.to_string())
                .arg(&self.dir)
                .args([user, password]);
        } else {
            cmd.args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{}", self.port));
            if let Some((cert, key)) = &self.tls {
                cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
            }
            cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(&self.dir);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (infra/test.sh installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start; is it installed? (infra/test.sh installs it)");
    }

    async fn running() -> Smtp {
        let mut s = Smtp::stopped();
        s.start().await;
        s
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, raw.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = vec![];
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) {
                for e in entries {
                    out.push(std::fs::read(e.unwrap().path()).unwrap());
                }
            }
        }
        out
    }

    async fn wait_for(&self, n: usize, app: &TestApp) -> Vec<Vec<u8>> {
        for _ in 0..200 {
            app.state.outbox().deliver_due(200).await.unwrap();
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} messages, got {}", self.messages().len());
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn app_with(
    backend: Backend,
    tweak: impl FnOnce(&mut dimos_kernel::config::Config) + Send + 'static,
) -> TestApp {
    TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(tweak),
            ..Options::default()
        },
    )
    .await
}

const GRANTS: &[(&str, &str)] = &[
    ("technical-employee", "technical-employee"),
    ("municipal-admin", "municipal-admin"),
];

async fn tenant(app: &TestApp) -> String {
    tenant_with_grants(app, "alpha", "Άλφα", GRANTS).await;
    app.enable_module("alpha", "example", json!({})).await;
    "alpha.localhost".into()
}

async fn signed_in<'a>(app: &'a TestApp, host: &str, who: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    b.sign_in(host, who, "/").await;
    b
}

async fn post_form(
    b: &mut Browser<'_>,
    host: &str,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> u16 {
    let (res, _) = b.get(&b.url(host, page)).await;
    let csrf = csrf_of(&res.text().await.unwrap());
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let url = b.url(host, action);
    b.request(Method::POST, &url, Some(&form))
        .await
        .status()
        .as_u16()
}

async fn submit(b: &mut Browser<'_>, host: &str, title: &str) -> String {
    let status = post_form(
        b,
        host,
        "/example/requests/new",
        "/example/requests",
        &[("title", title), ("text", "Κείμενο")],
    )
    .await;
    assert_eq!(status, 303);
    let (res, _) = b.get(&b.url(host, "/api/cases")).await;
    let v: Value = res.json().await.unwrap();
    v["cases"][0]["id"].as_str().unwrap().to_owned()
}

async fn emails_reach_a_real_smtp_server_in_greek_with_both_parts(b: Backend) {
    let smtp = Smtp::running().await;
    let url = smtp.url();
    let app = app_with(b, move |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_url = Some(dimos_kernel::config::Secret::new(url));
    })
    .await;
    // The municipality's own domain, as the operator set it.
    let mut body = dimos_it::tenant_body("alpha", "Άλφα");
    body["domains"] = json!({ "aliases": ["alpha.example.gr"] });
    body["grants"] = json!(
        GRANTS
            .iter()
            .map(|(p, r)| json!({"tax_id": dimos_it::tax_id(p), "role": r}))
            .collect::<Vec<_>>()
    );
    app.create_tenant(body).await;
    app.enable_module("alpha", "example", json!({})).await;
    let host = "alpha.localhost".to_owned();
    let mut admin = signed_in(&app, &host, "municipal-admin").await;
    // A sender on someone else's domain would leave the shared relay spoofed.
    let status = post_form(
        &mut admin,
        &host,
        "/admin/notifications",
        "/admin/notifications/settings",
        &[
            ("from_name", "Δήμος Άλφα"),
            ("from_address", "noreply@gov.gr"),
            ("reply_to", ""),
            ("alert_address", ""),
            ("sms_sender", "ALFA"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    // The municipality sets its sender first.
    let status = post_form(
        &mut admin,
        &host,
        "/admin/notifications",
        "/admin/notifications/settings",
        &[
            ("from_name", "Δήμος Άλφα"),
            ("from_address", "noreply@alpha.example.gr"),
            ("reply_to", "kep@alpha.example.gr"),
            ("alert_address", ""),
            ("sms_sender", "ALFA"),
        ],
    )
    .await;
    assert_eq!(status, 303);

    let mut citizen = signed_in(&app, &host, "citizen").await;
    let case = submit(&mut citizen, &host, "Γιορτή γειτονιάς").await;
    let mails = smtp.wait_for(1, &app).await;
    let m = parse(&mails[0]);
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(m.headers["To"], "maria@example.gr");
    assert!(
        m.headers["From"].contains("Δήμος Άλφα")
            && m.headers["From"].contains("noreply@alpha.example.gr"),
        "{:?}",
        m.headers
    );
    assert_eq!(m.headers["Reply-To"], "kep@alpha.example.gr");
    assert_eq!(
        m.headers["Subject"],
        format!("Η αίτησή σας καταχωρίστηκε με αριθμό 1/{year}")
    );
    assert!(m.headers["Message-ID"].ends_with("@dimos>"));
    let link = format!("http://alpha.localhost:{}/cases/{case}", app.port());
    assert!(
        m.text.contains("Αγαπητή/έ Μαρία Παπαδοπούλου") && m.text.contains(&link),
        "{}",
        m.text
    );
    assert!(
        m.html
            .contains(&format!("href=\"{}\"", link.replace('/', "&#x2f;")))
            || m.html.contains(&link),
        "{}",
        m.html
    );
    assert!(
        m.text.contains("Αίτηση δημοσίευσης ανακοίνωσης"),
        "the service's name"
    );

    // Asked for more information: a second email with the request and the deadline.
    let mut tech = signed_in(&app, &host, "technical-employee").await;
    let (res, _) = tech
        .get(&tech.url(&host, "/api/staff/agenda?queue=available"))
        .await;
    let task = res.json::<Value>().await.unwrap()["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = post_form(
        &mut tech,
        &host,
        "/staff/agenda?queue=available",
        &format!("/staff/tasks/{task}/claim"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let status = post_form(
        &mut tech,
        &host,
        &format!("/staff/cases/{case}"),
        &format!("/staff/tasks/{task}/complete"),
        &[
            ("outcome", "more-info"),
            ("assessment", "x"),
            ("comment", "Στείλτε το καταστατικό"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let mails = smtp.wait_for(2, &app).await;
    let second = mails
        .iter()
        .map(|r| parse(r))
        .find(|m| m.headers["Subject"].contains("συμπληρωματικά"))
        .unwrap();
    assert!(second.text.contains("Στείλτε το καταστατικό"));
    assert!(second.text.contains("Απαντήστε έως "));
    // Staff see which messages went out.
    let (res, _) = tech
        .get(&tech.url(&host, &format!("/staff/cases/{case}")))
        .await;
    let file = res.text().await.unwrap();
    assert_eq!(
        file.matches("στάλθηκε").count(),
        2,
        "both messages are listed as sent"
    );
    // Nothing more goes out on another round: each message once.
    settle(&app).await;
    assert_eq!(smtp.messages().len(), 2);
}

async fn nothing_is_lost_when_smtp_is_down_and_the_app_restarts(b: Backend) {
    let mut smtp = Smtp::stopped();
    let clock = dimos_kernel::ManualClock::new();
    let options =
        |url: String, db: Option<String>, clock: Arc<dimos_kernel::ManualClock>| Options {
            database_url: db,
            clock: Some(clock),
            tweak: Box::new(move |c| {
                c.mail.transport = "smtp".into();
                c.mail.smtp_url = Some(dimos_kernel::config::Secret::new(url));
            }),
            ..Options::default()
        };
    let first = TestApp::spawn_with(b, options(smtp.url(), None, clock.clone())).await;
    let host = tenant(&first).await;
    let mut citizen = signed_in(&first, &host, "citizen").await;
    for i in 0..100 {
        submit(&mut citizen, &host, &format!("Αίτηση {i}")).await;
    }
    // Every message was tried and failed: the server is down. The app's own
    // delivery loop runs alongside and may hold a message for a moment, so
    // look again until every message is back to "pending".
    let db = first.db().await;
    let q = dimos_db::sea_query::Query::select()
        .columns([
            dimos_db::sea_query::Alias::new("status"),
            dimos_db::sea_query::Alias::new("attempts"),
        ])
        .from(dimos_db::sea_query::Alias::new("notifications"))
        .to_owned();
    let mut pending: Vec<(String, i32)> = Vec::new();
    for _ in 0..100 {
        first.state.outbox().deliver_due(1000).await.unwrap();
        pending = db.fetch_all(&q).await.unwrap();
        if pending.iter().all(|(s, a)| s == "pending" && *a >= 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(pending.len(), 100);
    assert!(
        pending.iter().all(|(s, a)| s == "pending" && *a >= 1),
        "{pending:?}"
    );

    // The app restarts; the mail server comes back; time passes.
    let url = first.database_url.clone();
    let data = first.stop_keeping_data().await;
    smtp.start().await;
    clock.advance(chrono::Duration::minutes(5));
    let second = TestApp::spawn_with(b, options(smtp.url(), Some(url), clock.clone())).await;
    let mails = smtp.wait_for(100, &second).await;
    // The server has them all; let the app record the last as sent before
    // time jumps (a send still in flight would look abandoned two hours on).
    settle(&second).await;
    // Another round, and some more time: nothing is sent twice.
    clock.advance(chrono::Duration::hours(2));
    second.state.outbox().deliver_due(1000).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 100);
    let mut subjects: Vec<String> = mails
        .iter()
        .map(|r| parse(r).headers["Subject"].clone())
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(
        subjects.len(),
        100,
        "100 different protocol numbers, each once"
    );

    // A year later the bodies are gone; who, when and how remain.
    clock.advance(chrono::Duration::days(366));
    assert_eq!(second.state.outbox().purge().await.unwrap(), 100);
    let q = dimos_db::sea_query::Query::select()
        .columns([
            dimos_db::sea_query::Alias::new("status"),
            dimos_db::sea_query::Alias::new("recipient"),
        ])
        .expr(
            dimos_db::sea_query::Expr::col(dimos_db::sea_query::Alias::new("body_text")).is_null(),
        )
        .from(dimos_db::sea_query::Alias::new("notifications"))
        .to_owned();
    let rows: Vec<(String, String, bool)> = second.db().await.fetch_all(&q).await.unwrap();
    assert_eq!(rows.len(), 100);
    assert!(
        rows.iter()
            .all(|(s, r, purged)| s == "sent" && r == "maria@example.gr" && *purged)
    );
    drop(data);
}

/// A gateway that records what it is sent and answers as told.
#[derive(Clone, Default)]
struct Gateway {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    status: Arc<Mutex<u16>>,
}

async fn gateway() -> (Gateway, String) {
    let g = Gateway {
        status: Arc::new(Mutex::new(200)),
        ..Default::default()
    };
    let state = g.clone();
    let app = axum::Router::new()
        .route(
            "/send",
            axum::routing::post(
                |axum::extract::State(g): axum::extract::State<Gateway>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    g.seen.lock().unwrap().push((auth, body));
                    let status = *g.status.lock().unwrap();
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        "{\"id\":\"msg-1\"}",
                    )
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (g, url)
}

async fn sms_goes_through_an_http_gateway_with_segments_counted(b: Backend) {
    let (gw, url) = gateway().await;
    let app = app_with(b, move |c| {
        c.sms.transport = "http".into();
        c.sms.http_url = url;
        c.sms.http_auth_header = Some(dimos_kernel::config::Secret::new("Bearer test-key"));
    })
    .await;
    let host = tenant(&app).await;
    let mut admin = signed_in(&app, &host, "municipal-admin").await;
    post_form(
        &mut admin,
        &host,
        "/admin/notifications",
        "/admin/notifications/settings",
        &[
            ("sms_enabled", "on"),
            ("sms_sender", "ALFA"),
            ("alert_address", "it@alpha.example.gr"),
        ],
    )
    .await;
    let mut citizen = signed_in(&app, &host, "citizen").await;
    // A bad number is refused; a good one is kept in international form.
    let status = post_form(
        &mut citizen,
        &host,
        "/account",
        "/account/notifications",
        &[("sms", "on"), ("mobile", "2101234567"), ("locale", "el")],
    )
    .await;
    assert_eq!(status, 422);
    let status = post_form(
        &mut citizen,
        &host,
        "/account",
        "/account/notifications",
        &[("sms", "on"), ("mobile", "691 234 5678"), ("locale", "el")],
    )
    .await;
    assert_eq!(status, 303);

    submit(&mut citizen, &host, "Με SMS").await;
    settle(&app).await;
    let seen = gw.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one SMS (the email went to the file outbox)");
    assert_eq!(seen[0].0, "Bearer test-key");
    let body: Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["to"], "+306912345678");
    assert_eq!(body["from"], "ALFA");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("Δήμος Άλφα: η αίτησή σας καταχωρίστηκε με αρ. 1/"),
        "{text}"
    );
    // Greek needs UCS-2: 70 characters a segment, 67 when split.
    let expected = dimos_notify::sms::segments(text);
    assert_eq!(expected.encoding, dimos_notify::sms::Encoding::Ucs2);
    let counted: Vec<(Option<i32>,)> = app
        .db()
        .await
        .fetch_all(
            &dimos_db::sea_query::Query::select()
                .column(dimos_db::sea_query::Alias::new("segments"))
                .from(dimos_db::sea_query::Alias::new("notifications"))
                .and_where(dimos_db::sea_query::ExprTrait::eq(
                    dimos_db::sea_query::Expr::col(dimos_db::sea_query::Alias::new("channel")),
                    "sms",
                ))
                .to_owned(),
        )
        .await
        .unwrap();
    assert_eq!(counted[0].0, Some(expected.segments as i32));
    assert!(expected.segments >= 2, "{expected:?}");

    // A person who reads English gets English.
    let status = post_form(
        &mut citizen,
        &host,
        "/account",
        "/account/notifications",
        &[("sms", "on"), ("mobile", "6912345678"), ("locale", "en")],
    )
    .await;
    assert_eq!(status, 303);
    submit(&mut citizen, &host, "In English").await;
    settle(&app).await;
    let seen = gw.seen.lock().unwrap().clone();
    let body: Value = serde_json::from_str(&seen.last().unwrap().1).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("Municipality of Άλφα: your application was registered as no. 2/"),
        "{text}"
    );

    // The gateway refuses the next one for good: dead, and the admin is alerted.
    *gw.status.lock().unwrap() = 400;
    submit(&mut citizen, &host, "Άλλη").await;
    settle(&app).await;
    let (res, _) = admin.get(&admin.url(&host, "/admin/notifications")).await;
    let page = res.text().await.unwrap();
    assert!(
        page.contains("gateway answered 400"),
        "dead letters are listed"
    );
    settle(&app).await;
    let alerts: Vec<_> = std::fs::read_dir(app.data_dir.join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|m| m.contains("To: it@alpha.example.gr"))
        .collect();
    assert_eq!(alerts.len(), 1, "one alert email to the municipality");
}

on_both_backends!(staff_get_one_morning_digest_of_new_and_overdue_tasks);

async fn staff_get_one_morning_digest_of_new_and_overdue_tasks(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    // 06:00 UTC is 08:00 or 09:00 in Greece.
    let today = chrono::Utc::now().date_naive();
    clock.set(today.and_hms_opt(6, 0, 0).unwrap().and_utc());
    let app = TestApp::spawn_with(
        b,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    let host = tenant(&app).await;
    let mut tech = signed_in(&app, &host, "technical-employee").await;
    let mut admin = signed_in(&app, &host, "municipal-admin").await;
    let mut citizen = signed_in(&app, &host, "citizen").await;
    submit(&mut citizen, &host, "Πρώτη").await;
    submit(&mut citizen, &host, "Δεύτερη").await;
    let digests = |app: &TestApp| {
        let state = app.state.clone();
        async move { dimos_pages::notify::send_digests(&state).await.unwrap() }
    };
    // The technical employee works on tasks; the admin does not.
    assert_eq!(digests(&app).await, 1);
    settle(&app).await;
    let mail: Vec<String> = std::fs::read_dir(app.data_dir.join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|m| m.contains("To: nikos@example.gr"))
        .collect();
    assert_eq!(mail.len(), 1);
    let m = parse(mail[0].as_bytes());
    assert_eq!(m.headers["Subject"], "Η ατζέντα σας: 2 εργασίες");
    let year = chrono::Utc::now().format("%Y");
    assert!(
        m.text
            .contains(&format!("- 1/{year} Έλεγχος αίτησης — Πρώτη")),
        "{}",
        m.text
    );
    assert!(m.text.contains("/staff/agenda"));
    // Run again the same morning: it was already written for today.
    digests(&app).await;
    settle(&app).await;
    let count = std::fs::read_dir(app.data_dir.join("outbox"))
        .unwrap()
        .filter(|e| {
            std::fs::read_to_string(e.as_ref().unwrap().path())
                .unwrap()
                .contains("To: nikos@example.gr")
        })
        .count();
    assert_eq!(count, 1, "one digest a day");
    // Turned off: no digest the next day, though the tasks are now overdue.
    let status = post_form(
        &mut tech,
        &host,
        "/account",
        "/account/notifications",
        &[("email", "on"), ("locale", "el")],
    )
    .await;
    assert_eq!(status, 303);
    clock.advance(chrono::Duration::days(6));
    assert_eq!(digests(&app).await, 0);
    let _ = &mut admin;
}

on_both_backends!(a_municipality_rewords_a_message_with_a_preview);

async fn a_municipality_rewords_a_message_with_a_preview(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app).await;
    let mut admin = signed_in(&app, &host, "municipal-admin").await;
    let base = [
        ("event", "registered"),
        ("lang", "el"),
        (
            "text",
            "Καλημέρα {{ citizen }}, αρ. {{ protocol }}: {{ link }}",
        ),
        ("html", "<p>Καλημέρα {{ citizen }}</p>"),
        ("sms", "{{ protocol }}"),
    ];
    // An unknown variable is refused with the field named.
    let mut bad = base.to_vec();
    bad.push(("subject", "Αρ. {{ protocol_number }}"));
    bad.push(("action", "save"));
    let status = post_form(
        &mut admin,
        &host,
        "/admin/notifications",
        "/admin/notifications/template",
        &bad,
    )
    .await;
    assert_eq!(status, 422);
    // The preview shows the message with sample values, and saves nothing.
    let mut preview = base.to_vec();
    preview.push((
        "subject",
        "Ο Δήμος Άλφα έλαβε την αίτησή σας {{ protocol }}",
    ));
    preview.push(("action", "preview"));
    let (res, _) = admin.get(&admin.url(&host, "/admin/notifications")).await;
    let csrf = csrf_of(&res.text().await.unwrap());
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(&preview);
    let res = admin
        .request(
            Method::POST,
            &admin.url(&host, "/admin/notifications/template"),
            Some(&form),
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap().replace("&#x2f;", "/");
    assert!(
        page.contains("Ο Δήμος Άλφα έλαβε την αίτησή σας 123/2026"),
        "preview rendered"
    );
    // Saved, the next message uses the municipality's words.
    let mut save = base.to_vec();
    save.push((
        "subject",
        "Ο Δήμος Άλφα έλαβε την αίτησή σας {{ protocol }}",
    ));
    save.push(("action", "save"));
    let status = post_form(
        &mut admin,
        &host,
        "/admin/notifications",
        "/admin/notifications/template",
        &save,
    )
    .await;
    assert_eq!(status, 303);
    let mut citizen = signed_in(&app, &host, "citizen").await;
    submit(&mut citizen, &host, "Με νέα διατύπωση").await;
    settle(&app).await;
    let mails: Vec<Parsed> = std::fs::read_dir(app.data_dir.join("outbox"))
        .unwrap()
        .map(|e| parse(&std::fs::read(e.unwrap().path()).unwrap()))
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].headers["Subject"].starts_with("Ο Δήμος Άλφα έλαβε την αίτησή σας 1/"));
    assert!(
        mails[0]
            .text
            .starts_with("Καλημέρα Μαρία Παπαδοπούλου, αρ. 1/")
    );
}

on_both_backends!(
    starttls_is_verified_against_the_configured_ca,
    the_relay_s_credentials_are_used_and_a_wrong_password_loses_nothing,
);

/// A relay that requires AUTH: the credentials in `mail.smtp_url` (with
/// characters that need escaping) get the mail through; a wrong password
/// is the operator's to fix, so the message waits to be retried instead of
/// being given up.
async fn the_relay_s_credentials_are_used_and_a_wrong_password_loses_nothing(b: Backend) {
    for (password, delivered) in [("s3cr%C3%A9t%40relay", true), ("wrong", false)] {
        let mut smtp = Smtp::stopped();
        smtp.auth = Some(("dimos".into(), "s3crét@relay".into()));
        smtp.start().await;
        let url = format!("smtp://dimos:{password}@127.0.0.1:{}", smtp.port);
        let app = app_with(b, move |c| {
            c.mail.transport = "smtp".into();
            c.mail.smtp_url = Some(dimos_kernel::config::Secret::new(url));
        })
        .await;
        let host = tenant(&app).await;
        let mut citizen = signed_in(&app, &host, "citizen").await;
        submit(&mut citizen, &host, "Γιορτή γειτονιάς").await;
        if delivered {
            let mails = smtp.wait_for(1, &app).await;
            assert_eq!(parse(&mails[0]).headers["To"], "maria@example.gr");
            continue;
        }
        let db = app.db().await;
        let q = dimos_db::sea_query::Query::select()
            .columns([
                dimos_db::sea_query::Alias::new("status"),
                dimos_db::sea_query::Alias::new("attempts"),
            ])
            .from(dimos_db::sea_query::Alias::new("notifications"))
            .and_where(
                dimos_db::sea_query::Expr::col(dimos_db::sea_query::Alias::new("channel"))
                    .eq("email"),
            )
            .to_owned();
        // The app's own delivery loop may hold the message for a moment.
        let mut rows: Vec<(String, i32)> = Vec::new();
        for _ in 0..100 {
            app.state.outbox().deliver_due(100).await.unwrap();
            rows = db.fetch_all(&q).await.unwrap();
            if !rows.is_empty() && rows.iter().all(|(s, a)| s == "pending" && *a >= 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !rows.is_empty() && rows.iter().all(|(s, a)| s == "pending" && *a >= 1),
            "kept for a retry: {rows:?}"
        );
        assert!(
            smtp.messages().is_empty(),
            "refused without the right password"
        );
    }
}

async fn starttls_is_verified_against_the_configured_ca(b: Backend) {
    let mut smtp = Smtp::stopped();
    let certs = tempfile::tempdir().unwrap();
    // A private CA and a relay certificate it signed.
    let (ca, cert, key) = dimos_it::private_ca(certs.path());
    smtp.tls = Some((cert, key));
    smtp.start().await;
    let url = format!("smtp://localhost:{}?tls=required", smtp.port);
    // Without our CA the relay's certificate is not trusted: nothing is sent.
    let untrusting = {
        let url = url.clone();
        app_with(b, move |c| {
            c.mail.transport = "smtp".into();
            c.mail.smtp_url = Some(dimos_kernel::config::Secret::new(url));
        })
        .await
    };
    let host = tenant(&untrusting).await;
    let mut citizen = signed_in(&untrusting, &host, "citizen").await;
    submit(&mut citizen, &host, "Χωρίς εμπιστοσύνη").await;
    untrusting.state.outbox().deliver_due(10).await.unwrap();
    assert!(
        smtp.messages().is_empty(),
        "an untrusted certificate is refused"
    );
    drop(citizen);
    untrusting.stop().await;
    // With the CA configured, STARTTLS succeeds.
    let app = app_with(b, move |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_url = Some(dimos_kernel::config::Secret::new(url));
        c.mail.smtp_ca_file = ca;
    })
    .await;
    let host = tenant(&app).await;
    let mut citizen = signed_in(&app, &host, "citizen").await;
    submit(&mut citizen, &host, "Με TLS").await;
    app.state.outbox().deliver_due(10).await.unwrap();
    let q = dimos_db::sea_query::Query::select()
        .column(dimos_db::sea_query::Alias::new("last_error"))
        .from(dimos_db::sea_query::Alias::new("notifications"))
        .to_owned();
    let errors: Vec<(Option<String>,)> = app.db().await.fetch_all(&q).await.unwrap();
    assert!(errors.iter().all(|e| e.0.is_none()), "{errors:?}");
    let mails = smtp.wait_for(1, &app).await;
    assert!(parse(&mails[0]).headers["Subject"].starts_with("Η αίτησή σας καταχωρίστηκε"));
}

/// A citizen who never saved a mobile gets the SMS about their case at
/// the number they typed in the application; the account page then shows
/// it as theirs for SMS.
async fn sms_reach_the_mobile_typed_in_an_application(b: Backend) {
    let (gw, url) = gateway().await;
    let app = app_with(b, move |c| {
        c.sms.transport = "http".into();
        c.sms.http_url = url;
    })
    .await;
    let host = tenant(&app).await;
    app.enable_module("alpha", "parking", json!({})).await;
    let mut admin = signed_in(&app, &host, "municipal-admin").await;
    post_form(
        &mut admin,
        &host,
        "/admin/notifications",
        "/admin/notifications/settings",
        &[
            ("sms_enabled", "on"),
            ("sms_sender", "ALFA"),
            ("alert_address", "it@alpha.example.gr"),
        ],
    )
    .await;
    let mut citizen = signed_in(&app, &host, "citizen-verified").await;
    // The parking form's mobile is 69 1234 5678.
    crate::parking::apply(&app, &mut citizen, &host, "ΙΚΑ1234").await;
    settle(&app).await;
    let seen = gw.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "the registration SMS: {seen:?}");
    let body: Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["to"], "+306912345678");
    let (_, html) = crate::flows::page(&mut citizen, &host, "/account").await;
    assert!(html.contains("+306912345678"), "{html}");
}

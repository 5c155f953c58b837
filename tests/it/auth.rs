use dimos_identity::AuditLog;
use dimos_it::{Backend, Browser, Options, TestApp, on_both_backends, tenant_body};
use dimos_kernel::TenantId;

on_both_backends!(
    citizens_sign_in_through_the_development_provider,
    a_session_is_bound_to_its_municipality,
    replayed_or_forged_callbacks_are_refused_and_audited,
    sign_out_needs_the_session_token_and_ends_the_session,
    sessions_are_shared_by_replicas,
);

async fn tenant_id(app: &TestApp, slug: &str) -> TenantId {
    let t: serde_json::Value = app
        .get("admin.localhost", &format!("/api/v1/tenants/{slug}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    TenantId(t["id"].as_str().unwrap().parse().unwrap())
}

async fn audit_actions(app: &TestApp, slug: &str) -> Vec<(String, serde_json::Value)> {
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let tdb = dimos_db::TenantDb::new(db, tenant_id(app, slug).await);
    let report = AuditLog::verify(&tdb).await.unwrap();
    assert_eq!(report.broken_at, None, "the audit chain verifies");
    let mut e = AuditLog::entries(&tdb, 100).await.unwrap();
    e.reverse();
    e.into_iter().map(|e| (e.action, e.detail)).collect()
}

async fn citizens_sign_in_through_the_development_provider(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut browser = Browser::new(&app);

    let home = browser
        .get(&browser.url("alpha.localhost", "/"))
        .await
        .0
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("href=\"/auth/login?next="),
        "a sign-in link in the header"
    );

    let (page, url) = browser
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    assert_eq!(url, browser.url("alpha.localhost", "/account"));
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Μαρία Παπαδοπούλου"),
        "name from the provider's claims"
    );
    assert!(html.contains("100000015"), "tax id mapped from its claim");
    assert!(
        html.contains("Μη επαληθευμένος"),
        "a new citizen is unverified"
    );
    assert!(
        html.contains("Επισκεφθείτε ένα ΚΕΠ"),
        "and is told what to do"
    );
    assert!(
        html.contains("name=\"_csrf\""),
        "the header has a sign-out form"
    );

    let mut other = Browser::new(&app);
    let (page, _) = other
        .sign_in("alpha.localhost", "citizen-verified", "/account")
        .await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Επαληθευμένος (σημαντικό)"),
        "acr=substantial from the provider"
    );
    assert!(!html.contains("Επισκεφθείτε ένα ΚΕΠ"));

    let actions = audit_actions(&app, "alpha").await;
    let names: Vec<_> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["sign_in", "sign_in"]);
    assert_eq!(actions[0].1["new_account"], true);
    assert_eq!(actions[0].1["provider"], "dev");

    // Signing in again reuses the account.
    let (_, _) = browser.sign_in("alpha.localhost", "citizen", "/").await;
    assert_eq!(
        audit_actions(&app, "alpha").await[2].1["new_account"],
        false
    );
}

async fn a_session_is_bound_to_its_municipality(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    app.create_tenant(tenant_body("beta", "Βήτα")).await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    let cookie = browser.cookies["alpha.localhost"]["dimos_session"].clone();

    // The same session cookie presented on another municipality's host.
    let res = app
        .get("beta.localhost", "/account")
        .header("cookie", format!("dimos_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "not signed in there");
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/auth/login")
    );
    let res = app
        .get("alpha.localhost", "/account")
        .header("cookie", format!("dimos_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn replayed_or_forged_callbacks_are_refused_and_audited(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut browser = Browser::new(&app);

    // Forged state: start a sign-in, come back with another state.
    let res = browser
        .request(
            reqwest::Method::GET,
            &browser.url("alpha.localhost", "/auth/login"),
            None,
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = browser
        .request(
            reqwest::Method::GET,
            &browser.url("alpha.localhost", "/auth/callback?code=x&state=forged"),
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Η σύνδεση απέτυχε") && html.contains("state_mismatch"),
        "{html}"
    );

    // Replay: a completed callback used a second time finds nothing pending.
    let start = browser.url("alpha.localhost", "/auth/login?next=/");
    let res = browser.request(reqwest::Method::GET, &start, None).await;
    let authorize = res.headers()["location"].to_str().unwrap().to_owned();
    let query = authorize.split_once('?').unwrap().1.to_owned();
    let mut form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    form.push(("person".into(), "citizen".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = browser
        .request(
            reqwest::Method::POST,
            authorize.split('?').next().unwrap(),
            Some(&pairs),
        )
        .await;
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        browser
            .request(reqwest::Method::GET, &callback, None)
            .await
            .status(),
        303
    );
    let replay = browser.request(reqwest::Method::GET, &callback, None).await;
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("no_pending_sign_in"));

    // A provider error comes back as a clear page too.
    let res = app
        .get("alpha.localhost", "/auth/callback?error=access_denied")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let actions = audit_actions(&app, "alpha").await;
    let reasons: Vec<_> = actions
        .iter()
        .filter(|(a, _)| a == "sign_in_failed")
        .map(|(_, d)| d["reason"].as_str().unwrap().to_owned())
        .collect();
    // A callback with no sign-in in progress blames nobody: it is counted,
    // not written to the municipality's audit trail (anyone could fill it).
    assert_eq!(reasons, ["state_mismatch"]);
    let metrics = app.state.metrics().encode();
    assert!(
        metrics.contains("dimos_sign_in_stray_callbacks_total{reason=\"no_pending_sign_in\"} 2"),
        "{metrics}"
    );
}

async fn sign_out_needs_the_session_token_and_ends_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut browser = Browser::new(&app);
    let pending = {
        browser
            .request(
                reqwest::Method::GET,
                &browser.url("alpha.localhost", "/auth/login"),
                None,
            )
            .await;
        browser.cookies["alpha.localhost"]["dimos_session"].clone()
    };
    let (page, _) = browser
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    let html = page.text().await.unwrap();
    let signed_in = browser.cookies["alpha.localhost"]["dimos_session"].clone();
    assert_ne!(pending, signed_in, "the session id changes at sign-in");
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let logout = browser.url("alpha.localhost", "/auth/logout");
    let res = browser
        .request(reqwest::Method::POST, &logout, Some(&[("_csrf", "wrong")]))
        .await;
    assert_eq!(res.status(), 403, "a forged sign-out is refused");
    let res = browser
        .request(
            reqwest::Method::POST,
            &logout,
            Some(&[("_csrf", csrf.as_str())]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.contains("/dev-idp/logout?id_token_hint="),
        "RP-initiated logout at the provider: {to}"
    );
    let (home, url) = browser.follow(res, logout).await;
    assert_eq!(url, browser.url("alpha.localhost", "/"), "and back home");
    assert_eq!(home.status(), 200);

    // The old session is gone on the server, whatever the browser kept.
    let res = app
        .get("alpha.localhost", "/account")
        .header("cookie", format!("dimos_session={signed_in}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let actions: Vec<_> = audit_actions(&app, "alpha")
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(actions, ["sign_in", "sign_out"]);
}

async fn sessions_are_shared_by_replicas(b: Backend) {
    let one = TestApp::spawn(b).await;
    one.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let two = TestApp::spawn_with(
        b,
        Options {
            database_url: Some(one.database_url.clone()),
            ..Options::default()
        },
    )
    .await;
    let mut browser = Browser::new(&one);
    browser
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    let cookie = browser.cookies["alpha.localhost"]["dimos_session"].clone();
    let res = two
        .get("alpha.localhost", "/account")
        .header("cookie", format!("dimos_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a session made on one replica works on another"
    );
    assert!(res.text().await.unwrap().contains("Μαρία Παπαδοπούλου"));
}

on_both_backends!(sign_in_attempts_are_rate_limited);

async fn sign_in_attempts_are_rate_limited(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 3),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    for _ in 0..3 {
        assert_eq!(
            app.get("alpha.localhost", "/auth/login")
                .send()
                .await
                .unwrap()
                .status(),
            303
        );
    }
    let res = app
        .get("alpha.localhost", "/auth/login")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Πάρα πολλές προσπάθειες")
    );
}

on_both_backends!(signing_out_everywhere_ends_every_session);

async fn signing_out_everywhere_ends_every_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut phone = Browser::new(&app);
    let mut laptop = Browser::new(&app);
    let (page, _) = phone
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    let html = page.text().await.unwrap();
    laptop
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    assert_eq!(
        laptop
            .get(&laptop.url("alpha.localhost", "/account"))
            .await
            .1,
        laptop.url("alpha.localhost", "/account")
    );

    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = phone
        .request(
            reqwest::Method::POST,
            &phone.url("alpha.localhost", "/auth/logout-everywhere"),
            Some(&[("_csrf", &csrf)]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = laptop
        .request(
            reqwest::Method::GET,
            &laptop.url("alpha.localhost", "/account"),
            None,
        )
        .await;
    assert_eq!(res.status(), 303, "the other device is signed out too");
    let res = phone
        .request(
            reqwest::Method::GET,
            &phone.url("alpha.localhost", "/account"),
            None,
        )
        .await;
    assert_eq!(res.status(), 303);
    let (page, url) = laptop
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    assert_eq!(
        url,
        laptop.url("alpha.localhost", "/account"),
        "signing in again works"
    );
    assert_eq!(page.status(), 200);
    let actions: Vec<_> = audit_actions(&app, "alpha")
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        actions,
        ["sign_in", "sign_in", "sign_out_everywhere", "sign_in"]
    );
}

on_both_backends!(
    sessions_end_after_idle_and_absolute_timeouts,
    session_cookies_are_host_only_httponly_lax_and_secure_behind_tls
);

/// Rewrites the stored sessions: `f` gets each session's data and expiry.
async fn age_sessions(
    app: &TestApp,
    f: impl Fn(&mut serde_json::Value, &mut chrono::DateTime<chrono::Utc>),
) {
    use dimos_db::sea_query::{Expr, ExprTrait, Query};
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let rows: Vec<(
        String,
        sqlx::types::Json<serde_json::Value>,
        chrono::DateTime<chrono::Utc>,
    )> = db
        .fetch_all(
            &Query::select()
                .columns(["id", "data", "expires_at"])
                .from("sessions")
                .to_owned(),
        )
        .await
        .unwrap();
    for (id, mut data, mut expires) in rows {
        f(&mut data.0, &mut expires);
        let q = Query::update()
            .table("sessions")
            .values([
                ("data", data.0.clone().into()),
                ("expires_at", expires.into()),
            ])
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        db.execute(&q).await.unwrap();
    }
}

async fn sessions_end_after_idle_and_absolute_timeouts(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;

    // Idle: the stored expiry passed without a request.
    let mut idle = Browser::new(&app);
    idle.sign_in("alpha.localhost", "citizen", "/account").await;
    age_sessions(&app, |_, exp| {
        *exp = chrono::Utc::now() - chrono::Duration::minutes(1);
    })
    .await;
    let res = idle
        .request(
            reqwest::Method::GET,
            &idle.url("alpha.localhost", "/account"),
            None,
        )
        .await;
    assert_eq!(res.status(), 303, "an idle session has ended");

    // Absolute: active all along, but signed in longer ago than allowed (12 h).
    let mut busy = Browser::new(&app);
    busy.sign_in("alpha.localhost", "citizen", "/account").await;
    assert_eq!(
        busy.request(
            reqwest::Method::GET,
            &busy.url("alpha.localhost", "/account"),
            None
        )
        .await
        .status(),
        200
    );
    age_sessions(&app, |data, _| {
        if let Some(auth) = data.get_mut("auth") {
            let t = chrono::Utc::now() - chrono::Duration::hours(13);
            auth["signed_in_at"] = t.timestamp().into();
            auth["signed_in_at_ms"] = t.timestamp_millis().into();
        }
    })
    .await;
    let res = busy
        .request(
            reqwest::Method::GET,
            &busy.url("alpha.localhost", "/account"),
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        303,
        "the absolute timeout ends an active session too"
    );

    // The audit trail says from where.
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let tdb = dimos_db::TenantDb::new(db, tenant_id(&app, "alpha").await);
    let entries = AuditLog::entries(&tdb, 10).await.unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.source.as_deref() == Some("127.0.0.1")),
        "client address recorded"
    );
}

async fn session_cookies_are_host_only_httponly_lax_and_secure_behind_tls(b: Backend) {
    // Behind TLS the development provider's issuer is https too, and no TLS
    // terminates here: sign in through a plain-http test provider instead.
    let idp = crate::faulty_idp::spawn(crate::faulty_idp::Fault::None).await;
    for (scheme, secure) in [("http", false), ("https", true)] {
        let issuer = idp.issuer.clone();
        let app = TestApp::spawn_with(
            b,
            Options {
                tweak: Box::new(move |c| {
                    c.http.public_scheme = scheme.into();
                    c.identity
                        .providers
                        .insert("test".into(), crate::faulty_idp::provider_config(&issuer));
                    c.identity.default_provider = "test".into();
                }),
                ..Options::default()
            },
        )
        .await;
        app.create_tenant(tenant_body("alpha", "Άλφα")).await;
        let res = app
            .get("alpha.localhost", "/auth/login")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{scheme}");
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("dimos_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(
            !cookie.to_ascii_lowercase().contains("domain="),
            "host-only: never shared with other municipalities"
        );
        assert_eq!(cookie.contains("Secure"), secure, "{scheme}: {cookie}");
    }
}

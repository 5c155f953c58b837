use crate::faulty_idp::{self, Fault};
use dimos_it::{Backend, Browser, Options, TestApp, tenant_body};

async fn app_with(b: Backend, issuer: &str) -> TestApp {
    let issuer = issuer.to_owned();
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                c.identity
                    .providers
                    .insert("external".into(), faulty_idp::provider_config(&issuer));
                c.identity.default_provider = "external".into();
            }),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    app
}

/// Runs a sign-in against a provider with `fault`; returns the final status and page.
async fn attempt(b: Backend, fault: Fault) -> (u16, String, Vec<String>) {
    let idp = faulty_idp::spawn(fault).await;
    let app = app_with(b, &idp.issuer).await;
    let mut browser = Browser::new(&app);
    let (res, _) = browser
        .get(&browser.url("alpha.localhost", "/auth/login?next=/account"))
        .await;
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let t: serde_json::Value = app
        .get("admin.localhost", "/api/v1/tenants/alpha")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tdb = dimos_db::TenantDb::new(
        db,
        dimos_kernel::TenantId(t["id"].as_str().unwrap().parse().unwrap()),
    );
    let audit = dimos_identity::AuditLog::entries(&tdb, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.detail["reason"].as_str().unwrap_or("")))
        .collect();
    (status, body, audit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_external_provider_signs_in() {
    let (status, body, audit) = attempt(Backend::Sqlite, Fault::None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Εξωτερικός Χρήστης"));
    assert_eq!(audit, ["sign_in "]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_signing_key_is_fetched_and_accepted() {
    let (status, body, _) = attempt(Backend::Sqlite, Fault::RotatedKey).await;
    assert_eq!(
        status, 200,
        "the JWKS is fetched again for an unknown key id: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_id_token_is_refused_with_a_page_and_an_audit_entry() {
    for (fault, backend) in [
        (Fault::BadSignature, Backend::Sqlite),
        (Fault::UnknownKeyId, Backend::Postgres),
        (Fault::WrongAudience, Backend::Sqlite),
        (Fault::WrongIssuer, Backend::Postgres),
        (Fault::Expired, Backend::Sqlite),
        (Fault::MissingNonce, Backend::Postgres),
        (Fault::WrongNonce, Backend::Sqlite),
    ] {
        let (status, body, audit) = attempt(backend, fault).await;
        assert_eq!(status, 401, "{fault:?}");
        assert!(
            body.contains("Η σύνδεση απέτυχε") && body.contains("invalid_id_token"),
            "{fault:?}: {body}"
        );
        assert_eq!(audit, ["sign_in_failed invalid_id_token"], "{fault:?}");
    }
}

/// Production-like: no development provider (so no loopback bypass), a real
/// provider, and one operator by tax id.
async fn operator_app(b: Backend, issuer: &str, operators: Vec<String>) -> TestApp {
    let issuer = issuer.to_owned();
    TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                c.identity.dev_provider = dimos_kernel::config::DevProvider::Off;
                c.identity.operators = operators;
                c.identity
                    .providers
                    .insert("external".into(), faulty_idp::provider_config(&issuer));
                c.identity.default_provider = "external".into();
            }),
            ..Options::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_operators_sign_in_to_the_console_and_nobody_else_does() {
    let idp = faulty_idp::spawn(Fault::None).await;
    let app = operator_app(
        Backend::Postgres,
        &idp.issuer,
        vec![faulty_idp::TAX_ID.into()],
    )
    .await;
    // Without the development provider, loopback is no free pass.
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&tenant_body("alpha", "Άλφα"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "operator_sign_in_required"
    );

    let mut operator = Browser::new(&app);
    let (page, url) = operator.get(&operator.url("admin.localhost", "/")).await;
    if url != operator.url("admin.localhost", "/") {
        panic!("stopped at {url}: {}", page.text().await.unwrap());
    }
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Εξωτερικός Χρήστης"),
        "the operator's name in the header"
    );
    let body = serde_json::to_string(&tenant_body("alpha", "Άλφα")).unwrap();
    let cookie = format!(
        "dimos_session={}",
        operator.cookies["admin.localhost"]["dimos_session"]
    );
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let history: serde_json::Value = app
        .get("admin.localhost", "/api/v1/tenants/alpha/history")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        history["history"][0]["actor"],
        format!("operator:{} (Εξωτερικός Χρήστης)", faulty_idp::TAX_ID)
    );

    // Console forms of a signed-in operator need the session's token.
    let status = operator.url("admin.localhost", "/tenants/alpha/status");
    let res = operator
        .request(
            reqwest::Method::POST,
            &status,
            Some(&[("status", "suspended")]),
        )
        .await;
    assert_eq!(res.status(), 403, "no token, no change");
    let (page, _) = operator
        .get(&operator.url("admin.localhost", "/tenants/alpha"))
        .await;
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = operator
        .request(
            reqwest::Method::POST,
            &status,
            Some(&[("_csrf", &csrf), ("status", "suspended")]),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get("alpha.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        503
    );

    // Someone whose tax id is not an operator's gets nowhere.
    let idp2 = faulty_idp::spawn(Fault::None).await;
    let other = operator_app(Backend::Sqlite, &idp2.issuer, vec!["100000015".into()]).await;
    let mut stranger = Browser::new(&other);
    let (res, _) = stranger.get(&stranger.url("admin.localhost", "/")).await;
    assert_eq!(res.status(), 403);
}

dimos_it::on_both_backends!(a_municipality_chooses_its_providers_for_citizens_and_staff);

async fn a_municipality_chooses_its_providers_for_citizens_and_staff(b: Backend) {
    let idp = faulty_idp::spawn(Fault::None).await;
    let issuer = idp.issuer.clone();
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                c.identity
                    .providers
                    .insert("staff-sso".into(), faulty_idp::provider_config(&issuer));
            }),
            ..Options::default()
        },
    )
    .await;
    let mut body = tenant_body("alpha", "Άλφα");
    body["identity"] = serde_json::json!({ "staff": "nope" });
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["errors"][0]["field"], "identity.staff");
    assert_eq!(p["errors"][0]["code"], "provider-unknown");

    body["identity"] = serde_json::json!({ "citizens": "dev", "staff": "staff-sso" });
    app.create_tenant(body).await;
    let citizens = app
        .get("alpha.localhost", "/auth/login")
        .send()
        .await
        .unwrap();
    assert!(
        citizens.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/dev-idp/authorize")
    );
    let staff = app
        .get("alpha.localhost", "/auth/login?as=staff")
        .send()
        .await
        .unwrap();
    assert!(
        staff.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&format!("{}/authorize", idp.issuer))
    );

    // Staff complete sign-in at their provider.
    let mut browser = Browser::new(&app);
    let (page, _) = browser
        .get(&browser.url("alpha.localhost", "/auth/login?as=staff&next=/account"))
        .await;
    assert!(page.text().await.unwrap().contains("Εξωτερικός Χρήστης"));
    let t: serde_json::Value = app
        .get("admin.localhost", "/api/v1/tenants/alpha")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["identity"],
        serde_json::json!({ "citizens": "dev", "staff": "staff-sso" })
    );
}

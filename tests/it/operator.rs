use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use dimos_it::{Backend, Options, TestApp, on_both_backends};
use dimos_kernel::config::{Config, Secret};
use std::net::SocketAddr;
use tower::ServiceExt;

on_both_backends!(
    console_creates_edits_and_suspends_without_javascript,
    console_is_loopback_only
);

async fn console_creates_edits_and_suspends_without_javascript(b: Backend) {
    let app = TestApp::spawn(b).await;
    let form = app
        .get("admin.localhost", "/tenants/new")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(
        html.contains("name=\"slug\"") && html.contains("Πίνακας ανακοινώσεων"),
        "form lists the modules"
    );

    // Invalid: errors summarised and linked to their fields, input kept.
    let bad = [
        ("slug", "theta"),
        ("name_el", "Δήμος Θήτα"),
        ("name_en", ""),
        ("primary_colour", "#ffff00"),
    ];
    let res = app
        .post("admin.localhost", "/tenants")
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("govgr-error-summary"));
    assert!(
        html.contains("href=\"#name-en\""),
        "summary links to the field"
    );
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        html.contains("value=\"Δήμος Θήτα\""),
        "what was typed is kept"
    );

    // The module's settings are named fields, read in words; a number
    // that is not one is refused on its field.
    let form = app
        .get("admin.localhost", "/tenants/new")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("name=\"module.example.field.max_notices\""),
        "{form}"
    );
    assert!(
        form.contains("Πόσες ανακοινώσεις δείχνει ο πίνακας"),
        "{form}"
    );
    let res = app
        .post("admin.localhost", "/tenants")
        .form(&[
            ("slug", "iota"),
            ("name_el", "Δήμος Ιώτα"),
            ("name_en", "Municipality of Iota"),
            ("primary_colour", "#003476"),
            ("module.example.enabled", "on"),
            ("module.example.field.max_notices", "είκοσι"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("href=\"#module-example-field-max_notices\""),
        "{html}"
    );
    assert!(
        html.contains("value=\"είκοσι\""),
        "what was typed is kept: {html}"
    );

    // Every error at once: a slug and a domain that do not parse do not
    // hide the missing English name or the bad e-mail address.
    let worse = [
        ("slug", "Θ"),
        ("name_el", "Δήμος Θήτα"),
        ("name_en", ""),
        ("primary_colour", "#003476"),
        ("aliases", "not a domain"),
        ("contact_email", "not-an-address"),
    ];
    let res = app
        .post("admin.localhost", "/tenants")
        .form(&worse)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let summary = html.split("govgr-error-summary").nth(1).unwrap();
    let summary = summary.split("</ul>").next().unwrap();
    for anchor in ["#slug", "#name-en", "#aliases", "#contact-email"] {
        assert!(
            summary.contains(&format!("href=\"{anchor}\"")),
            "{anchor} in {summary}"
        );
    }

    let good = [
        ("slug", "theta"),
        ("name_el", "Δήμος Θήτα"),
        ("name_en", "Municipality of Theta"),
        ("primary_colour", "#003476"),
        ("aliases", "theta.example.gr\nwww.theta.example.gr"),
        ("contact_email", "info@theta.example.gr"),
        ("module.example.enabled", "on"),
        // A setting asked as its own field, not typed as TOML.
        ("module.example.field.greeting", "Καλημέρα"),
        ("module.example.field.max_notices", "20"),
    ];
    let res = app
        .post("admin.localhost", "/tenants")
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/tenants/theta?flash=created");
    let page = app
        .get("theta.example.gr", "/example")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Καλημέρα"),
        "created through the form, served at once"
    );

    let show = app
        .get("admin.localhost", "/tenants/theta?flash=created")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(show.contains("Ο δήμος δημιουργήθηκε"));
    assert!(show.contains("name.en"), "history lists the fields set");

    // Edit: change the English name only; the report names that change.
    let edit = app
        .get("admin.localhost", "/tenants/theta/edit")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(edit.contains("value=\"Municipality of Theta\""));
    assert!(
        edit.contains("id=\"module-example-field-max_notices\" name=\"module.example.field.max_notices\" type=\"text\" value=\"20\""),
        "the settings come back in their fields: {edit}"
    );
    let mut changed = good.to_vec();
    changed.retain(|(k, _)| *k != "name_en");
    changed.push(("name_en", "City of Theta"));
    let res = app
        .post("admin.localhost", "/tenants/theta")
        .form(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let show = app
        .get("admin.localhost", "/tenants/theta")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        show.contains("City of Theta") && show.contains("Municipality of Theta"),
        "before and after are shown"
    );

    let res = app
        .post("admin.localhost", "/tenants/theta/status")
        .form(&[("status", "suspended")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get("theta.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let list = app
        .get("admin.localhost", "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Σε αναστολή"));
    assert!(
        list.contains("Λειτουργία επίδειξης"),
        "the console says it is open without sign-in only in demo mode"
    );
}

async fn console_is_loopback_only(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    config.database.url = Some(Secret::new(dimos_it::fresh_database(b, dir.path()).await));
    config.tenancy.apply_on_start = None;
    let app = dimos_server::Application::build(config, Options::default().modules)
        .await
        .unwrap();
    let remote: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let router = dimos_pages::build_router(app.state().clone()).layer(MockConnectInfo(remote));
    let req = |host: &str, path: &str| {
        axum::http::Request::builder()
            .uri(path)
            .header("host", host)
            .body(Body::empty())
            .unwrap()
    };
    let res = router
        .clone()
        .oneshot(req("admin.localhost", "/api/v1/tenants"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "the API needs a signed-in operator off loopback"
    );
    let res = router
        .clone()
        .oneshot(req("admin.localhost", "/"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the console sends them to sign in");
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/auth/login")
    );
    // Citizens reach the portal from anywhere.
    let res = router.oneshot(req("localhost", "/")).await.unwrap();
    assert_eq!(res.status(), 200);
}

on_both_backends!(operator_tokens_are_scoped_hashed_expiring_and_revocable);

/// Automation reaches the tenants API with a token: only what its scopes
/// allow, not after expiry or revocation, never with a guessed secret;
/// the database holds only a hash; changes name the token as their actor.
async fn operator_tokens_are_scoped_hashed_expiring_and_revocable(b: Backend) {
    use dimos_identity::operator_tokens::{self, Scope};
    // No open demo console on loopback: the API needs a credential.
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.identity.dev_provider = dimos_kernel::config::DevProvider::Off),
            ..Options::default()
        },
    )
    .await;
    let api = |token: Option<&str>, method: reqwest::Method, path: &str| {
        let mut r = app
            .req(method, "admin.localhost", path)
            .header("accept", "application/json");
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    };
    let res = api(None, reqwest::Method::GET, "/api/v1/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let db = app.state.db();
    let now = chrono::Utc::now();
    let month = now + chrono::Duration::days(30);
    let (reader, _) =
        operator_tokens::create(db, "monitoring", &[Scope::TenantsRead], month, "test", now)
            .await
            .unwrap();
    let (writer, info) = operator_tokens::create(
        db,
        "provisioning",
        &[Scope::TenantsRead, Scope::TenantsWrite],
        month,
        "test",
        now,
    )
    .await
    .unwrap();
    assert!(reader.starts_with("dimos_op_"));

    let res = api(Some(&reader), reqwest::Method::GET, "/api/v1/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = api(Some(&reader), reqwest::Method::POST, "/api/v1/tenants")
        .json(&dimos_it::tenant_body("omega", "Ωμέγα"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "reading is not writing");
    let res = api(Some(&writer), reqwest::Method::POST, "/api/v1/tenants")
        .json(&dimos_it::tenant_body("omega", "Ωμέγα"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let history: serde_json::Value = api(
        Some(&reader),
        reqwest::Method::GET,
        "/api/v1/tenants/omega/history",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(history.to_string().contains(&info.actor()), "{history}");
    // Not the console: tokens are for the API only.
    let res = api(Some(&writer), reqwest::Method::GET, "/")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);

    // A secret one character off, a made-up id, a stranger's header.
    let mut wrong = writer.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    for bad in [
        wrong.as_str(),
        "dimos_op_00000000000000000000000000000000_ab",
        "garbage",
    ] {
        let res = api(Some(bad), reqwest::Method::GET, "/api/v1/tenants")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{bad}");
    }
    // At rest: a hash, not the token; its last use is noted.
    let stored: String = app
        .sql_value("SELECT secret_hash FROM operator_tokens WHERE name = 'provisioning'")
        .await;
    use sha2::Digest;
    assert_eq!(stored, hex::encode(sha2::Sha256::digest(writer.as_bytes())));
    assert_ne!(stored, writer);
    let listed = operator_tokens::list(db).await.unwrap();
    assert!(
        listed.iter().all(|t| t.last_used_at.is_some()),
        "{listed:?}"
    );

    // Revoked: refused at once. Expired: refused.
    assert!(
        operator_tokens::revoke(db, info.id, "test", chrono::Utc::now())
            .await
            .unwrap()
    );
    let res = api(Some(&writer), reqwest::Method::GET, "/api/v1/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    let (brief, _) = operator_tokens::create(
        db,
        "brief",
        &[Scope::TenantsRead],
        soon,
        "test",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let res = api(Some(&brief), reqwest::Method::GET, "/api/v1/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let res = api(Some(&brief), reqwest::Method::GET, "/api/v1/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

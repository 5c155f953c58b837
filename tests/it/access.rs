use dimos_identity::dev_provider::PEOPLE;
use dimos_it::{
    Backend, Browser, Options, TestApp, csrf_of, on_both_backends, tax_id, tenant_body,
    tenant_with_staff,
};
use serde_json::json;

on_both_backends!(
    every_protected_route_with_every_role,
    a_role_in_one_municipality_gives_nothing_in_another,
    a_kep_officer_verifies_a_citizen_in_person,
    the_municipal_admin_grants_and_revokes_roles,
);

use dimos_it::STAFF;

/// Walks every declared staff/admin route with every demo person: allowed
/// exactly when the person's role carries the route's permission.
async fn every_protected_route_with_every_role(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let modules = dimos_web::module::Modules::new(Options::default().modules).unwrap();
    let catalog = dimos_web::access::build_catalog(&modules).unwrap();
    assert!(!dimos_pages::staff::PROTECTED_ROUTES.is_empty());

    // Anonymous: sent to sign in, never served.
    for (method, path, _, _) in dimos_pages::staff::PROTECTED_ROUTES {
        let m: reqwest::Method = method.to_uppercase().parse().unwrap();
        let res = app.req(m, "alpha.localhost", path).send().await.unwrap();
        assert_eq!(res.status(), 303, "{method} {path} anonymous");
    }
    for person in PEOPLE {
        let role = STAFF
            .iter()
            .find(|(p, _)| *p == person.key)
            .map(|(_, r)| *r);
        let mut browser = Browser::new(&app);
        browser.sign_in("alpha.localhost", person.key, "/").await;
        // The person's own token: the permission decides, not the CSRF check.
        let (page, _) = browser
            .get(&browser.url("alpha.localhost", "/account"))
            .await;
        let csrf = dimos_it::csrf_of(&page.text().await.unwrap());
        for (method, path, perm, or) in dimos_pages::staff::PROTECTED_ROUTES {
            let expected = role.is_some_and(|r| {
                let has = &catalog.roles[r].permissions;
                has.contains(*perm) || or.iter().any(|p| has.contains(*p))
            });
            let m: reqwest::Method = method.to_uppercase().parse().unwrap();
            let form: &[(&str, &str)] = &[("_csrf", csrf.as_str())];
            let res = browser
                .request(
                    m,
                    &browser.url("alpha.localhost", path),
                    (*method == "post").then_some(form),
                )
                .await;
            let status = res.status().as_u16();
            if expected {
                assert_ne!(
                    status, 403,
                    "{} ({role:?}) must reach {method} {path}",
                    person.key
                );
                // A redirect is fine (an action done), but not to sign in.
                let location = res
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                assert!(
                    !location.starts_with("/auth/login"),
                    "{} ({role:?}) must reach {method} {path}",
                    person.key
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{} ({role:?}) must be refused {method} {path}",
                    person.key
                );
            }
        }
    }
}

async fn a_role_in_one_municipality_gives_nothing_in_another(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    app.create_tenant(tenant_body("beta", "Βήτα")).await;
    let mut officer = Browser::new(&app);
    officer.sign_in("alpha.localhost", "kep-officer", "/").await;
    let (res, _) = officer
        .get(&officer.url("alpha.localhost", "/staff/verify"))
        .await;
    assert_eq!(res.status(), 200);
    officer.sign_in("beta.localhost", "kep-officer", "/").await;
    let (res, _) = officer
        .get(&officer.url("beta.localhost", "/staff/verify"))
        .await;
    assert_eq!(
        res.status(),
        403,
        "a KEP officer of Alpha is nobody special in Beta"
    );
    let (res, _) = officer
        .get(&officer.url("beta.localhost", "/admin/access"))
        .await;
    assert_eq!(res.status(), 403);
}

async fn a_kep_officer_verifies_a_citizen_in_person(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let mut citizen = Browser::new(&app);
    let (page, _) = citizen
        .sign_in("alpha.localhost", "citizen", "/account")
        .await;
    assert!(page.text().await.unwrap().contains("Μη επαληθευμένος"));

    let mut officer = Browser::new(&app);
    let (home, _) = officer.sign_in("alpha.localhost", "kep-officer", "/").await;
    assert!(
        home.text().await.unwrap().contains("href=\"&#x2f;staff\""),
        "the header links to the staff area"
    );
    let (hub, _) = officer.get(&officer.url("alpha.localhost", "/staff")).await;
    assert!(
        hub.text()
            .await
            .unwrap()
            .contains("href=\"&#x2f;staff&#x2f;verify\""),
        "the staff area links to the desk"
    );
    let (page, _) = officer
        .get(&officer.url(
            "alpha.localhost",
            &format!("/staff/verify?tax_id={}", tax_id("citizen")),
        ))
        .await;
    let html = page.text().await.unwrap();
    assert!(html.contains("Μαρία Παπαδοπούλου"), "{html}");
    let account = html
        .split("name=\"account\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let csrf = csrf_of(&html);

    let bad = officer
        .get(&officer.url("alpha.localhost", "/staff/verify?tax_id=123456789"))
        .await
        .0
        .text()
        .await
        .unwrap();
    assert!(
        bad.contains("Μη έγκυρο ΑΦΜ"),
        "an invalid tax id is explained"
    );

    let confirm = officer.url("alpha.localhost", "/staff/verify/confirm");
    let res = officer
        .request(
            reqwest::Method::POST,
            &confirm,
            Some(&[
                ("_csrf", "forged"),
                ("account", &account),
                ("document_type", "id-card"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 403, "the session's CSRF token is required");
    let res = officer
        .request(
            reqwest::Method::POST,
            &confirm,
            Some(&[
                ("_csrf", &csrf),
                ("account", &account),
                ("document_type", "id-card"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let (page, _) = officer.follow(res, confirm).await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Ο λογαριασμός επαληθεύτηκε") && html.contains("Ελένη Γεωργίου"),
        "{html}"
    );

    let (page, _) = citizen
        .get(&citizen.url("alpha.localhost", "/account"))
        .await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Επαληθευμένος (σημαντικό)"),
        "the citizen sees it at once"
    );
    assert!(
        html.contains("Αστυνομική ταυτότητα"),
        "and the verification in their history"
    );
    let (export, _) = citizen
        .get(&citizen.url("alpha.localhost", "/account/export"))
        .await;
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export: serde_json::Value = export.json().await.unwrap();
    assert_eq!(export["account"]["tax_id"], tax_id("citizen"));
    let verifications = &export["tables"]["verifications"];
    assert_eq!(verifications[0]["document_type"], "id-card");
    assert_eq!(verifications[0]["officer_name"], "Ελένη Γεωργίου");

    let mut admin = Browser::new(&app);
    admin
        .sign_in("alpha.localhost", "municipal-admin", "/")
        .await;
    let (audit, _) = admin
        .get(&admin.url("alpha.localhost", "/admin/audit"))
        .await;
    let audit: serde_json::Value = audit.json().await.unwrap();
    assert_eq!(audit["chain"]["broken_at"], serde_json::Value::Null);
    let verified: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "account_verified")
        .collect();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0]["detail"]["document_type"], "id-card");
    assert!(
        verified[0]["record"]
            .as_str()
            .unwrap()
            .starts_with("account:")
    );
}

async fn the_municipal_admin_grants_and_revokes_roles(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let mut newcomer = Browser::new(&app);
    newcomer
        .sign_in("alpha.localhost", "citizen-verified", "/")
        .await;
    assert_eq!(
        newcomer
            .get(&newcomer.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        403
    );

    let mut admin = Browser::new(&app);
    admin
        .sign_in("alpha.localhost", "municipal-admin", "/")
        .await;
    let (page, _) = admin
        .get(&admin.url("alpha.localhost", "/admin/access"))
        .await;
    let csrf = csrf_of(&page.text().await.unwrap());
    let grant = admin.url("alpha.localhost", "/admin/access/grant");
    let res = admin
        .request(
            reqwest::Method::POST,
            &grant,
            Some(&[
                ("_csrf", &csrf),
                ("tax_id", "123456789"),
                ("role", "kep-officer"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 422, "invalid tax id refused");
    let who = tax_id("citizen-verified");
    let res = admin
        .request(
            reqwest::Method::POST,
            &grant,
            Some(&[("_csrf", &csrf), ("tax_id", who), ("role", "kep-officer")]),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        newcomer
            .get(&newcomer.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        200,
        "granted at once"
    );

    let revoke = admin.url("alpha.localhost", "/admin/access/revoke");
    let subject = format!("taxid:{who}");
    let res = admin
        .request(
            reqwest::Method::POST,
            &revoke,
            Some(&[
                ("_csrf", &csrf),
                ("subject", &subject),
                ("role", "kep-officer"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        newcomer
            .get(&newcomer.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        403,
        "revoked at once"
    );
}

on_both_backends!(an_officer_acts_on_behalf_of_a_citizen_at_the_desk);

async fn an_officer_acts_on_behalf_of_a_citizen_at_the_desk(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let mut citizen = Browser::new(&app);
    citizen.sign_in("alpha.localhost", "citizen", "/").await;
    let citizen_account = {
        let (page, _) = citizen
            .get(&citizen.url("alpha.localhost", "/account/export"))
            .await;
        let v: serde_json::Value = page.json().await.unwrap();
        v["account"]["id"].as_str().unwrap().to_owned()
    };

    let mut officer = Browser::new(&app);
    officer.sign_in("alpha.localhost", "kep-officer", "/").await;
    let (page, _) = officer
        .get(&officer.url(
            "alpha.localhost",
            &format!("/staff/verify?tax_id={}", tax_id("citizen")),
        ))
        .await;
    let html = page.text().await.unwrap();
    let csrf = csrf_of(&html);
    let start = officer.url("alpha.localhost", "/staff/assist/start");
    let res = officer
        .request(
            reqwest::Method::POST,
            &start,
            Some(&[("_csrf", &csrf), ("account", &citizen_account)]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let (page, url) = officer.follow(res, start).await;
    assert_eq!(url, officer.url("alpha.localhost", "/account"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Ενεργείτε για λογαριασμό του πολίτη: Μαρία Παπαδοπούλου"),
        "a banner says so"
    );
    assert!(
        html.contains(tax_id("citizen")),
        "the citizen's account is shown"
    );

    // While assisting, the officer verifies the citizen: on the citizen's behalf.
    let confirm = officer.url("alpha.localhost", "/staff/verify/confirm");
    let res = officer
        .request(
            reqwest::Method::POST,
            &confirm,
            Some(&[
                ("_csrf", &csrf),
                ("account", &citizen_account),
                ("document_type", "passport"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);

    let end = officer.url("alpha.localhost", "/staff/assist/end");
    let res = officer
        .request(reqwest::Method::POST, &end, Some(&[("_csrf", &csrf)]))
        .await;
    assert_eq!(res.status(), 303);
    let (page, _) = officer
        .get(&officer.url("alpha.localhost", "/account"))
        .await;
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("Ενεργείτε για λογαριασμό") && html.contains(tax_id("kep-officer")),
        "back to themselves"
    );

    let mut admin = Browser::new(&app);
    admin
        .sign_in("alpha.localhost", "municipal-admin", "/")
        .await;
    let (audit, _) = admin
        .get(&admin.url("alpha.localhost", "/admin/audit"))
        .await;
    let audit: serde_json::Value = audit.json().await.unwrap();
    let assisted: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("assist_"))
        .collect();
    assert_eq!(assisted.len(), 2);
    let verified: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "account_verified")
        .collect();
    assert_eq!(
        verified[0]["on_behalf_of"],
        format!("account:{citizen_account}"),
        "done at the desk for the citizen"
    );
    for e in assisted {
        assert_eq!(
            e["on_behalf_of"],
            format!("account:{citizen_account}"),
            "by officer X on behalf of citizen Y"
        );
        assert_ne!(e["actor"], e["on_behalf_of"]);
    }
}

on_both_backends!(members_of_a_department_hold_the_departments_roles);

/// Departments hold roles; their members get them, in their tenant only.
async fn members_of_a_department_hold_the_departments_roles(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    app.create_tenant(tenant_body("beta", "Βήτα")).await;
    let db = dimos_db::Db::connect(&app.database_url, &Default::default())
        .await
        .unwrap();
    let modules = dimos_web::module::Modules::new(Options::default().modules).unwrap();
    let catalog = std::sync::Arc::new(dimos_web::access::build_catalog(&modules).unwrap());
    let access = dimos_identity::access::Access::load(db.clone(), catalog)
        .await
        .unwrap();
    let (alpha, beta) = (
        tenant_id(&app, "alpha").await,
        tenant_id(&app, "beta").await,
    );
    let tdb = dimos_db::TenantDb::new(db, alpha);
    let member = format!("taxid:{}", tax_id("technical-employee"));
    access.add_member(&tdb, "kep-desk", &member).await.unwrap();
    access
        .grant(&tdb, "dept:kep-desk", "kep-officer", "test")
        .await
        .unwrap();
    let subjects = vec![member.clone()];
    assert!(
        access.allowed(alpha, &subjects, "accounts.verify").await,
        "through the department"
    );
    assert!(!access.allowed(alpha, &subjects, "access.manage").await);
    assert!(
        !access.allowed(beta, &subjects, "accounts.verify").await,
        "only in its municipality"
    );
    assert!(
        access
            .roles_of(alpha, &subjects)
            .await
            .contains("kep-officer")
    );

    // The running server picks the change up from the access version, and the
    // member now reaches the desk.
    let mut member_browser = Browser::new(&app);
    member_browser
        .sign_in("alpha.localhost", "technical-employee", "/")
        .await;
    let start = std::time::Instant::now();
    loop {
        let (res, _) = member_browser
            .get(&member_browser.url("alpha.localhost", "/staff/verify"))
            .await;
        if res.status() == 200 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "not picked up: {}",
            res.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn tenant_id(app: &TestApp, slug: &str) -> dimos_kernel::TenantId {
    let t: serde_json::Value = app
        .get("admin.localhost", &format!("/api/v1/tenants/{slug}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    dimos_kernel::TenantId(t["id"].as_str().unwrap().parse().unwrap())
}

on_both_backends!(the_admin_api_manages_departments_and_grants);

async fn the_admin_api_manages_departments_and_grants(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let mut admin = Browser::new(&app);
    admin
        .sign_in("alpha.localhost", "citizen-verified", "/")
        .await;
    let mut admin_b = Browser::new(&app);
    admin_b
        .sign_in("alpha.localhost", "municipal-admin", "/")
        .await;
    let cookie = format!(
        "dimos_session={}",
        admin_b.cookies["alpha.localhost"]["dimos_session"]
    );
    let json = |m: reqwest::Method, path: &str, body: serde_json::Value| {
        app.req(m, "alpha.localhost", path)
            .header("cookie", &cookie)
            .json(&body)
    };
    let res = json(
        reqwest::Method::PUT,
        "/admin/api/departments/kep-desk",
        json!({"name": {"el": "Γραφείο ΚΕΠ", "en": "KEP desk"}}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let member = tax_id("citizen-verified");
    let res = json(
        reqwest::Method::POST,
        "/admin/api/departments/kep-desk/members",
        json!({"tax_id": member}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let res = json(
        reqwest::Method::POST,
        "/admin/api/grants",
        json!({"department": "kep-desk", "role": "kep-officer"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        admin
            .get(&admin.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        200,
        "a member holds the department's role"
    );

    let state: serde_json::Value = app
        .get("alpha.localhost", "/admin/api/access")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["departments"][0]["members"][0],
        format!("taxid:{member}")
    );
    assert!(
        state["grants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["subject"] == "dept:kep-desk")
    );

    // Bad input: a clear 422 each time.
    for (path, body) in [
        (
            "/admin/api/grants",
            json!({"department": "nowhere", "role": "kep-officer"}),
        ),
        (
            "/admin/api/grants",
            json!({"tax_id": member, "role": "emperor"}),
        ),
        (
            "/admin/api/departments/kep-desk/members",
            json!({"tax_id": "123456789"}),
        ),
    ] {
        let res = json(reqwest::Method::POST, path, body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{path}");
    }

    let res = app
        .delete(
            "alpha.localhost",
            &format!("/admin/api/departments/kep-desk/members/{member}"),
        )
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        admin
            .get(&admin.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        403,
        "no longer a member"
    );
}

on_both_backends!(a_municipality_extends_a_role_and_builds_departments_in_the_console);

async fn a_municipality_extends_a_role_and_builds_departments_in_the_console(b: Backend) {
    let app = TestApp::spawn(b).await;
    tenant_with_staff(&app, "alpha", "Άλφα").await;
    let mut tech = Browser::new(&app);
    tech.sign_in("alpha.localhost", "technical-employee", "/")
        .await;
    assert_eq!(
        tech.get(&tech.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        403
    );

    let mut admin = Browser::new(&app);
    let (page, _) = admin
        .sign_in("alpha.localhost", "municipal-admin", "/admin/access")
        .await;
    let csrf = csrf_of(&page.text().await.unwrap());
    let cookie = format!(
        "dimos_session={}",
        admin.cookies["alpha.localhost"]["dimos_session"]
    );
    let put = |role: &str, body: serde_json::Value| {
        app.put(
            "alpha.localhost",
            &format!("/admin/api/roles/{role}/permissions"),
        )
        .header("cookie", &cookie)
        .json(&body)
    };
    assert_eq!(
        put("technical-employee", json!({"permissions": ["teleport"]}))
            .send()
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        put("emperor", json!({"permissions": []}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let res = put(
        "technical-employee",
        json!({"permissions": ["accounts.verify"]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        tech.get(&tech.url("alpha.localhost", "/staff/verify"))
            .await
            .0
            .status(),
        200,
        "this municipality's technical employees verify too"
    );

    // Departments through the HTML forms.
    let res = admin
        .request(
            reqwest::Method::POST,
            &admin.url("alpha.localhost", "/admin/access/department"),
            Some(&[
                ("_csrf", &csrf),
                ("slug", "technical"),
                ("name_el", "Τεχνική Υπηρεσία"),
                ("name_en", "Technical Service"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = admin
        .request(
            reqwest::Method::POST,
            &admin.url("alpha.localhost", "/admin/access/member"),
            Some(&[
                ("_csrf", &csrf),
                ("department", "technical"),
                ("tax_id", tax_id("technical-employee")),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let (page, _) = admin
        .get(&admin.url("alpha.localhost", "/admin/access"))
        .await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Τεχνική Υπηρεσία") && html.contains(tax_id("technical-employee")),
        "{html}"
    );
}

#[derive(Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct NoConfig {}
impl dimos_web::ModuleConfig for NoConfig {}

fn records_routes() -> axum::Router<dimos_web::AppState> {
    axum::Router::new().route(
        "/",
        axum::routing::get(|v: dimos_web::auth::Verified| async move {
            format!("records of {}", v.0.account.display_name())
        }),
    )
}

/// A service declaring it needs a verified account.
fn records_module() -> dimos_web::ModuleDescriptor {
    dimos_web::ModuleDescriptor {
        id: "records",
        name_key: "records",
        description_key: "records",
        routes: records_routes,
        migrations: &[],
        tenant_tables: &[],
        permissions: &[],
        default_grants: &[],
        workflows: &[],
        hooks: &[],
        config: dimos_web::module::ConfigSchema::of::<NoConfig>(),
        settings_page: dimos_web::module::SettingsPage::Generated,
        documents: &[],
        navigation: &[],
        translations: &[],
        jobs: dimos_web::module::no_jobs,
        staff_pages: &[],
        templates: &[],
        api: dimos_web::module::NO_API,
        sinks: dimos_web::module::no_sinks,
        sweeps: &[],
    }
}

on_both_backends!(a_service_needing_a_verified_account_tells_citizens_what_to_do);

async fn a_service_needing_a_verified_account_tells_citizens_what_to_do(b: Backend) {
    let mut opts = Options::default();
    opts.modules.push(records_module());
    let app = TestApp::spawn_with(b, opts).await;
    let mut body = tenant_body("alpha", "Άλφα");
    body["contact"] =
        json!({ "address": { "el": "Πλατεία Δημαρχείου 1", "en": "1 Town Hall Sq" } });
    app.create_tenant(body).await;
    app.enable_module("alpha", "records", json!({})).await;

    assert_eq!(
        app.get("alpha.localhost", "/records")
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "anonymous: sign in first"
    );
    let mut unverified = Browser::new(&app);
    let (page, _) = unverified
        .sign_in("alpha.localhost", "citizen", "/records")
        .await;
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Αυτή η υπηρεσία χρειάζεται επαληθευμένο λογαριασμό"),
        "{html}"
    );
    assert!(
        html.contains("Επισκεφθείτε ένα ΚΕΠ") && html.contains("Πλατεία Δημαρχείου 1"),
        "says where to go"
    );

    let mut verified = Browser::new(&app);
    let (page, _) = verified
        .sign_in("alpha.localhost", "citizen-verified", "/records")
        .await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "records of Γιώργος Νικολάου");
}

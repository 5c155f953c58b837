//! Issue 14, the cross-tenant probe: two municipalities with records in
//! every module; every route of the route table is called on one
//! municipality's host with ids taken from the other's pages, as each kind
//! of person and anonymously. No answer may show the other municipality's
//! records, and none may be a 5xx. Routes come from the route table, so a
//! new module's routes are probed with no change here.

use crate::flows::{person, submit};
use crate::hostile::fill;
use dimos_it::{Backend, Browser, Options, TestApp, tenant_with_staff};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

/// Text that exists only in Beta's records.
const MARKERS: &[&str] = &["ΜΥΣΤΙΚΟ-ΒΗΤΑ", "ΒΗΤ9999", "Βήτα"];

dimos_it::on_both_backends!(no_route_shows_one_municipality_s_records_on_another_s_host);

async fn no_route_shows_one_municipality_s_records_on_another_s_host(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 100_000),
            ..Options::default()
        },
    )
    .await;
    for (slug, name) in [("alpha", "Άλφα"), ("beta", "Βήτα")] {
        tenant_with_staff(&app, slug, name).await;
        for m in ["example", "parking", "nurseries"] {
            app.enable_module(slug, m, json!({})).await;
        }
    }
    let (alpha, beta) = ("alpha.localhost", "beta.localhost");

    // Beta's records, in every module.
    crate::nurseries::open_year(&app, beta).await;
    {
        let mut citizen = person(&app, beta, "citizen-verified").await;
        crate::parking::apply(&app, &mut citizen, beta, "ΒΗΤ9999").await;
        submit(&mut citizen, beta, "ΜΥΣΤΙΚΟ-ΒΗΤΑ αίτημα").await;
        let draft = vec![
            ("action", "draft".to_owned()),
            ("child-0-name", "ΜΥΣΤΙΚΟ-ΒΗΤΑ παιδί".to_owned()),
        ];
        let (status, _, _) =
            crate::nurseries::send_application(&app, &mut citizen, beta, &draft, &[]).await;
        assert_eq!(status, 303);
    }

    // Beta's ids, as its own people see them in links and forms.
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let mut ids = BTreeSet::new();
    for who in [
        "municipal-admin",
        "citizen-verified",
        "nursery-manager",
        "technical-employee",
    ] {
        let mut p = person(&app, beta, who).await;
        let (forms, pages) = crate::hostile::collect_forms(&mut p, beta, 80).await;
        for text in pages
            .iter()
            .cloned()
            .chain(forms.iter().map(|f| f.action.clone()))
            .chain(
                forms
                    .iter()
                    .flat_map(|f| f.fields.iter().map(|x| x.2.clone())),
            )
        {
            ids.extend(uuid.find_iter(&text).map(|m| m.as_str().to_owned()));
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    assert!(ids.len() >= 5, "Beta's records give ids to try: {ids:?}");

    let table = dimos_pages::router::route_table(&app.state);
    // The control: on Beta's own host its admin meets the markers through
    // these very ids and routes, so a missing marker below means no leak,
    // not a probe that looks for the wrong thing.
    {
        let admin = person(&app, beta, "municipal-admin").await;
        let cookie = admin.cookie_header(beta).unwrap();
        let mut seen = 0;
        for pattern in table.tenant.iter().filter(|p| p.contains('{')) {
            for id in &ids {
                let res = app
                    .get(beta, &fill(pattern, id))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                let body = res.text().await.unwrap_or_default();
                if MARKERS.iter().any(|m| body.contains(m)) {
                    seen += 1;
                }
            }
        }
        assert!(
            seen >= 3,
            "Beta's own admin sees its records through {seen} route/id pairs"
        );
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let mut leaks = vec![];
    let mut requests = 0;
    for who in [
        None,
        Some("citizen-verified"),
        Some("municipal-admin"),
        Some("nursery-manager"),
        Some("technical-employee"),
    ] {
        let mut p = match who {
            Some(w) => person(&app, alpha, w).await,
            None => Browser::new(&app),
        };
        let cookie = p.cookie_header(alpha);
        let csrf = {
            let (res, _) = p.get(&p.url(alpha, "/account")).await;
            let html = res.text().await.unwrap_or_default();
            html.split("name=\"_csrf\" value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_owned()
        };
        let label = who.unwrap_or("anonymous");
        for pattern in &table.tenant {
            let tries: Vec<String> = if pattern.contains('{') {
                let n = 4 + rng.random_range(0..3);
                ids.choose_multiple(&mut rng, n).cloned().collect()
            } else {
                vec![String::new()]
            };
            for id in tries {
                let path = if id.is_empty() {
                    pattern.clone()
                } else {
                    fill(pattern, &id)
                };
                for method in [Method::GET, Method::POST] {
                    let mut req = app.req(method.clone(), alpha, &path);
                    if let Some(c) = &cookie {
                        req = req.header("cookie", c);
                    }
                    if method == Method::POST {
                        if id.is_empty() {
                            // Posting to id-less routes changes Alpha's own state; GET is enough.
                            continue;
                        }
                        req = req
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(format!("_csrf={csrf}&id={id}&account={id}&unit={id}"));
                    }
                    requests += 1;
                    let res = match req.send().await {
                        Ok(r) => r,
                        Err(e) => {
                            leaks.push(format!("{label} {method} {path}: {e}"));
                            continue;
                        }
                    };
                    let status = res.status().as_u16();
                    let body = String::from_utf8_lossy(&res.bytes().await.unwrap_or_default())
                        .into_owned();
                    if status >= 500 {
                        leaks.push(format!("{label} {method} {path}: {status}"));
                    }
                    if let Some(m) = MARKERS.iter().find(|m| body.contains(*m)) {
                        leaks.push(format!(
                            "{label} {method} {path}: {status} shows Beta's {m:?}"
                        ));
                    }
                }
            }
        }
    }
    // The public API as a machine client of each municipality sees it,
    // with every scope its admin can give. The control: Beta's own client
    // meets Beta's records; Alpha's, given Beta's ids, never does.
    let client_of = |host: &'static str| {
        let app = &app;
        async move {
            let mut admin = person(app, host, "municipal-admin").await;
            crate::api_clients::take_role(&mut admin, host, "kep-officer").await;
            let (_, html) = crate::api_clients::register(
                &mut admin,
                host,
                &[
                    ("name", "Probe"),
                    ("scope", "cases.read"),
                    ("scope", "protocol.read"),
                    ("scope", "tasks.work"),
                    ("role", "kep-officer"),
                    ("role", "technical-employee"),
                ],
            )
            .await;
            let (id, secret) = crate::api_clients::credentials(&html);
            crate::api_clients::token(app, host, &id, &secret).await
        }
    };
    let betas = client_of(beta).await;
    let own = app
        .get(beta, "/api/v1/cases")
        .bearer_auth(&betas)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        MARKERS.iter().any(|m| own.contains(m)),
        "Beta's client sees Beta's cases: {own}"
    );
    let alphas = client_of(alpha).await;
    // And as a person's own app at Alpha: their token, Beta's ids.
    let alpha_citizen = dimos_it::citizen_token(&app, alpha, "citizen-verified").await;
    for pattern in table.tenant.iter().filter(|p| p.starts_with("/api/")) {
        let tries: Vec<String> = if pattern.contains('{') {
            ids.clone()
        } else {
            vec![String::new()]
        };
        for id in tries {
            let path = if id.is_empty() {
                pattern.clone()
            } else {
                fill(pattern, &id)
            };
            for (who, token) in [("client", &alphas), ("citizen's app", &alpha_citizen)] {
                for method in [Method::GET, Method::POST] {
                    requests += 1;
                    let mut req = app.req(method.clone(), alpha, &path).bearer_auth(token);
                    if method == Method::POST {
                        req = req.json(&serde_json::json!({}));
                    }
                    let res = req.send().await.unwrap();
                    let status = res.status().as_u16();
                    let body = res.text().await.unwrap_or_default();
                    if status >= 500 {
                        leaks.push(format!("Alpha's {who} {method} {path}: {status}"));
                    }
                    if let Some(m) = MARKERS.iter().find(|m| body.contains(*m)) {
                        leaks.push(format!(
                            "Alpha's {who} {method} {path}: {status} shows Beta's {m:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {requests} requests leaked or failed:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(requests > 500, "only {requests} requests");
}

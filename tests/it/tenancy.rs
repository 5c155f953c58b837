use dimos_it::{Backend, TestApp, on_both_backends, tenant_body};
use serde_json::{Value, json};

on_both_backends!(
    two_tenants_answer_the_same_path_with_their_own_data,
    a_created_tenant_is_served_at_once,
    suspended_tenants_answer_503_and_resume,
    unknown_hosts_get_a_clear_404,
    custom_domains_resolve_to_their_tenant,
    the_tls_ask_endpoint_allows_only_our_domains,
    invalid_tenants_are_refused_with_field_errors,
);

async fn two_tenants_answer_the_same_path_with_their_own_data(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let mut beta = tenant_body("beta", "Βήτα");
    beta["branding"]["primary_colour"] = json!("#7a1f3d");
    app.create_tenant(beta).await;

    let a = app.get("alpha.localhost", "/").send().await.unwrap();
    assert_eq!(a.status(), 200);
    let a = a.text().await.unwrap();
    let b_ = app
        .get("beta.localhost", "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(a.contains("Δήμος Άλφα") && !a.contains("Δήμος Βήτα"));
    assert!(b_.contains("Δήμος Βήτα") && !b_.contains("Δήμος Άλφα"));

    let css_a = app
        .get("alpha.localhost", "/branding.css")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css_b = app
        .get("beta.localhost", "/branding.css")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        css_a.contains("--color-primary:#003476") && css_a.contains("0,52,118"),
        "{css_a}"
    );
    assert!(css_b.contains("--color-primary:#7a1f3d"), "{css_b}");
}

async fn a_created_tenant_is_served_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert_eq!(
        app.get("gamma.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let created = app.create_tenant(tenant_body("gamma", "Γάμμα")).await;
    assert_eq!(created["result"]["outcome"], "created");
    assert_eq!(
        created["tenant"]["url"],
        format!("http://gamma.localhost:{}/", app.port())
    );
    let res = app.get("gamma.localhost", "/").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Δήμος Γάμμα"));

    let list: Value = app
        .get("admin.localhost", "/api/v1/tenants")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tenants"].as_array().unwrap().len(), 1);
    let again = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&tenant_body("gamma", "Γ"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 422);
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["errors"][0]["code"], "slug-taken");
}

async fn suspended_tenants_answer_503_and_resume(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("delta", "Δέλτα")).await;
    let res = app
        .post("admin.localhost", "/api/v1/tenants/delta/suspend")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["result"]["changes"][0],
        json!({"field": "status", "from": "active", "to": "suspended"})
    );

    let page = app.get("delta.localhost", "/").send().await.unwrap();
    assert_eq!(page.status(), 503);
    let html = page.text().await.unwrap();
    assert!(html.contains("προσωρινά μη διαθέσιμες"), "{html}");
    assert!(
        html.contains("Δήμος Δέλτα"),
        "the page names the municipality"
    );
    let api = app
        .get("delta.localhost", "/anything")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 503);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let problem: Value = api.json().await.unwrap();
    assert_eq!(problem["code"], "tenant_suspended");

    // Health checks still answer on a suspended tenant's host.
    assert_eq!(
        app.get("delta.localhost", "/healthz")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    app.post("admin.localhost", "/api/v1/tenants/delta/resume")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.get("delta.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let history: Value = app
        .get("admin.localhost", "/api/v1/tenants/delta/history")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<_> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].clone())
        .collect();
    assert_eq!(
        actions,
        [
            json!("tenant.updated"),
            json!("tenant.updated"),
            json!("tenant.created")
        ]
    );
    assert!(
        history["history"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("operator@127.0.0.1")
    );
}

async fn unknown_hosts_get_a_clear_404(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.get("nowhere.localhost", "/").send().await.unwrap();
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Δεν εξυπηρετείται δήμος σε αυτή τη διεύθυνση"),
        "{html}"
    );
    assert!(html.contains("tenant_unknown"));
    let res = app
        .get("example.org", "/x")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "tenant_unknown");
    // The base domain is the directory of municipalities, not an unknown host.
    assert_eq!(
        app.get("localhost", "/").send().await.unwrap().status(),
        200
    );
}

/// Issue 17: the proxy (Caddy's on-demand TLS) asks before getting a
/// certificate; only the deployment's own names may have one.
async fn the_tls_ask_endpoint_allows_only_our_domains(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut body = tenant_body("eta", "Ήτα");
    body["domains"] = json!({ "primary": "eta.gov.gr", "aliases": ["www.eta.gov.gr"] });
    app.create_tenant(body).await;
    app.create_tenant(tenant_body("theta", "Θήτα")).await;
    app.post("admin.localhost", "/api/v1/tenants/theta/suspend")
        .send()
        .await
        .unwrap();
    let ask = |domain: &str| {
        // Caddy asks on the address it is given, whatever the host.
        let req = app
            .get("127.0.0.1", "/tls/ask")
            .query(&[("domain", domain)]);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    for ours in [
        "eta.gov.gr",
        "www.eta.gov.gr",
        "WWW.ETA.gov.gr.",
        "eta.localhost",
        "theta.localhost",
        "admin.localhost",
        "localhost",
    ] {
        assert_eq!(ask(ours).await.0, 200, "{ours}");
    }
    for not_ours in [
        "example.com",
        "gov.gr",
        "www2.eta.gov.gr",
        "iota.localhost",
        "eta.gov.gr:443",
        "eta.gov.gr/x",
    ] {
        let (status, text) = ask(not_ours).await;
        assert_eq!(status, 404, "{not_ours:?}");
        assert_eq!(text, "not a domain of this deployment\n");
    }
    // Control characters are refused before anything looks at them.
    for hostile in ["eta.gov.gr\u{0}", "eta.gov.gr\r\nX-Evil: 1", ""] {
        assert_eq!(ask(hostile).await.0, 400, "{hostile:?}");
    }
    let res = app.get("127.0.0.1", "/tls/ask").send().await.unwrap();
    assert_eq!(res.status(), 400);
    // The same answer on any host, a tenant's included.
    let res = app
        .get("eta.gov.gr", "/tls/ask?domain=eta.gov.gr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn custom_domains_resolve_to_their_tenant(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut body = tenant_body("epsilon", "Έψιλον");
    body["domains"] = json!({ "primary": "epsilon.gov.gr", "aliases": ["www.epsilon.gov.gr"] });
    app.create_tenant(body).await;
    for host in ["epsilon.gov.gr", "WWW.Epsilon.gov.gr", "epsilon.localhost"] {
        let res = app.get(host, "/").send().await.unwrap();
        assert_eq!(res.status(), 200, "{host}");
        assert!(res.text().await.unwrap().contains("Δήμος Έψιλον"), "{host}");
    }
    // Another tenant cannot take the domain.
    let mut other = tenant_body("zeta", "Ζήτα");
    other["domains"] = json!({ "aliases": ["www.epsilon.gov.gr"] });
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["errors"][0]["code"], "domain-taken");
    assert_eq!(
        app.get("zeta.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nothing was created"
    );

    // Remove the alias; it stops resolving.
    let res = app
        .delete(
            "admin.localhost",
            "/api/v1/tenants/epsilon/domains/www.epsilon.gov.gr",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get("www.epsilon.gov.gr", "/")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let res = app
        .post("admin.localhost", "/api/v1/tenants/epsilon/domains")
        .json(&json!({"domain": "epsilon.example.gr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get("epsilon.example.gr", "/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn invalid_tenants_are_refused_with_field_errors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let body = json!({
        "slug": "eta",
        "name": { "el": "", "en": "Eta" },
        "branding": { "primary_colour": "#ffff00" },
        "domains": { "primary": "eta.localhost" },
        "modules": { "teleport": {} },
    });
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .header("accept-language", "en")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["code"], "validation");
    assert_eq!(p["title"], "Check the details you entered");
    let fields: Vec<_> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        [
            "name.el",
            "domains.primary",
            "branding.primary_colour",
            "modules.teleport"
        ]
    );
    assert!(
        p["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("4.5:1")
    );

    // Type errors name the field path too, and malformed JSON is a 400, never a 500.
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .json(&json!({"slug": "Bad Slug", "name": {"el": "x", "en": "y"}, "branding": {"primary_colour": "#003476"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["errors"][0]["field"],
        "slug"
    );
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .header("content-type", "application/json")
        .body("{\"slug\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "bad_request");
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .body("slug=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let list: Value = app
        .get("admin.localhost", "/api/v1/tenants")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["tenants"].as_array().unwrap().is_empty());
}

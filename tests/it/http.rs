use dimos_it::{Backend, Options, TestApp, on_both_backends, tenant_body};
use serde_json::Value;

on_both_backends!(
    health_readiness_and_metrics,
    security_headers_and_request_ids,
    language_switch_sets_english,
    oversized_and_cross_site_requests_are_refused,
);

async fn health_readiness_and_metrics(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let ip = "127.0.0.1";
    assert_eq!(
        app.get(ip, "/healthz")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready: Value = app
        .get(ip, "/readyz")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Ready, and nothing more to any host that asks (the backend and the
    // number of municipalities are for /metrics).
    assert_eq!(ready, serde_json::json!({"status": "ready"}));

    // Metrics are not on the public listener unless a token is configured
    // (see security::metrics_are_private).
    for host in [ip, "alpha.localhost", "admin.localhost"] {
        assert_eq!(
            app.get(host, "/metrics").send().await.unwrap().status(),
            404,
            "{host}"
        );
    }
}

async fn security_headers_and_request_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let res = app
        .get("alpha.localhost", "/")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert_eq!(h["x-request-id"], "abc-123");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h.get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );
    let generated = app.get("alpha.localhost", "/").send().await.unwrap();
    assert_eq!(
        generated.headers()["x-request-id"].len(),
        36,
        "a UUID is generated when absent"
    );

    // A client that does not decode, to see the encoding on the wire.
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap();
    let css = raw
        .get(format!("http://{}/static/digigov.css", app.addr))
        .header("host", format!("alpha.localhost:{}", app.port()))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers()["content-encoding"], "gzip");

    let tls = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.http.public_scheme = "https".into()),
            ..Options::default()
        },
    )
    .await;
    let res = tls.get("127.0.0.1", "/healthz").send().await.unwrap();
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
}

async fn language_switch_sets_english(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Alpha")).await;
    let greek = app
        .get("alpha.localhost", "/")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        greek.contains("<html lang=\"el\">") && greek.contains("Ηλεκτρονικές υπηρεσίες"),
        "Greek by default"
    );
    let res = app
        .get("alpha.localhost", "/lang/en?next=/example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/example");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("dimos_lang=en;")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    let english = app
        .get("alpha.localhost", "/")
        .header("cookie", "dimos_lang=en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("<html lang=\"en\">") && english.contains("Online services"));
    assert!(english.contains("Municipality of Alpha"));
    let res = app
        .get("alpha.localhost", "/lang/en?next=//evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/", "no open redirect");
    assert_eq!(
        app.get("alpha.localhost", "/lang/fr")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn oversized_and_cross_site_requests_are_refused(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.http.body_limit_bytes = 4096),
            ..Options::default()
        },
    )
    .await;
    let big = "x".repeat(10_000);
    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "payload_too_large"
    );

    let res = app
        .post("admin.localhost", "/api/v1/tenants")
        .header("origin", "http://evil.example")
        .json(&tenant_body("alpha", "Άλφα"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .post("admin.localhost", "/tenants")
        .header("sec-fetch-site", "cross-site")
        .form(&[("slug", "alpha")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
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

use dimos_it::{Backend, Options, TestApp, on_both_backends, tenant_body};
use dimos_web::module::{ConfigSchema, ModuleDescriptor};
use dimos_web::{AppState, ModuleConfig};
use std::time::{Duration, Instant};

on_both_backends!(
    a_change_on_one_replica_is_served_by_another,
    shutdown_finishes_in_flight_requests,
    shutdown_says_not_ready_first_and_serves_while_draining,
    replicas_starting_together_apply_the_same_tenant_files,
    requests_running_too_long_get_408
);

async fn wait_for_status(app: &TestApp, host: &str, want: u16) -> Duration {
    let start = Instant::now();
    loop {
        if app.get(host, "/").send().await.unwrap().status() == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{host} did not answer {want} within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two server processes' worth of state (each its own registry, pool and
/// listener) on one database: what N replicas behind a load balancer are.
async fn a_change_on_one_replica_is_served_by_another(b: Backend) {
    let one = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(|c| c.tenancy.refresh_interval_ms = 1000),
            ..Options::default()
        },
    )
    .await;
    let two = TestApp::spawn_with(
        b,
        Options {
            database_url: Some(one.database_url.clone()),
            tweak: Box::new(|c| c.tenancy.refresh_interval_ms = 1000),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(
        two.get("lambda.localhost", "/")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    one.create_tenant(tenant_body("lambda", "Λάμδα")).await;
    wait_for_status(&two, "lambda.localhost", 200).await;
    one.post("admin.localhost", "/api/v1/tenants/lambda/suspend")
        .send()
        .await
        .unwrap();
    wait_for_status(&two, "lambda.localhost", 503).await;
}

#[derive(Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct NoConfig {}
impl ModuleConfig for NoConfig {}

fn slow_routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "finished"
            }),
        )
        .route(
            "/stuck",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "too late"
            }),
        )
}

fn slow_module() -> ModuleDescriptor {
    ModuleDescriptor {
        id: "slow",
        name_key: "slow",
        description_key: "slow",
        routes: slow_routes,
        migrations: &[],
        tenant_tables: &[],
        permissions: &[],
        default_grants: &[],
        workflows: &[],
        hooks: &[],
        config: ConfigSchema::of::<NoConfig>(),
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

async fn shutdown_finishes_in_flight_requests(b: Backend) {
    let slow = slow_module();
    let app = TestApp::spawn_with(
        b,
        Options {
            modules: vec![slow],
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("mu", "Μι")).await;
    app.enable_module("mu", "slow", serde_json::json!({})).await;
    let req = app.get("mu.localhost", "/slow").send();
    let in_flight = tokio::spawn(req);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.stop().await;
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "finished");
}

/// Found by `infra/cluster/up.sh`: three replicas starting at once, each
/// applying the same tenant files, and one of them stopped on "slug taken"
/// (it had seen the tenant missing, then another replica created it). The
/// applies now take turns, and the later ones find nothing to change.
async fn replicas_starting_together_apply_the_same_tenant_files(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = dimos_it::fresh_database(b, dir.path()).await;
    let opts = || Options {
        database_url: Some(url.clone()),
        apply_on_start: Some(dimos_it::workspace_root().join("tenants")),
        ..Options::default()
    };
    let (one, two, three) = tokio::join!(
        TestApp::spawn_with(b, opts()),
        TestApp::spawn_with(b, opts()),
        TestApp::spawn_with(b, opts()),
    );
    for app in [&one, &two, &three] {
        let res = app.get("alimos.localhost", "/").send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let tenants: i64 = one.sql_value("SELECT COUNT(*) FROM tenants").await;
    assert_eq!(tenants, 2, "each file's tenant once");
}

/// Issue 17: a replica told to stop (SIGTERM in production) first answers
/// `/readyz` 503 while still serving for `http.drain_secs`, closing each
/// kept-alive connection after its answer, so a balancer moves its traffic
/// before the listener closes; a request begun then still finishes.
async fn shutdown_says_not_ready_first_and_serves_while_draining(b: Backend) {
    let mut app = TestApp::spawn_with(
        b,
        Options {
            modules: vec![slow_module()],
            tweak: Box::new(|c| c.http.drain_secs = 3),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("xi", "Ξι")).await;
    app.enable_module("xi", "slow", serde_json::json!({})).await;
    let ready = app.get("127.0.0.1", "/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.headers().get("connection"), None);

    let started = Instant::now();
    app.begin_stop();
    loop {
        let res = app.get("127.0.0.1", "/readyz").send().await.unwrap();
        if res.status() == 503 {
            assert!(res.headers().contains_key("retry-after"));
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["status"], "draining");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not ready at once"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page = app.get("xi.localhost", "/").send().await.unwrap();
    assert_eq!(page.status(), 200, "still serving while draining");
    assert_eq!(
        page.headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close"),
        "each answer closes its connection while draining"
    );

    // Begun while draining (1.5 s before the listener closes, a margin for
    // a loaded machine), answered well after (it takes 5 s).
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed())).await;
    let in_flight = tokio::spawn(app.get("xi.localhost", "/slow/stuck").send());
    let res = in_flight
        .await
        .unwrap()
        .expect("the request begun while draining completes");
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "answered after the drain period"
    );
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "too late");
    let fresh = reqwest::Client::new();
    assert!(
        fresh
            .get(format!("http://127.0.0.1:{}/healthz", app.port()))
            .send()
            .await
            .is_err(),
        "after the drain the listener is closed"
    );
    app.stop().await;
}

async fn requests_running_too_long_get_408(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            modules: vec![slow_module()],
            tweak: Box::new(|c| c.http.request_timeout_secs = 1),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("nu", "Νι")).await;
    app.enable_module("nu", "slow", serde_json::json!({})).await;
    let started = Instant::now();
    let res = app.get("nu.localhost", "/slow/stuck").send().await.unwrap();
    assert_eq!(res.status(), 408);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut off at the configured timeout"
    );
    assert!(res.text().await.unwrap().contains("Το αίτημα άργησε πολύ"));
    assert_eq!(
        app.get("nu.localhost", "/slow")
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "in time is fine"
    );
}

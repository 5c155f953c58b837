use dimos_it::{Backend, Options, TestApp, on_both_backends, tenant_body};
use dimos_web::module::{ConfigSchema, ModuleDescriptor};
use dimos_web::{AppState, ModuleConfig};
use std::time::{Duration, Instant};

on_both_backends!(
    a_change_on_one_replica_is_served_by_another,
    shutdown_finishes_in_flight_requests
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
    axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "finished"
        }),
    )
}

async fn shutdown_finishes_in_flight_requests(b: Backend) {
    let slow = ModuleDescriptor {
        id: "slow",
        name_key: "slow",
        description_key: "slow",
        routes: slow_routes,
        migrations: &[],
        permissions: &[],
        default_grants: &[],
        workflows: &[],
        config: ConfigSchema::of::<NoConfig>(),
        navigation: &[],
        translations: &[],
        templates: &[],
    };
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

use dimos_it::{Backend, Options, TestApp, on_both_backends, workspace_root};
use dimos_kernel::config::{Config, Secret};
use dimos_tenancy::{TenantStore, ValidationContext};
use dimos_web::module::Modules;
use std::path::Path;
use std::time::{Duration, Instant};

on_both_backends!(
    tenant_files_apply_idempotently_and_report_changes,
    an_invalid_tenant_file_changes_nothing,
    the_demo_tenants_are_valid
);

const FILE: &str = r##"slug = "iota"

[name]
el = "Δήμος Ιώτα"
en = "Municipality of Iota"

[branding]
primary_colour = "#003476"

[modules.example]
greeting = "Γεια"
"##;

struct Env {
    store: TenantStore,
    access: dimos_identity::access::Access,
    modules: Modules,
    translator: dimos_kernel::Translator,
    url: String,
    _dir: tempfile::TempDir,
}

async fn env(b: Backend) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = dimos_it::fresh_database(b, dir.path()).await;
    let mut config = Config::default();
    config.database.url = Some(Secret::new(url.clone()));
    let modules = Modules::new(Options::default().modules).unwrap();
    let db = dimos_server::connect_and_migrate(&config, &modules)
        .await
        .unwrap();
    let translator = dimos_web::ui::build_translator(&modules).unwrap();
    let catalog = std::sync::Arc::new(dimos_web::access::build_catalog(&modules).unwrap());
    let access = dimos_identity::access::Access::load(db.clone(), catalog)
        .await
        .unwrap();
    Env {
        access,
        store: TenantStore::new(db),
        modules,
        translator,
        url,
        _dir: dir,
    }
}

async fn apply(env: &Env, path: &Path) -> Result<Vec<String>, String> {
    let ctx = ValidationContext {
        catalog: &env.modules,
        base_domain: "localhost",
        file_dir: None,
    };
    dimos_server::apply_tenant_files(&env.store, &env.access, path, &ctx, &env.translator, "test")
        .await
        .map_err(|e| format!("{e:#}"))
}

async fn tenant_files_apply_idempotently_and_report_changes(b: Backend) {
    let env = env(b).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iota.toml"), FILE).unwrap();
    assert_eq!(apply(&env, dir.path()).await.unwrap(), ["iota: created"]);
    assert_eq!(apply(&env, dir.path()).await.unwrap(), ["iota: unchanged"]);
    std::fs::write(
        dir.path().join("iota.toml"),
        FILE.replace("Municipality of Iota", "City of Iota"),
    )
    .unwrap();
    assert_eq!(
        apply(&env, dir.path()).await.unwrap(),
        [
            "iota: updated",
            "  name.en: Municipality of Iota → City of Iota"
        ]
    );

    // A running server on the same database picks the change up without restart.
    let app = TestApp::spawn_with(
        b,
        Options {
            database_url: Some(env.url.clone()),
            ..Options::default()
        },
    )
    .await;
    assert!(
        app.get("iota.localhost", "/")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Δήμος Ιώτα")
    );
    std::fs::write(
        dir.path().join("iota.toml"),
        FILE.replace("Δήμος Ιώτα", "Δήμος Ιώτα Αττικής"),
    )
    .unwrap();
    apply(&env, dir.path()).await.unwrap();
    let start = Instant::now();
    loop {
        let page = app
            .get("iota.localhost", "/")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("Δήμος Ιώτα Αττικής") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "change not picked up within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn an_invalid_tenant_file_changes_nothing(b: Backend) {
    let env = env(b).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iota.toml"), FILE).unwrap();
    apply(&env, dir.path()).await.unwrap();
    let before = env.store.version().await.unwrap();

    // A valid change in one file and a bad colour in another: neither lands.
    std::fs::write(
        dir.path().join("iota.toml"),
        FILE.replace("Municipality of Iota", "City of Iota"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kappa.toml"),
        FILE.replace("iota", "kappa").replace("#003476", "#fafafa"),
    )
    .unwrap();
    let err = apply(&env, dir.path()).await.unwrap_err();
    assert!(
        err.contains("kappa.toml:8: branding.primary_colour"),
        "{err}"
    );
    assert!(err.contains("4.5:1"), "the reason is spelled out: {err}");
    assert_eq!(env.store.version().await.unwrap(), before);
    assert_eq!(
        env.store.get("iota").await.unwrap().unwrap().spec.name.en,
        "Municipality of Iota"
    );
    assert!(env.store.get("kappa").await.unwrap().is_none());

    std::fs::write(dir.path().join("kappa.toml"), "slug = \"kappa\"\n[name\n").unwrap();
    let err = apply(&env, dir.path()).await.unwrap_err();
    assert!(err.contains("kappa.toml:2:"), "{err}");
}

async fn the_demo_tenants_are_valid(b: Backend) {
    let env = env(b).await;
    let report = apply(&env, &workspace_root().join("tenants"))
        .await
        .unwrap();
    assert_eq!(
        report,
        [
            "alimos: created",
            "  departments: 3 added, 5 members added",
            "  grants: 12 added",
            "papagou-cholargou: created",
            "  grants: 1 added"
        ],
        "the demo staff get their roles"
    );
    let again = apply(&env, &workspace_root().join("tenants"))
        .await
        .unwrap();
    assert_eq!(
        again,
        ["alimos: unchanged", "papagou-cholargou: unchanged"],
        "grants are added once"
    );
    let alimos = env.store.get("alimos").await.unwrap().unwrap();
    assert_eq!(alimos.spec.logo.unwrap().content_type, "image/svg+xml");
}

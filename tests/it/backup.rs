//! Backups and the restore drill. SQLite: `dimos backup` copies the
//! running database, its objects and a manifest; the copy is verified
//! (counts, objects, audit chains against published heads), restored, and
//! served. PostgreSQL (backed up by pg_basebackup, drilled in
//! infra/cluster): a restored copy of the database is verified the same
//! way. Tampering with either is caught.

use crate::flows::{page, person};
use dimos_it::{Backend, Options, TestApp, on_both_backends, workspace_root};
use dimos_server::backup;

on_both_backends!(a_backup_is_verified_restored_and_served);

const HOST: &str = "alimos.localhost";

fn key_config(c: &mut dimos_kernel::config::Config) {
    use base64::Engine as _;
    c.signing.key = Some(dimos_kernel::config::Secret::new(
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    ));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Changes one audit entry in place, as someone with database access might.
async fn tamper(url: &str) {
    use sqlx::Connection;
    let sql = "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 1";
    if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    }
}

/// The bytes of the case's first document, downloaded as the citizen.
async fn download(citizen: &mut dimos_it::Browser<'_>, case: &str) -> Vec<u8> {
    let (_, html) = page(citizen, HOST, &format!("/cases/{case}")).await;
    let doc = html
        .split(&format!("href=\"/cases/{case}/documents/"))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (res, _) = citizen
        .get(&citizen.url(HOST, &format!("/cases/{case}/documents/{doc}")))
        .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

async fn a_backup_is_verified_restored_and_served(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            tweak: Box::new(key_config),
            ..Options::default()
        },
    )
    .await;
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    let (case, _) = crate::parking::apply(&app, &mut citizen, HOST, "ΚΗΖ5005").await;
    let tenant = dimos_kernel::TenantId(app.tenant_uuid("alimos"));
    assert!(
        dimos_pages::audit_heads::publish_one(
            app.state.objects().as_ref(),
            app.state.signing(),
            &app.state.tenant_db(tenant),
            "alimos"
        )
        .await
        .unwrap()
    );
    let before = crate::flows::citizen_case(&mut citizen, HOST, &case).await;
    let document = download(&mut citizen, &case).await;
    let signing = dimos_signing::service::Signing::new(
        [7u8; 32],
        365,
        std::sync::Arc::new(dimos_kernel::SystemClock),
        std::sync::Arc::new(dimos_signing::service::LocalCa),
    );
    let dir = tempfile::tempdir().unwrap();

    if b == Backend::Postgres {
        let err = backup::backup(
            app.state.db(),
            app.state.objects().as_ref(),
            &dir.path().join("b"),
        )
        .await
        .unwrap_err();
        assert!(format!("{err:#}").contains("pg_basebackup"), "{err:#}");
        // A restore: the database copied as it stands once the server has
        // stopped (what a base backup is), the objects where they are.
        let url = app.database_url.clone();
        let data = app.stop_keeping_data().await.unwrap();
        let name = url.rsplit('/').next().unwrap();
        let restored = format!("{name}_restored");
        {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&dimos_it::postgres_admin_url())
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {restored} TEMPLATE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        let restored_url = format!("{}/{restored}", url.rsplit_once('/').unwrap().0);
        let db = dimos_db::Db::connect(&restored_url, &Default::default())
            .await
            .unwrap();
        let objects = dimos_storage::LocalStore::new(data.path().join("objects"));
        let report = backup::verify_database(&db, &objects, &signing, None)
            .await
            .unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(
            report.municipalities >= 2 && report.audit_entries > 0,
            "{report:?}"
        );
        db.close().await;
        tamper(&restored_url).await;
        let db = dimos_db::Db::connect(&restored_url, &Default::default())
            .await
            .unwrap();
        let report = backup::verify_database(&db, &objects, &signing, None)
            .await
            .unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("alimos") && p.contains("broken at entry 1")),
            "{:?}",
            report.problems
        );
        db.close().await;
        return;
    }

    // Taken while the server runs.
    let out = dir.path().join("backup");
    let manifest = backup::backup(app.state.db(), app.state.objects().as_ref(), &out)
        .await
        .unwrap();
    assert_eq!(manifest.rows["cases"], 1);
    assert!(
        manifest.objects.len() >= 2,
        "the document and a head: {manifest:?}"
    );
    let report = backup::verify_folder(&out, &signing).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.objects, manifest.objects.len());
    assert!(report.audit_entries > 0);

    // A damaged copy is caught: an entry changed, an object changed.
    let bad = dir.path().join("bad");
    copy_dir(&out, &bad);
    tamper(&format!("sqlite://{}", bad.join("dimos.db").display())).await;
    let (key, _) = manifest
        .objects
        .iter()
        .find(|(k, _)| !k.starts_with("audit-heads/"))
        .unwrap();
    let object = bad.join("objects").join(key);
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&object, bytes).unwrap();
    let report = backup::verify_folder(&bad, &signing).await.unwrap();
    let has = |s: &str| report.problems.iter().any(|p| p.contains(s));
    assert!(has("broken at entry 1"), "{:?}", report.problems);
    assert!(
        has(&format!("object {key} differs")),
        "{:?}",
        report.problems
    );

    // The restore drill: the original is gone; a server starts on the
    // backup (with the deployment key kept apart) and serves the case.
    let port = app.port();
    app.stop().await;
    let restored = dir.path().join("restored");
    copy_dir(&out, &restored);
    let db_url = format!("sqlite://{}", restored.join("dimos.db").display());
    let objects = restored.join("objects");
    let back = TestApp::spawn_with(
        b,
        Options {
            database_url: Some(db_url),
            // At the same address: people sign in with the same provider.
            tweak: Box::new(move |c| {
                key_config(c);
                c.storage.dir = objects;
                c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            }),
            ..Options::default()
        },
    )
    .await;
    let mut citizen = person(&back, HOST, "citizen-verified").await;
    assert_eq!(
        crate::flows::citizen_case(&mut citizen, HOST, &case).await,
        before
    );
    assert_eq!(download(&mut citizen, &case).await, document);
    back.stop().await;
}

//! Moving a municipality between deployments: a municipality with data in
//! every module (an issued, signed parking permit; a nursery year and an
//! application with its document; a request of the reference module;
//! published audit heads) is exported, imported into a deployment on the
//! other database, compared there row by row and object by object, used
//! (citizen pages, signature verification, a new certificate signed with
//! the moved CA key, the audit trail verified), and moved back.

use crate::flows::{citizen_case, page, person, post, published_signature_verifies, submit};
use dimos_db::portable::{Kind, same_rows};
use dimos_it::{Backend, Options, TestApp, csrf_of, on_both_backends, tax_id, workspace_root};
use dimos_server::transfer::{self, Deployment, Dump};

on_both_backends!(a_municipality_moves_to_the_other_database_and_back);

const HOST: &str = "alimos.localhost";

fn deployment<'a>(app: &'a TestApp, sets: &'a [dimos_db::migrate::MigrationSet]) -> Deployment<'a> {
    Deployment {
        db: app.state.db(),
        objects: app.state.objects().as_ref(),
        signing: app.state.signing(),
        sets,
    }
}

/// A deployment with its own deployment key (`key` repeated), listening
/// on `port` (0: any): a municipality that moves keeps its address, and
/// its people their identity provider (the development one's issuer is
/// the address).
async fn deployment_app(b: Backend, key: u8, port: u16, demo: bool) -> TestApp {
    use base64::Engine as _;
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: demo.then(|| workspace_root().join("tenants")),
            tweak: Box::new(move |c| {
                c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                c.signing.key = Some(dimos_kernel::config::Secret::new(
                    base64::engine::general_purpose::STANDARD.encode([key; 32]),
                ));
            }),
            ..Options::default()
        },
    )
    .await;
    if demo {
        app.enable_module("alimos", "example", serde_json::json!({}))
            .await;
    }
    app
}

/// The transfer key of the deployment whose key is `key` repeated.
fn transfer_key(key: u8) -> dimos_signing::transfer::TransferKey {
    dimos_signing::service::Signing::new(
        [key; 32],
        365,
        std::sync::Arc::new(dimos_kernel::SystemClock),
        std::sync::Arc::new(dimos_signing::service::LocalCa),
    )
    .transfer_key()
    .unwrap()
}

/// Every table's rows compared, each cell as the PostgreSQL side's column
/// holds it; sealed keys differ by design (each deployment's own key).
fn assert_same(label: &str, pg: &[Dump], other: &[Dump]) {
    assert_eq!(pg.len(), other.len());
    let mut nonempty = 0;
    for (a, b) in pg.iter().zip(other) {
        assert_eq!(a.name, b.name);
        let names = |d: &Dump| d.columns.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>();
        assert_eq!(names(a), names(b), "{label}: columns of {}", a.name);
        let keep: Vec<usize> = (0..a.columns.len())
            .filter(|&i| {
                !dimos_signing::SEALED_COLUMNS
                    .iter()
                    .any(|(t, c)| *t == a.name && *c == a.columns[i].0)
            })
            .collect();
        let kinds: Vec<Kind> = keep.iter().map(|&i| a.columns[i].1).collect();
        let cut = |d: &Dump| -> Vec<Vec<_>> {
            d.rows
                .iter()
                .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
                .collect()
        };
        if let Err(e) = same_rows(&kinds, &cut(a), &cut(b)) {
            panic!("{label}: {}: {e}", a.name);
        }
        nonempty += usize::from(!a.rows.is_empty());
    }
    // Not a comparison of empty tables: most of them hold rows.
    assert!(nonempty >= 25, "{label}: only {nonempty} tables hold rows");
}

/// The municipality's objects, key and bytes.
async fn objects_of(app: &TestApp, id: uuid::Uuid) -> Vec<(String, Vec<u8>)> {
    let store = app.state.objects().as_ref();
    let mut out = vec![];
    for k in transfer::object_keys(store, id).await.unwrap() {
        let bytes = transfer::read_object(store, &k).await.unwrap();
        out.push((k, bytes));
    }
    out
}

/// The same objects, byte for byte; published heads compared without
/// their attestation (each deployment attests with its own key).
fn assert_same_objects(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) {
    let keys = |o: &[(String, Vec<u8>)]| o.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(a), keys(b));
    assert!(
        keys(a).iter().any(|k| k.starts_with("audit-heads/")),
        "{:?}",
        keys(a)
    );
    assert!(a.len() >= 2, "documents and heads: {:?}", keys(a));
    for ((k, x), (_, y)) in a.iter().zip(b) {
        if k.starts_with("audit-heads/") {
            let strip = |v: &[u8]| {
                let mut j: serde_json::Value = serde_json::from_slice(v).unwrap();
                j.as_object_mut().unwrap().remove("attestation");
                j
            };
            assert_eq!(strip(x), strip(y), "{k}");
        } else {
            assert_eq!(x, y, "{k}");
        }
    }
}

async fn audit_intact(app: &TestApp, id: uuid::Uuid) {
    let tdb = app.state.tenant_db(dimos_kernel::TenantId(id));
    let report = dimos_identity::AuditLog::verify(&tdb).await.unwrap();
    assert!(
        report.broken_at.is_none() && report.entries > 5,
        "{report:?}"
    );
    let heads =
        dimos_pages::audit_heads::check(app.state.objects().as_ref(), app.state.signing(), &tdb)
            .await
            .unwrap();
    assert!(heads.ok() && heads.heads > 0, "{heads:?}");
}

/// Waits for the deployment's registry to pick the municipality up.
async fn serving(app: &TestApp) {
    for _ in 0..100 {
        if app.get(HOST, "/").send().await.unwrap().status() == 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the imported municipality is not served");
}

/// The archive's entries, by name.
fn entries(archive: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = std::collections::BTreeMap::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = vec![];
        e.read_to_end(&mut bytes).unwrap();
        out.insert(name, bytes);
    }
    out
}

/// A well-formed archive made from `archive` with `change` applied, its
/// checksums made right again: what someone who doctors one would send.
fn doctored(
    archive: &std::path::Path,
    out: &std::path::Path,
    change: impl FnOnce(&mut transfer::Manifest, &mut std::collections::BTreeMap<String, Vec<u8>>),
) {
    use sha2::Digest;
    let mut files = entries(archive);
    let mut manifest: transfer::Manifest =
        serde_json::from_slice(&files.remove("manifest.json").unwrap()).unwrap();
    change(&mut manifest, &mut files);
    for t in &mut manifest.tables {
        if let Some(body) = files.get(&format!("tables/{}.jsonl", t.name)) {
            t.sha256 = hex::encode(sha2::Sha256::digest(body));
            t.rows = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count() as u64;
        }
    }
    for o in &mut manifest.objects {
        if let Some(body) = files.get(&format!("objects/{}", o.key)) {
            o.sha256 = hex::encode(sha2::Sha256::digest(body));
            o.size = body.len() as u64;
        }
    }
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(out).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        tar.append_data(&mut h, name, body.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// A change made to an archive's manifest and entries.
type Doctor<'a> =
    Box<dyn FnOnce(&mut transfer::Manifest, &mut std::collections::BTreeMap<String, Vec<u8>>) + 'a>;

/// Rewrites every row of one table in an archive's entries.
fn rewrite_rows(
    files: &mut std::collections::BTreeMap<String, Vec<u8>>,
    manifest: &transfer::Manifest,
    table: &str,
    column: &str,
    f: impl Fn(&dimos_db::portable::Cell) -> dimos_db::portable::Cell,
) {
    let t = manifest.tables.iter().find(|t| t.name == table).unwrap();
    let i = t.columns.iter().position(|(c, _)| c == column).unwrap();
    let name = format!("tables/{table}.jsonl");
    let mut out = vec![];
    for line in files[&name]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let mut row: Vec<dimos_db::portable::Cell> = serde_json::from_slice(line).unwrap();
        row[i] = f(&row[i]);
        out.extend(serde_json::to_vec(&row).unwrap());
        out.push(b'\n');
    }
    files.insert(name, out);
}

async fn a_municipality_moves_to_the_other_database_and_back(b: Backend) {
    let other = match b {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    };
    let source = deployment_app(b, 1, 0, true).await;
    let port = source.port();
    let sets = source.state.modules().migration_sets();

    // Data in every module.
    let (case, _permit) = crate::parking::issued(&source, HOST, "ΙΚΑ1234").await;
    let (stations, starts) = crate::nurseries::open_year(&source, HOST).await;
    let mut parent = person(&source, HOST, "parent-01").await;
    let fields = crate::nurseries::family_fields(
        "parent-01",
        starts,
        &[crate::nurseries::INFANT],
        false,
        1,
        15_000,
        &["resident"],
        &[&stations[0]],
    );
    let (status, _, html) = crate::nurseries::send_application(
        &source,
        &mut parent,
        HOST,
        &fields,
        &[("doc-family-status", "πιστοποιητικό.pdf")],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let mut citizen = person(&source, HOST, "citizen-verified").await;
    submit(&mut citizen, HOST, "Λακκούβα στην Κύπρου").await;
    let id = source.tenant_uuid("alimos");
    let tdb = source.state.tenant_db(dimos_kernel::TenantId(id));
    assert!(
        dimos_pages::audit_heads::publish_one(
            source.state.objects().as_ref(),
            source.state.signing(),
            &tdb,
            "alimos"
        )
        .await
        .unwrap()
    );
    // What the citizen sees of the permit, and the signed document.
    let before = citizen_case(&mut citizen, HOST, &case).await;
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    let reference: String = html
        .split("/verify/")
        .nth(1)
        .unwrap()
        .chars()
        .take(14)
        .collect();
    let doc = html
        .split(&format!("href=\"/cases/{case}/documents/"))
        .find(|s| {
            s.split('"')
                .nth(1)
                .is_some_and(|t| t.contains("Άδεια στάθμευσης"))
        })
        .map(|s| s.split('"').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("the permit on the case page: {html}"));
    let (res, _) = citizen
        .get(&citizen.url(HOST, &format!("/cases/{case}/documents/{doc}")))
        .await;
    let pdf = res.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(published_signature_verifies(&source, HOST, &reference, &pdf).await);

    // Exported for a deployment on the other database (deployment key 2).
    // The operator suspends the municipality first; here, the outbox is
    // emptied so that nothing changes after the export.
    crate::flows::settle(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("alimos.tar.gz");
    let manifest = transfer::export(
        deployment(&source, &sets),
        "alimos",
        &transfer_key(2),
        &archive,
    )
    .await
    .unwrap();
    assert_eq!(manifest.tenant.id, id);
    assert_eq!(manifest.unattested_heads, 0);
    let rows_of = |name: &str| {
        manifest
            .tables
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .rows
    };
    assert_eq!(rows_of("parking_permits"), 1);
    assert_eq!(rows_of("nursery_applications"), 1);
    assert_eq!(rows_of("signing_authorities"), 1);
    assert!(rows_of("example_notices") + rows_of("cases") >= 3);
    let source_rows = transfer::dump(deployment(&source, &sets), id, "alimos")
        .await
        .unwrap();
    let source_objects = objects_of(&source, id).await;
    assert!(
        source_objects.len() >= 4,
        "the permit, the application's files, a head"
    );
    source.stop().await;

    // Another deployment (key 3) refuses the archive made for key 2.
    let elsewhere = deployment_app(other, 3, 0, false).await;
    let err = transfer::import(deployment(&elsewhere, &sets), &archive)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("sealed for the deployment"),
        "{err:#}"
    );
    elsewhere.stop().await;

    // The target takes over the address.
    let target = deployment_app(other, 2, port, false).await;
    // A damaged archive is refused before anything is written.
    let damaged = dir.path().join("damaged.tar.gz");
    {
        let mut bytes = std::fs::read(&archive).unwrap();
        let n = bytes.len() / 2;
        bytes[n] ^= 0x20;
        std::fs::write(&damaged, bytes).unwrap();
    }
    assert!(
        transfer::import(deployment(&target, &sets), &damaged)
            .await
            .is_err()
    );
    // Well-formed but doctored archives (checksums made right): a document
    // pointing at another municipality's file, a table left out, a key
    // stored as text, a head the trail does not hold. Each refused whole.
    use dimos_db::portable::Cell;
    let other_file = |c: &Cell| match c {
        Cell::Text(_) => Cell::Text(format!("{}/stolen", uuid::Uuid::new_v4().simple())),
        c => c.clone(),
    };
    let as_text = |c: &Cell| match c.clone().coerce(dimos_db::portable::Kind::Uuid) {
        Ok(Cell::Uuid(u)) => Cell::Text(u.to_string()),
        _ => c.clone(),
    };
    let cases: Vec<(&str, Doctor<'_>)> = vec![
        (
            "not the municipality's",
            Box::new(|m, f| rewrite_rows(f, m, "documents", "object_key", other_file)),
        ),
        (
            "the archive's tables are",
            Box::new(|m, f| {
                m.tables.retain(|t| t.name != "parking_permits");
                f.remove("tables/parking_permits.jsonl");
            }),
        ),
        (
            "is not a",
            Box::new(|m, f| rewrite_rows(f, m, "cases", "tenant_id", as_text)),
        ),
        (
            "does not match the archive's audit trail",
            Box::new(|_, f| {
                let key = f
                    .keys()
                    .find(|k| k.starts_with("objects/audit-heads/"))
                    .unwrap()
                    .clone();
                let mut head: serde_json::Value = serde_json::from_slice(&f[&key]).unwrap();
                head["hash"] = serde_json::Value::from("0".repeat(64));
                f.insert(key, serde_json::to_vec(&head).unwrap());
            }),
        ),
    ];
    for (n, (expected, change)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("doctored-{n}.tar.gz"));
        doctored(&archive, &path, change);
        let err = transfer::import(deployment(&target, &sets), &path)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains(expected), "{expected}: {err:#}");
    }
    assert!(
        transfer::object_keys(target.state.objects().as_ref(), id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        transfer::object_keys(target.state.objects().as_ref(), id)
            .await
            .unwrap()
            .is_empty()
    );
    let count: i64 = target.sql_value("SELECT COUNT(*) FROM tenants").await;
    assert_eq!(count, 0);

    let done = transfer::import(deployment(&target, &sets), &archive)
        .await
        .unwrap();
    assert!(done.rows > 50, "{}", done.rows);
    // Twice is refused: nothing is written a second time.
    let again = transfer::import(deployment(&target, &sets), &archive)
        .await
        .unwrap_err();
    assert!(
        format!("{again:#}").contains("exists here already"),
        "{again:#}"
    );

    // Row by row, object by object.
    let target_rows = transfer::dump(deployment(&target, &sets), id, "alimos")
        .await
        .unwrap();
    match b {
        Backend::Postgres => assert_same("after the move", &source_rows, &target_rows),
        Backend::Sqlite => assert_same("after the move", &target_rows, &source_rows),
    }
    assert_same_objects(&source_objects, &objects_of(&target, id).await);

    // The citizen signs in there and finds the same case; the signature
    // verifies; the trail verifies against the heads, attested anew.
    serving(&target).await;
    let mut moved = person(&target, HOST, "citizen-verified").await;
    assert_eq!(citizen_case(&mut moved, HOST, &case).await, before);
    assert!(published_signature_verifies(&target, HOST, &reference, &pdf).await);
    audit_intact(&target, id).await;
    // The CA's private key moved too: it issues a certificate there.
    let mut admin = person(&target, HOST, "municipal-admin").await;
    let (_, html) = page(&mut admin, HOST, "/admin/signing").await;
    let (status, _, html) = post(
        &mut admin,
        HOST,
        "/admin/signing/issue",
        &csrf_of(&html),
        &[("tax_id", tax_id("technical-employee"))],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let certs: i64 = target
        .sql_value("SELECT COUNT(*) FROM signing_certificates")
        .await;
    assert_eq!(certs, 2, "the moved one (now revoked) and the new one");

    // And back, to a fresh deployment on the first database (key 4).
    crate::flows::settle(&target).await;
    let archive_back = dir.path().join("back.tar.gz");
    transfer::export(
        deployment(&target, &sets),
        "alimos",
        &transfer_key(4),
        &archive_back,
    )
    .await
    .unwrap();
    let target_rows = transfer::dump(deployment(&target, &sets), id, "alimos")
        .await
        .unwrap();
    target.stop().await;
    let back = deployment_app(b, 4, port, false).await;
    transfer::import(deployment(&back, &sets), &archive_back)
        .await
        .unwrap();
    let back_rows = transfer::dump(deployment(&back, &sets), id, "alimos")
        .await
        .unwrap();
    match b {
        Backend::Postgres => assert_same("moved back", &back_rows, &target_rows),
        Backend::Sqlite => assert_same("moved back", &target_rows, &back_rows),
    }
    serving(&back).await;
    audit_intact(&back, id).await;
    let mut home = person(&back, HOST, "citizen-verified").await;
    assert_eq!(citizen_case(&mut home, HOST, &case).await, before);
    assert!(published_signature_verifies(&back, HOST, &reference, &pdf).await);
    back.stop().await;
}

on_both_backends!(a_suspended_municipality_is_deleted_after_its_final_archive);

/// Offboarding: refused while active and within the retention period;
/// then the final archive is written, every row and object of the
/// municipality goes, the operator's history of it stays, and the archive
/// brings it back.
async fn a_suspended_municipality_is_deleted_after_its_final_archive(b: Backend) {
    let app = deployment_app(b, 5, 0, true).await;
    let sets = app.state.modules().migration_sets();
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    let (case, _) = crate::parking::apply(&app, &mut citizen, HOST, "ΚΗΡ4321").await;
    let before = citizen_case(&mut citizen, HOST, &case).await;
    let id = app.tenant_uuid("alimos");
    let tdb = app.state.tenant_db(dimos_kernel::TenantId(id));
    dimos_pages::audit_heads::publish_one(
        app.state.objects().as_ref(),
        app.state.signing(),
        &tdb,
        "alimos",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("final.tar.gz");
    let month = chrono::Duration::days(30);

    let err = transfer::offboard(deployment(&app, &sets), "alimos", &archive, month, "test")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("suspend it first"), "{err:#}");
    let res = app
        .post("admin.localhost", "/api/v1/tenants/alimos/suspend")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let err = transfer::offboard(deployment(&app, &sets), "alimos", &archive, month, "test")
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("may be deleted from"),
        "{err:#}"
    );
    assert!(!archive.exists());
    let objects = objects_of(&app, id).await;
    assert!(!objects.is_empty());

    let done = transfer::offboard(
        deployment(&app, &sets),
        "alimos",
        &archive,
        chrono::Duration::zero(),
        "test",
    )
    .await
    .unwrap();
    assert!(done.rows > 20 && done.objects_left.is_empty(), "{done:?}");
    for t in transfer::dump(deployment(&app, &sets), id, "alimos")
        .await
        .unwrap()
    {
        if t.name == "platform_audit" {
            let actions: Vec<String> = t
                .rows
                .iter()
                .filter_map(|r| match &r[3] {
                    dimos_db::portable::Cell::Text(a) => Some(a.clone()),
                    _ => None,
                })
                .collect();
            assert!(actions.iter().any(|a| a == "tenant.deleted"), "{actions:?}");
        } else {
            assert!(t.rows.is_empty(), "{} keeps {} rows", t.name, t.rows.len());
        }
    }
    assert!(objects_of(&app, id).await.is_empty());
    for _ in 0..100 {
        if app.get(HOST, "/").send().await.unwrap().status() == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.get(HOST, "/").send().await.unwrap().status(), 404);

    // The final archive brings it back, whole.
    transfer::import(deployment(&app, &sets), &archive)
        .await
        .unwrap();
    assert_same_objects(&objects, &objects_of(&app, id).await);
    let res = app
        .post("admin.localhost", "/api/v1/tenants/alimos/resume")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    serving(&app).await;
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    assert_eq!(citizen_case(&mut citizen, HOST, &case).await, before);
    app.stop().await;
}

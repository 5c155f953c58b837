//! The `dimos` binary as an operator runs it: real processes, real
//! PostgreSQL. (The HTTP behaviour itself is tested in `tests/it`.)

// Test support: a failed unwrap is a failed test, the peers' addresses come
// from the environment, and the tests read any tenant's rows as an
// attacker with database access would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use sqlx::Connection;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DIMOS: &str = env!("CARGO_BIN_EXE_dimos");

fn dimos(data_dir: &Path, db: &str, args: &[&str]) -> Output {
    Command::new(DIMOS)
        .args(args)
        .env("DIMOS_DATA_DIR", data_dir)
        .env("DATABASE_URL", db)
        .env("DIMOS_TENANCY__APPLY_ON_START", "")
        .env("NO_COLOR", "1")
        .output()
        .expect("dimos runs")
}

async fn fresh_postgres() -> String {
    let admin = std::env::var("DIMOS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is required at {admin} (infra/test.sh starts one): {e}")
        });
    let name = format!("dimos_cli_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child, u16, std::path::PathBuf);

impl Server {
    fn start(data_dir: &Path, db: &str) -> Server {
        Self::start_with(data_dir, db, &[])
    }

    /// With more settings (environment form); later ones win.
    fn start_with(data_dir: &Path, db: &str, settings: &[(&str, &str)]) -> Server {
        let port = free_port();
        let child = Command::new(DIMOS)
            .arg("serve")
            .env("DIMOS_DATA_DIR", data_dir)
            .env("DATABASE_URL", db)
            .env("DIMOS_LISTEN", format!("127.0.0.1:{port}"))
            .env("DIMOS_TENANCY__APPLY_ON_START", "")
            .env("DIMOS_LOG_FORMAT", "json")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data_dir.join("server.log")).expect("log file"))
            .spawn()
            .expect("dimos serve starts");
        Server(child, port, data_dir.join("server.log"))
    }

    async fn get(&self, host: &str, path: &str) -> Option<u16> {
        let client = reqwest::Client::new();
        let res = client
            .get(format!("http://127.0.0.1:{}{path}", self.1))
            .header("host", format!("{host}:{}", self.1))
            .send()
            .await
            .ok()?;
        Some(res.status().as_u16())
    }

    async fn wait(&self, host: &str, path: &str, want: u16, within: Duration) {
        let start = Instant::now();
        while self.get(host, path).await != Some(want) {
            if start.elapsed() > within {
                let log = std::fs::read_to_string(&self.2).unwrap_or_default();
                panic!("{host}{path} did not answer {want} within {within:?}; server log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn send_term(&self) {
        // SIGTERM is what orchestrators send; the server must exit cleanly.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
    }

    fn terminate(self) -> std::process::ExitStatus {
        self.send_term();
        self.exit_status()
    }

    fn exit_status(mut self) -> std::process::ExitStatus {
        self.0.wait().expect("dimos exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[tokio::test]
async fn two_serve_processes_on_one_postgres_database() {
    let db = fresh_postgres().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(dir_a.path(), &db);
    let b = Server::start(dir_b.path(), &db);
    a.wait("127.0.0.1", "/readyz", 200, Duration::from_secs(30))
        .await;
    b.wait("127.0.0.1", "/readyz", 200, Duration::from_secs(30))
        .await;
    assert_eq!(b.get("omikron.localhost", "/").await, Some(404));
    // `dimos healthcheck`, what a container's HEALTHCHECK runs.
    let healthcheck = |port: u16| {
        Command::new(DIMOS)
            .arg("healthcheck")
            .env("DIMOS_LISTEN", format!("0.0.0.0:{port}"))
            .env("DIMOS_TENANCY__APPLY_ON_START", "")
            .output()
            .expect("dimos runs")
    };
    assert!(healthcheck(a.1).status.success());
    let nobody = healthcheck(free_port());
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("/readyz"));

    let body = serde_json_body("omikron");
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/api/v1/tenants", a.1))
        .header("host", format!("admin.localhost:{}", a.1))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created = Instant::now();
    b.wait("omikron.localhost", "/", 200, Duration::from_secs(5))
        .await;
    println!("served by the other process after {:?}", created.elapsed());

    // SIGTERM: not ready at once, still alive and serving while balancers
    // move away (http.drain_secs, 3 s by default), then a clean exit.
    let stopping = Instant::now();
    a.send_term();
    a.wait("127.0.0.1", "/readyz", 503, Duration::from_secs(2))
        .await;
    let draining = healthcheck(a.1);
    assert!(!draining.status.success(), "not healthy while draining");
    assert!(String::from_utf8_lossy(&draining.stderr).contains("draining"));
    assert_eq!(
        a.get("omikron.localhost", "/").await,
        Some(200),
        "still serving while draining"
    );
    assert!(a.exit_status().success(), "SIGTERM exits with status 0");
    assert!(
        stopping.elapsed() >= Duration::from_secs(3),
        "after the drain period"
    );
    assert!(b.terminate().success());
}

fn serde_json_body(slug: &str) -> String {
    format!(
        r##"{{"slug":"{slug}","name":{{"el":"Δήμος Όμικρον","en":"Municipality of Omikron"}},"branding":{{"primary_colour":"#003476"}}}}"##
    )
}

#[tokio::test]
async fn tenants_apply_reports_changes_and_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let files = dir.path().join("tenants");
    std::fs::create_dir(&files).unwrap();
    let good = "slug = \"pi\"\n[name]\nel = \"Δήμος Πι\"\nen = \"Municipality of Pi\"\n[branding]\nprimary_colour = \"#003476\"\n";
    std::fs::write(files.join("pi.toml"), good).unwrap();

    let out = dimos(
        dir.path(),
        &db,
        &["tenants", "apply", files.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pi: created\n");
    let out = dimos(
        dir.path(),
        &db,
        &["tenants", "apply", files.to_str().unwrap()],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pi: unchanged\n");

    std::fs::write(files.join("pi.toml"), good.replace("#003476", "#eeeeee")).unwrap();
    let out = dimos(
        dir.path(),
        &db,
        &["tenants", "apply", files.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pi.toml:6: branding.primary_colour"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");

    let out = dimos(dir.path(), &db, &["tenants", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.starts_with("pi ") && list.contains("active") && list.contains("pi.localhost"),
        "{list}"
    );

    let out = dimos(dir.path(), &db, &["migrate"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

#[test]
fn config_default_prints_commented_defaults_and_bad_config_exits_2() {
    let out = Command::new(DIMOS)
        .args(["config", "default"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("listen = \"127.0.0.1:8080\"") && text.contains("# postgres://"),
        "{text}"
    );

    let out = Command::new(DIMOS)
        .arg("migrate")
        .env("DIMOS_HTTP__BODY_LIMIT_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("body_limit_bytes"), "{err}");
}

#[tokio::test]
async fn audit_verify_detects_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let files = dir.path().join("tenants");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(
        files.join("rho.toml"),
        "slug = \"rho\"\n[name]\nel = \"Δήμος Ρο\"\nen = \"Municipality of Rho\"\n[branding]\nprimary_colour = \"#003476\"\n",
    )
    .unwrap();
    assert!(
        dimos(
            dir.path(),
            &db_url,
            &["tenants", "apply", files.to_str().unwrap()]
        )
        .status
        .success()
    );

    let db = dimos_db::Db::connect(&db_url, &Default::default())
        .await
        .unwrap();
    let tenant: (uuid::Uuid,) = db
        .fetch_one(
            &sea_query::Query::select()
                .column("id")
                .from("tenants")
                .and_where(sea_query::ExprTrait::eq(
                    sea_query::Expr::col("slug"),
                    "rho",
                ))
                .to_owned(),
        )
        .await
        .unwrap();
    let tdb = dimos_db::TenantDb::new(db.clone(), dimos_kernel::TenantId(tenant.0));
    for action in ["sign_in", "account_verified"] {
        let e = dimos_identity::AuditEntry {
            actor: "account:1".into(),
            action: action.into(),
            ..Default::default()
        };
        dimos_identity::AuditLog::append(&tdb, &e).await.unwrap();
    }
    let out = dimos(dir.path(), &db_url, &["audit", "publish"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 heads published\n");
    let out = dimos(dir.path(), &db_url, &["audit", "verify"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rho: 2 entries, chain intact\nrho: 1 published heads agree\n"
    );

    // Someone with database access cuts the trail's end: the chain that
    // is left is consistent, the published head is not.
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db_url)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = dimos(dir.path(), &db_url, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rho: 1 entries, chain intact\nrho: the trail was CUT or REWRITTEN: it contradicts the heads published at entries [2]; heads that fail their attestation: []\n"
    );
    // Put back (as it was), so the edit below is the only damage.
    dimos_identity::AuditLog::append(
        &tdb,
        &dimos_identity::AuditEntry {
            actor: "account:1".into(),
            action: "account_verified".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Someone edits history directly in the database.
    sqlx::query("UPDATE audit_log SET actor = 'account:2' WHERE seq = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = dimos(dir.path(), &db_url, &["audit", "verify", "rho"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("rho: 2 entries, chain BROKEN at entry 1\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A municipality moves from a SQLite deployment to a PostgreSQL one with
/// the commands an operator types: the target's transfer key, the export
/// for it, the import there (and a second import refused).
#[tokio::test]
async fn tenants_export_and_import_move_a_municipality() {
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let from_db = format!("sqlite://{}?mode=rwc", from.path().join("d.db").display());
    let to_db = fresh_postgres().await;
    let files = from.path().join("rho.toml");
    std::fs::write(
        &files,
        "slug = \"rho\"\n[name]\nel = \"Δήμος Ρο\"\nen = \"Municipality of Rho\"\n[branding]\nprimary_colour = \"#003476\"\n",
    )
    .unwrap();
    let ok = |out: &Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&dimos(
        from.path(),
        &from_db,
        &["tenants", "apply", files.to_str().unwrap()],
    ));

    let key = ok(&dimos(to.path(), &to_db, &["tenants", "transfer-key"]));
    assert!(key.starts_with("dimos-transfer-1:"), "{key}");
    let archive = from.path().join("rho.tar.gz");
    let out = ok(&dimos(
        from.path(),
        &from_db,
        &[
            "tenants",
            "export",
            "rho",
            "--to",
            key.trim(),
            "--out",
            archive.to_str().unwrap(),
        ],
    ));
    assert!(
        out.starts_with("rho: ") && out.contains("written to"),
        "{out}"
    );
    // A key typed wrong is refused before anything is read.
    let out = dimos(
        from.path(),
        &from_db,
        &["tenants", "export", "rho", "--to", "abc"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("transfer key"));

    let out = ok(&dimos(
        to.path(),
        &to_db,
        &["tenants", "import", archive.to_str().unwrap()],
    ));
    assert!(
        out.starts_with("rho: ") && out.contains("imported"),
        "{out}"
    );
    let list = ok(&dimos(to.path(), &to_db, &["tenants", "list"]));
    assert!(
        list.starts_with("rho ") && list.contains("active"),
        "{list}"
    );
    let out = dimos(
        to.path(),
        &to_db,
        &["tenants", "import", archive.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exists here already") && err.contains("nothing was imported"),
        "{err}"
    );
}

/// The backup commands as an operator types them: a backup of a SQLite
/// deployment, its verification, and a folder that is not empty refused.
#[tokio::test]
async fn backup_and_verify_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let file = dir.path().join("pi.toml");
    std::fs::write(
        &file,
        "slug = \"pi\"\n[name]\nel = \"Δήμος Πι\"\nen = \"Municipality of Pi\"\n[branding]\nprimary_colour = \"#003476\"\n",
    )
    .unwrap();
    let out = dimos(
        dir.path(),
        &db,
        &["tenants", "apply", file.to_str().unwrap()],
    );
    assert!(out.status.success());
    let backup = dir.path().join("backup");
    let out = dimos(
        dir.path(),
        &db,
        &["backup", "--out", backup.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 municipalities"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deployment key is not in the backup"));
    let out = dimos(
        dir.path(),
        &db,
        &["verify-backup", backup.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no problem found"));
    let out = dimos(
        dir.path(),
        &db,
        &["backup", "--out", backup.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

/// Operator API tokens from the command line: made (printed once),
/// listed without their secret, revoked; an unknown scope refused.
#[tokio::test]
async fn operator_tokens_are_made_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let out = dimos(
        dir.path(),
        &db,
        &[
            "operator-tokens",
            "create",
            "--name",
            "ci",
            "--scope",
            "tenants:read",
            "--days",
            "30",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("dimos_op_"), "{token}");
    let list = dimos(dir.path(), &db, &["operator-tokens", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed.contains(" ci ") && listed.contains("active") && listed.contains("tenants:read"),
        "{listed}"
    );
    assert!(!listed.contains(&token[30..]), "never the secret");
    let id = listed.split_whitespace().next().unwrap().to_owned();
    let out = dimos(dir.path(), &db, &["operator-tokens", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = dimos(dir.path(), &db, &["operator-tokens", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("revoked"));
    let out = dimos(dir.path(), &db, &["operator-tokens", "revoke", &id]);
    assert_eq!(out.status.code(), Some(1));
    let out = dimos(
        dir.path(),
        &db,
        &[
            "operator-tokens",
            "create",
            "--name",
            "x",
            "--scope",
            "tenants:delete",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope"));
}

/// A collector's OTLP/HTTP receiver on loopback: what the server sends to
/// `/v1/traces`, with the headers it came with.
async fn collector() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>>,
) {
    use axum::routing::post;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push((headers, body));
                // An empty ExportTraceServiceResponse: all accepted.
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

// Two threads: the collector answers while the test waits for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_are_exported_over_otlp_and_continue_the_callers_trace() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message;

    let (endpoint, got) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dimos.db").display()
    );
    let tenants = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tenants");
    let server = Server::start_with(
        dir.path(),
        &db,
        &[
            ("DIMOS_TENANCY__APPLY_ON_START", tenants),
            ("DIMOS_TELEMETRY__OTLP_ENDPOINT", &endpoint),
            ("DIMOS_TELEMETRY__OTLP_HEADERS", "x-collector-key=s3cret"),
            ("DIMOS_TELEMETRY__SERVICE_NAME", "dimos-test"),
        ],
    );
    server
        .wait("alimos.localhost", "/", 200, Duration::from_secs(60))
        .await;
    // The proxy's trace: the server's span must join it.
    let (trace_id, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/", server.1))
        .header("host", format!("alimos.localhost:{}", server.1))
        .header("traceparent", format!("00-{trace_id}-{parent}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    // SIGTERM: what is queued is sent before the process exits.
    assert!(server.terminate().success());

    let got = got.lock().unwrap();
    assert!(!got.is_empty(), "the collector received nothing");
    let mut found = None;
    for (headers, body) in got.iter() {
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-collector-key"], "s3cret");
        let req = ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf");
        for rs in &req.resource_spans {
            let resource = rs.resource.as_ref().unwrap();
            let service = resource
                .attributes
                .iter()
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.clone());
            assert_eq!(service, Some(Value::StringValue("dimos-test".into())));
            for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                let attr = |k: &str| {
                    span.attributes
                        .iter()
                        .find(|a| a.key == k)
                        .and_then(|a| a.value.as_ref()?.value.clone())
                };
                if span.name == "request"
                    && attr("request_id") == Some(Value::StringValue(request_id.clone()))
                {
                    found = Some((
                        hex::encode(&span.trace_id),
                        hex::encode(&span.parent_span_id),
                        attr("tenant"),
                        attr("status"),
                        attr("path"),
                    ));
                }
            }
        }
    }
    let (trace, parent_span, tenant, status, path) =
        found.expect("the request's span was exported");
    assert_eq!(trace, trace_id, "the caller's trace is continued");
    assert_eq!(parent_span, parent);
    assert_eq!(tenant, Some(Value::StringValue("alimos".into())));
    assert_eq!(status, Some(Value::IntValue(200)));
    assert_eq!(path, Some(Value::StringValue("/".into())));
}

#[test]
fn a_bad_telemetry_setting_is_named_and_exits_2() {
    for (key, value, names) in [
        (
            "DIMOS_TELEMETRY__OTLP_ENDPOINT",
            "collector:4318",
            "telemetry.otlp_endpoint",
        ),
        (
            "DIMOS_TELEMETRY__SAMPLE_RATIO",
            "1.5",
            "telemetry.sample_ratio",
        ),
        (
            "DIMOS_TELEMETRY__OTLP_HEADERS",
            "no-equals-sign",
            "telemetry.otlp_headers",
        ),
    ] {
        let out = Command::new(DIMOS)
            .arg("healthcheck")
            .env(key, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(names), "{key}={value}: {err}");
    }
}

#[test]
fn openapi_prints_the_committed_document_and_check_tells_a_difference() {
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api/openapi.json");
    let out = Command::new(DIMOS).arg("openapi").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(committed).unwrap()
    );
    let ok = Command::new(DIMOS)
        .args(["openapi", "--check", committed])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("openapi.json");
    std::fs::write(&stale, "{}\n").unwrap();
    let out = Command::new(DIMOS)
        .arg("openapi")
        .arg("--check")
        .arg(&stale)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dimos openapi >"));
}

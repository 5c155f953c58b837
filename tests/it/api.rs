//! The public API's foundation: the catalogue at `/api/v1/services`, the
//! OpenAPI document and its reference page, errors as problem+json.

use dimos_it::{Backend, Options, TestApp, browser_headers, on_both_backends, workspace_root};
use serde_json::Value;

on_both_backends!(
    the_catalogue_lists_each_municipalitys_services_with_their_forms,
    the_document_and_the_reference_page_describe_the_api,
    schemathesis_finds_nothing_the_document_does_not_say,
    a_client_generated_from_the_document_reads_a_case,
    the_nurseries_public_facts_without_a_token
);

const HOST: &str = "alimos.localhost";

async fn demo(b: Backend) -> TestApp {
    TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await
}

async fn json(app: &TestApp, host: &str, path: &str) -> (u16, String, Value) {
    let res = app
        .get(host, path)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, kind, res.json().await.unwrap())
}

async fn the_catalogue_lists_each_municipalitys_services_with_their_forms(b: Backend) {
    let app = demo(b).await;
    let (status, kind, list) = json(&app, HOST, "/api/v1/services").await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/json");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "a stable order");
    for id in [
        "parking.permit",
        "certificates.request",
        "nurseries.registration",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // The certificate's application is the generic form: its JSON Schema.
    let cert = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "certificates.request")
        .unwrap();
    assert_eq!(cert["module"], "certificates");
    assert_eq!(cert["lead_time_days"], 3);
    assert_eq!(
        cert["name"]["en"],
        "Certificate of family status or of residence"
    );
    let form = &cert["form"];
    assert_eq!(form["type"], "object");
    assert_eq!(form["additionalProperties"], false);
    assert_eq!(
        form["properties"]["kind"]["enum"],
        serde_json::json!(["family-status", "residence"])
    );
    assert_eq!(form["properties"]["birth_date"]["format"], "date");
    assert_eq!(form["properties"]["father_name"]["maxLength"], 100);
    assert_eq!(
        form["required"],
        serde_json::json!(["kind", "father_name", "birth_date", "purpose"])
    );
    assert_eq!(cert["documents"][0]["id"], "residence-proof");
    assert_eq!(cert["documents"][0]["required"], false);
    // Parking's application is the module's own page: no generic form.
    let parking = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "parking.permit")
        .unwrap();
    assert!(parking["form"].is_null(), "{parking}");
    assert!(!parking["documents"].as_array().unwrap().is_empty());

    // One service; the same as in the list.
    let (status, _, one) = json(&app, HOST, "/api/v1/services/certificates.request").await;
    assert_eq!(status, 200);
    assert_eq!(&one, cert);

    // A municipality without these modules offers none of them, and a
    // service it does not offer is not found there.
    let (status, _, none) = json(&app, "papagou-cholargou.localhost", "/api/v1/services").await;
    assert_eq!(status, 200);
    assert!(
        !none
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "parking.permit"),
        "{none}"
    );
    for (host, path) in [
        (
            "papagou-cholargou.localhost",
            "/api/v1/services/parking.permit",
        ),
        (HOST, "/api/v1/services/no.such"),
    ] {
        let (status, kind, problem) = json(&app, host, path).await;
        assert_eq!(status, 404, "{host}{path}");
        assert_eq!(kind, "application/problem+json");
        assert_eq!(problem["code"], "not_found");
        assert_eq!(problem["status"], 404);
        assert!(
            problem["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
    }
    // A control character is refused before anything looks it up.
    let (status, kind, problem) = json(&app, HOST, "/api/v1/services/%00").await;
    assert!(matches!(status, 400 | 404), "{status}");
    assert_eq!(kind, "application/problem+json");
    assert!(problem["code"].is_string());
    // No municipality at this host.
    let (status, kind, _) = json(&app, "nowhere.localhost", "/api/v1/services").await;
    assert_eq!(status, 404);
    assert_eq!(kind, "application/problem+json");

    // Another method: 405 with the methods there are.
    let res = app.post(HOST, "/api/v1/services").send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(
        res.headers()["allow"].to_str().unwrap().contains("GET"),
        "{:?}",
        res.headers()
    );
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "method_not_allowed");

    // Any web page may read the catalogue from a script.
    let res = app
        .get(HOST, "/api/v1/services")
        .header("origin", "https://www.alimos.gov.gr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

async fn the_document_and_the_reference_page_describe_the_api(b: Backend) {
    let app = demo(b).await;
    let (status, kind, doc) = json(&app, HOST, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(
            &std::fs::read_to_string(workspace_root().join("docs/api/openapi.json")).unwrap()
        )
        .unwrap(),
        "the served document is the committed one"
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/services"));
    // Every operation in the document is served here (none documented and
    // missing): the public ones answer, the others ask for a token.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let real = path.replace("{id}", "certificates.request");
            let res = app
                .req(method.to_uppercase().parse().unwrap(), HOST, &real)
                .send()
                .await
                .unwrap();
            let public = op["security"]
                .as_array()
                .is_none_or(|s| s.iter().any(|r| r.as_object().unwrap().is_empty()));
            let status = res.status().as_u16();
            if public {
                // A made-up id may name nothing; a path without one must
                // be there.
                if !path.contains('{') {
                    assert_ne!(status, 404, "{method} {real}");
                }
                assert_ne!(status, 405, "{method} {real}");
                assert!(status < 500, "{method} {real}: {status}");
            } else {
                assert_eq!(status, 401, "{method} {real}");
            }
        }
    }

    // The reference page, reached as a browser does, names each operation
    // and each schema.
    let res = app
        .get(HOST, "/api/v1")
        .headers(browser_headers())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    for op in paths.values().flat_map(|p| p.as_object().unwrap().values()) {
        let id = op["operationId"].as_str().unwrap();
        assert!(html.contains(&format!("id=\"op-{id}\"")), "{id} in {html}");
    }
    for schema in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            html.contains(&format!("id=\"schema-{schema}\"")),
            "{schema}"
        );
    }
    assert!(html.contains("href=\"/api/v1/openapi.json\""));
    assert!(
        !html.contains("<script src=\"http"),
        "nothing from elsewhere"
    );
}

/// Schemathesis (PyPI; infra/test.sh installs it) generates requests from
/// the served document, valid and invalid, and checks every answer against
/// it: no server error, every status, content type and body as documented.
async fn schemathesis_finds_nothing_the_document_does_not_say(b: Backend) {
    // Its hundreds of requests a second are one client's: above the
    // shipped rate, which would make most answers a (documented) 429. Its
    // stateful phase sends tokens it made up, which count as guesses
    // against the address's sign-in limit: on a fast machine enough of them
    // fall in one minute to answer 429 where it expects 401 (seen in CI).
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            tweak: Box::new(|c| {
                c.http.api_requests_per_minute = 1_000_000;
                c.identity.sign_in_attempts_per_minute = 1_000_000;
            }),
            ..Options::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    let body = app
        .get(HOST, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(&spec, body).unwrap();
    // A client that may read cases, so the cases' answers are tried too.
    let mut admin = crate::flows::person(&app, HOST, "municipal-admin").await;
    let (_, html) = crate::api_clients::register(
        &mut admin,
        HOST,
        &[
            ("name", "Schemathesis"),
            ("scope", "cases.read"),
            ("scope", "protocol.read"),
            ("scope", "parking.register"),
        ],
    )
    .await;
    let (id, secret) = crate::api_clients::credentials(&html);
    let token = crate::api_clients::token(&app, HOST, &id, &secret).await;
    let base = format!("http://127.0.0.1:{}", app.port());
    let host = format!("Host: {HOST}:{}", app.port());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    let run = async |token: &str, tags: &[&str], exclude: &[&str]| {
        let auth = format!("Authorization: Bearer {token}");
        let mut cmd = tokio::process::Command::new("python3");
        cmd.args(["-m", "schemathesis.cli", "run"])
            .arg(&spec)
            .args([
                "--url", &base, "--header", &host, "--header", &auth, "--checks", "all",
            ])
            .args(["--max-examples", "40", "--seed", "1", "--no-color"]);
        for t in tags {
            cmd.args(["--include-tag", t]);
        }
        for c in exclude {
            cmd.args(["--exclude-checks", c]);
        }
        let out = cmd
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(dir.path())
            .output()
            .await
            .expect("python3 -m schemathesis (infra/test.sh installs it)");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "schemathesis:\n{report}");
        // Every operation chosen was tried.
        let operations = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|p| p.as_object().unwrap().values())
            .filter(|op| {
                tags.is_empty()
                    || op["tags"]
                        .as_array()
                        .is_some_and(|ts| ts.iter().any(|t| tags.contains(&t.as_str().unwrap())))
            })
            .count();
        assert!(
            report.contains(&format!("Tested: {operations}")),
            "{operations} operations: {report}"
        );
        report
    };
    run(&token, &[], &[]).await;
    // A person's own app: applying (documents, applications, withdrawing)
    // and their own cases, with the token their provider issued. Whether
    // an application is acceptable depends on what the document cannot
    // say (the chosen service's form, a document uploaded before, the
    // file's real type), so a well-formed one refused with a 422 is not a
    // fault here; every other check stands.
    let citizen = dimos_it::citizen_token(&app, HOST, "citizen-verified").await;
    // A case of the citizen's first, so that there is a task to work.
    let mut application = crate::api_apply::application("");
    application["documents"] = serde_json::json!([]);
    let (status, _, _) = crate::api_apply::apply(&app, &citizen, None, &application).await;
    assert_eq!(status, 201);
    let report = run(
        &citizen,
        &["applying", "cases"],
        &["positive_data_acceptance"],
    )
    .await;
    assert!(!report.contains("Authentication failed"), "{report}");
    // A system working the registry's queue: the tasks, with the same
    // reservation (an outcome is acceptable only for its task's step).
    crate::api_clients::take_role(&mut admin, HOST, "kep-officer").await;
    let (_, html) = crate::api_clients::register(
        &mut admin,
        HOST,
        &[
            ("name", "Schemathesis tasks"),
            ("scope", "tasks.work"),
            ("role", "kep-officer"),
        ],
    )
    .await;
    let (id, secret) = crate::api_clients::credentials(&html);
    let worker = crate::api_clients::token(&app, HOST, &id, &secret).await;
    let report = run(&worker, &["tasks"], &["positive_data_acceptance"]).await;
    assert!(!report.contains("Authentication failed"), "{report}");
}

/// An integrator's view: a Python client generated from the served
/// document by openapi-python-client (PyPI; infra/test.sh installs it)
/// lists the cases, reads one and its timeline, through its own models;
/// and, as a citizen's app, uploads a document, applies with it, lists
/// its own cases and reads the new one's timeline.
async fn a_client_generated_from_the_document_reads_a_case(b: Backend) {
    let app = demo(b).await;
    let mut citizen = crate::flows::person(&app, HOST, "citizen-verified").await;
    let (case, _) = crate::parking::apply(&app, &mut citizen, HOST, "ΚΗΧ3003").await;
    let mut admin = crate::flows::person(&app, HOST, "municipal-admin").await;
    let (_, html) = crate::api_clients::register(
        &mut admin,
        HOST,
        &[("name", "Πύλη δήμου"), ("scope", "cases.read")],
    )
    .await;
    let (id, secret) = crate::api_clients::credentials(&html);
    let token = crate::api_clients::token(&app, HOST, &id, &secret).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    let body = app
        .get(HOST, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(&spec, body).unwrap();
    let out = tokio::process::Command::new("python3")
        .arg(workspace_root().join("tests/python/generated_client.py"))
        .arg(&spec)
        .arg(format!("http://127.0.0.1:{}", app.port()))
        .arg(format!("{HOST}:{}", app.port()))
        .arg(&token)
        .arg(&case)
        .arg(dimos_it::citizen_token(&app, HOST, "parent-03").await)
        .arg(dir.path())
        .output()
        .await
        .expect("python3 with openapi-python-client (infra/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(read["listed"], serde_json::json!([case]));
    assert_eq!(read["service"], "parking.permit");
    let protocol = read["protocol"].as_str().unwrap();
    assert!(
        protocol
            .split_once('/')
            .is_some_and(|(n, y)| n.parse::<u32>().is_ok() && y.len() == 4),
        "{protocol}"
    );
    assert_eq!(
        read["events"],
        serde_json::json!(["submitted", "document-added", "registered", "stage"]),
        "{read}"
    );
    // The application went in whole, with its document, once.
    use sha2::Digest;
    assert_eq!(
        read["document_sha256"],
        hex::encode(sha2::Sha256::digest(b"%PDF-1.7\n% generated client\n"))
    );
    assert_eq!(read["own"], serde_json::json!([read["filed"]]), "{read}");
    assert!(read["filed_protocol"].as_str().is_some(), "{read}");
    let own: Vec<&str> = read["own_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(
        own[..3],
        ["submitted", "document-added", "registered"],
        "{read}"
    );
    let n: i64 = app
        .sql_value(
            "SELECT COUNT(*) FROM documents WHERE case_id IS NOT NULL AND kind = 'residence-proof'",
        )
        .await;
    assert_eq!(n, 1);
}

/// A module's public resources: the nurseries' stations, years and places,
/// as the public pages show them, readable by anyone from anywhere.
async fn the_nurseries_public_facts_without_a_token(b: Backend) {
    let app = demo(b).await;
    let (stations, starts) = crate::nurseries::open_year(&app, HOST).await;
    let (status, kind, listed) = json(&app, HOST, "/api/v1/nurseries/stations").await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "application/json"),
        "{listed}"
    );
    let mut ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = stations.clone();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(listed[0]["name"], "Α' Παιδικός Σταθμός");
    let (_, _, years) = json(&app, HOST, "/api/v1/nurseries/years").await;
    let year = &years[0];
    assert_eq!(year["label"], "2027-2028");
    assert_eq!(year["phase"], "open");
    assert_eq!(year["starts_on"], starts.to_string());
    let (status, _, places) = json(
        &app,
        HOST,
        &format!(
            "/api/v1/nurseries/years/{}/places",
            year["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, 200);
    let places = places.as_array().unwrap();
    assert!(!places.is_empty());
    assert!(places.iter().all(|p| p["places"] == 10), "{places:?}");
    // Any web page may read them; another municipality has none of them.
    let res = app
        .get(HOST, "/api/v1/nurseries/stations")
        .header("origin", "https://www.alimos.gov.gr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let (status, _, _) = json(
        &app,
        "papagou-cholargou.localhost",
        "/api/v1/nurseries/stations",
    )
    .await;
    assert_eq!(status, 404, "the module is not enabled there");
    let (status, _, _) = json(
        &app,
        HOST,
        "/api/v1/nurseries/years/00000000-0000-0000-0000-000000000000/places",
    )
    .await;
    assert_eq!(status, 404);
}

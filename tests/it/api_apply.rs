//! A citizen's own app on the public API, with the access token the
//! municipality's identity provider issued to the person: it uploads a
//! document, applies with it (once per `Idempotency-Key`), follows its own
//! case and nobody else's, downloads the file as a browser would, and
//! withdraws. Clients, unverified people, other people and made-up tokens
//! are refused.

use crate::api_clients::{credentials, register};
use crate::flows::person;
use dimos_it::{Backend, Options, TestApp, citizen_token, on_both_backends, workspace_root};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_both_backends!(
    a_citizens_app_applies_with_a_document_follows_and_withdraws,
    the_api_refuses_what_it_should_and_says_why,
    a_parking_permit_is_applied_for_through_the_modules_own_resource
);

const HOST: &str = "alimos.localhost";
const OTHER: &str = "papagou-cholargou.localhost";
const BILL: &[u8] = b"%PDF-1.7\n% a utility bill\n";

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

pub(crate) async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    kind: &str,
    bytes: &[u8],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name("ΔΕΗ.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let mut req = app
        .post(HOST, "/api/v1/documents")
        .bearer_auth(token)
        .multipart(form);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    send(req).await
}

pub(crate) fn application(document: &str) -> Value {
    json!({
        "service": "certificates.request",
        "data": {
            "kind": "residence",
            "father_name": "Γεώργιος",
            "birth_date": "1980-04-02",
            "purpose": "για κατάθεση σε παιδικό σταθμό"
        },
        "documents": [document]
    })
}

pub(crate) async fn apply(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .post(HOST, "/api/v1/cases")
        .bearer_auth(token)
        .json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    send(req).await
}

async fn get(app: &TestApp, host: &str, path: &str, token: &str) -> (u16, Value) {
    let (s, _, v) = send(app.get(host, path).bearer_auth(token)).await;
    (s, v)
}

async fn a_citizens_app_applies_with_a_document_follows_and_withdraws(b: Backend) {
    let app = demo(b).await;
    let token = citizen_token(&app, HOST, "citizen-verified").await;
    // Nothing of theirs yet, though the municipality has other cases.
    let mut other = person(&app, HOST, "parent-01").await;
    let (others, _) = crate::parking::apply(&app, &mut other, HOST, "ΚΗΧ1001").await;
    let (status, listed) = get(&app, HOST, "/api/v1/cases", &token).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"], json!([]));
    let (status, _) = get(&app, HOST, &format!("/api/v1/cases/{others}"), &token).await;
    assert_eq!(status, 404, "another person's case is not found");

    // The document, once per key: a retry answers the same one.
    let (status, _, doc) = upload(&app, &token, Some("bill-1"), "residence-proof", BILL).await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["sha256"], hex::encode(Sha256::digest(BILL)));
    assert_eq!(doc["kind"], "residence-proof");
    let (status, _, again) = upload(&app, &token, Some("bill-1"), "residence-proof", BILL).await;
    assert_eq!((status, &again["id"]), (200, &doc["id"]));
    let (status, _, reused) = upload(
        &app,
        &token,
        Some("bill-1"),
        "residence-proof",
        b"%PDF-1.7\n% other\n",
    )
    .await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (409, Some("conflict")),
        "{reused}"
    );

    // The application, once per key, with the document in its file.
    let body = application(doc["id"].as_str().unwrap());
    let (status, headers, case) = apply(&app, &token, Some("apply-1"), &body).await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/api/v1/cases/{id}").as_str());
    assert_eq!(case["service"], "certificates.request");
    assert_eq!(case["data"]["father_name"], "Γεώργιος");
    assert!(
        case["protocol"].as_str().is_some_and(|p| p.contains('/')),
        "{case}"
    );
    let (status, _, retried) = apply(&app, &token, Some("apply-1"), &body).await;
    assert_eq!((status, &retried["id"]), (200, &case["id"]), "{retried}");
    let n: i64 = app
        .sql_value("SELECT COUNT(*) FROM cases WHERE process = 'certificates.request'")
        .await;
    assert_eq!(n, 1, "a retry files nothing more");

    // Theirs to follow: listed, its public history, its file.
    let (_, listed) = get(&app, HOST, "/api/v1/cases", &token).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], case["id"]);
    let (_, events) = get(&app, HOST, &format!("/api/v1/cases/{id}/timeline"), &token).await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds[..3],
        ["submitted", "document-added", "registered"],
        "{events}"
    );
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["public"] == true)
    );
    let (_, docs) = get(&app, HOST, &format!("/api/v1/cases/{id}/documents"), &token).await;
    assert_eq!(docs[0]["id"], doc["id"], "{docs}");
    let res = app
        .get(
            HOST,
            &format!(
                "/api/v1/cases/{id}/documents/{}",
                doc["id"].as_str().unwrap()
            ),
        )
        .headers(dimos_it::browser_headers())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(&res.bytes().await.unwrap()[..], BILL);
    // The same person's web pages show it too.
    let mut web = person(&app, HOST, "citizen-verified").await;
    let (status, html) = crate::flows::page(&mut web, HOST, &format!("/cases/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("ΔΕΗ.pdf"), "{html}");

    // A client of the municipality sees it; another person does not; a
    // client's token does not apply.
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (_, html) = register(
        &mut admin,
        HOST,
        &[("name", "Μητρώο"), ("scope", "cases.read"), ("days", "30")],
    )
    .await;
    let (cid, secret) = credentials(&html);
    let client = crate::api_clients::token(&app, HOST, &cid, &secret).await;
    let (status, seen) = get(&app, HOST, &format!("/api/v1/cases/{id}"), &client).await;
    assert_eq!((status, &seen["id"]), (200, &case["id"]));
    let (status, _, refused) = apply(&app, &client, None, &body).await;
    assert_eq!(status, 403, "{refused}");
    let stranger = citizen_token(&app, HOST, "parent-02").await;
    for path in [
        format!("/api/v1/cases/{id}"),
        format!("/api/v1/cases/{id}/timeline"),
        format!("/api/v1/cases/{id}/documents"),
    ] {
        assert_eq!(get(&app, HOST, &path, &stranger).await.0, 404, "{path}");
    }
    let (status, _, _) = send(
        app.post(HOST, &format!("/api/v1/cases/{id}/withdraw"))
            .bearer_auth(&stranger)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 404);
    // The same token at another municipality: nothing of theirs there.
    let (status, elsewhere) = get(&app, OTHER, &format!("/api/v1/cases/{id}"), &token).await;
    assert_eq!(status, 404, "{elsewhere}");

    // Withdrawn, once.
    for _ in 0..2 {
        let (status, _, w) = send(
            app.post(HOST, &format!("/api/v1/cases/{id}/withdraw"))
                .bearer_auth(&token)
                .header("idempotency-key", "withdraw-1")
                .json(&json!({"reason": "Δεν χρειάζεται πια"})),
        )
        .await;
        assert_eq!(status, 200, "{w}");
        assert_eq!(
            (w["status"].as_str(), w["result"].as_str()),
            (Some("closed"), Some("withdrawn"))
        );
    }
    let (_, events) = get(&app, HOST, &format!("/api/v1/cases/{id}/timeline"), &token).await;
    let withdrawn = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "withdrawn")
        .count();
    assert_eq!(withdrawn, 1, "{events}");
    let audited: i64 = app
        .sql_value("SELECT COUNT(*) FROM audit_log WHERE action = 'case_withdrawn'")
        .await;
    assert_eq!(audited, 1, "in the audit trail, once");
}

async fn the_api_refuses_what_it_should_and_says_why(b: Backend) {
    let app = demo(b).await;
    // A made-up token: 401 with the challenge, whatever it looks like.
    for made_up in ["not-a-token", "dimos_at_0000"] {
        let (status, headers, body) =
            send(app.get(HOST, "/api/v1/cases").bearer_auth(made_up)).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_token\""),
            "{headers:?}"
        );
    }
    // A person the provider asserts at low assurance is not verified:
    // reading their own (nothing) yes, applying no.
    let low = citizen_token(&app, HOST, "citizen").await;
    assert_eq!(get(&app, HOST, "/api/v1/cases", &low).await.0, 200);
    let (status, _, body) = upload(&app, &low, None, "residence-proof", BILL).await;
    assert_eq!(status, 403, "{body}");

    let token = citizen_token(&app, HOST, "citizen-verified").await;
    let (_, _, doc) = upload(&app, &token, None, "residence-proof", BILL).await;
    let doc = doc["id"].as_str().unwrap().to_owned();
    // Each fault named on its field.
    let faults = [
        (
            json!({"service": "certificates.request", "data": {"kind": "residence"}, "documents": []}),
            vec!["data.father_name", "data.birth_date", "data.purpose"],
        ),
        (
            {
                let mut a = application(&doc);
                a["data"]["colour"] = json!("blue");
                a["data"]["birth_date"] = json!("yesterday");
                a
            },
            vec!["data.colour", "data.birth_date"],
        ),
        (
            {
                let mut a = application(&doc);
                a["documents"] = json!([uuid::Uuid::now_v7()]);
                a
            },
            vec!["documents[0]"],
        ),
        (
            json!({"service": "parking.permit", "data": {}}),
            vec!["service"],
        ),
        (
            json!({"service": "nothing.here", "data": {}}),
            vec!["service"],
        ),
    ];
    for (body, fields) in faults {
        let (status, _, problem) = apply(&app, &token, None, &body).await;
        assert_eq!(status, 422, "{body} → {problem}");
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for f in fields {
            assert!(named.contains(&f), "{f} in {problem}");
        }
    }
    // A bad key; not JSON.
    let (status, _, _) = apply(&app, &token, Some("two words"), &application(&doc)).await;
    assert_eq!(status, 400);
    let (status, _, _) = send(
        app.post(HOST, "/api/v1/cases")
            .bearer_auth(&token)
            .body("service=x"),
    )
    .await;
    assert_eq!(status, 415);
    // Nothing was filed by any of it; the document still waits.
    let n: i64 = app.sql_value("SELECT COUNT(*) FROM cases").await;
    assert_eq!(n, 0);
    let (status, _, case) = apply(&app, &token, None, &application(&doc)).await;
    assert_eq!(status, 201, "{case}");
    // Used once: the same document cannot go to a second case.
    let (status, _, again) = apply(&app, &token, None, &application(&doc)).await;
    assert_eq!(status, 422, "{again}");
}

/// The flagship service's own form (module `parking`), through the API:
/// the same checks as the web form, its required documents, once per key,
/// and the case then followed as any other.
async fn a_parking_permit_is_applied_for_through_the_modules_own_resource(b: Backend) {
    let app = demo(b).await;
    let token = citizen_token(&app, HOST, "citizen-verified").await;
    let mut docs = vec![];
    for kind in [
        "disability-certificate",
        "vehicle-registration",
        "residence",
        "no-private-parking",
    ] {
        let (status, _, d) = upload(&app, &token, None, kind, BILL).await;
        assert_eq!(status, 201, "{d}");
        docs.push(d["id"].as_str().unwrap().to_owned());
    }
    let post = |body: Value, key: Option<&'static str>| {
        let mut req = app
            .post(HOST, "/api/v1/parking/applications")
            .bearer_auth(&token)
            .json(&body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        send(req)
    };
    let good = json!({
        "full_name": "Μαρία Παπαδοπούλου",
        "email": "maria@example.gr",
        "mobile": "691 234 5678",
        "location": "Λεωφ. Ποσειδώνος 10",
        "plate": "ΙΚΥ1234",
        "delivery": "pickup",
        "documents": docs,
    });
    // The web form's checks, and a required document missing.
    let mut bad = good.clone();
    bad["mobile"] = json!("2101234567");
    bad["plate"] = json!("???");
    bad["documents"] = json!([docs[0]]);
    let (status, _, problem) = post(bad, None).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["mobile", "plate", "documents"] {
        assert!(fields.contains(&f), "{f}: {problem}");
    }
    let (status, headers, filed) = post(good.clone(), Some("permit-1")).await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/api/v1/cases/{id}").as_str());
    assert!(filed["protocol"].as_str().is_some_and(|p| p.contains('/')));
    let (status, _, again) = post(good, Some("permit-1")).await;
    assert_eq!((status, &again["id"]), (200, &filed["id"]));
    let (status, case) = get(&app, HOST, &format!("/api/v1/cases/{id}"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(case["service"], "parking.permit");
    assert_eq!(
        case["subject"], "Λεωφ. Ποσειδώνος 10 — ΙΚΥ-1234",
        "the plate as the one parser writes it"
    );
    let (_, files) = get(&app, HOST, &format!("/api/v1/cases/{id}/documents"), &token).await;
    assert_eq!(files.as_array().unwrap().len(), 4, "{files}");
    let n: i64 = app
        .sql_value("SELECT COUNT(*) FROM cases WHERE process = 'parking.permit'")
        .await;
    assert_eq!(n, 1);
}

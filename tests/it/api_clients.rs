//! The public API's machine clients: the municipal admin registers one on
//! its page, the client trades id and secret for a token (OAuth 2.0 client
//! credentials), reads cases within its scopes and its own municipality,
//! and is locked out at once when revoked.

use crate::flows::{page, person, post};
use dimos_it::{Backend, Browser, Options, TestApp, csrf_of, on_both_backends, workspace_root};
use serde_json::Value;

on_both_backends!(
    clients_get_tokens_and_read_cases_within_their_scopes_and_municipality,
    the_protocol_book_through_the_api_hides_what_the_staff_page_hides,
    a_client_over_its_rate_is_told_to_wait,
    tokens_and_clients_expire,
    the_parking_register_through_the_api
);

const HOST: &str = "alimos.localhost";
const OTHER: &str = "papagou-cholargou.localhost";

/// Registers a client on the admin page; the page it answers with.
pub(crate) async fn register(
    admin: &mut Browser<'_>,
    host: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let (status, html) = page(admin, host, "/admin/api-clients").await;
    assert_eq!(status, 200, "{html}");
    let (status, _, html) = post(admin, host, "/admin/api-clients", &csrf_of(&html), fields).await;
    (status, html)
}

/// The admin takes on `role` (to give a client what only it holds).
pub(crate) async fn take_role(admin: &mut Browser<'_>, host: &str, role: &str) {
    let (_, html) = page(admin, host, "/admin/access").await;
    let (status, _, html) = post(
        admin,
        host,
        "/admin/access/grant",
        &csrf_of(&html),
        &[
            ("tax_id", dimos_it::tax_id("municipal-admin")),
            ("role", role),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
}

/// The id and the secret the page shows once.
pub(crate) fn credentials(html: &str) -> (String, String) {
    let panel = html
        .split("govgr-panel--confirmation")
        .nth(1)
        .unwrap_or_else(|| panic!("no confirmation: {html}"));
    let codes: Vec<&str> = panel
        .split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap())
        .collect();
    assert!(codes[1].starts_with("dimos_cs_"), "{codes:?}");
    (codes[0].to_owned(), codes[1].to_owned())
}

async fn token_with(
    app: &TestApp,
    host: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.post(host, "/api/v1/oauth/token").form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap())
}

pub(crate) async fn token(app: &TestApp, host: &str, id: &str, secret: &str) -> String {
    let (status, _, body) = token_with(
        app,
        host,
        &[("grant_type", "client_credentials")],
        Some((id, secret)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn api(
    app: &TestApp,
    host: &str,
    path: &str,
    token: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = app.get(host, path).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

async fn clients_get_tokens_and_read_cases_within_their_scopes_and_municipality(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    let (first, _) = crate::parking::apply(&app, &mut citizen, HOST, "ΚΗΧ1001").await;
    let (second, _) = crate::parking::apply(&app, &mut citizen, HOST, "ΚΗΧ2002").await;

    // The admin registers the municipality's website: the secret once.
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (status, html) = register(
        &mut admin,
        HOST,
        &[
            ("name", "Ιστότοπος του δήμου"),
            ("scope", "cases.read"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (id, secret) = credentials(&html);
    let (_, html) = page(&mut admin, HOST, "/admin/api-clients").await;
    assert!(html.contains("Ιστότοπος του δήμου") && !html.contains(&secret));
    // The same name again, no scope, a scope nobody has, a bad network.
    for (fields, message) in [
        (
            vec![("name", "Ιστότοπος του δήμου"), ("scope", "cases.read")],
            "Υπάρχει ήδη πελάτης",
        ),
        (
            vec![("name", "Χωρίς δικαιώματα")],
            "τουλάχιστον ένα δικαίωμα",
        ),
        (
            vec![("name", "Πλαστό"), ("scope", "everything.all")],
            "δεν μπορείτε να το δώσετε",
        ),
        (
            vec![
                ("name", "Δίκτυο"),
                ("scope", "cases.read"),
                ("allowed_ips", "10.0.0.0/33"),
            ],
            "192.0.2.0/24",
        ),
    ] {
        let (status, html) = register(&mut admin, HOST, &fields).await;
        assert_eq!(status, 422, "{fields:?}");
        assert!(html.contains(message), "{message}: {html}");
    }
    let (_, html) = register(
        &mut admin,
        HOST,
        &[("name", "Μόνο πρωτόκολλο"), ("scope", "protocol.read")],
    )
    .await;
    let (protocol_id, protocol_secret) = credentials(&html);
    let (_, html) = register(
        &mut admin,
        HOST,
        &[
            ("name", "Από αλλού"),
            ("scope", "cases.read"),
            ("allowed_ips", "192.0.2.0/24"),
        ],
    )
    .await;
    let (far_id, far_secret) = credentials(&html);
    let (_, html) = register(
        &mut admin,
        HOST,
        &[
            ("name", "Από εδώ"),
            ("scope", "cases.read"),
            ("allowed_ips", "127.0.0.1/32"),
        ],
    )
    .await;
    let (near_id, near_secret) = credentials(&html);

    // The token endpoint, as OAuth libraries call it.
    let (status, headers, body) = token_with(
        &app,
        HOST,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "cases.read");
    assert_eq!(headers["cache-control"], "no-store");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let (status, _, _) = token_with(
        &app,
        HOST,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "credentials in the form");
    // Naming itself in the form beside Basic is allowed; naming another is
    // not.
    let (status, _, _) = token_with(
        &app,
        HOST,
        &[("grant_type", "client_credentials"), ("client_id", &id)],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = token_with(
        &app,
        HOST,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "someone-else"),
        ],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    for (form, basic, want_status, want_error) in [
        (
            vec![("grant_type", "client_credentials")],
            Some((id.as_str(), "dimos_cs_wrong")),
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials")],
            Some(("not-a-client", secret.as_str())),
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials")],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "password")],
            Some((id.as_str(), secret.as_str())),
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "protocol.read"),
            ],
            Some((id.as_str(), secret.as_str())),
            400,
            "invalid_scope",
        ),
    ] {
        let (status, headers, body) = token_with(&app, HOST, &form, basic).await;
        assert_eq!(status, want_status, "{form:?} {body}");
        assert_eq!(body["error"], want_error);
        if status == 401 {
            assert!(headers.contains_key("www-authenticate"));
        }
    }

    // Without a token: 401 and how to get one; with one that is not ours,
    // also that it is not valid (RFC 6750 §3.1).
    for (bad, challenge) in [
        ("", "Bearer realm=\"api\""),
        (
            "dimos_at_0000",
            "Bearer realm=\"api\", error=\"invalid_token\"",
        ),
    ] {
        let (status, headers, problem) = api(&app, HOST, "/api/v1/cases", bad).await;
        assert_eq!(status, 401, "{bad:?}");
        assert_eq!(problem["code"], "invalid_token");
        assert_eq!(headers["www-authenticate"], challenge, "{bad:?}");
    }
    let res = app
        .get(HOST, "/api/v1/cases")
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "another scheme is no token");
    // The problem's type explains itself.
    let problem: Value = res.json().await.unwrap();
    let (status, html) = page(&mut admin, HOST, problem["type"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Χρειάζεται έγκυρο διακριτικό πρόσβασης") && html.contains("401"),
        "{html}"
    );
    let (status, _) = page(&mut admin, HOST, "/problems/no_such_code").await;
    assert_eq!(status, 404);

    // The cases, newest first, a page at a time by key.
    let (status, _, list) = api(&app, HOST, "/api/v1/cases", &access).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    // A list is not the case file: no application data in it.
    assert!(list["items"][0].get("data").is_none(), "{list}");
    let (_, _, one) = api(&app, HOST, "/api/v1/cases?limit=1", &access).await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let next = one["next"].as_str().unwrap();
    let (_, _, two) = api(
        &app,
        HOST,
        &format!("/api/v1/cases?limit=1&after={next}"),
        &access,
    )
    .await;
    assert_eq!(two["items"][0]["id"], first.as_str());
    assert!(two["next"].is_null());
    for bad in [
        "/api/v1/cases?limit=0",
        "/api/v1/cases?limit=101",
        "/api/v1/cases?after=nonsense",
        "/api/v1/cases?colour=red",
    ] {
        let (status, _, problem) = api(&app, HOST, bad, &access).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert_eq!(problem["code"], "bad_request");
    }

    // One case and its history; the opening is in the audit trail under
    // the client's name.
    let (status, _, case) = api(&app, HOST, &format!("/api/v1/cases/{first}"), &access).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["service"], "parking.permit");
    assert!(case["protocol"].as_str().unwrap().contains('/'));
    let viewed: i64 = app
        .sql_value(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'case_viewed' AND actor = 'client:{id}' AND record = 'case:{first}'"
        ))
        .await;
    assert_eq!(viewed, 1);
    let (status, _, events) = api(
        &app,
        HOST,
        &format!("/api/v1/cases/{first}/timeline"),
        &access,
    )
    .await;
    assert_eq!(status, 200);
    let seqs: Vec<i64> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(
        !seqs.is_empty() && seqs.windows(2).all(|w| w[0] < w[1]),
        "{seqs:?}"
    );
    // Its documents, and a file downloaded as a browser would ask for it:
    // the bytes stored, hashing to what the list says.
    let (status, _, docs) = api(
        &app,
        HOST,
        &format!("/api/v1/cases/{first}/documents"),
        &access,
    )
    .await;
    assert_eq!(status, 200, "{docs}");
    let doc = &docs[0];
    assert_eq!(doc["name"], "Γνωμάτευση ΚΕΠΑ.pdf");
    assert_eq!(doc["kind"], "disability-certificate");
    let res = app
        .get(
            HOST,
            &format!(
                "/api/v1/cases/{first}/documents/{}",
                doc["id"].as_str().unwrap()
            ),
        )
        .bearer_auth(&access)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..], b"%PDF-1.7\n% KEPA 80%\n");
    use sha2::Digest;
    assert_eq!(doc["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    let downloads: i64 = app
        .sql_value(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'document_viewed' AND actor = 'client:{id}' AND record = 'case:{first}'"
        ))
        .await;
    assert_eq!(
        downloads,
        i64::from(doc["personal_data"].as_bool().unwrap())
    );
    // A document of another case, through this one: not found.
    let (_, _, others) = api(
        &app,
        HOST,
        &format!("/api/v1/cases/{second}/documents"),
        &access,
    )
    .await;
    let theirs = others[0]["id"].as_str().unwrap();
    let (status, _, _) = api(
        &app,
        HOST,
        &format!("/api/v1/cases/{first}/documents/{theirs}"),
        &access,
    )
    .await;
    assert_eq!(status, 404);
    // The history is part of the case file: its reading is recorded too.
    let viewed: i64 = app
        .sql_value(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'case_viewed' AND actor = 'client:{id}' AND record = 'case:{first}'"
        ))
        .await;
    assert_eq!(viewed, 2);
    for missing in [
        "/api/v1/cases/not-a-uuid",
        "/api/v1/cases/00000000-0000-0000-0000-000000000000/timeline",
    ] {
        let (status, _, _) = api(&app, HOST, missing, &access).await;
        assert_eq!(status, 404, "{missing}");
    }

    // A token without the scope: 403. From an address not allowed: 403.
    let narrow = token(&app, HOST, &protocol_id, &protocol_secret).await;
    let (status, headers, problem) = api(&app, HOST, "/api/v1/cases", &narrow).await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "forbidden");
    assert_eq!(
        headers["www-authenticate"],
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"cases.read\""
    );
    // From an address not allowed it gets no token at all.
    let (status, _, body) = token_with(
        &app,
        HOST,
        &[("grant_type", "client_credentials")],
        Some((&far_id, &far_secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "127.0.0.1 is not in 192.0.2.0/24"
    );
    let near = token(&app, HOST, &near_id, &near_secret).await;
    let (status, _, _) = api(&app, HOST, "/api/v1/cases", &near).await;
    assert_eq!(status, 200, "127.0.0.1 is allowed");
    // Claiming an allowed address in X-Forwarded-For from a peer that is
    // no trusted proxy changes nothing.
    let res = app
        .post(HOST, "/api/v1/oauth/token")
        .basic_auth(&far_id, Some(&far_secret))
        .header("x-forwarded-for", "192.0.2.7")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Another municipality: the token is unknown there, and its own
    // client does not find this municipality's case.
    let (status, _, _) = api(&app, OTHER, "/api/v1/cases", &access).await;
    assert_eq!(status, 401);
    let (status, _, _) = token_with(
        &app,
        OTHER,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, 401, "the client is this municipality's only");
    let mut other_admin = person(&app, OTHER, "municipal-admin").await;
    let (_, html) = register(
        &mut other_admin,
        OTHER,
        &[("name", "Ιστότοπος"), ("scope", "cases.read")],
    )
    .await;
    let (other_id, other_secret) = credentials(&html);
    let theirs = token(&app, OTHER, &other_id, &other_secret).await;
    let (status, _, _) = api(&app, OTHER, &format!("/api/v1/cases/{first}"), &theirs).await;
    assert_eq!(status, 404);
    let (status, _, list) = api(&app, OTHER, "/api/v1/cases", &theirs).await;
    assert_eq!(status, 200);
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");

    // Revoked: its tokens stop at once, and it gets no new one.
    let (_, html) = page(&mut admin, HOST, "/admin/api-clients").await;
    let (status, _, _) = post(
        &mut admin,
        HOST,
        &format!("/admin/api-clients/{id}/revoke"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = api(&app, HOST, "/api/v1/cases", &access).await;
    assert_eq!(status, 401);
    let (status, _, body) = token_with(
        &app,
        HOST,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let logged: i64 = app
        .sql_value(&format!(
            "SELECT count(*) FROM audit_log WHERE action IN ('api_client_created', 'api_client_revoked') AND record = 'client:{id}'"
        ))
        .await;
    assert_eq!(logged, 2);
}

async fn the_protocol_book_through_the_api_hides_what_the_staff_page_hides(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    let mut admin = person(&app, HOST, "municipal-admin").await;
    // The admin takes on the protocol office's role for a day.
    let (_, html) = page(&mut admin, HOST, "/admin/access").await;
    let (status, _, _) = post(
        &mut admin,
        HOST,
        "/admin/access/grant",
        &csrf_of(&html),
        &[
            ("tax_id", dimos_it::tax_id("municipal-admin")),
            ("role", "protocol-officer"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // Two letters registered at the desk, one confidential.
    for (subject, correspondent, confidential) in [
        ("Αίτηση για φωτισμό", "Ελένη Φανερή", false),
        ("Πειθαρχική υπόθεση Χ", "Γεώργιος Κρυφός", true),
    ] {
        let (_, html) = page(&mut admin, HOST, "/staff/protocol").await;
        let mut fields = vec![
            ("direction", "incoming"),
            ("subject", subject),
            ("correspondent", correspondent),
            ("attachments", "0"),
        ];
        if confidential {
            fields.push(("confidential", "on"));
        }
        let (status, _, html) = post(
            &mut admin,
            HOST,
            "/staff/protocol",
            &csrf_of(&html),
            &fields,
        )
        .await;
        assert_eq!(status, 200, "{html}");
    }
    let (_, html) = register(
        &mut admin,
        HOST,
        &[("name", "Αρχείο"), ("scope", "protocol.read")],
    )
    .await;
    let (id, secret) = credentials(&html);
    let access = token(&app, HOST, &id, &secret).await;

    let (status, _, book) = api(&app, HOST, "/api/v1/protocol", &access).await;
    assert_eq!(status, 200, "{book}");
    let items = book["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{book}");
    // Newest first; the confidential one says nothing of itself.
    assert_eq!(items[0]["confidential"], true);
    assert!(items[0]["subject"].is_null() && items[0]["correspondent"].is_null());
    assert_eq!(items[1]["subject"], "Αίτηση για φωτισμό");
    assert_eq!(
        items[0]["number"].as_i64().unwrap(),
        items[1]["number"].as_i64().unwrap() + 1
    );
    let number = items[1]["number"].as_i64().unwrap();
    assert_eq!(
        items[1]["protocol"],
        format!("{number}/{}", items[1]["year"])
    );
    // A search never matches what is hidden.
    let q = |q: &str| {
        format!(
            "/api/v1/protocol?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    let (_, _, hidden) = api(&app, HOST, &q("Κρυφός"), &access).await;
    assert!(hidden["items"].as_array().unwrap().is_empty(), "{hidden}");
    let (_, _, found) = api(&app, HOST, &q("Φανερή"), &access).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let (_, _, by_number) = api(
        &app,
        HOST,
        &format!("/api/v1/protocol?number={number}"),
        &access,
    )
    .await;
    assert_eq!(by_number["items"][0]["id"], items[1]["id"]);
    // A page at a time.
    let (_, _, first) = api(&app, HOST, "/api/v1/protocol?limit=1", &access).await;
    let next = first["next"].as_str().unwrap();
    let (_, _, second) = api(
        &app,
        HOST,
        &format!("/api/v1/protocol?limit=1&after={next}"),
        &access,
    )
    .await;
    assert_eq!(second["items"][0]["id"], items[1]["id"]);
    // One entry; another municipality's client does not find it.
    let entry = items[0]["id"].as_str().unwrap();
    let (status, _, one) = api(&app, HOST, &format!("/api/v1/protocol/{entry}"), &access).await;
    assert_eq!(status, 200);
    assert!(one["subject"].is_null());
    let mut other_admin = person(&app, OTHER, "municipal-admin").await;
    let (_, html) = register(
        &mut other_admin,
        OTHER,
        &[("name", "Αρχείο"), ("scope", "protocol.read")],
    )
    .await;
    let (other_id, other_secret) = credentials(&html);
    let theirs = token(&app, OTHER, &other_id, &other_secret).await;
    let (status, _, _) = api(&app, OTHER, &format!("/api/v1/protocol/{entry}"), &theirs).await;
    assert_eq!(status, 404);
    // The cases scope is not the book's.
    let (_, html) = register(
        &mut admin,
        HOST,
        &[("name", "Υποθέσεις"), ("scope", "cases.read")],
    )
    .await;
    let (cases_id, cases_secret) = credentials(&html);
    let cases_only = token(&app, HOST, &cases_id, &cases_secret).await;
    let (status, _, _) = api(&app, HOST, "/api/v1/protocol", &cases_only).await;
    assert_eq!(status, 403);
    for bad in [
        "/api/v1/protocol?limit=0",
        "/api/v1/protocol?year=1",
        "/api/v1/protocol?number=0",
    ] {
        let (status, _, _) = api(&app, HOST, bad, &access).await;
        assert_eq!(status, 400, "{bad}");
    }
}

async fn a_client_over_its_rate_is_told_to_wait(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            tweak: Box::new(|c| c.http.api_requests_per_minute = 3),
            ..Options::default()
        },
    )
    .await;
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (_, html) = register(
        &mut admin,
        HOST,
        &[("name", "Βιαστικός"), ("scope", "cases.read")],
    )
    .await;
    let (id, secret) = credentials(&html);
    let (_, html) = register(
        &mut admin,
        HOST,
        &[("name", "Ήρεμος"), ("scope", "cases.read")],
    )
    .await;
    let (calm_id, calm_secret) = credentials(&html);
    let hasty = token(&app, HOST, &id, &secret).await;
    for remaining in [2, 1, 0] {
        let (status, headers, _) = api(&app, HOST, "/api/v1/cases", &hasty).await;
        assert_eq!(status, 200);
        assert_eq!(headers["ratelimit-policy"], "\"client\";q=3;w=60");
        let rate = headers["ratelimit"].to_str().unwrap();
        assert!(
            rate.starts_with(&format!("\"client\";r={remaining};t=")),
            "{rate}"
        );
    }
    let (status, headers, problem) = api(&app, HOST, "/api/v1/cases", &hasty).await;
    assert_eq!(status, 429);
    assert_eq!(problem["code"], "rate_limited");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    assert!(headers["ratelimit"].to_str().unwrap().contains("r=0"));
    // Another client of the same municipality is not held up.
    let calm = token(&app, HOST, &calm_id, &calm_secret).await;
    let (status, _, _) = api(&app, HOST, "/api/v1/cases", &calm).await;
    assert_eq!(status, 200);
}

async fn tokens_and_clients_expire(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (_, html) = register(
        &mut admin,
        HOST,
        &[
            ("name", "Για μία μέρα"),
            ("scope", "cases.read"),
            ("days", "1"),
        ],
    )
    .await;
    let (id, secret) = credentials(&html);
    let first = token(&app, HOST, &id, &secret).await;
    let (status, _, _) = api(&app, HOST, "/api/v1/cases", &first).await;
    assert_eq!(status, 200);
    // Ten minutes on, the token is spent; the client gets another.
    clock.advance(chrono::Duration::minutes(11));
    let (status, _, _) = api(&app, HOST, "/api/v1/cases", &first).await;
    assert_eq!(status, 401);
    let second = token(&app, HOST, &id, &secret).await;
    let (status, _, _) = api(&app, HOST, "/api/v1/cases", &second).await;
    assert_eq!(status, 200);
    // A token never outlives its client.
    clock.advance(chrono::Duration::hours(23) + chrono::Duration::minutes(45));
    let (status, _, body) = token_with(
        &app,
        HOST,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, 200);
    let life = body["expires_in"].as_i64().unwrap();
    assert!((1..=4 * 60).contains(&life), "{life}");
    // Past its validity the client is refused, and the page says so.
    clock.advance(chrono::Duration::minutes(5));
    let (status, _, body) = token_with(
        &app,
        HOST,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (_, html) = page(&mut admin, HOST, "/admin/api-clients").await;
    assert!(html.contains("Έληξε"), "{html}");
}

/// A module's resources: the register of parking permits, where the module
/// is enabled, for a client holding the register's permission.
async fn the_parking_register_through_the_api(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    dimos_it::tenant_with_staff(&app, "beta", "Βήτα").await;
    crate::parking::issued(&app, &host, "ΚΗΧ4004").await;
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (_, html) = register(
        &mut admin,
        &host,
        &[
            ("name", "Δημοτική αστυνομία"),
            ("scope", "parking.register"),
        ],
    )
    .await;
    let (id, secret) = credentials(&html);
    let access = token(&app, &host, &id, &secret).await;
    let (status, headers, permits) = api(&app, &host, "/api/v1/parking/permits", &access).await;
    assert_eq!(status, 200, "{permits}");
    assert!(
        headers.contains_key("ratelimit"),
        "the clients' rate applies"
    );
    let permits = permits.as_array().unwrap();
    assert_eq!(permits.len(), 1);
    assert_eq!(permits[0]["plate"], "ΚΗΧ-4004");
    assert_eq!(permits[0]["status"], "active");
    // A plate typed in Latin look-alikes finds it; another does not.
    let (_, _, found) = api(&app, &host, "/api/v1/parking/permits?q=KHX4004", &access).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let (_, _, none) = api(&app, &host, "/api/v1/parking/permits?q=ZZZ9999", &access).await;
    assert!(none.as_array().unwrap().is_empty());
    let permit = permits[0]["id"].as_str().unwrap();
    let (status, _, one) = api(
        &app,
        &host,
        &format!("/api/v1/parking/permits/{permit}"),
        &access,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["card_number"], permits[0]["card_number"]);
    // Without the register's permission: 403, naming the scope.
    let (_, html) = register(
        &mut admin,
        &host,
        &[("name", "Υποθέσεις"), ("scope", "cases.read")],
    )
    .await;
    let (cases_id, cases_secret) = credentials(&html);
    let other = token(&app, &host, &cases_id, &cases_secret).await;
    let (status, headers, _) = api(&app, &host, "/api/v1/parking/permits", &other).await;
    assert_eq!(status, 403);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"parking.register\"")
    );
    // Where the module is not enabled, it is not there.
    let mut beta_admin = person(&app, "beta.localhost", "municipal-admin").await;
    let (_, html) = register(
        &mut beta_admin,
        "beta.localhost",
        &[("name", "Αστυνομία"), ("scope", "cases.read")],
    )
    .await;
    let (beta_id, beta_secret) = credentials(&html);
    let beta = token(&app, "beta.localhost", &beta_id, &beta_secret).await;
    let (status, _, _) = api(&app, "beta.localhost", "/api/v1/parking/permits", &beta).await;
    assert_eq!(status, 404);
    let (status, _, _) = api(
        &app,
        "beta.localhost",
        &format!("/api/v1/parking/permits/{permit}"),
        &beta,
    )
    .await;
    assert_eq!(status, 404);
}

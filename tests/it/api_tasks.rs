//! Tasks through the API, as a municipality's own system works them: its
//! admin gives it the `tasks.work` scope and the queues of a role; it
//! lists what is offered, claims, completes with the step's form, and is
//! named in the case's history and the audit trail. What only people do
//! (an outcome that issues a signed certificate) stays with them; other
//! roles' tasks are not found.

use crate::api_apply::{application, apply, send};
use crate::api_clients::{credentials, register, token};
use crate::flows::person;
use dimos_it::{Backend, Options, TestApp, citizen_token, on_both_backends, workspace_root};
use serde_json::{Value, json};

on_both_backends!(a_system_works_the_tasks_of_its_roles_and_no_others);

const HOST: &str = "alimos.localhost";

async fn client(app: &TestApp, name: &str, fields: &[(&str, &str)]) -> String {
    let mut admin = person(app, HOST, "municipal-admin").await;
    // Only what the admin holds is theirs to give: the registry's role
    // brings `tasks.work`.
    crate::api_clients::take_role(&mut admin, HOST, "kep-officer").await;
    let mut all = vec![("name", name), ("days", "30")];
    all.extend_from_slice(fields);
    let (status, html) = register(&mut admin, HOST, &all).await;
    assert_eq!(status, 200, "{html}");
    let (id, secret) = credentials(&html);
    token(app, HOST, &id, &secret).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let (s, _, v) = send(app.get(HOST, path).bearer_auth(token)).await;
    (s, v)
}

async fn post(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.post(HOST, path).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let (s, _, v) = send(req).await;
    (s, v)
}

async fn a_system_works_the_tasks_of_its_roles_and_no_others(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    let registry = client(
        &app,
        "Σύστημα δημοτολογίου",
        &[
            ("scope", "tasks.work"),
            ("scope", "cases.read"),
            ("role", "kep-officer"),
        ],
    )
    .await;
    let other_role = client(
        &app,
        "Γραφείο δημάρχου",
        &[("scope", "tasks.work"), ("role", "mayor")],
    )
    .await;
    let rival = client(
        &app,
        "Δεύτερο σύστημα",
        &[("scope", "tasks.work"), ("role", "kep-officer")],
    )
    .await;
    let no_scope = client(
        &app,
        "Μόνο ανάγνωση",
        &[("scope", "cases.read"), ("role", "kep-officer")],
    )
    .await;

    let citizen = citizen_token(&app, HOST, "citizen-verified").await;
    let mut body = application("");
    body["documents"] = json!([]);
    let (status, _, case) = apply(&app, &citizen, None, &body).await;
    assert_eq!(status, 201, "{case}");
    let case_id = case["id"].as_str().unwrap().to_owned();

    // Offered to the role's system, not to another role's.
    let (status, list) = get(&app, "/api/v1/tasks", &registry).await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let task = &items[0];
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(task["case_id"], case["id"]);
    assert_eq!(task["step"], "check");
    assert_eq!(task["name"]["en"], "Check the documents");
    assert_eq!(task["people_only"], false);
    assert_eq!(task["form"]["properties"]["check_notes"]["type"], "string");
    let outcomes: Vec<&str> = task["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["complete", "incomplete", "reject"]);
    let (_, list) = get(&app, "/api/v1/tasks", &other_role).await;
    assert_eq!(list["items"], json!([]));
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/api/v1/tasks/{id}/claim"),
    ] {
        let (status, _) = if path.ends_with("claim") {
            post(&app, &path, &other_role, None).await
        } else {
            get(&app, &path, &other_role).await
        };
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = get(&app, "/api/v1/tasks", &no_scope).await;
    assert_eq!(status, 403);

    // Claimed once: again by it is the same, by another a conflict.
    for _ in 0..2 {
        let (status, claimed) =
            post(&app, &format!("/api/v1/tasks/{id}/claim"), &registry, None).await;
        assert_eq!((status, &claimed["mine"]), (200, &json!(true)), "{claimed}");
    }
    let (status, taken) = post(&app, &format!("/api/v1/tasks/{id}/claim"), &rival, None).await;
    assert_eq!(status, 409, "{taken}");
    let (status, done) = post(
        &app,
        &format!("/api/v1/tasks/{id}/complete"),
        &rival,
        Some(json!({"outcome": "complete"})),
    )
    .await;
    assert_eq!(status, 409, "not the rival's: {done}");
    let (_, mine) = get(&app, "/api/v1/tasks?queue=mine", &registry).await;
    assert_eq!(mine["items"][0]["id"], id.as_str());

    // The step's own rules: a real outcome, a comment where asked, the form.
    for (body, field) in [
        (json!({"outcome": "approve-everything"}), "outcome"),
        (json!({"outcome": "incomplete"}), "comment"),
        (
            json!({"outcome": "complete", "data": {"check_notes": "x".repeat(2001)}}),
            "data.check_notes",
        ),
    ] {
        let (status, problem) = post(
            &app,
            &format!("/api/v1/tasks/{id}/complete"),
            &registry,
            Some(body),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let completion = json!({"outcome": "complete", "data": {"check_notes": "Πλήρης φάκελος"}});
    for _ in 0..2 {
        let (status, done) = post(
            &app,
            &format!("/api/v1/tasks/{id}/complete"),
            &registry,
            Some(completion.clone()),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(
            (done["status"].as_str(), done["outcome"].as_str()),
            (Some("done"), Some("complete"))
        );
    }

    // The case moved on, with the system named in its history and the
    // audit trail.
    let (_, events) = get(
        &app,
        &format!("/api/v1/cases/{case_id}/timeline"),
        &registry,
    )
    .await;
    let completed: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task-completed")
        .collect();
    assert_eq!(completed.len(), 1, "{events}");
    assert_eq!(completed[0]["actor_name"], "Σύστημα δημοτολογίου");
    // What the step recorded is the municipality's: its system reads it,
    // the applicant's app does not.
    let (_, seen) = get(&app, &format!("/api/v1/cases/{case_id}"), &registry).await;
    assert_eq!(seen["data"]["check_notes"], "Πλήρης φάκελος", "{seen}");
    let (_, own) = get(&app, &format!("/api/v1/cases/{case_id}"), &citizen).await;
    assert!(own["data"].get("check_notes").is_none(), "{own}");
    assert_eq!(own["data"]["father_name"], "Γεώργιος");
    let audited: i64 = app
        .sql_value("SELECT COUNT(*) FROM audit_log WHERE action = 'task_completed' AND actor LIKE 'client:%'")
        .await;
    assert_eq!(audited, 1);

    // The next step issues a signed certificate: a person's to do.
    let (_, list) = get(&app, "/api/v1/tasks", &registry).await;
    let next = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["step"], "issue");
    let issued = list["items"][0]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "issued")
        .unwrap()
        .clone();
    assert_eq!(issued["people_only"], true);
    post(
        &app,
        &format!("/api/v1/tasks/{next}/claim"),
        &registry,
        None,
    )
    .await;
    let (status, problem) = post(
        &app,
        &format!("/api/v1/tasks/{next}/complete"),
        &registry,
        Some(json!({"outcome": "issued", "data": {"registry_entry": "12", "certified": "x"}})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
}

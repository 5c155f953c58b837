//! Webhooks as a municipality's system meets them: the admin subscribes an
//! HTTPS endpoint on the page; the receiver (Python, checking every
//! signature with PyPI standardwebhooks) is down while cases move, and
//! once it is back gets every event, once, in each case's order; a
//! delivery is sent again from the log; an endpoint that never answers
//! ends `dead` with the municipality's alert address told.

use crate::api_apply::{application, apply, send};
use crate::flows::{page, person, post};
use dimos_it::{
    Backend, Options, TestApp, citizen_token, csrf_of, on_both_backends, workspace_root,
};
use serde_json::{Value, json};
use std::process::Stdio;

on_both_backends!(webhooks_are_signed_ordered_and_survive_a_receiver_that_is_down);

const HOST: &str = "alimos.localhost";
const OTHER: &str = "papagou-cholargou.localhost";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Python receiver, listening once this returns.
async fn receiver(
    port: u16,
    cert: &str,
    key: &str,
    secret: &str,
    log: &str,
) -> tokio::process::Child {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("python3")
        .arg(workspace_root().join("tests/python/webhook_receiver.py"))
        .args([&port.to_string(), cert, key, secret, log])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with standardwebhooks (infra/test.sh installs it)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("the receiver starts")
        .unwrap();
    assert_eq!(first.as_deref(), Some("ready"));
    child
}

fn received(log: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Subscribes `url` on the admin page; the page's answer.
async fn subscribe(admin: &mut dimos_it::Browser<'_>, url: &str, events: &[&str]) -> (u16, String) {
    let (_, html) = page(admin, HOST, "/admin/webhooks").await;
    let mut fields = vec![("url", url), ("description", "ERP του δήμου")];
    fields.extend(events.iter().map(|e| ("event", *e)));
    let (status, _, html) = post(admin, HOST, "/admin/webhooks", &csrf_of(&html), &fields).await;
    (status, html)
}

fn secret_of(html: &str) -> String {
    let at = html
        .find("<code>whsec_")
        .unwrap_or_else(|| panic!("no secret: {html}"));
    html[at + 6..].split("</code>").next().unwrap().to_owned()
}

async fn count(app: &TestApp, filter: &str) -> i64 {
    app.sql_value(&format!(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE {filter}"
    ))
    .await
}

async fn webhooks_are_signed_ordered_and_survive_a_receiver_that_is_down(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = dimos_it::private_ca(dir.path());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let clock = dimos_kernel::ManualClock::new();
    let ca_file = ca.clone();
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            clock: Some(clock.clone()),
            tweak: Box::new(move |c| {
                c.webhooks.ca_file = ca_file;
                // The receiver is on loopback.
                c.webhooks.allow_private_addresses = true;
                c.webhooks.max_attempts = 4;
            }),
            ..Options::default()
        },
    )
    .await;
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (_, html) = page(&mut admin, HOST, "/admin/notifications").await;
    let (status, _, _) = post(
        &mut admin,
        HOST,
        "/admin/notifications/settings",
        &csrf_of(&html),
        &[("alert_address", "it@alimos.example.gr")],
    )
    .await;
    assert_eq!(status, 200);

    // Only https, and only events there are.
    let port = free_port();
    let url = format!("https://localhost:{port}/dimos");
    for (bad_url, event) in [
        (format!("http://localhost:{port}/dimos"), "case.registered"),
        (url.clone(), "case.everything"),
    ] {
        let (status, html) = subscribe(&mut admin, &bad_url, &[event]).await;
        assert_eq!(status, 422, "{bad_url} {event}: {html}");
    }
    let (status, html) = subscribe(
        &mut admin,
        &url,
        &[
            "case.submitted",
            "case.registered",
            "case.withdrawn",
            "case.decided",
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let secret = secret_of(&html);
    let (_, list) = page(&mut admin, HOST, "/admin/webhooks").await;
    assert!(!list.contains(&secret), "the secret is shown once");
    let sub = list
        .split("href=\"/admin/webhooks/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // Another municipality's admin finds nothing of it.
    let mut stranger = person(&app, OTHER, "municipal-admin").await;
    let (status, _) = page(&mut stranger, OTHER, &format!("/admin/webhooks/{sub}")).await;
    assert_eq!(status, 404);

    // Cases move while the receiver is down.
    let token = citizen_token(&app, HOST, "citizen-verified").await;
    let mut cases = vec![];
    for key in ["a", "b"] {
        let mut body = application("");
        body["documents"] = json!([]);
        let (status, _, case) = apply(&app, &token, Some(key), &body).await;
        assert_eq!(status, 201, "{case}");
        cases.push(case["id"].as_str().unwrap().to_owned());
    }
    let (status, _, _) = send(
        app.post(HOST, &format!("/api/v1/cases/{}/withdraw", cases[0]))
            .bearer_auth(&token)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        count(&app, "1 = 1").await,
        5,
        "submitted and registered twice, withdrawn once"
    );
    // Each case's first delivery is tried and fails; the later ones wait
    // behind it, never tried out of order.
    for _ in 0..100 {
        app.state.webhooks().deliver_due(100).await.unwrap();
        if count(&app, "attempts >= 1").await == 2 && count(&app, "status = 'sending'").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(&app, "attempts >= 1 AND status = 'pending'").await, 2);
    assert_eq!(count(&app, "attempts = 0 AND status = 'pending'").await, 3);

    // The receiver comes back; time passes; everything arrives.
    let log = dir
        .path()
        .join("received.jsonl")
        .to_string_lossy()
        .into_owned();
    let _receiver = receiver(port, &cert, &key, &secret, &log).await;
    for _ in 0..100 {
        clock.advance(chrono::Duration::minutes(5));
        app.state.webhooks().deliver_due(100).await.unwrap();
        if count(&app, "status = 'delivered'").await == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(&app, "status = 'delivered'").await, 5);
    let got = received(&log);
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got.iter().all(|d| d["verified"] == true), "{got:?}");
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "each once");
    for d in &got {
        assert_eq!(d["content_type"], "application/cloudevents+json");
        assert_eq!(d["specversion"], "1.0");
        assert_eq!(
            d["event_id"], d["id"],
            "the CloudEvent's id is the webhook-id"
        );
        assert!(d["source"].as_str().unwrap().ends_with("/api/v1"), "{d}");
        assert_eq!(d["data"]["service"], "certificates.request");
        assert!(
            d["data"].get("applicant_name").is_none(),
            "no personal data"
        );
    }
    for (case, types) in [
        (
            &cases[0],
            vec![
                "gr.dimos.case.submitted",
                "gr.dimos.case.registered",
                "gr.dimos.case.withdrawn",
            ],
        ),
        (
            &cases[1],
            vec!["gr.dimos.case.submitted", "gr.dimos.case.registered"],
        ),
    ] {
        let of_case: Vec<&Value> = got
            .iter()
            .filter(|d| d["subject"] == format!("cases/{case}"))
            .collect();
        let seen: Vec<&str> = of_case
            .iter()
            .map(|d| d["type"].as_str().unwrap())
            .collect();
        assert_eq!(seen, types, "in the case's order");
        let seqs: Vec<i64> = of_case
            .iter()
            .map(|d| d["data"]["seq"].as_i64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
    let registered = got
        .iter()
        .find(|d| d["type"] == "gr.dimos.case.registered")
        .unwrap();
    assert!(
        registered["data"]["protocol"]
            .as_str()
            .is_some_and(|p| p.contains('/'))
    );

    // The log, and one delivery sent again: the same id, verified again.
    let (status, html) = page(&mut admin, HOST, &format!("/admin/webhooks/{sub}")).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("Παραδόθηκε").count(), 5, "{html}");
    let again = got[0]["id"].as_str().unwrap();
    let (status, _, _) = post(
        &mut admin,
        HOST,
        &format!("/admin/webhooks/{sub}/deliveries/{again}/replay"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..100 {
        app.state.webhooks().deliver_due(100).await.unwrap();
        if received(&log).len() == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = received(&log);
    assert_eq!(got.len(), 6);
    assert_eq!(
        (got[5]["id"].as_str(), &got[5]["verified"]),
        (Some(again), &json!(true))
    );

    // An endpoint that never answers: dead after the attempts allowed, and
    // the municipality is told; the working one is not held up.
    let nobody = format!("https://localhost:{}/gone", free_port());
    let (status, html) = subscribe(&mut admin, &nobody, &["case.submitted"]).await;
    assert_eq!(status, 200, "{html}");
    let mut body = application("");
    body["documents"] = json!([]);
    let (status, _, _) = apply(&app, &token, Some("c"), &body).await;
    assert_eq!(status, 201);
    for _ in 0..100 {
        clock.advance(chrono::Duration::minutes(61));
        app.state.webhooks().deliver_due(100).await.unwrap();
        if count(&app, "status = 'dead'").await == 1
            && count(&app, "status = 'delivered'").await == 7
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(&app, "status = 'dead' AND attempts = 4").await, 1);
    assert_eq!(count(&app, "status = 'delivered'").await, 7);
    let alerts: i64 = app
        .sql_value(
            "SELECT COUNT(*) FROM notifications WHERE event = 'dead-letter' AND recipient = 'it@alimos.example.gr'",
        )
        .await;
    assert_eq!(alerts, 1);
}

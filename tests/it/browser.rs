//! Browser smoke and accessibility test: Debian's Chromium driven by
//! playwright-core, with axe-core checking WCAG 2.1 AA, against the real
//! server with the demo tenants.

use dimos_it::{Backend, Options, TestApp, workspace_root};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_work_in_a_real_browser_and_pass_axe() {
    let dir = workspace_root().join("tests/node");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "browser test dependencies are missing: run `npm ci --prefix tests/node` (infra/test.sh does)"
    );
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    // The reference module carries a sample process, so the browser walks
    // the citizen's and the staff's case pages too.
    app.enable_module("alimos", "example", serde_json::json!({}))
        .await;
    node(&app, &dir, "smoke.mjs", "browser test failed").await;
}

/// The link crawler in Chromium: a person of each kind follows every link
/// from the home page, and each kind of page they reach passes axe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_page_each_kind_of_person_reaches_passes_axe() {
    let dir = workspace_root().join("tests/node");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    app.enable_module("alimos", "example", serde_json::json!({}))
        .await;
    // A case, so the citizen's and the staff's case pages are reached.
    {
        let host = "alimos.localhost";
        let mut citizen = crate::flows::person(&app, host, "citizen-verified").await;
        crate::parking::apply(&app, &mut citizen, host, "ΙΚΑ1234").await;
        // And a pickup, so the department's day and the crew's route have a stop.
        crate::bulky::book(&app, &mut citizen).await;
        // And a registered letter, so staff reach a document's page.
        let mut office = crate::flows::person(&app, host, "kep-officer").await;
        crate::edms::register_letter(&app, &mut office).await;
    }
    node(&app, &dir, "crawl.mjs", "browser crawl failed").await;
}

/// Click, don't type: the citizen's path from the home page to a submitted
/// application and the staff's from the staff area to a decision, at
/// 1280 px and 390 px, with no sideways scrolling on the phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_and_staff_get_there_by_clicking_on_a_desktop_and_a_phone() {
    let dir = workspace_root().join("tests/node");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    node(&app, &dir, "clicks.mjs", "clicking failed").await;
}

/// Document management in Chromium: an outgoing decision drafted,
/// approved, signed and sent by clicking, every page checked by axe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outgoing_document_is_drafted_approved_and_signed_by_clicking() {
    let dir = workspace_root().join("tests/node");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    node(
        &app,
        &dir,
        "edms.mjs",
        "document management in the browser failed",
    )
    .await;
}

/// Runs a script of `tests/node` against `app`; its failures first if it fails.
async fn node(app: &TestApp, dir: &std::path::Path, script: &'static str, what: &str) {
    let port = app.port().to_string();
    let dir = dir.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .env("DIMOS_PORT", port)
            .current_dir(dir)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what}\n{}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        failures(&stdout)
    );
    println!("{stdout}");
}

/// The failed checks first: CI shows the start of a long message, and the
/// passing checks would push the failure out of it.
fn failures(stdout: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in stdout.lines() {
        if line.starts_with("FAIL") {
            inside = true;
        } else if !line.starts_with(' ') {
            inside = false;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

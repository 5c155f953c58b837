//! A citizen's own data (GDPR articles 15 and 20): the download on the
//! account page holds their rows of every module's personal tables, and
//! nothing of anyone else's, no sealed key, no staff-only note.

use crate::flows::{claim, complete, page, person};
use dimos_it::{Backend, Options, TestApp, on_both_backends, workspace_root};
use serde_json::Value;

on_both_backends!(a_citizen_downloads_everything_the_municipality_holds_about_them);

const HOST: &str = "alimos.localhost";

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_citizen_downloads_everything_the_municipality_holds_about_them(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await;
    let mut her = person(&app, HOST, "citizen-verified").await;
    let mut him = person(&app, HOST, "parent-02").await;
    let (hers, _) = crate::parking::apply(&app, &mut her, HOST, "ΚΗΧ1001").await;
    let (his, _) = crate::parking::apply(&app, &mut him, HOST, "ΚΗΧ2002").await;
    // Staff work on her case: events the timeline does not show.
    let mut tech = person(&app, HOST, "technical-employee").await;
    let task = claim(&mut tech, HOST, &hers).await;
    let (status, _) = complete(
        &mut tech,
        HOST,
        &hers,
        &task,
        &[("outcome", "complete"), ("eligibility", "blindness")],
    )
    .await;
    assert_eq!(status, 200);
    // A nursery application of hers.
    let (stations, starts) = crate::nurseries::open_year(&app, HOST).await;
    let fields = crate::nurseries::family_fields(
        "citizen-verified",
        starts,
        &[crate::nurseries::INFANT],
        false,
        1,
        12_000,
        &["resident"],
        &[&stations[0]],
    );
    let (status, _, html) = crate::nurseries::send_application(
        &app,
        &mut her,
        HOST,
        &fields,
        &[("doc-family-status", "πιστοποιητικό.pdf")],
    )
    .await;
    assert_eq!(status, 303, "{html}");

    // Reached from her account page, as she would.
    let (_, html) = page(&mut her, HOST, "/account").await;
    assert!(html.contains("href=\"/account/export\""));
    let (res, _) = her.get(&her.url(HOST, "/account/export")).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = res.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    let t = &export["tables"];
    let me = export["account"]["id"].as_str().unwrap().to_owned();

    assert_eq!(ids(&t["accounts"]), vec![me.clone()]);
    assert_eq!(
        ids(&t["cases"]).len(),
        2,
        "parking and nursery: {}",
        t["cases"]
    );
    assert!(ids(&t["cases"]).contains(&hers) && !ids(&t["cases"]).contains(&his));
    assert_eq!(t["nursery_applications"].as_array().unwrap().len(), 1);
    assert_eq!(t["nursery_applications"][0]["applicant"], me.as_str());
    // Her documents (parking and nursery), his not.
    let docs = t["documents"].as_array().unwrap();
    assert!(docs.len() >= 2, "{docs:?}");
    assert!(docs.iter().any(|d| d["kind"] == "family-status"));
    assert!(
        docs.iter()
            .all(|d| d["case_id"].as_str().is_none_or(|c| c != his))
    );
    // The protocol entries and tasks of her cases come along.
    assert_eq!(t["protocol_entries"].as_array().unwrap().len(), 2);
    assert!(!t["tasks"].as_array().unwrap().is_empty());
    // Events: only what the timeline shows her, though staff left more.
    let shown = t["case_events"].as_array().unwrap();
    assert!(!shown.is_empty());
    assert!(
        shown
            .iter()
            .all(|e| e["public"] == true || e["public"] == 1),
        "{shown:?}"
    );
    let all: i64 = app.sql_value("SELECT COUNT(*) FROM case_events").await;
    assert!(
        all as usize > shown.len() + 2,
        "staff-only events exist: {all}"
    );
    // Notifications sent to her.
    assert!(
        t["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["account_id"] == me.as_str())
    );
    // Nothing of his, no key, no tenant column; what is left out is said.
    let plate = |digits: &str| {
        text.contains(&format!("ΚΗΧ{digits}")) || text.contains(&format!("ΚΗΧ-{digits}"))
    };
    assert!(plate("1001"), "her plate is in her case's data");
    assert!(!plate("2002") && !text.contains(&his));
    assert!(!text.contains("key_sealed") && !text.contains("tenant_id"));
    assert!(
        export["not_included"]["tables"]
            .as_array()
            .unwrap()
            .contains(&Value::from("nursery_runs"))
    );
    app.stop().await;
}

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
    // Her case has events the timeline does not show; none is here.
    let (columns, rows) = app.table_rows("alimos", "case_events").await;
    let at = |name: &str| columns.iter().position(|(c, _)| c == name).unwrap();
    let hidden_of_hers = rows
        .into_iter()
        .filter(|r| {
            r[at("case_id")]
                .clone()
                .coerce(dimos_db::portable::Kind::Uuid)
                == Ok(dimos_db::portable::Cell::Uuid(
                    uuid::Uuid::parse_str(&hers).unwrap(),
                ))
                && r[at("public")]
                    .clone()
                    .coerce(dimos_db::portable::Kind::Bool)
                    == Ok(dimos_db::portable::Cell::Bool(false))
        })
        .count();
    assert!(hidden_of_hers > 0, "staff-only events on her case exist");
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

on_both_backends!(the_data_protection_officer_sees_who_opened_sensitive_data);

/// Staff open a citizen's case file and her disability certificate: the
/// data protection officer finds both, by case and by member of staff,
/// reached from the staff links; others may not look; she finds them in
/// her own download; his case's accesses are not in hers.
async fn the_data_protection_officer_sees_who_opened_sensitive_data(b: Backend) {
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
    let (hers, _) = crate::parking::apply(&app, &mut her, HOST, "ΚΗΧ3003").await;
    let (his, _) = crate::parking::apply(&app, &mut him, HOST, "ΚΗΧ4004").await;
    let mut tech = person(&app, HOST, "technical-employee").await;
    let (status, html) = page(&mut tech, HOST, &format!("/staff/cases/{hers}")).await;
    assert_eq!(status, 200);
    let doc = html
        .split(&format!("/staff/cases/{hers}/documents/"))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _) = page(
        &mut tech,
        HOST,
        &format!("/staff/cases/{hers}/documents/{doc}"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = page(&mut tech, HOST, &format!("/staff/cases/{his}")).await;
    assert_eq!(status, 200);
    // A clerk's own download holds nothing of the cases they worked on.
    let (res, _) = tech.get(&tech.url(HOST, "/account/export")).await;
    let theirs = res.text().await.unwrap();
    assert!(
        !theirs.contains(&hers) && !theirs.contains(&his),
        "{theirs}"
    );
    assert!(!theirs.contains("ΚΗΧ") && !theirs.contains("3003"));
    // Others may not read the log.
    let (status, _) = page(&mut tech, HOST, "/admin/privacy").await;
    assert_eq!(status, 403);

    let mut dpo = person(&app, HOST, "municipal-admin").await;
    let (_, home) = page(&mut dpo, HOST, "/").await;
    assert!(home.contains("href=\"/staff\""));
    let (_, hub) = page(&mut dpo, HOST, "/staff").await;
    assert!(
        hub.contains("href=\"/admin/privacy\""),
        "a staff link leads there"
    );
    let (status, all) = page(&mut dpo, HOST, "/admin/privacy").await;
    assert_eq!(status, 200, "{all}");
    let staff_name = "Νίκος Κωνσταντίνου";
    assert!(
        all.contains(staff_name) && all.contains(dimos_it::tax_id("technical-employee")),
        "{all}"
    );
    assert!(
        all.contains("Άνοιξε τον φάκελο της υπόθεσης")
            && all.contains("Άνοιξε έγγραφο με προσωπικά δεδομένα")
    );
    let (_, by_case) = page(&mut dpo, HOST, &format!("/admin/privacy?case={hers}")).await;
    assert!(
        by_case.contains(&hers) && !by_case.contains(&his),
        "{by_case}"
    );
    assert_eq!(
        by_case.matches("<tr class=\"govgr-table__row\">").count(),
        1 + 2,
        "{by_case}"
    );
    let (_, by_staff) = page(
        &mut dpo,
        HOST,
        &format!(
            "/admin/privacy?tax_id={}",
            dimos_it::tax_id("citizen-verified")
        ),
    )
    .await;
    assert!(by_staff.contains("Καμία πρόσβαση"), "{by_staff}");
    let (status, _) = page(&mut dpo, HOST, "/admin/privacy?case=not-a-case").await;
    assert_eq!(status, 400);

    // She sees who opened her file; not who opened his.
    let (res, _) = her.get(&her.url(HOST, "/account/export")).await;
    let export: Value = res.json().await.unwrap();
    let trail = export["tables"]["audit_log"].as_array().unwrap();
    let viewed: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "case_viewed" || e["action"] == "document_viewed")
        .collect();
    assert_eq!(viewed.len(), 2, "{trail:?}");
    assert!(viewed.iter().all(|e| e["record"] == format!("case:{hers}")));
    app.stop().await;
}

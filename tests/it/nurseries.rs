//! Nurseries over HTTP: the nursery department sets up a school year with
//! its stations and places; parents read the points table and the places
//! on the public page, in Greek and English.

use crate::flows::{page, person, post, send_multipart, unescape};
use dimos_it::{Backend, TestApp, csrf_of, on_both_backends, tenant_with_grants};
use serde_json::json;

on_both_backends!(
    the_nursery_department_sets_up_a_school_year_with_three_stations,
    stations_of_another_municipality_are_not_found,
    a_family_applies_and_the_committee_checks_every_line,
    twenty_families_are_placed_explained_and_the_waiting_list_moves,
    the_admin_sets_the_points_and_an_upheld_objection_revises_the_results,
);

pub(crate) async fn tenant(app: &TestApp, slug: &str) -> String {
    tenant_with_grants(
        app,
        slug,
        "Άλφα",
        &[
            ("municipal-admin", "municipal-admin"),
            ("nursery-manager", "nursery-manager"),
        ],
    )
    .await;
    app.enable_module(slug, "nurseries", json!({})).await;
    format!("{slug}.localhost")
}

const YEAR: &[(&str, &str)] = &[
    ("label", "2027-2028"),
    ("opens_on", "2027-05-20"),
    ("closes_on", "2027-06-15"),
    ("results_on", "2027-07-01"),
    ("objections_until", "2027-07-10"),
    ("starts_on", "2027-09-01"),
    ("accept_days", "10"),
];

fn year_path_of(url: &str) -> String {
    let id = url
        .split("/nurseries/admin/years/")
        .nth(1)
        .expect("on a school year's page")
        .split('?')
        .next()
        .unwrap();
    format!("/nurseries/admin/years/{id}")
}

fn field_value<'a>(html: &'a str, id: &str) -> &'a str {
    html.split(&format!("id=\"f-{id}\""))
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .unwrap_or("")
}

async fn the_nursery_department_sets_up_a_school_year_with_three_stations(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app, "alpha").await;

    // A citizen may not manage stations.
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (status, _) = page(&mut citizen, &host, "/nurseries/admin").await;
    assert_eq!(status, 403);

    let mut manager = person(&app, &host, "nursery-manager").await;
    let (status, html) = page(&mut manager, &host, "/staff").await;
    assert_eq!(status, 200);
    assert!(html.contains("/nurseries/admin"), "the staff area links it");
    let (status, html) = page(&mut manager, &host, "/nurseries/admin").await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);

    for (name, address) in [
        ("Α' Παιδικός Σταθμός", "Κύπρου 10, Άλιμος"),
        ("Β' Παιδικός Σταθμός", "Θουκυδίδου 5, Άλιμος"),
        ("Βρεφονηπιακός Καλαμακίου", "Αγ. Νικολάου 2, Άλιμος"),
    ] {
        let (status, url, html) = post(
            &mut manager,
            &host,
            "/nurseries/admin/stations",
            &csrf,
            &[("name", name), ("address", address), ("active", "1")],
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert!(url.ends_with("done=station-added"), "{url}");
        assert!(html.contains(name));
    }
    // The same name twice, and a station without an address: refused on
    // their fields, what was typed kept.
    let (status, _, html) = post(
        &mut manager,
        &host,
        "/nurseries/admin/stations",
        &csrf,
        &[("name", "Α' Παιδικός Σταθμός"), ("address", "Άλλη 1")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Υπάρχει ήδη σταθμός με αυτό το όνομα"),
        "{html}"
    );
    let (status, _, html) = post(
        &mut manager,
        &host,
        "/nurseries/admin/stations",
        &csrf,
        &[("name", "Γ' Παιδικός Σταθμός"), ("address", " ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"f-address-error\""), "{html}");
    assert_eq!(field_value(&html, "name"), "Γ' Παιδικός Σταθμός");

    // A school year with its dates out of order is refused on the field.
    let mut bad = YEAR.to_vec();
    bad[2] = ("closes_on", "2027-05-01");
    let (status, _, html) = post(&mut manager, &host, "/nurseries/admin/years", &csrf, &bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"f-closes_on-error\""), "{html}");
    assert!(html.contains("δεν είναι στη σωστή σειρά"));
    let (status, url, html) =
        post(&mut manager, &host, "/nurseries/admin/years", &csrf, YEAR).await;
    assert_eq!(status, 200, "{html}");
    assert!(url.contains("/nurseries/admin/years/"), "{url}");
    assert!(html.contains("Σχολική χρονιά 2027-2028"));
    let year_path = year_path_of(&url);
    // The same year again is refused.
    let (status, _, html) = post(&mut manager, &host, "/nurseries/admin/years", &csrf, YEAR).await;
    assert_eq!(status, 422);
    assert!(html.contains("Αυτή η σχολική χρονιά υπάρχει ήδη"));

    // Places per station and age group; reserved places over the places
    // are refused and nothing is saved.
    let (_, html) = page(&mut manager, &host, &year_path).await;
    let fields: Vec<String> = html
        .split("name=\"places-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(fields.len(), 6, "3 stations × 2 age groups");
    let mut grid: Vec<(String, String)> = vec![];
    for (i, f) in fields.iter().enumerate() {
        grid.push((format!("places-{f}"), (10 + i).to_string()));
        grid.push((format!("reserved-{f}"), "1".into()));
    }
    let mut over = grid.clone();
    over[1].1 = "50".into();
    let form: Vec<(&str, &str)> = over.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, html) = post(
        &mut manager,
        &host,
        &format!("{year_path}/places"),
        &csrf,
        &form,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Οι δεσμευμένες θέσεις δεν μπορεί να είναι περισσότερες"));
    let (_, html) = page(&mut manager, &host, &year_path).await;
    assert_eq!(
        field_value(&html, &format!("places-{}", fields[0])),
        "",
        "nothing saved"
    );
    let form: Vec<(&str, &str)> = grid.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, url, html) = post(
        &mut manager,
        &host,
        &format!("{year_path}/places"),
        &csrf,
        &form,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(url.ends_with("done=places-saved"));
    assert_eq!(field_value(&html, &format!("places-{}", fields[0])), "10");
    assert_eq!(field_value(&html, &format!("reserved-{}", fields[0])), "1");

    // An emergency social case takes a reserved place (one per station and
    // age group here); a second is refused on its field; when the child
    // leaves, the place is free again.
    let emergency = format!("{year_path}/emergency");
    let (status, html) = page(&mut manager, &host, &emergency).await;
    assert_eq!(status, 200, "{html}");
    let station = html
        .split("<option value=\"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let case = [
        ("station", station.as_str()),
        ("group", "infants"),
        ("child_name", "Άννα Κ."),
        ("reason", "Παραπομπή ΚΥ 12/2027"),
    ];
    let (status, url, html) = post(&mut manager, &host, &emergency, &csrf, &case).await;
    assert_eq!(status, 200, "{html}");
    assert!(url.ends_with("done=placed") && html.contains("Άννα Κ."));
    let (status, _, html) = post(&mut manager, &host, &emergency, &csrf, &case).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Ο σταθμός δεν έχει άλλη δεσμευμένη θέση"),
        "{html}"
    );
    let (status, _, html) = post(
        &mut manager,
        &host,
        &emergency,
        &csrf,
        &[("station", ""), ("group", "x")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"f-child_name-error\"") && html.contains("id=\"f-group-error\""));
    let (_, html) = page(&mut manager, &host, &emergency).await;
    let release = html
        .split("action=\"")
        .find(|s| s.contains("/release"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, url, _) = post(&mut manager, &host, &release, &csrf, &[]).await;
    assert_eq!(status, 200);
    assert!(url.ends_with("done=released"));
    let (status, _, _) = post(&mut manager, &host, &release, &csrf, &[]).await;
    assert_eq!(status, 404, "released once");
    let (status, _, _) = post(&mut manager, &host, &emergency, &csrf, &case).await;
    assert_eq!(status, 200, "the place is free again");

    // New dates: the window moves; the label stays.
    let mut moved = YEAR.to_vec();
    moved[1] = ("opens_on", "2027-05-25");
    let (status, _, html) = post(&mut manager, &host, &year_path, &csrf, &moved).await;
    assert_eq!(status, 200, "{html}");
    // Dates are shown in gov.gr's three boxes: day, month, year.
    assert_eq!(
        ["day", "month", "year"].map(|p| field_value(&html, &format!("opens_on-{p}"))),
        ["25", "05", "2027"]
    );
    // Typed that way too, they move the window.
    let mut typed: Vec<(&str, &str)> = YEAR
        .iter()
        .copied()
        .filter(|(k, _)| *k != "closes_on")
        .collect();
    typed.extend([
        ("closes_on-day", "16"),
        ("closes_on-month", "6"),
        ("closes_on-year", "2027"),
    ]);
    let (status, _, html) = post(&mut manager, &host, &year_path, &csrf, &typed).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(field_value(&html, "closes_on-day"), "16");
    typed.retain(|(k, _)| !k.starts_with("closes_on"));
    typed.extend([
        ("closes_on-day", "31"),
        ("closes_on-month", "2"),
        ("closes_on-year", "2027"),
    ]);
    let (status, _, html) = post(&mut manager, &host, &year_path, &csrf, &typed).await;
    assert_eq!(status, 422, "31 February is refused: {html}");
    assert!(html.contains("id=\"f-closes_on-error\""), "{html}");
    assert_eq!(
        field_value(&html, "closes_on-day"),
        "31",
        "what was typed is kept"
    );
    let (status, _, _) = post(&mut manager, &host, &year_path, &csrf, &moved).await;
    assert_eq!(status, 200);

    // The public page: the year's dates, every station with the places
    // open to applications (reserved ones off), the points table.
    let mut visitor = dimos_it::Browser::new(&app);
    let (status, html) = page(&mut visitor, &host, "/nurseries").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Σχολική χρονιά 2027-2028"));
    assert!(html.contains("25/05/2027 – 15/06/2027"), "{html}");
    assert!(html.contains("Βρεφονηπιακός Καλαμακίου"));
    let row = html
        .split("Α' Παιδικός Σταθμός")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        row.contains(">9<") && row.contains(">10<"),
        "10−1 and 11−1 places: {row}"
    );
    assert!(
        html.contains("Εργαζόμενη μητέρα") || html.contains("εργαζόμενη μητέρα"),
        "{html}"
    );
    assert!(html.contains("5 ανά παιδί"));
    assert!(html.contains("χαμηλότερο οικογενειακό εισόδημα"));
    page(&mut visitor, &host, "/lang/en").await;
    let (_, html) = page(&mut visitor, &host, "/nurseries").await;
    assert!(html.contains("School year 2027-2028") && html.contains("5 per child"));
    assert!(
        html.contains("Working mother") || html.contains("working mother"),
        "{html}"
    );

    // A station closed for the year no longer appears to parents.
    let (_, html) = page(&mut manager, &host, "/nurseries/admin").await;
    let action = html
        .split("action=\"/nurseries/admin/stations/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, _) = post(
        &mut manager,
        &host,
        &format!("/nurseries/admin/stations/{action}"),
        &csrf,
        &[
            ("name", "Α' Παιδικός Σταθμός"),
            ("address", "Κύπρου 10, Άλιμος"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = page(&mut visitor, &host, "/nurseries").await;
    assert!(!html.contains("Α' Παιδικός Σταθμός"), "closed");
    assert!(html.contains("Β' Παιδικός Σταθμός"));

    // Every change is in the audit trail.
    audited(
        &app,
        &host,
        &[
            "nursery_station_added",
            "nursery_station_changed",
            "nursery_year_added",
            "nursery_year_changed",
            "nursery_places_set",
            "nursery_emergency_placed",
            "nursery_emergency_released",
        ],
    )
    .await;
}

async fn stations_of_another_municipality_are_not_found(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alpha = tenant(&app, "alpha").await;
    let beta = tenant(&app, "beta").await;
    let mut a = person(&app, &alpha, "nursery-manager").await;
    let (_, html) = page(&mut a, &alpha, "/nurseries/admin").await;
    let csrf = csrf_of(&html);
    post(
        &mut a,
        &alpha,
        "/nurseries/admin/stations",
        &csrf,
        &[("name", "Σταθμός Άλφα"), ("address", "Οδός 1")],
    )
    .await;
    let (_, url, _) = post(&mut a, &alpha, "/nurseries/admin/years", &csrf, YEAR).await;
    let year_path = year_path_of(&url);
    let (_, html) = page(&mut a, &alpha, "/nurseries/admin").await;
    let station = html
        .split("action=\"/nurseries/admin/stations/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // The same role in another municipality, with the ids in hand.
    let mut b = person(&app, &beta, "nursery-manager").await;
    let (_, html) = page(&mut b, &beta, "/nurseries/admin").await;
    let csrf = csrf_of(&html);
    assert!(!html.contains("Σταθμός Άλφα"));
    let (status, _, _) = post(
        &mut b,
        &beta,
        &format!("/nurseries/admin/stations/{station}"),
        &csrf,
        &[("name", "Κλεμμένος"), ("address", "Οδός 2")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = page(&mut b, &beta, &year_path).await;
    assert_eq!(status, 404);
    let (status, _) = page(&mut b, &beta, &format!("{year_path}/emergency")).await;
    assert_eq!(status, 404);
    let (_, html) = page(&mut a, &alpha, "/nurseries/admin").await;
    assert!(html.contains("Σταθμός Άλφα") && !html.contains("Κλεμμένος"));
}

/// A school year whose applications are open today, with two stations of
/// 10 places per age group; returns the stations' ids and the first day.
pub(crate) async fn open_year(app: &TestApp, host: &str) -> (Vec<String>, chrono::NaiveDate) {
    let mut manager = person(app, host, "nursery-manager").await;
    let (_, html) = page(&mut manager, host, "/nurseries/admin").await;
    let csrf = csrf_of(&html);
    for name in ["Α' Παιδικός Σταθμός", "Β' Παιδικός Σταθμός"] {
        post(
            &mut manager,
            host,
            "/nurseries/admin/stations",
            &csrf,
            &[
                ("name", name),
                ("address", "Κύπρου 10, Άλιμος"),
                ("active", "1"),
            ],
        )
        .await;
    }
    let today = dimos_kernel::clock::local_date(chrono::Utc::now());
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let starts = today + chrono::Duration::days(90);
    let (status, url, html) = post(
        &mut manager,
        host,
        "/nurseries/admin/years",
        &csrf,
        &[
            ("label", "2027-2028"),
            ("opens_on", &day(-1)),
            ("closes_on", &day(20)),
            ("results_on", &day(30)),
            ("objections_until", &day(40)),
            ("starts_on", &starts.to_string()),
            ("accept_days", "10"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let year_path = year_path_of(&url);
    let fields: Vec<String> = html
        .split("name=\"places-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    let grid: Vec<(String, String)> = fields
        .iter()
        .map(|f| (format!("places-{f}"), "10".to_owned()))
        .collect();
    let form: Vec<(&str, &str)> = grid.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post(
        &mut manager,
        host,
        &format!("{year_path}/places"),
        &csrf,
        &form,
    )
    .await;
    let (_, html) = page(&mut manager, host, "/nurseries/admin").await;
    let stations = html
        .split("action=\"/nurseries/admin/stations/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    (stations, starts)
}

/// A submitted application's fields: the parent, one child per
/// (age in months on the first day, re-enrolling), the claims, the stations.
#[allow(clippy::too_many_arguments)]
pub(crate) fn family_fields(
    who: &str,
    starts: chrono::NaiveDate,
    children: &[(u32, bool)],
    together: bool,
    family_children: u32,
    income: u32,
    claims: &[&str],
    prefs: &[&str],
) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("action", "submit".to_owned()),
        ("parent_name", format!("Γονέας {who}")),
        ("email", format!("{}@example.gr", who.replace('-', ""))),
        ("mobile", "69 1234 5678".to_owned()),
        ("income", income.to_string()),
        ("family_children", family_children.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (i, (months, reenrol)) in children.iter().enumerate() {
        f.push((format!("child-{i}-name"), format!("Παιδί {} {who}", i + 1)));
        f.push((
            format!("child-{i}-birth"),
            (starts - chrono::Months::new(*months)).to_string(),
        ));
        if *reenrol {
            f.push((format!("child-{i}-reenrolment"), "1".into()));
        }
    }
    if together {
        f.push(("together".into(), "1".into()));
    }
    for c in claims {
        f.push(("claim".into(), (*c).to_owned()));
    }
    for (i, s) in prefs.iter().enumerate() {
        f.push((format!("pref-{}", i + 1), (*s).to_owned()));
    }
    f
}

/// Posts the application form as the browser does (multipart, CSRF
/// first); returns the status, the redirect target and the body.
pub(crate) async fn send_application(
    app: &TestApp,
    parent: &mut dimos_it::Browser<'_>,
    host: &str,
    fields: &[(impl AsRef<str>, String)],
    files: &[(&str, &str)],
) -> (u16, String, String) {
    let (status, html) = page(parent, host, "/nurseries/apply").await;
    assert_eq!(status, 200, "{html}");
    let mut form = reqwest::multipart::Form::new()
        .text("_csrf", csrf_of(&html))
        .text("_submission", dimos_it::submission_of(&html));
    for (k, v) in fields {
        form = form.text(k.as_ref().to_owned(), v.clone());
    }
    for (k, name) in files {
        form = form.part(
            k.to_string(),
            reqwest::multipart::Part::bytes(format!("%PDF-1.7\n% {name}\n").into_bytes())
                .file_name(name.to_string()),
        );
    }
    let res = send_multipart(parent, app, host, "/nurseries/apply", form).await;
    let status = res.status().as_u16();
    let to = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to, unescape(res.text().await.unwrap()))
}

async fn a_family_applies_and_the_committee_checks_every_line(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app, "alpha").await;
    let (stations, starts) = open_year(&app, &host).await;
    let born = |months: u32| (starts - chrono::Months::new(months)).to_string();

    // Applying needs an account verified in person.
    let mut unverified = person(&app, &host, "citizen").await;
    let (status, _) = page(&mut unverified, &host, "/nurseries/apply").await;
    assert_eq!(status, 403);

    let mut parent = person(&app, &host, "citizen-verified").await;
    let (_, html) = page(&mut parent, &host, "/nurseries").await;
    assert!(
        html.contains("href=\"/nurseries/apply\""),
        "open: the button is there"
    );

    // A draft keeps what was typed, without checking it.
    let draft = vec![
        ("action", "draft".to_owned()),
        ("child-0-name", "Νίκος Παπαδόπουλος".to_owned()),
        ("income", "πολλά".to_owned()),
    ];
    let (status, to, _) = send_application(&app, &mut parent, &host, &draft, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(to, "/nurseries/apply?saved=1");
    let (_, html) = page(&mut parent, &host, &to).await;
    assert!(html.contains("Το πρόχειρο αποθηκεύτηκε"));
    assert!(html.contains("value=\"Νίκος Παπαδόπουλος\"") && html.contains("value=\"πολλά\""));

    // Submitting checks everything, each problem on its field.
    let mut fields = vec![
        ("action", "submit".to_owned()),
        ("parent_name", "Μαρία Παπαδοπούλου".to_owned()),
        ("email", "maria@example.gr".to_owned()),
        ("mobile", "210 1234567".to_owned()),
        ("income", "18500".to_owned()),
        ("family_children", "3".to_owned()),
        ("child-0-name", "Νίκος Παπαδόπουλος".to_owned()),
        ("child-0-birth", born(14)),
        ("child-1-name", "Ελένη Παπαδοπούλου".to_owned()),
        ("child-1-birth", born(60)),
        ("claim", "resident".to_owned()),
        ("claim", "working-mother".to_owned()),
        ("together", "1".to_owned()),
        ("pref-1", stations[1].clone()),
        ("pref-2", stations[1].clone()),
    ];
    let (status, _, html) = send_application(
        &app,
        &mut parent,
        &host,
        &fields,
        &[("doc-family-status", "οικογενειακή.pdf")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("id=\"f-mobile-error\""));
    // The document that was fine is kept: not chosen again below.
    let kept = html
        .split("name=\"kept-family-status\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("the document is kept: {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(html.contains("οικογενειακή.pdf"));
    assert!(html.contains("id=\"f-child-1-birth-error\"") && html.contains("καμία ηλικιακή ομάδα"));
    assert!(html.contains("Αυτός ο σταθμός είναι ήδη στη λίστα σας"));
    let (res, _) = parent.get(&parent.url(&host, "/api/cases")).await;
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["cases"],
        json!([])
    );

    // Twins, both infants, to be placed together; two documents.
    fields[3].1 = "69 1234 5678".into();
    fields[9].1 = born(14);
    fields[14].1 = stations[0].clone();
    fields.push(("kept-family-status", kept));
    let (status, to, html) = send_application(
        &app,
        &mut parent,
        &host,
        &fields,
        &[("doc-employment", "εργασία.pdf")],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let case = to
        .split("/nurseries/applications/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (status, html) = page(&mut parent, &host, &to).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Η αίτησή σας υποβλήθηκε") && html.contains("Αριθμός πρωτοκόλλου: "));
    // 50 resident + 50 working mother + 3 × 5 large family + 20 income.
    assert!(html.contains("Τα μόριά σας: 135"), "{html}");
    assert_eq!(html.matches("προσωρινά (προς έλεγχο)").count(), 4);
    assert!(
        html.contains("Βεβαίωση εργασίας της μητέρας"),
        "each line names its proof"
    );
    assert!(html.contains("Ζητήσατε να τοποθετηθούν τα παιδιά σας μαζί"));
    // The documents are in the case file.
    let (_, html) = page(&mut parent, &host, &format!("/cases/{case}")).await;
    assert!(html.contains("οικογενειακή.pdf") && html.contains("εργασία.pdf"));

    // Once submitted, the form leads to the application; a second one is
    // refused.
    let (_, html) = page(&mut parent, &host, "/nurseries/apply").await;
    assert!(html.contains("Τα μόριά σας: 135"));

    // Nobody else sees it.
    let mut other = person(&app, &host, "technical-employee").await;
    let (status, _) = page(
        &mut other,
        &host,
        &format!("/nurseries/applications/{case}"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = page(
        &mut parent,
        &host,
        &format!("/nurseries/applications/{case}/review"),
    )
    .await;
    assert_eq!(status, 403);

    // The committee: rejecting a line needs a reason the parent reads.
    let mut manager = person(&app, &host, "nursery-manager").await;
    let review = format!("/nurseries/applications/{case}/review");
    let (status, html) = page(&mut manager, &host, &review).await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let (status, _, html) = post(
        &mut manager,
        &host,
        &review,
        &csrf,
        &[
            ("review-resident", "accepted"),
            ("review-working-mother", "rejected"),
            ("review-large-family", "accepted"),
            ("review-income", "accepted"),
            ("action", "finish"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("id=\"f-reason-working-mother-error\""),
        "{html}"
    );
    let (status, url, html) = post(
        &mut manager,
        &host,
        &review,
        &csrf,
        &[
            ("review-resident", "accepted"),
            ("review-working-mother", "rejected"),
            (
                "reason-working-mother",
                "Η βεβαίωση εργασίας είναι του 2024",
            ),
            ("review-large-family", "accepted"),
            ("review-income", "accepted"),
            ("action", "finish"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(url.contains(&format!("/staff/cases/{case}")), "{url}");

    let (_, html) = page(
        &mut parent,
        &host,
        &format!("/nurseries/applications/{case}"),
    )
    .await;
    assert!(html.contains("Τα μόριά σας: 85"), "{html}");
    assert!(html.contains("δεν έγινε δεκτό: Η βεβαίωση εργασίας είναι του 2024"));
    assert_eq!(html.matches("μετρά (ελέγχθηκε)").count(), 3);
    // The same page in English.
    page(&mut parent, &host, "/lang/en").await;
    let (_, html) = page(
        &mut parent,
        &host,
        &format!("/nurseries/applications/{case}"),
    )
    .await;
    assert!(
        html.contains("Your points: 85") && html.contains("Protocol number: "),
        "{html}"
    );
    assert_eq!(html.matches("counted (checked)").count(), 3, "{html}");
    assert!(html.contains("not accepted: Η βεβαίωση εργασίας είναι του 2024"));
    assert!(
        html.contains("Proof of the mother's employment")
            || html.contains("Proof of the mother&#x27;s employment")
    );
    page(&mut parent, &host, "/lang/el").await;
    let (_, html) = page(&mut parent, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains("Αναμένονται τα αποτελέσματα της κατανομής"),
        "{html}"
    );
}

/// One family's application in the twenty-family test.
struct Family {
    person: &'static str,
    /// (age in months on the first day, re-enrolling)
    children: &'static [(u32, bool)],
    together: bool,
    family_children: u32,
    income: u32,
    claims: &'static [&'static str],
    /// Stations by index: 0 Αγίου Νικολάου, 1 Βουλιαγμένης, 2 Γλυφάδας.
    prefs: &'static [usize],
}

pub(crate) const INFANT: (u32, bool) = (14, false);
const PRESCHOOL: (u32, bool) = (36, false);

/// Points by the Alimos table are in the comments; income breaks ties.
const FAMILIES: &[Family] = &[
    // 120: twins, together.
    Family {
        person: "parent-01",
        children: &[INFANT, INFANT],
        together: true,
        family_children: 2,
        income: 15_000,
        claims: &["resident", "working-mother"],
        prefs: &[0, 1],
    },
    // 80: twins, together.
    Family {
        person: "parent-02",
        children: &[INFANT, INFANT],
        together: true,
        family_children: 3,
        income: 25_000,
        claims: &["resident"],
        prefs: &[0, 2],
    },
    // 150: siblings of different ages, together.
    Family {
        person: "parent-03",
        children: &[INFANT, PRESCHOOL],
        together: true,
        family_children: 2,
        income: 8_000,
        claims: &["resident", "working-mother", "single-parent"],
        prefs: &[1, 2],
    },
    // 135, 115 once the disability line is rejected.
    Family {
        person: "parent-04",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 30_000,
        claims: &["resident", "working-mother", "disability"],
        prefs: &[0, 1, 2],
    },
    Family {
        person: "parent-05",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 50_000,
        claims: &["resident"],
        prefs: &[0],
    },
    Family {
        person: "parent-06",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 12_000,
        claims: &["inhabitant", "working-mother"],
        prefs: &[1, 0],
    },
    Family {
        person: "parent-07",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 19_000,
        claims: &["resident", "working-mother"],
        prefs: &[2],
    },
    Family {
        person: "parent-08",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 9_000,
        claims: &["resident"],
        prefs: &[2, 0],
    },
    Family {
        person: "parent-09",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 45_000,
        claims: &["inhabitant"],
        prefs: &[1],
    },
    Family {
        person: "parent-10",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 22_000,
        claims: &["resident", "working-mother"],
        prefs: &[0, 1],
    },
    Family {
        person: "parent-11",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 5_000,
        claims: &["resident", "single-parent"],
        prefs: &[0],
    },
    Family {
        person: "parent-12",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 35_000,
        claims: &["resident"],
        prefs: &[0, 2],
    },
    Family {
        person: "parent-13",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 18_000,
        claims: &["resident", "working-mother", "student-or-conscript"],
        prefs: &[1, 2],
    },
    Family {
        person: "parent-14",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 28_000,
        claims: &["inhabitant"],
        prefs: &[2],
    },
    Family {
        person: "parent-15",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 11_000,
        claims: &["resident", "divorced"],
        prefs: &[2, 1],
    },
    Family {
        person: "parent-16",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 60_000,
        claims: &["resident"],
        prefs: &[1],
    },
    // 20 points, but re-enrolling: placed first.
    Family {
        person: "parent-17",
        children: &[(36, true)],
        together: false,
        family_children: 1,
        income: 33_000,
        claims: &["social"],
        prefs: &[0],
    },
    // 120 like parent-01, with a higher income.
    Family {
        person: "parent-18",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 16_000,
        claims: &["resident", "working-mother"],
        prefs: &[0, 2],
    },
    Family {
        person: "parent-19",
        children: &[INFANT],
        together: false,
        family_children: 1,
        income: 100_000,
        claims: &["resident"],
        prefs: &[1, 2],
    },
    Family {
        person: "parent-20",
        children: &[PRESCHOOL],
        together: false,
        family_children: 1,
        income: 40_000,
        claims: &["working-mother"],
        prefs: &[2, 0],
    },
];

fn index_of(person: &str) -> usize {
    FAMILIES.iter().position(|f| f.person == person).unwrap()
}

/// Outbox emails to `to`, as text.
fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(app.data_dir.join("outbox")) {
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "eml") {
                let m = crate::flows::parse(&std::fs::read(p).unwrap());
                if m.headers["To"].contains(to) {
                    out.push(format!("{}\n{}", m.headers["Subject"], m.text));
                }
            }
        }
    }
    out
}

async fn twenty_families_are_placed_explained_and_the_waiting_list_moves(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        dimos_it::Options {
            clock: Some(clock.clone()),
            // Forty-odd sign-ins from one address in a minute.
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 1000),
            ..dimos_it::Options::default()
        },
    )
    .await;
    let host = tenant(&app, "alpha").await;

    // The nursery department: three stations, a school year, the places.
    let mut manager = person(&app, &host, "nursery-manager").await;
    let (_, html) = page(&mut manager, &host, "/nurseries/admin").await;
    let csrf = csrf_of(&html);
    for name in ["Αγίου Νικολάου", "Βουλιαγμένης", "Γλυφάδας"] {
        post(
            &mut manager,
            &host,
            "/nurseries/admin/stations",
            &csrf,
            &[("name", name), ("address", "Άλιμος"), ("active", "1")],
        )
        .await;
    }
    let today = dimos_kernel::clock::local_date(app.state.workflow().now());
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let starts = today + chrono::Duration::days(90);
    let (_, url, _) = post(
        &mut manager,
        &host,
        "/nurseries/admin/years",
        &csrf,
        &[
            ("label", "2027-2028"),
            ("opens_on", &day(-1)),
            ("closes_on", &day(10)),
            ("results_on", &day(12)),
            ("objections_until", &day(20)),
            ("starts_on", &starts.to_string()),
            ("accept_days", "10"),
        ],
    )
    .await;
    let year_path = year_path_of(&url);
    let (_, html) = page(&mut manager, &host, "/nurseries/admin").await;
    let stations: Vec<String> = html
        .split("action=\"/nurseries/admin/stations/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(stations.len(), 3);
    // Αγίου Νικολάου: 3 infant places, one reserved for emergencies, 2
    // preschool; Βουλιαγμένης: 2 and 1; Γλυφάδας: 2 and 2.
    let mut grid = vec![];
    for (s, (infants, reserved, preschool)) in
        stations.iter().zip([(3, 1, 2), (2, 0, 1), (2, 0, 2)])
    {
        let key = s.replace('-', "");
        grid.push((format!("places-{key}-infants"), infants.to_string()));
        grid.push((format!("reserved-{key}-infants"), reserved.to_string()));
        grid.push((format!("places-{key}-preschool"), preschool.to_string()));
    }
    let form: Vec<(&str, &str)> = grid.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, _) = post(
        &mut manager,
        &host,
        &format!("{year_path}/places"),
        &csrf,
        &form,
    )
    .await;
    assert_eq!(status, 200);

    // Twenty families apply.
    let mut cases = vec![];
    let mut protocols = vec![];
    for f in FAMILIES {
        let mut parent = person(&app, &host, f.person).await;
        let prefs: Vec<&str> = f.prefs.iter().map(|&s| stations[s].as_str()).collect();
        let fields = family_fields(
            f.person,
            starts,
            f.children,
            f.together,
            f.family_children,
            f.income,
            f.claims,
            &prefs,
        );
        let (status, to, html) = send_application(
            &app,
            &mut parent,
            &host,
            &fields,
            &[("doc-family-status", "πιστοποιητικό.pdf")],
        )
        .await;
        assert_eq!(status, 303, "{}: {html}", f.person);
        let case = to
            .split("/nurseries/applications/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let (_, html) = page(&mut parent, &host, &to).await;
        let protocol = html
            .split("Αριθμός πρωτοκόλλου: ")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .trim()
            .to_owned();
        cases.push(case);
        protocols.push(protocol);
    }

    // Placement waits for the window to close; the page says so and keeps
    // the staff member's header (name, staff area, sign-out).
    let (status, html) = page(&mut manager, &host, "/nurseries/admin/placement").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Οι αιτήσεις γίνονται δεκτές έως τις"),
        "{html}"
    );
    assert!(
        !html.contains("/nurseries/admin/placement/run"),
        "no run before the window closes"
    );
    assert!(
        html.contains("Σοφία Αντωνίου") && html.contains("action=\"/auth/logout\""),
        "{html}"
    );

    // The committee checks every line; parent-04's disability document
    // concerns nobody in the family.
    for (f, case) in FAMILIES.iter().zip(&cases) {
        let review = format!("/nurseries/applications/{case}/review");
        let (status, html) = page(&mut manager, &host, &review).await;
        assert_eq!(status, 200, "{html}");
        let csrf = csrf_of(&html);
        let ids: Vec<String> = html
            .split("name=\"review-")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut form: Vec<(String, String)> = ids
            .iter()
            .map(|id| {
                let verdict = if f.person == "parent-04" && id == "disability" {
                    "rejected"
                } else {
                    "accepted"
                };
                (format!("review-{id}"), verdict.to_owned())
            })
            .collect();
        if f.person == "parent-04" {
            form.push((
                "reason-disability".into(),
                "Η απόφαση ΚΕΠΑ δεν αφορά μέλος της οικογένειας".into(),
            ));
        }
        form.push(("action".into(), "finish".into()));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, _, html) = post(&mut manager, &host, &review, &csrf, &pairs).await;
        assert_eq!(status, 200, "{}: {html}", f.person);
    }

    // The window closes; the committee runs the placement twice with the
    // same recorded seed: the same result.
    clock.advance(chrono::Duration::days(11));
    let (status, html) = page(&mut manager, &host, "/nurseries/admin/placement").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("20 αιτήσεις, 0 χωρίς έλεγχο"), "{html}");
    let csrf = csrf_of(&html);
    let mut runs = vec![];
    for _ in 0..2 {
        let (status, url, html) = post(
            &mut manager,
            &host,
            "/nurseries/admin/placement/run",
            &csrf,
            &[("seed", "alimos-2027")],
        )
        .await;
        assert_eq!(status, 200, "{html}");
        runs.push(url.split("run=").nth(1).unwrap().to_owned());
    }
    let csv = |run: String| {
        let app = &app;
        let host = host.clone();
        let cookie = manager.cookie_header(&host).unwrap();
        async move {
            let res = app
                .get(
                    &host,
                    &format!("/nurseries/admin/placement/{run}/results.csv"),
                )
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let first = csv(runs[0].clone()).await;
    assert_eq!(first, csv(runs[1].clone()).await, "deterministic");
    // 23 children (two pairs of twins, one pair of siblings) and a header.
    assert_eq!(first.lines().count(), 24, "{first}");
    let res = app
        .get(
            &host,
            &format!("/nurseries/admin/placement/{}/ranking.csv", runs[1]),
        )
        .header("cookie", manager.cookie_header(&host).unwrap())
        .send()
        .await
        .unwrap();
    let ranking = res.text().await.unwrap();
    assert_eq!(
        ranking.lines().count(),
        21,
        "20 families, the twins and siblings as one"
    );
    // Re-enrolment first, then points, then lower income.
    let order: Vec<&str> = ranking
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    let expected: Vec<&str> = [
        "parent-17",
        "parent-03",
        "parent-13",
        "parent-01",
        "parent-18",
        "parent-07",
        "parent-10",
        "parent-04",
        "parent-11",
        "parent-06",
        "parent-15",
        "parent-02",
        "parent-08",
        "parent-12",
        "parent-20",
        "parent-05",
        "parent-16",
        "parent-19",
        "parent-14",
        "parent-09",
    ]
    .iter()
    .map(|p| protocols[index_of(p)].as_str())
    .collect();
    assert_eq!(order, expected, "{ranking}");
    // Nobody sees the results yet.
    let mut p01 = person(&app, &host, "parent-01").await;
    let (_, html) = page(
        &mut p01,
        &host,
        &format!("/nurseries/applications/{}", cases[0]),
    )
    .await;
    assert!(!html.contains("Αποτελέσματα"), "not published yet");

    // Published: every family is told, the cases close.
    let (status, _, html) = post(
        &mut manager,
        &host,
        &format!("/nurseries/admin/placement/{}/publish", runs[1]),
        &csrf,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Τα αποτελέσματα δημοσιεύθηκαν"));
    let deadline = (today + chrono::Duration::days(21))
        .format("%d/%m/%Y")
        .to_string();

    let result_page = |who: &'static str| {
        let app = &app;
        let host = host.clone();
        let case = cases[index_of(who)].clone();
        async move {
            let mut parent = person(app, &host, who).await;
            let (status, html) = page(
                &mut parent,
                &host,
                &format!("/nurseries/applications/{case}"),
            )
            .await;
            assert_eq!(status, 200, "{html}");
            html
        }
    };
    // Twins placed together at their first choice.
    let html = result_page("parent-01").await;
    assert_eq!(
        html.matches("Θέση στον σταθμό Αγίου Νικολάου, η 1η επιλογή σας")
            .count(),
        2,
        "{html}"
    );
    assert!(html.contains(&format!("έως {deadline}")));
    assert_eq!(
        html.matches("value=\"accept\"").count(),
        1,
        "the twins answer once"
    );
    // The siblings of different ages, together at their first choice.
    let html = result_page("parent-03").await;
    assert_eq!(
        html.matches("Θέση στον σταθμό Βουλιαγμένης, η 1η επιλογή σας")
            .count(),
        2
    );
    // Re-enrolment comes first, whatever the points.
    let html = result_page("parent-17").await;
    assert!(html.contains("Θέση στον σταθμό Αγίου Νικολάου, η 1η επιλογή σας"));
    // Equal points with the twins at the first choice: lower income first.
    let html = result_page("parent-18").await;
    assert!(
        html.contains("Θέση στον σταθμό Γλυφάδας, η 2η επιλογή σας"),
        "{html}"
    );
    assert!(html.contains("Σειρά 1 στη λίστα αναμονής για Βρεφικό (6 μηνών – 2,5 ετών) στον σταθμό Αγίου Νικολάου: το τελευταίο παιδί που πήρε θέση εκεί είχε 120 μόρια, εσείς έχετε 120."), "{html}");
    assert!(html.contains("Ισοβαθμία: προηγήθηκε το χαμηλότερο οικογενειακό εισόδημα."));
    // The rejected line, its reason, and a place at the second choice.
    let html = result_page("parent-04").await;
    assert!(html.contains("Τα μόριά σας: 115"));
    assert!(html.contains("δεν έγινε δεκτό: Η απόφαση ΚΕΠΑ δεν αφορά μέλος της οικογένειας"));
    assert!(
        html.contains("Θέση στον σταθμό Βουλιαγμένης, η 2η επιλογή σας"),
        "{html}"
    );
    // Twins wait-listed together, with why at each station.
    let html = result_page("parent-02").await;
    assert_eq!(html.matches("Σε λίστα αναμονής.").count(), 2, "{html}");
    // Behind parent-18 and parent-04 (placed lower on their lists) and
    // parent-06.
    assert!(html.contains("Σειρά 4 στη λίστα αναμονής για Βρεφικό (6 μηνών – 2,5 ετών) στον σταθμό Αγίου Νικολάου: το τελευταίο παιδί που πήρε θέση εκεί είχε 120 μόρια, εσείς έχετε 80."), "{html}");
    assert!(html.contains("Σειρά 1 στη λίστα αναμονής για Βρεφικό (6 μηνών – 2,5 ετών) στον σταθμό Γλυφάδας: το τελευταίο παιδί που πήρε θέση εκεί είχε 120 μόρια, εσείς έχετε 80."));
    // First on the preschool waiting list of their only choice.
    let html = result_page("parent-11").await;
    assert!(html.contains("Σειρά 1 στη λίστα αναμονής για Προνηπιακό (2,5 – 4 ετών) στον σταθμό Αγίου Νικολάου: το τελευταίο παιδί που πήρε θέση εκεί είχε 115 μόρια, εσείς έχετε 100."), "{html}");
    // The case says so too.
    let mut p11 = person(&app, &host, "parent-11").await;
    let (_, html) = page(
        &mut p11,
        &host,
        &format!("/cases/{}", cases[index_of("parent-11")]),
    )
    .await;
    assert!(
        html.contains("Σε λίστα αναμονής: δείτε τη θέση σας"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/nurseries/applications/")
            && html.contains("Η αίτηση: μόρια, αποτέλεσμα, αποδοχή θέσης"),
        "the case page leads to the module's page"
    );
    // Told they wait, not that they were refused.
    crate::flows::settle(&app).await;
    let mails = mails_to(&app, "parent11@example.gr");
    assert!(
        mails.iter().any(|m| m.contains("είναι σε λίστα αναμονής")),
        "{mails:?}"
    );
    assert!(
        !mails.iter().any(|m| m.contains("δεν εγκρίθηκε")),
        "{mails:?}"
    );

    // The notice board: protocol numbers, never names.
    let mut visitor = dimos_it::Browser::new(&app);
    let (status, html) = page(&mut visitor, &host, "/nurseries/results").await;
    assert_eq!(status, 200);
    for p in &protocols {
        assert!(html.contains(p.as_str()), "{p} on the notice");
    }
    assert!(html.contains("alimos-2027"), "the seed is published");
    assert!(
        !html.contains("Αθανασίου") && !html.contains("Παιδί 1"),
        "no names"
    );
    // The same lists in the public API, with no more than the notice.
    let years: serde_json::Value = app
        .get(&host, "/api/v1/nurseries/years")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let year_id = years[0]["id"].as_str().unwrap().to_owned();
    let published = app
        .get(&host, &format!("/api/v1/nurseries/years/{year_id}/results"))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let published: serde_json::Value = published.json().await.unwrap();
    assert_eq!(published["seed"], "alimos-2027");
    let text = published.to_string();
    for p in &protocols {
        assert!(text.contains(&format!("\"{p}\"")), "{p} in the API's lists");
    }
    assert!(
        !text.contains("Αθανασίου") && !text.contains("children") && !text.contains("reenrolment"),
        "{text}"
    );
    // Nor what points could reveal about a family: how many children,
    // re-enrolment. And how long the list stays public.
    assert!(
        !html.contains("(×") && !html.contains("επανεγγραφή"),
        "{html}"
    );
    assert!(html.contains("id=\"until\""));

    // parent-10 declines the preschool place at Αγίου Νικολάου: it goes
    // to parent-11, first on that waiting list, with a new deadline.
    let mut p10 = person(&app, &host, "parent-10").await;
    let case10 = &cases[index_of("parent-10")];
    let (_, html) = page(
        &mut p10,
        &host,
        &format!("/nurseries/applications/{case10}"),
    )
    .await;
    let unit = html
        .split("name=\"unit\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, html) = post(
        &mut p10,
        &host,
        &format!("/nurseries/applications/{case10}/answer"),
        &csrf_of(&html),
        &[("unit", &unit), ("answer", "decline")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Αρνηθήκατε τη θέση"));
    let html = result_page("parent-11").await;
    assert!(
        html.contains("Θέση στον σταθμό Αγίου Νικολάου, η 1η επιλογή σας"),
        "{html}"
    );
    let (_, html) = page(
        &mut p11,
        &host,
        &format!("/cases/{}", cases[index_of("parent-11")]),
    )
    .await;
    assert!(
        html.contains("Εγκρίθηκε: δείτε τη θέση και αποδεχθείτε την"),
        "the waiting case ends with the place: {html}"
    );
    crate::flows::settle(&app).await;
    assert!(
        mails_to(&app, "parent11@example.gr")
            .iter()
            .any(|m| m.contains("Σας προσφέρεται θέση σε παιδικό σταθμό από τη λίστα αναμονής")),
        "{:?}",
        mails_to(&app, "parent11@example.gr")
    );

    // Everyone placed accepts, except parent-04, whose offer lapses: the
    // infant place at Βουλιαγμένης goes to parent-06.
    for who in [
        "parent-01",
        "parent-03",
        "parent-13",
        "parent-17",
        "parent-18",
        "parent-07",
        "parent-15",
        "parent-11",
    ] {
        let mut parent = person(&app, &host, who).await;
        let case = &cases[index_of(who)];
        let (_, html) = page(
            &mut parent,
            &host,
            &format!("/nurseries/applications/{case}"),
        )
        .await;
        let unit = html
            .split("name=\"unit\" value=\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{who} can answer: {html}"))
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let (status, _, html) = post(
            &mut parent,
            &host,
            &format!("/nurseries/applications/{case}/answer"),
            &csrf_of(&html),
            &[("unit", &unit), ("answer", "accept")],
        )
        .await;
        assert_eq!(status, 200, "{who}: {html}");
        assert!(html.contains("Αποδεχθήκατε τη θέση"));
    }
    clock.advance(chrono::Duration::days(11));
    app.state.scheduler().run_due(100).await.unwrap();
    let html = result_page("parent-04").await;
    assert!(html.contains("Η προθεσμία αποδοχής έληξε"), "{html}");
    let html = result_page("parent-06").await;
    assert!(
        html.contains("Θέση στον σταθμό Βουλιαγμένης, η 1η επιλογή σας"),
        "{html}"
    );
    // The accepted places stay.
    let html = result_page("parent-01").await;
    assert_eq!(html.matches("αποδεχθήκατε τη θέση").count(), 2);

    // The year is under way: the committee closes the waiting list; the
    // twins still waiting hear their application ends without a place.
    let (_, html) = page(&mut manager, &host, "/nurseries/admin/placement").await;
    let (status, _, html) = post(
        &mut manager,
        &host,
        "/nurseries/admin/placement/close-list",
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Η λίστα αναμονής έκλεισε"));
    let mut p02 = person(&app, &host, "parent-02").await;
    let (_, html) = page(
        &mut p02,
        &host,
        &format!("/cases/{}", cases[index_of("parent-02")]),
    )
    .await;
    assert!(
        html.contains("Δεν διατέθηκε θέση: η λίστα αναμονής έκλεισε"),
        "{html}"
    );

    // Every step is audited.
    audited(
        &app,
        &host,
        &[
            "nursery_application_reviewed",
            "nursery_placement_run",
            "nursery_placement_published",
            "nursery_place_declined",
            "nursery_place_accepted",
            "nursery_waiting_list_closed",
        ],
    )
    .await;

    // A month into the school year the public lists come down: each
    // family reads its result in its own application.
    clock.advance(chrono::Duration::days(400));
    let mut visitor = dimos_it::Browser::new(&app);
    let (status, html) = page(&mut visitor, &host, "/nurseries/results").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"withdrawn\""), "{html}");
    for p in &protocols {
        assert!(!html.contains(p.as_str()), "{p} is no longer public");
    }
    let gone = app
        .get(&host, &format!("/api/v1/nurseries/years/{year_id}/results"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "nor in the API");
}

async fn the_admin_sets_the_points_and_an_upheld_objection_revises_the_results(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        dimos_it::Options {
            clock: Some(clock.clone()),
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 1000),
            ..dimos_it::Options::default()
        },
    )
    .await;
    let host = tenant(&app, "alpha").await;
    let (stations, starts) = open_year(&app, &host).await;

    // The municipal admin: a working mother is worth 60 here; a bad table
    // is refused on its inputs.
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (status, html) = page(&mut admin, &host, "/nurseries/settings/all").await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let inputs = |html: &str| -> Vec<(String, String)> {
        let mut out = vec![];
        for part in html.split("<input ").skip(1) {
            let attr = |name: &str| {
                part.split(&format!(" {name}=\""))
                    .nth(1)
                    .map(|v| v.split('"').next().unwrap().to_owned())
            };
            let (Some(n), Some(v)) = (attr("name"), attr("value")) else {
                continue;
            };
            let tag = part.split('>').next().unwrap();
            if (tag.contains("type=\"checkbox\"") || tag.contains("type=\"radio\""))
                && !tag.contains(" checked")
            {
                continue;
            }
            if n != "_csrf" {
                out.push((n, v));
            }
        }
        out
    };
    let mut form = inputs(&html);
    let wm = form
        .iter()
        .find(|(_, v)| v == "working-mother")
        .unwrap()
        .0
        .replace("-id", "-points");
    for (k, v) in form.iter_mut() {
        if *k == wm {
            *v = "εξήντα".into();
        }
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, html) = post(&mut admin, &host, "/nurseries/settings", &csrf, &pairs).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(&format!("id=\"f-{wm}\"")) && html.contains("value=\"εξήντα\""));
    for (k, v) in form.iter_mut() {
        if *k == wm {
            *v = "60".into();
        }
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, html) = post(&mut admin, &host, "/nurseries/settings", &csrf, &pairs).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Οι ρυθμίσεις αποθηκεύτηκαν"));
    let mut visitor = dimos_it::Browser::new(&app);
    let (_, html) = page(&mut visitor, &host, "/nurseries").await;
    let row = html
        .split("Εργαζόμενη μητέρα")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(row.contains(">60<"), "the public table follows: {row}");

    // Two families for one preschool place at the first station (the
    // grid gave it 10: the admin's places are set to 1 here).
    let mut manager = person(&app, &host, "nursery-manager").await;
    let (_, html) = page(&mut manager, &host, "/nurseries/admin").await;
    let year_path = html
        .split("href=\"/nurseries/admin/years/")
        .nth(1)
        .map(|s| format!("/nurseries/admin/years/{}", s.split('"').next().unwrap()))
        .unwrap();
    let (_, html) = page(&mut manager, &host, &year_path).await;
    let key = stations[0].replace('-', "");
    let other = stations[1].replace('-', "");
    let grid = [
        (format!("places-{key}-preschool"), "1".to_owned()),
        (format!("places-{other}-preschool"), "0".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = grid.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, _) = post(
        &mut manager,
        &host,
        &format!("{year_path}/places"),
        &csrf_of(&html),
        &pairs,
    )
    .await;
    assert_eq!(status, 200);

    let mut cases = vec![];
    for (who, claims, income) in [
        // 50 + 60 + 20 = 130, by the municipality's table.
        ("parent-01", vec!["resident", "working-mother"], 20_000),
        // 50 + 25 + 20 + 15 + 25 = 135.
        (
            "parent-02",
            vec![
                "resident",
                "single-parent",
                "disability",
                "student-or-conscript",
            ],
            9_000,
        ),
    ] {
        let mut parent = person(&app, &host, who).await;
        let fields = family_fields(
            who,
            starts,
            &[PRESCHOOL],
            false,
            1,
            income,
            &claims,
            &[&stations[0]],
        );
        let (status, to, html) = send_application(&app, &mut parent, &host, &fields, &[]).await;
        assert_eq!(status, 303, "{html}");
        cases.push(
            to.split("/nurseries/applications/")
                .nth(1)
                .unwrap()
                .split('?')
                .next()
                .unwrap()
                .to_owned(),
        );
        if who == "parent-01" {
            let (_, html) = page(&mut parent, &host, &to).await;
            assert!(html.contains("Τα μόριά σας: 130"), "{html}");
        }
    }
    // A third family applies, then withdraws: it takes no place.
    let mut p03 = person(&app, &host, "parent-03").await;
    let fields = family_fields(
        "parent-03",
        starts,
        &[PRESCHOOL],
        false,
        1,
        1_000,
        &["resident", "working-mother", "single-parent"],
        &[&stations[0]],
    );
    let (status, to, _) = send_application(&app, &mut p03, &host, &fields, &[]).await;
    assert_eq!(status, 303);
    let withdrawn = to
        .split("/nurseries/applications/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = page(&mut p03, &host, &to).await;
    let withdrawn_protocol = html
        .split("Αριθμός πρωτοκόλλου: ")
        .nth(1)
        .map(|s| s.split('<').next().unwrap().trim().to_owned())
        .unwrap_or_default();
    let (_, html) = page(&mut p03, &host, &format!("/cases/{withdrawn}")).await;
    let (status, _, _) = post(
        &mut p03,
        &host,
        &format!("/cases/{withdrawn}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "Βρήκαμε θέση αλλού")],
    )
    .await;
    assert_eq!(status, 200);
    // While the window is open, the withdrawn application is their draft
    // again, as typed, to correct and submit anew.
    let (status, html) = page(&mut p03, &host, "/nurseries/apply").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("value=\"Παιδί 1 parent-03\""), "{html}");

    // The committee rejects parent-02's single-parent line: 110 against 130.
    let reason = ("single-parent", "Δεν προσκομίστηκε απόφαση επιμέλειας");
    review_all(&mut manager, &host, &cases[0], None, "finish").await;
    review_all(&mut manager, &host, &cases[1], Some(reason), "finish").await;
    clock.advance(chrono::Duration::days(21));
    let (_, html) = page(&mut manager, &host, "/nurseries/admin/placement").await;
    let csrf = csrf_of(&html);
    let (_, url, _) = post(
        &mut manager,
        &host,
        "/nurseries/admin/placement/run",
        &csrf,
        &[("seed", "1")],
    )
    .await;
    let run = url.split("run=").nth(1).unwrap().to_owned();
    let (status, html) = page(
        &mut manager,
        &host,
        &format!("/nurseries/admin/placement/{run}/ranking"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains(">130<") && html.contains(">110<"),
        "the printable ranking: {html}"
    );
    assert!(!withdrawn_protocol.is_empty());
    assert!(
        !html.contains(&format!(">{withdrawn_protocol}<")),
        "withdrawn: not ranked"
    );
    assert_eq!(
        html.matches("<tr class=\"govgr-table__row\">").count(),
        3,
        "a header and two families"
    );
    post(
        &mut manager,
        &host,
        &format!("/nurseries/admin/placement/{run}/publish"),
        &csrf,
        &[],
    )
    .await;

    // Published before the results day: objections open on it.
    let mut p02 = person(&app, &host, "parent-02").await;
    let app_page = format!("/nurseries/applications/{}", cases[1]);
    let (_, html) = page(&mut p02, &host, &app_page).await;
    assert!(html.contains("Σε λίστα αναμονής."), "{html}");
    assert!(
        !html.contains("Υποβολή ένστασης"),
        "not yet the objection window"
    );
    clock.advance(chrono::Duration::days(9));
    let (_, html) = page(&mut p02, &host, &app_page).await;
    assert!(html.contains("Υποβολή ένστασης"), "{html}");
    // An empty objection is refused on its field, on the same page.
    let send = |text: &'static str, csrf: String| {
        reqwest::multipart::Form::new()
            .text("_csrf", csrf)
            .text("objection", text)
            .part(
                "doc-evidence",
                reqwest::multipart::Part::bytes(b"%PDF-1.7\n% custody\n".to_vec())
                    .file_name("επιμέλεια.pdf"),
            )
    };
    let path = format!("{app_page}/objection");
    let res = send_multipart(&p02, &app, &host, &path, send("  ", csrf_of(&html))).await;
    assert_eq!(res.status(), 422);
    assert!(unescape(res.text().await.unwrap()).contains("id=\"f-objection-error\""));
    let res = send_multipart(
        &p02,
        &app,
        &host,
        &path,
        send(
            "Προσκομίζω την απόφαση επιμέλειας που έλειπε.",
            csrf_of(&html),
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    let objection = res.headers()["location"]
        .to_str()
        .unwrap()
        .split("/cases/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = page(&mut p02, &host, &format!("/cases/{objection}")).await;
    assert!(
        html.contains("Η επιτροπή εξετάζει την ένστασή σας") && html.contains("επιμέλεια.pdf"),
        "{html}"
    );

    // The committee upholds it, corrects the line, runs the placement
    // again and publishes: the places swap and both families are told.
    let task = crate::flows::claim(&mut manager, &host, &objection).await;
    let (status, html) = crate::flows::complete(
        &mut manager,
        &host,
        &objection,
        &task,
        &[
            ("outcome", "upheld"),
            (
                "comment",
                "Η απόφαση επιμέλειας προσκομίστηκε· το κριτήριο μετρά.",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let url = review_all(&mut manager, &host, &cases[1], None, "save").await;
    assert!(url.contains("saved=1"), "corrected after the check: {url}");
    let (_, url, _) = post(
        &mut manager,
        &host,
        "/nurseries/admin/placement/run",
        &csrf,
        &[("seed", "1")],
    )
    .await;
    let run2 = url.split("run=").nth(1).unwrap().to_owned();
    let (status, _, html) = post(
        &mut manager,
        &host,
        &format!("/nurseries/admin/placement/{run2}/publish"),
        &csrf,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, html) = page(&mut p02, &host, &app_page).await;
    assert!(
        html.contains("Θέση στον σταθμό Α' Παιδικός Σταθμός, η 1η επιλογή σας"),
        "{html}"
    );
    let mut p01 = person(&app, &host, "parent-01").await;
    let (_, html) = page(
        &mut p01,
        &host,
        &format!("/nurseries/applications/{}", cases[0]),
    )
    .await;
    assert!(html.contains("Σε λίστα αναμονής."), "{html}");
    assert!(html.contains("είχε 135 μόρια, εσείς έχετε 130"), "{html}");
    crate::flows::settle(&app).await;
    for to in ["parent01@example.gr", "parent02@example.gr"] {
        assert!(
            mails_to(&app, to)
                .iter()
                .any(|m| m.contains("το αποτέλεσμά σας άλλαξε")),
            "{to}: {:?}",
            mails_to(&app, to)
        );
    }
    // The audit says what changed.
    let (_, html) = page(&mut admin, &host, "/admin/audit").await;
    assert!(
        html.contains("nursery_placement_published") && html.contains("nursery_settings_changed")
    );
}

/// The committee decides every line of an application: all accepted but
/// `rejected` (line, reason); returns where it landed.
async fn review_all(
    manager: &mut dimos_it::Browser<'_>,
    host: &str,
    case: &str,
    rejected: Option<(&str, &str)>,
    action: &str,
) -> String {
    let review = format!("/nurseries/applications/{case}/review");
    let (status, html) = page(manager, host, &review).await;
    assert_eq!(status, 200, "{html}");
    let ids: std::collections::BTreeSet<String> = html
        .split("name=\"review-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    let mut form: Vec<(String, String)> = vec![];
    for id in ids {
        match rejected {
            Some((r, reason)) if r == id => {
                form.push((format!("review-{id}"), "rejected".into()));
                form.push((format!("reason-{id}"), reason.into()));
            }
            _ => form.push((format!("review-{id}"), "accepted".into())),
        }
    }
    form.push(("action".into(), action.into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, url, html) = post(manager, host, &review, &csrf_of(&html), &pairs).await;
    assert_eq!(status, 200, "{html}");
    url
}

/// The municipal admin finds each action in the audit trail.
async fn audited(app: &TestApp, host: &str, actions: &[&str]) {
    let mut admin = person(app, host, "municipal-admin").await;
    let (_, html) = page(&mut admin, host, "/admin/audit").await;
    for action in actions {
        assert!(html.contains(action), "{action} in the audit trail");
    }
}

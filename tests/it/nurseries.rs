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
);

async fn tenant(app: &TestApp, slug: &str) -> String {
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

    // New dates: the window moves; the label stays.
    let mut moved = YEAR.to_vec();
    moved[1] = ("opens_on", "2027-05-25");
    let (status, _, html) = post(&mut manager, &host, &year_path, &csrf, &moved).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(field_value(&html, "opens_on"), "2027-05-25");

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
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (_, html) = page(&mut admin, &host, "/admin/audit").await;
    for action in [
        "nursery_station_added",
        "nursery_station_changed",
        "nursery_year_added",
        "nursery_year_changed",
        "nursery_places_set",
    ] {
        assert!(html.contains(action), "{action}");
    }
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
    let (_, html) = page(&mut a, &alpha, "/nurseries/admin").await;
    assert!(html.contains("Σταθμός Άλφα") && !html.contains("Κλεμμένος"));
}

/// A school year whose applications are open today, with two stations of
/// 10 places per age group; returns the stations' ids and the first day.
async fn open_year(app: &TestApp, host: &str) -> (Vec<String>, chrono::NaiveDate) {
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

/// Posts the application form as the browser does (multipart, CSRF
/// first); returns the status, the redirect target and the body.
async fn send_application(
    app: &TestApp,
    parent: &mut dimos_it::Browser<'_>,
    host: &str,
    fields: &[(&str, String)],
    files: &[(&str, &str)],
) -> (u16, String, String) {
    let (status, html) = page(parent, host, "/nurseries/apply").await;
    assert_eq!(status, 200, "{html}");
    let mut form = reqwest::multipart::Form::new().text("_csrf", csrf_of(&html));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
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
    let (status, _, html) = send_application(&app, &mut parent, &host, &fields, &[]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("id=\"f-mobile-error\""));
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
    let (status, to, html) = send_application(
        &app,
        &mut parent,
        &host,
        &fields,
        &[
            ("doc-family-status", "οικογενειακή.pdf"),
            ("doc-employment", "εργασία.pdf"),
        ],
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
    let (_, html) = page(&mut parent, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains("Αναμένονται τα αποτελέσματα της κατανομής"),
        "{html}"
    );
}

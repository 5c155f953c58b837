//! Bulky waste pickups over HTTP, in the demo municipality of Alimos (its
//! three collection areas from `tenants/alimos.toml`): the cleaning
//! department imports the street list, a citizen books a pickup by
//! following links, the crew closes it on the route and the citizen reads
//! why; a withdrawal gives the day's place back; many people at once never
//! overbook a day; Open311 clients file and read requests in XML and JSON.

use crate::flows::{page, person, post, send_multipart, unescape};
use dimos_it::{Backend, Browser, Options, TestApp, csrf_of, on_both_backends, workspace_root};
use serde_json::{Value, json};

on_both_backends!(
    a_pickup_is_booked_worked_by_the_crew_and_explained_to_the_citizen,
    the_department_sets_areas_items_fees_and_holidays,
    on_the_day_it_is_too_late_to_cancel_and_a_past_week_is_forgotten,
    many_people_at_once_never_overbook_a_day_or_an_address,
    open311_clients_file_and_read_requests_in_xml_and_json,
    a_fee_is_paid_once_through_the_bank_whichever_word_comes_first,
    drawn_areas_and_the_municipality_s_map_place_a_pin,
    money_to_give_back_is_named_and_a_wrong_amount_never_pays,
);

const HOST: &str = "alimos.localhost";
const STREETS: &str = include_str!("../../modules/bulky/data/alimos-streets.csv");

async fn app(b: Backend) -> TestApp {
    TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            ..Options::default()
        },
    )
    .await
}

/// The `href`s of a page that start with `prefix`.
fn hrefs(html: &str, prefix: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .filter(|h| h.starts_with(prefix))
        .collect()
}

/// The supervisor reaches the import page from the staff area and pastes
/// the sample list.
async fn import_streets(app: &TestApp) {
    let mut sup = person(app, HOST, "cleaning-supervisor").await;
    let (_, hub) = page(&mut sup, HOST, "/staff").await;
    let days = hrefs(&hub, "/bulky/days");
    assert!(!days.is_empty(), "the staff area links the days: {hub}");
    let (status, html) = page(&mut sup, HOST, &days[0]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("0 οδούς"), "no list yet");
    let import = hrefs(&html, "/bulky/streets/import");
    let (_, html) = page(&mut sup, HOST, &import[0]).await;
    // A bad line is named and nothing changes.
    let bad = format!("{STREETS}Οδός Χωρίς Περιοχή,17455,Γλυφάδα\n");
    let (status, _, page_html) = post(
        &mut sup,
        HOST,
        "/bulky/streets/import",
        &csrf_of(&html),
        &[("csv", &bad)],
    )
    .await;
    assert_eq!(status, 422, "{page_html}");
    assert!(page_html.contains("Οδός Χωρίς Περιοχή: η περιοχή δεν είναι περιοχή αποκομιδής"));
    let (status, url, html) = post(
        &mut sup,
        HOST,
        "/bulky/streets/import",
        &csrf_of(&page_html),
        &[("csv", STREETS)],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(url.contains("/bulky/days"), "{url}");
    assert!(html.contains("12 οδούς"), "{html}");
}

/// Step 1 with an address; the page it answers with.
async fn address(b: &mut Browser<'_>, street: &str, number: &str, area: &str) -> (u16, String) {
    // Without a street list the postcode is asked for; with one, it is not needed.
    let postcode = if area.is_empty() { "" } else { "17455" };
    let (status, html) = page(b, HOST, "/bulky/request").await;
    assert_eq!(status, 200, "{html}");
    let (status, _, html) = post(
        b,
        HOST,
        "/bulky/request/details",
        &csrf_of(&html),
        &[
            ("street", street),
            ("number", number),
            ("postcode", postcode),
            ("area", area),
        ],
    )
    .await;
    (status, html)
}

/// The values of the day radios offered on step 2.
fn offered_days(html: &str) -> Vec<String> {
    html.split("name=\"day\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// Sends step 2 (multipart, as a browser does): the response, unfollowed.
async fn send(
    app: &TestApp,
    b: &Browser<'_>,
    step2: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new()
        .text("_csrf", csrf_of(step2))
        .text("_submission", dimos_it::submission_of(step2));
    for name in ["street", "number", "postcode", "area", "lat", "lon"] {
        let v = step2
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("")
            .to_owned();
        form = form.text(name.to_owned(), unescape(v));
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    send_multipart(b, app, HOST, "/bulky/request", form).await
}

fn case_of(res: &reqwest::Response) -> String {
    let loc = res
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: {}", res.status()))
        .to_str()
        .unwrap()
        .to_owned();
    loc.trim_start_matches("/cases/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// The Monday of a `YYYY-MM-DD` day's week.
fn week(day: &str) -> chrono::NaiveDate {
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    d - chrono::Duration::days(i64::from(
        chrono::Datelike::weekday(&d).num_days_from_monday(),
    ))
}

/// Books a pickup for `citizen` in Kalamaki (no street list needed); the
/// case's id. For tests that need one to look at.
pub(crate) async fn book(app: &TestApp, citizen: &mut Browser<'_>) -> String {
    let (status, step2) = address(citizen, "Αγίου Νικολάου", "5", "kalamaki").await;
    assert_eq!(status, 200, "{step2}");
    let day = offered_days(&step2)[0].clone();
    let res = send(
        app,
        citizen,
        &step2,
        &[
            ("item-furniture", "1"),
            ("contact_phone", "6912345678"),
            ("day", &day),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    case_of(&res)
}

async fn booked(app: &TestApp, area: &str) -> i64 {
    app.sql_value::<i64>(&format!(
        "SELECT COALESCE(SUM(booked), 0) FROM bulky_days WHERE area = '{area}'"
    ))
    .await
}

async fn a_pickup_is_booked_worked_by_the_crew_and_explained_to_the_citizen(b: Backend) {
    let app = app(b).await;
    import_streets(&app).await;
    let mut citizen = person(&app, HOST, "citizen").await;
    // From the municipality's home page to the service and its form.
    let (_, home) = page(&mut citizen, HOST, "/").await;
    assert!(
        hrefs(&home, "/bulky")
            .iter()
            .any(|h| h == "/bulky/" || h == "/bulky"),
        "a card on the home page"
    );
    let (status, intro) = page(&mut citizen, HOST, "/bulky/").await;
    assert_eq!(status, 200, "{intro}");
    assert!(
        intro.contains("Μπάζα και οικοδομικά υλικά"),
        "what is not collected is said"
    );
    assert!(hrefs(&intro, "/bulky/request").len() == 1);

    // A street not quite typed is offered back; the folded one is found.
    let (status, html) = address(&mut citizen, "Ποσειδ", "12", "").await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("μήπως εννοείτε: Λεωφόρος Ποσειδώνος (17455)"),
        "{html}"
    );
    let (status, html) = address(&mut citizen, "Γλυφάδας", "1", "").await;
    assert_eq!(status, 422);
    assert!(html.contains("δεν είναι στον κατάλογο"));
    let (status, step2) = address(&mut citizen, "λεωφορος ποσειδωνος", "12α", "").await;
    assert_eq!(status, 200, "{step2}");
    assert!(step2.contains("Λεωφόρος Ποσειδώνος 12Α, 17455") && step2.contains("Καλαμάκι"));
    let days = offered_days(&step2);
    assert!(days.len() >= 4, "{days:?}");
    // Kalamaki is collected on Mondays and Thursdays.
    for d in &days {
        let wd =
            chrono::Datelike::weekday(&chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
        assert!(
            matches!(wd, chrono::Weekday::Mon | chrono::Weekday::Thu),
            "{d}"
        );
    }

    // What the rules refuse, all at once, and nothing filed.
    let res = send(
        &app,
        &citizen,
        &step2,
        &[
            ("item-debris", "1"),
            ("item-mattress", "100"),
            ("contact_phone", "12"),
            ("day", "2020-01-01"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = unescape(res.text().await.unwrap());
    for m in ["Γράψτε ελληνικό κινητό ή σταθερό", "Μη έγκυρη τιμή"]
    {
        assert!(html.contains(m), "{m}: {html}");
    }
    let res = send(
        &app,
        &citizen,
        &step2,
        &[
            ("item-debris", "1"),
            ("item-mattress", "11"),
            ("contact_phone", "6912345678"),
            ("day", "2020-01-01"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = unescape(res.text().await.unwrap());
    for m in [
        "Δεν παραλαμβάνεται με αυτόν τον τρόπο",
        "δεν είναι ημέρα αποκομιδής",
    ] {
        assert!(html.contains(m), "{m}: {html}");
    }
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM bulky_requests")
            .await,
        0
    );

    // Booked: the case page says the day.
    let res = send(
        &app,
        &citizen,
        &step2,
        &[
            ("item-mattress", "2"),
            ("item-furniture", "1"),
            ("description", "Δίπλα στην είσοδο"),
            ("contact_phone", "69 1234 5678"),
            ("day", &days[0]),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let case = case_of(&res);
    // Sent again (a double click): the same case, no second booking.
    let again = send(
        &app,
        &citizen,
        &step2,
        &[
            ("item-mattress", "2"),
            ("item-furniture", "1"),
            ("contact_phone", "69 1234 5678"),
            ("day", &days[0]),
        ],
    )
    .await;
    assert_eq!(case_of(&again), case);
    assert_eq!(booked(&app, "kalamaki").await, 1);
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    let day0 = chrono::NaiveDate::parse_from_str(&days[0], "%Y-%m-%d").unwrap();
    assert!(
        html.contains(&format!(
            "Η αποκομιδή ορίστηκε για τις {}",
            day0.format("%d/%m/%Y")
        )),
        "{html}"
    );
    assert!(
        html.contains("2 × Στρώμα, 1 × Έπιπλο"),
        "what was asked: {html}"
    );

    // The same address, the same week: the weekly limit.
    let (_, step2b) = address(&mut citizen, "Λεωφόρος Ποσειδώνος", "12Α", "").await;
    let same_week = offered_days(&step2b)
        .into_iter()
        .find(|d| *d != days[0] && week(d) == week(&days[0]));
    if let Some(d) = same_week {
        let res = send(
            &app,
            &citizen,
            &step2b,
            &[
                ("item-garden", "1"),
                ("contact_phone", "6912345678"),
                ("day", &d),
            ],
        )
        .await;
        assert_eq!(res.status(), 422);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("όσες αιτήσεις επιτρέπονται")
        );
    }
    // Another week: booked, then withdrawn: the place is given back.
    let later = offered_days(&step2b)
        .into_iter()
        .rev()
        .find(|d| d.as_str() != days[0].as_str())
        .unwrap();
    let res = send(
        &app,
        &citizen,
        &step2b,
        &[
            ("item-garden", "3"),
            ("contact_phone", "6912345678"),
            ("day", &later),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let second = case_of(&res);
    assert_eq!(booked(&app, "kalamaki").await, 2);
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{second}")).await;
    let (status, _, html) = post(
        &mut citizen,
        HOST,
        &format!("/cases/{second}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "Τα πήρε γείτονας")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(booked(&app, "kalamaki").await, 1);
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM bulky_requests WHERE status = 'cancelled'")
            .await,
        1
    );

    // The supervisor sees the day's route; the crew walks to that day.
    let mut sup = person(&app, HOST, "cleaning-supervisor").await;
    let (_, html) = page(&mut sup, HOST, "/bulky/days").await;
    let link = hrefs(&html, &format!("/bulky/days/{}", days[0]))
        .into_iter()
        .find(|h| h.contains("area=kalamaki"))
        .unwrap_or_else(|| panic!("{html}"));
    let (status, route) = page(&mut sup, HOST, &link).await;
    assert_eq!(status, 200);
    assert!(
        route.contains("Λεωφόρος Ποσειδώνος 12Α, 17455") && route.contains("+306912345678"),
        "{route}"
    );
    // The supervisor moves it to the next day offered: the place follows,
    // the citizen's history says so, Open311 would see it updated.
    let move_to = route
        .split("name=\"day\"><option value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let action = route
        .split("action=\"/bulky/requests/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let (status, url, moved) = post(
        &mut sup,
        HOST,
        &format!("/bulky/requests/{action}"),
        &csrf_of(&route),
        &[("day", &move_to)],
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert!(url.contains("done=moved"), "{url}");
    assert_eq!(
        app.sql_value::<String>(
            "SELECT CAST(day AS TEXT) FROM bulky_requests WHERE status = 'booked'"
        )
        .await,
        move_to
    );
    assert_eq!(
        app.sql_value::<i64>(&format!(
            "SELECT COALESCE(SUM(booked), 0) FROM bulky_days WHERE CAST(day AS TEXT) = '{move_to}'"
        ))
        .await,
        1,
        "the new day's place is taken"
    );
    assert_eq!(
        booked(&app, "kalamaki").await,
        1,
        "and the old one given back"
    );
    assert_eq!(
        app.sql_value::<i64>(
            "SELECT COUNT(*) FROM bulky_requests WHERE status = 'booked' AND updated_at > created_at"
        )
        .await,
        1,
        "updated when moved"
    );
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    assert!(html.contains("Η αποκομιδή μεταφέρθηκε στις"), "{html}");

    let mut crew = person(&app, HOST, "cleaning-crew").await;
    let (_, hub) = page(&mut crew, HOST, "/staff").await;
    let mut at = hrefs(&hub, "/bulky/crew")[0].clone();
    let mut html = String::new();
    for _ in 0..30 {
        let (_, h) = page(&mut crew, HOST, &at).await;
        html = h;
        if html.contains("Λεωφόρος Ποσειδώνος 12Α") {
            break;
        }
        at = hrefs(&html, "/bulky/crew?day=").into_iter().nth(1).unwrap();
    }
    assert!(
        html.contains("Λεωφόρος Ποσειδώνος 12Α"),
        "the crew reaches the day"
    );
    let request = html
        .split("action=\"/bulky/crew/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let csrf = csrf_of(&html);
    // Not taken needs its reason.
    let (status, _, _) = post(
        &mut crew,
        HOST,
        &format!("/bulky/crew/{request}"),
        &csrf,
        &[("outcome", "refused")],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _, html) = post(
        &mut crew,
        HOST,
        &format!("/bulky/crew/{request}"),
        &csrf,
        &[("outcome", "refused"), ("note", "Υπήρχαν και μπάζα")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Δεν παραλήφθηκαν"), "{html}");
    // A second press changes nothing.
    let (status, _, _) = post(
        &mut crew,
        HOST,
        &format!("/bulky/crew/{request}"),
        &csrf,
        &[("outcome", "collected")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM bulky_requests WHERE status = 'refused'")
            .await,
        1
    );

    // The citizen reads the outcome and the reason.
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    assert!(
        html.contains("Τα αντικείμενα δεν παραλήφθηκαν") && html.contains("Υπήρχαν και μπάζα"),
        "{html}"
    );
}

async fn many_people_at_once_never_overbook_a_day_or_an_address(b: Backend) {
    let app = app(b).await;
    // A small day, to fill it.
    let mut cfg: Value = json!({
        "areas": [{"id": "all", "name": "Όλος ο δήμος", "weekdays": ["mon","tue","wed","thu","fri"], "capacity": 3}],
    });
    cfg["per_week"] = json!(1);
    app.enable_module("alimos", "bulky", cfg).await;
    let n = 8;
    let mut people = vec![];
    let mut forms = vec![];
    for i in 0..n {
        let mut c = person(&app, HOST, "citizen-verified").await;
        let (status, step2) = address(&mut c, "Οδός Δοκιμής", &format!("{}", i + 1), "all").await;
        assert_eq!(status, 200, "{step2}");
        forms.push(step2);
        people.push(c);
    }
    let day = offered_days(&forms[0])[0].clone();
    let sends = people.iter().zip(&forms).map(|(c, f)| {
        let (app, day) = (&app, day.clone());
        async move {
            send(
                app,
                c,
                f,
                &[
                    ("item-mattress", "1"),
                    ("contact_phone", "6912345678"),
                    ("day", &day),
                ],
            )
            .await
        }
    });
    let results = futures::future::join_all(sends).await;
    let ok = results.iter().filter(|r| r.status() == 303).count();
    let full = results.iter().filter(|r| r.status() == 422).count();
    assert_eq!(
        (ok, full),
        (3, n - 3),
        "{:?}",
        results
            .iter()
            .map(reqwest::Response::status)
            .collect::<Vec<_>>()
    );
    assert_eq!(booked(&app, "all").await, 3);
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM bulky_requests WHERE status = 'booked'")
            .await,
        3
    );
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM cases").await,
        3,
        "a refused booking files no case"
    );

    // One address, four days of the same week at once: one request.
    let next_week: Vec<String> = offered_days(&forms[0])
        .into_iter()
        .filter(|d| week(d) != week(&day))
        .collect();
    let target = week(&next_week[0]);
    let same: Vec<String> = next_week
        .into_iter()
        .filter(|d| week(d) == target)
        .take(4)
        .collect();
    assert!(same.len() >= 2, "{same:?}");
    let mut people = vec![];
    let mut forms = vec![];
    for _ in &same {
        let mut c = person(&app, HOST, "citizen-verified").await;
        let (_, step2) = address(&mut c, "Οδός Δοκιμής", "100", "all").await;
        forms.push(step2);
        people.push(c);
    }
    let sends = people.iter().zip(&forms).zip(&same).map(|((c, f), d)| {
        let app = &app;
        async move {
            send(
                app,
                c,
                f,
                &[
                    ("item-mattress", "1"),
                    ("contact_phone", "6912345678"),
                    ("day", d),
                ],
            )
            .await
        }
    });
    let results = futures::future::join_all(sends).await;
    assert_eq!(
        results.iter().filter(|r| r.status() == 303).count(),
        1,
        "{:?}",
        results
            .iter()
            .map(reqwest::Response::status)
            .collect::<Vec<_>>()
    );
}

async fn open311(
    app: &TestApp,
    host: &str,
    method: reqwest::Method,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let mut req = app.req(
        method.clone(),
        host,
        &format!("/api/v1/bulky/open311/{path}"),
    );
    if method == reqwest::Method::POST {
        req = req.form(form);
    } else {
        req = req.query(form);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, res.text().await.unwrap())
}

async fn open311_clients_file_and_read_requests_in_xml_and_json(b: Backend) {
    let app = app(b).await;
    import_streets(&app).await;
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (status, html) = crate::api_clients::register(
        &mut admin,
        HOST,
        &[
            ("name", "Εφαρμογή γειτονιάς"),
            ("scope", "bulky.open311"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let key = html
        .split("<code>")
        .filter_map(|c| c.split("</code>").next())
        .find(|c| c.contains(".dimos_cs_"))
        .unwrap_or_else(|| panic!("the Open311 key is shown: {html}"))
        .to_owned();
    use reqwest::Method as M;

    // Services: open to all, in both formats.
    let (status, ctype, body) = open311(&app, HOST, M::GET, "services.xml", &[]).await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "text/xml; charset=utf-8"),
        "{body}"
    );
    assert!(
        body.starts_with("<?xml")
            && body.contains("<services><service>")
            && body.contains("<service_code>bulky</service_code>"),
        "{body}"
    );
    let (status, _, body) = open311(
        &app,
        HOST,
        M::GET,
        "services.json",
        &[("jurisdiction_id", "alimos")],
    )
    .await;
    assert_eq!(status, 200);
    let services: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(services[0]["service_code"], "bulky");
    assert_eq!(services[0]["metadata"], true);
    let (_, _, body) = open311(&app, HOST, M::GET, "services/bulky.json", &[]).await;
    let def: Value = serde_json::from_str(&body).unwrap();
    let codes: Vec<&str> = def["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"mattress") && codes.contains(&"day") && !codes.contains(&"debris"),
        "{codes:?}"
    );
    let (status, _, body) = open311(&app, HOST, M::GET, "services/nothing.xml", &[]).await;
    assert_eq!(status, 404);
    assert!(body.contains("<errors><error><code>404</code>"), "{body}");
    let (status, _, _) = open311(
        &app,
        HOST,
        M::GET,
        "services.json",
        &[("jurisdiction_id", "athens")],
    )
    .await;
    assert_eq!(status, 404);

    // Filing needs a key, the service, an address of the list.
    let request = [
        ("service_code", "bulky"),
        ("address_string", "Αμφιτρίτης 7, 17455"),
        ("attribute[furniture]", "2"),
        ("first_name", "Ελένη"),
        ("last_name", "Παππά"),
        ("phone", "6900000001"),
        ("description", "Δύο καρέκλες"),
        // The spot, with the address.
        ("lat", "37.9105"),
        ("long", "23.7101"),
    ];
    let (status, _, body) = open311(&app, HOST, M::POST, "requests.json", &request).await;
    assert_eq!(status, 403, "{body}");
    let errors: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(errors[0]["code"], 403);
    let mut with_key = request.to_vec();
    with_key.push(("api_key", key.as_str()));
    let (status, _, body) = open311(
        &app,
        "papagou-cholargou.localhost",
        M::POST,
        "requests.json",
        &with_key,
    )
    .await;
    assert!(
        status == 403 || status == 404,
        "another municipality: {status} {body}"
    );
    let (status, _, body) = open311(&app, HOST, M::POST, "requests.json", &with_key).await;
    assert_eq!(status, 201, "{body}");
    let made: Value = serde_json::from_str(&body).unwrap();
    let id = made[0]["service_request_id"].as_str().unwrap().to_owned();
    let mut bad = with_key.clone();
    bad[1] = ("address_string", "Ανύπαρκτη 1");
    let (status, _, body) = open311(&app, HOST, M::POST, "requests.xml", &bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.starts_with("<?xml")
            && body.contains(
                "<errors><error><code>400</code><description>street: bulky-street-unknown"
            ),
        "{body}"
    );
    let mut far = with_key.clone();
    far.retain(|(k, _)| *k != "lat");
    far.push(("lat", "north"));
    let (status, _, body) = open311(&app, HOST, M::POST, "requests.json", &far).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("map: bulky-pin"), "{body}");
    let mut xml = with_key.clone();
    xml[1] = ("address_string", "Δωδεκανήσου 3");
    let (status, ctype, body) = open311(&app, HOST, M::POST, "requests.xml", &xml).await;
    assert_eq!(
        (status, ctype.as_str()),
        (201, "text/xml; charset=utf-8"),
        "{body}"
    );
    assert!(
        body.contains("<service_requests><request>") && body.contains("<service_request_id>"),
        "{body}"
    );

    // Read back: one, a list, a token, in both formats; closed by the crew.
    let (status, _, body) = open311(
        &app,
        HOST,
        M::GET,
        &format!("requests/{id}.json"),
        &[("api_key", &key)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let one: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (one[0]["status"].as_str(), one[0]["dimos_status"].as_str()),
        (Some("open"), Some("booked"))
    );
    assert_eq!(one[0]["address"], "Αμφιτρίτης 7");
    assert_eq!(
        (one[0]["lat"].as_f64(), one[0]["long"].as_f64()),
        (Some(37.9105), Some(23.7101))
    );
    let (status, _, _) = open311(&app, HOST, M::GET, &format!("requests/{id}.json"), &[]).await;
    assert_eq!(status, 403, "addresses are not for everyone");
    let (_, _, body) = open311(
        &app,
        HOST,
        M::GET,
        "requests.xml",
        &[("api_key", &key), ("status", "open")],
    )
    .await;
    assert_eq!(body.matches("<request>").count(), 2, "{body}");
    let (_, _, body) = open311(
        &app,
        HOST,
        M::GET,
        &format!("tokens/{id}.json"),
        &[("api_key", &key)],
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"],
        id.as_str()
    );

    // Another client of the same municipality reads none of them.
    let (_, html) = crate::api_clients::register(
        &mut admin,
        HOST,
        &[
            ("name", "Άλλη εφαρμογή"),
            ("scope", "bulky.open311"),
            ("days", "30"),
        ],
    )
    .await;
    let other = html
        .split("<code>")
        .filter_map(|c| c.split("</code>").next())
        .find(|c| c.contains(".dimos_cs_"))
        .unwrap()
        .to_owned();
    let (status, _, _) = open311(
        &app,
        HOST,
        M::GET,
        &format!("requests/{id}.json"),
        &[("api_key", &other)],
    )
    .await;
    assert_eq!(status, 404, "another client's request");
    let (_, _, body) = open311(&app, HOST, M::GET, "requests.json", &[("api_key", &other)]).await;
    assert_eq!(body, "[]");

    // A client that is not ours: curl as the spec's examples call it.
    let out = tokio::process::Command::new("bash")
        .arg(workspace_root().join("tests/open311/georeport.sh"))
        .arg(format!(
            "http://127.0.0.1:{}/api/v1/bulky/open311",
            app.port()
        ))
        .arg(format!("{HOST}:{}", app.port()))
        .arg(&key)
        .output()
        .await
        .expect("bash and curl");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The crew closes it; Open311 says closed, and why.
    let mut crew = person(&app, HOST, "cleaning-crew").await;
    let day = one[0]["expected_datetime"].as_str().unwrap()[..10].to_owned();
    let (_, html) = page(&mut crew, HOST, &format!("/bulky/crew?day={day}")).await;
    // Not found, with the reason and a photo from the phone's camera.
    let form = not_found_with_photo(&csrf_of(&html));
    let res = send_multipart(
        &crew,
        &app,
        HOST,
        &format!("/bulky/crew/{id}/problem"),
        form,
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM documents WHERE original_name = 'stop.png'")
            .await,
        1,
        "the photo is in the case file"
    );
    // Sent again (a second press with the photo): no second photo.
    let again = not_found_with_photo(&csrf_of(&html));
    let res = send_multipart(
        &crew,
        &app,
        HOST,
        &format!("/bulky/crew/{id}/problem"),
        again,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM documents WHERE original_name = 'stop.png'")
            .await,
        1
    );
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM api_clients WHERE last_used_at IS NULL")
            .await,
        0,
        "each key's use is noted"
    );
    let (_, _, body) = open311(
        &app,
        HOST,
        M::GET,
        &format!("requests/{id}.xml"),
        &[("api_key", &key)],
    )
    .await;
    assert!(
        body.contains("<status>closed</status>")
            && body.contains("<dimos_status>not-found</dimos_status>")
            && body.contains("Δεν υπήρχε τίποτα έξω"),
        "{body}"
    );
}

/// The crew's "not found" with its reason and a photo from the camera.
fn not_found_with_photo(csrf: &str) -> reqwest::multipart::Form {
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap();
    reqwest::multipart::Form::new()
        .text("_csrf", csrf.to_owned())
        .text("outcome", "not-found")
        .text("note", "Δεν υπήρχε τίποτα έξω")
        .part(
            "doc-photo",
            reqwest::multipart::Part::bytes(png)
                .file_name("stop.png")
                .mime_str("image/png")
                .unwrap(),
        )
}

/// The form's fields as a browser sends them back: every input's value,
/// checked checkboxes only.
fn form_fields(html: &str) -> Vec<(String, String)> {
    let form = html
        .split("<form method=\"post\" action=\"/bulky/settings\"")
        .nth(1)
        .unwrap();
    let form = form.split("</form>").next().unwrap();
    let mut out = vec![];
    for tag in form.split('<').skip(1) {
        let attr = |name: &str| {
            tag.split(&format!(" {name}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(|v| unescape(v.to_owned()))
        };
        if tag.starts_with("input") {
            let Some(name) = attr("name") else { continue };
            if name == "_csrf" {
                continue;
            }
            if attr("type").as_deref() == Some("checkbox") && !tag.contains(" checked") {
                continue;
            }
            out.push((name, attr("value").unwrap_or_default()));
        } else if tag.starts_with("textarea") {
            let name = attr("name").unwrap();
            let text = tag
                .split_once('>')
                .map(|(_, t)| t.to_owned())
                .unwrap_or_default();
            out.push((name, unescape(text)));
        }
    }
    out
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(k, _)| k != name);
    fields.push((name.to_owned(), value.to_owned()));
}

async fn the_department_sets_areas_items_fees_and_holidays(b: Backend) {
    let app = app(b).await;
    let mut sup = person(&app, HOST, "cleaning-supervisor").await;
    let (_, days) = page(&mut sup, HOST, "/bulky/days").await;
    let (status, html) = page(&mut sup, HOST, &hrefs(&days, "/bulky/settings")[0]).await;
    assert_eq!(status, 200, "{html}");
    let mut fields = form_fields(&html);
    assert!(
        fields
            .iter()
            .any(|(k, v)| k == "area-0-name" && v == "Καλαμάκι"),
        "{fields:?}"
    );
    // A fee that is not money and a day that does not exist: both named,
    // nothing saved.
    let spare_item = (0..20)
        .find(|i| {
            !fields
                .iter()
                .any(|(k, v)| *k == format!("item-{i}-id") && !v.is_empty())
        })
        .unwrap();
    set(&mut fields, &format!("item-{spare_item}-id"), "sofa");
    set(&mut fields, &format!("item-{spare_item}-el"), "Καναπές");
    set(&mut fields, &format!("item-{spare_item}-en"), "Sofa");
    set(&mut fields, &format!("item-{spare_item}-fee"), "δύο");
    set(&mut fields, "closed_days", "25/12/2026\n30/02/2027");
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, page_html) =
        post(&mut sup, HOST, "/bulky/settings", &csrf_of(&html), &form).await;
    assert_eq!(status, 422, "{page_html}");
    assert!(
        page_html.contains("id=\"f-item-") && page_html.contains("30/02/2027"),
        "{page_html}"
    );
    // Corrected: saved, and the citizen sees the fee and the holiday.
    set(&mut fields, &format!("item-{spare_item}-fee"), "5,50");
    set(&mut fields, "closed_days", "25/12/2026");
    set(&mut fields, "area-0-capacity", "1");
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, url, saved) = post(
        &mut sup,
        HOST,
        "/bulky/settings",
        &csrf_of(&page_html),
        &form,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert!(
        url.contains("saved=1") && saved.contains("Οι ρυθμίσεις αποθηκεύτηκαν"),
        "{url}"
    );
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    let (_, intro) = page(&mut citizen, HOST, "/bulky/").await;
    assert!(intro.contains("Καναπές — 5,50 € το τεμάχιο"), "{intro}");
    let (status, step2) = address(&mut citizen, "Αγίου Νικολάου", "8", "kalamaki").await;
    assert_eq!(status, 200, "{step2}");
    assert!(
        !offered_days(&step2).contains(&"2026-12-25".to_owned()),
        "the holiday is not offered"
    );
    let day = offered_days(&step2)[0].clone();
    let res = send(
        &app,
        &citizen,
        &step2,
        &[
            ("item-sofa", "1"),
            ("contact_phone", "6912345678"),
            ("day", &day),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let case = case_of(&res);
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    assert!(html.contains("5,50 €"), "the fee on the case: {html}");
    // A day of capacity 1, now full: no longer offered to the next person.
    let (_, step2) = address(&mut citizen, "Αγίου Νικολάου", "9", "kalamaki").await;
    assert!(
        !offered_days(&step2).contains(&day),
        "a full day is not offered"
    );

    // Kalamaki has a booking: it cannot be removed.
    let (_, html) = page(&mut sup, HOST, "/bulky/settings").await;
    let mut fields = form_fields(&html);
    set(&mut fields, "area-0-id", "");
    set(&mut fields, "area-0-name", "");
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, html) = post(&mut sup, HOST, "/bulky/settings", &csrf_of(&html), &form).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Η περιοχή έχει προγραμματισμένες αποκομιδές"),
        "{html}"
    );

    // A crew member may not change the settings.
    let mut crew = person(&app, HOST, "cleaning-crew").await;
    let (status, _) = page(&mut crew, HOST, "/bulky/settings").await;
    assert_eq!(status, 403);
}

async fn on_the_day_it_is_too_late_to_cancel_and_a_past_week_is_forgotten(b: Backend) {
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
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    let case = book(&app, &mut citizen).await;
    let households = || app.sql_value::<i64>("SELECT COUNT(*) FROM bulky_households");
    assert_eq!(households().await, 1);
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    let day = html
        .split("Η αποκομιδή ορίστηκε για τις ")
        .nth(1)
        .map(|s| s[..10].to_owned())
        .unwrap();
    let day = chrono::NaiveDate::parse_from_str(&day, "%d/%m/%Y").unwrap();
    // The morning of the pickup day: the crew may be on the way.
    clock.set(chrono::DateTime::from_naive_utc_and_offset(
        day.and_hms_opt(6, 0, 0).unwrap(),
        chrono::Utc,
    ));
    let (status, _, html) = post(
        &mut citizen,
        HOST,
        &format!("/cases/{case}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "Άλλαξα γνώμη")],
    )
    .await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("δεν ακυρώνεται πια"), "{html}");
    assert_eq!(booked(&app, "kalamaki").await, 1, "the place stays taken");
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM bulky_requests WHERE status = 'booked'")
            .await,
        1
    );
    // The week is over: its counter, which holds the address, goes.
    clock.advance(chrono::Duration::days(10));
    app.state.scheduler().run_due(100).await.unwrap();
    assert_eq!(households().await, 0, "the address's week is forgotten");
}

/// Books a pickup of a large load of cuttings (a fee of 20 €) at `number`;
/// the case id.
async fn book_with_fee(app: &TestApp, citizen: &mut Browser<'_>, number: &str) -> String {
    let (status, step2) = address(citizen, "Αγίου Νικολάου", number, "kalamaki").await;
    assert_eq!(status, 200, "{step2}");
    assert!(
        step2.contains("20,00 € το τεμάχιο"),
        "the fee is said: {step2}"
    );
    let day = offered_days(&step2)[0].clone();
    let res = send(
        app,
        citizen,
        &step2,
        &[
            ("item-garden-load", "1"),
            ("contact_phone", "6912345678"),
            ("day", &day),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    case_of(&res)
}

/// From the case page's pay button to the bank's checkout page: (the
/// payment's id, the checkout's URL, its page).
async fn to_the_bank(
    app: &TestApp,
    citizen: &mut Browser<'_>,
    case: &str,
) -> (String, String, String) {
    let (_, html) = page(citizen, HOST, &format!("/cases/{case}")).await;
    assert!(html.contains("Πληρωμή 20,00 € με κάρτα"), "{html}");
    let pay = html
        .split("action=\"/payments/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let url = citizen.url(HOST, &format!("/payments/{pay}/pay"));
    let res = citizen
        .request(
            reqwest::Method::POST,
            &url,
            Some(&[("_csrf", csrf_of(&html).as_str())]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let checkout = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        checkout.starts_with(&format!(
            "http://localhost:{}/dev-pay/checkout/",
            app.port()
        )),
        "{checkout}"
    );
    let res = citizen.request(reqwest::Method::GET, &checkout, None).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // The bank's page may send the person back to the municipality.
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' http://{HOST}:{}", app.port())),
        "{csp}"
    );
    let bank = res.text().await.unwrap();
    assert!(
        bank.contains("20,00 €") && bank.contains("Δήμος Αλίμου"),
        "{bank}"
    );
    (pay, checkout, bank)
}

/// The person's choice on the bank's page; the page they end on, unless
/// they close the tab on the way back.
async fn at_the_bank(
    citizen: &mut Browser<'_>,
    checkout: &str,
    fields: &[(&str, &str)],
    come_back: bool,
) -> (String, String) {
    let res = citizen
        .request(reqwest::Method::POST, checkout, Some(fields))
        .await;
    assert_eq!(res.status(), 303);
    if !come_back {
        return (String::new(), String::new());
    }
    let (res, url) = citizen.follow(res, checkout.to_owned()).await;
    assert_eq!(res.status(), 200);
    (url, unescape(res.text().await.unwrap()))
}

async fn a_fee_is_paid_once_through_the_bank_whichever_word_comes_first(b: Backend) {
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
    let mut citizen = person(&app, HOST, "citizen").await;
    let case = book_with_fee(&app, &mut citizen, "5").await;
    let payments = |status: &'static str| {
        let app = &app;
        async move {
            app.sql_value::<i64>(&format!(
                "SELECT COUNT(*) FROM payments WHERE status = '{status}'"
            ))
            .await
        }
    };
    let events =
        || app.sql_value::<i64>("SELECT COUNT(*) FROM case_events WHERE kind = 'payment-paid'");
    assert_eq!(payments("due").await, 1);

    // Declined: nothing paid, the page says so and offers another try.
    let (_, checkout, _) = to_the_bank(&app, &mut citizen, &case).await;
    let (url, html) = at_the_bank(&mut citizen, &checkout, &[("action", "decline")], true).await;
    assert!(
        url.ends_with(&format!("/cases/{case}?done=unpaid")),
        "{url}"
    );
    assert!(html.contains("Η πληρωμή δεν ολοκληρώθηκε"), "{html}");
    assert!(html.contains("Πληρωμή 20,00 € με κάρτα"), "another try");
    assert_eq!(payments("due").await, 1);

    // Paid: the bank's notice settles it, the return finds it settled.
    let (pay, checkout, _) = to_the_bank(&app, &mut citizen, &case).await;
    let (url, html) = at_the_bank(&mut citizen, &checkout, &[("action", "pay")], true).await;
    assert!(url.ends_with(&format!("/cases/{case}?done=paid")), "{url}");
    assert!(html.contains("Η πληρωμή καταχωρίστηκε"), "{html}");
    assert!(
        html.contains("Πληρώθηκαν 20,00 €"),
        "in the history: {html}"
    );
    assert!(!html.contains("με κάρτα"), "nothing more to pay");
    assert_eq!((payments("paid").await, events().await), (1, 1));
    // The return again, the poll, the bank's pages again, the pay form
    // again: still paid once.
    assert_eq!(
        dimos_pages::payments::reconcile(&app.state).await.unwrap(),
        0,
        "nothing open to ask about"
    );
    let res = citizen
        .request(reqwest::Method::POST, &checkout, Some(&[("action", "pay")]))
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = page(&mut citizen, HOST, &format!("/cases/{case}")).await;
    let res = citizen
        .request(
            reqwest::Method::POST,
            &citizen.url(HOST, &format!("/payments/{pay}/pay")),
            Some(&[("_csrf", csrf_of(&html).as_str())]),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/cases/{case}").as_str(),
        "a paid fee is not charged again"
    );
    assert_eq!((payments("paid").await, events().await), (1, 1));

    // Notices: a forged one is refused, one for no checkout of ours is
    // unknown, the bank's own sent again changes nothing.
    let checkout_id = checkout.rsplit('/').next().unwrap().to_owned();
    let notice = |id: &str, status: &str| json!({"checkout": id, "status": status}).to_string();
    let send_notice = |body: String, signature: Option<String>| {
        let app = &app;
        async move {
            let ts = app.state.workflow().now().timestamp();
            let sig = signature
                .unwrap_or_else(|| dimos_payments::dev::sign("n-1", ts, body.as_bytes()).unwrap());
            app.req(reqwest::Method::POST, HOST, "/payments/notify/dev")
                .header("content-type", "application/json")
                .header("webhook-id", "n-1")
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        send_notice(notice(&checkout_id, "paid"), Some("v1,Zm9yZ2Vk".into())).await,
        400
    );
    assert_eq!(
        send_notice(notice(&uuid::Uuid::now_v7().to_string(), "paid"), None).await,
        404
    );
    assert_eq!(send_notice(notice(&checkout_id, "paid"), None).await, 204);
    assert_eq!((payments("paid").await, events().await), (1, 1));

    // Nobody else's: another person, another municipality.
    let mut other = person(&app, HOST, "citizen-verified").await;
    let (_, html) = page(&mut other, HOST, "/").await;
    let res = other
        .request(
            reqwest::Method::POST,
            &other.url(HOST, &format!("/payments/{pay}/pay")),
            Some(&[("_csrf", csrf_of(&html).as_str())]),
        )
        .await;
    assert_eq!(res.status(), 404);
    let there = "papagou-cholargou.localhost";
    let mut elsewhere = person(&app, there, "citizen").await;
    let (_, html) = page(&mut elsewhere, there, "/").await;
    let res = elsewhere
        .request(
            reqwest::Method::POST,
            &elsewhere.url(there, &format!("/payments/{pay}/pay")),
            Some(&[("_csrf", csrf_of(&html).as_str())]),
        )
        .await;
    assert_eq!(res.status(), 404);

    // The notice lost, the person back: the return asks the bank.
    let case2 = book_with_fee(&app, &mut other, "7").await;
    let (_, checkout, _) = to_the_bank(&app, &mut other, &case2).await;
    let (url, _) = at_the_bank(
        &mut other,
        &checkout,
        &[("action", "pay"), ("lose_notice", "on")],
        true,
    )
    .await;
    assert!(url.ends_with("?done=paid"), "{url}");
    assert_eq!((payments("paid").await, events().await), (2, 2));

    // The notice lost and the tab closed: the poll catches it, once the
    // checkout is old enough to ask about.
    let mut third = person(&app, HOST, "parent-01").await;
    let case3 = book_with_fee(&app, &mut third, "9").await;
    let (_, checkout, _) = to_the_bank(&app, &mut third, &case3).await;
    at_the_bank(
        &mut third,
        &checkout,
        &[("action", "pay"), ("lose_notice", "on")],
        false,
    )
    .await;
    assert_eq!(payments("paid").await, 2, "nobody has told us yet");
    assert_eq!(
        dimos_pages::payments::reconcile(&app.state).await.unwrap(),
        0
    );
    clock.advance(chrono::Duration::minutes(3));
    assert_eq!(
        dimos_pages::payments::reconcile(&app.state).await.unwrap(),
        1
    );
    assert_eq!((payments("paid").await, events().await), (3, 3));
    let (_, html) = page(&mut third, HOST, &format!("/cases/{case3}")).await;
    assert!(html.contains("Πληρώθηκαν 20,00 €"), "{html}");

    // A checkout left open: the bank closes it after its hour, the poll
    // then gives the attempt up, and the person may try again.
    let mut fifth = person(&app, HOST, "parent-03").await;
    let case5 = book_with_fee(&app, &mut fifth, "13").await;
    let (_, left_open, _) = to_the_bank(&app, &mut fifth, &case5).await;
    clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        dimos_pages::payments::reconcile(&app.state).await.unwrap(),
        1
    );
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM payment_attempts WHERE status = 'cancelled'")
            .await,
        1
    );
    let (bank, _) = fifth.get(&left_open).await;
    assert!(
        bank.text()
            .await
            .unwrap()
            .contains("Η συναλλαγή έχει ολοκληρωθεί")
    );
    let (_, html) = page(&mut fifth, HOST, &format!("/cases/{case5}")).await;
    assert!(
        html.contains("δεν ολοκληρώθηκε") && html.contains("Πληρωμή 20,00 € με κάρτα"),
        "{html}"
    );

    // The crew's list says who paid; a withdrawn request owes nothing.
    let mut fourth = person(&app, HOST, "parent-02").await;
    let case4 = book_with_fee(&app, &mut fourth, "11").await;
    let mut sup = person(&app, HOST, "cleaning-supervisor").await;
    let day = app
        .sql_value::<String>("SELECT MIN(CAST(day AS TEXT)) FROM bulky_requests")
        .await;
    let (_, list) = page(&mut sup, HOST, "/bulky/days").await;
    let first_day = hrefs(&list, "/bulky/days/")
        .into_iter()
        .find(|h| h.contains(&day) && h.contains("area=kalamaki"))
        .unwrap();
    let (_, route) = page(&mut sup, HOST, &first_day).await;
    assert!(
        route.contains("20,00 € (πληρώθηκε)") && route.contains("20,00 € (δεν έχει πληρωθεί)"),
        "{route}"
    );
    let (_, html) = page(&mut fourth, HOST, &format!("/cases/{case4}")).await;
    let (status, _, html) = post(
        &mut fourth,
        HOST,
        &format!("/cases/{case4}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(payments("cancelled").await, 1);
    assert!(!html.contains("με κάρτα"), "{html}");
}

/// Trachones drawn as a square around (37.905, 23.755).
const TRACHONES: &str = "37.90, 23.75\n37.90, 23.76\n37.91, 23.76\n37.91, 23.75";

async fn drawn_areas_and_the_municipality_s_map_place_a_pin(b: Backend) {
    let app = app(b).await;
    let mut citizen = person(&app, HOST, "citizen").await;
    // No tile server: no map, nothing from elsewhere allowed.
    let url = citizen.url(HOST, "/bulky/request");
    let res = citizen.request(reqwest::Method::GET, &url, None).await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("dimos-map") && !html.contains("leaflet"),
        "{html}"
    );
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");

    // The department draws Trachones and configures its tile server.
    let mut sup = person(&app, HOST, "cleaning-supervisor").await;
    let (_, days) = page(&mut sup, HOST, "/bulky/days").await;
    let (_, html) = page(&mut sup, HOST, &hrefs(&days, "/bulky/settings")[0]).await;
    let mut fields = form_fields(&html);
    assert_eq!(
        fields
            .iter()
            .find(|(k, _)| k == "area-2-name")
            .map(|(_, v)| v.as_str()),
        Some("Τράχωνες")
    );
    set(&mut fields, "area-2-polygon", "37.90, 23.75\n37.90");
    set(
        &mut fields,
        "map-tiles",
        "http://tiles.example.gr/{z}/{x}/{y}.png",
    );
    set(
        &mut fields,
        "map-attribution",
        "© OpenStreetMap contributors",
    );
    set(&mut fields, "map-lat", "37,905");
    set(&mut fields, "map-lon", "23.73");
    set(&mut fields, "map-zoom", "14");
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, page_html) =
        post(&mut sup, HOST, "/bulky/settings", &csrf_of(&html), &form).await;
    assert_eq!(status, 422, "{page_html}");
    assert!(
        page_html.contains("Γραμμή 2: χρειάζεται «γεωγρ. πλάτος, μήκος»"),
        "{page_html}"
    );
    assert!(
        page_html.contains("Χρειάζεται διεύθυνση https"),
        "{page_html}"
    );
    set(&mut fields, "area-2-polygon", TRACHONES);
    set(
        &mut fields,
        "map-tiles",
        "http://127.0.0.1:9/{z}/{x}/{y}.png",
    );
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, saved) = post(
        &mut sup,
        HOST,
        "/bulky/settings",
        &csrf_of(&page_html),
        &form,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert!(
        saved.contains("37.9, 23.75"),
        "the outline shown back: {saved}"
    );

    // The citizen's address step: the map, its scripts, the tile server's
    // origin allowed for images only.
    let res = citizen.request(reqwest::Method::GET, &url, None).await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = unescape(res.text().await.unwrap());
    assert!(
        csp.contains("img-src 'self' data: http://127.0.0.1:9;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        html.contains("data-tiles=\"http://127.0.0.1:9/{z}/{x}/{y}.png\""),
        "{html}"
    );
    assert!(html.contains("Τράχωνες"), "the drawn area goes to the map");
    for asset in ["leaflet.js", "dimos-map.js", "leaflet.css"] {
        let src = html
            .split(&format!("/static/{asset}?v="))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{asset} linked: {html}"));
        let res = citizen
            .request(
                reqwest::Method::GET,
                &citizen.url(HOST, &format!("/static/{asset}?v={src}")),
                None,
            )
            .await;
        assert_eq!(res.status(), 200, "{asset}");
        assert!(res.bytes().await.unwrap().len() > 1000, "{asset}");
    }
    // Other pages stay without the map's scripts.
    let (_, home) = page(&mut citizen, HOST, "/").await;
    assert!(!home.contains("leaflet"), "{home}");

    // No street list: a pin inside Trachones places the address there,
    // without asking for the area.
    let step1 = |lat: &'static str, lon: &'static str| {
        vec![
            ("street", "Οδός Δοκιμής"),
            ("number", "3"),
            ("postcode", "17456"),
            ("area", ""),
            ("lat", lat),
            ("lon", lon),
        ]
    };
    let (_, html) = page(&mut citizen, HOST, "/bulky/request").await;
    let (status, _, step2) = post(
        &mut citizen,
        HOST,
        "/bulky/request/details",
        &csrf_of(&html),
        &step1("37.905", "23.755"),
    )
    .await;
    assert_eq!(status, 200, "{step2}");
    assert!(step2.contains("Τράχωνες"), "{step2}");
    // Outside the drawn area (the others are not drawn): the area is asked
    // for as without a pin.
    let (status, _, html2) = post(
        &mut citizen,
        HOST,
        "/bulky/request/details",
        &csrf_of(&html),
        &step1("37.80", "23.755"),
    )
    .await;
    assert_eq!(status, 422, "{html2}");
    assert!(html2.contains("id=\"f-area-error\""), "{html2}");
    // Not a point: said on the map.
    for ((lat, lon), message) in [
        (("abc", "23.7"), "Το σημείο του χάρτη δεν διαβάζεται"),
        (("37.9", ""), "Το σημείο του χάρτη δεν διαβάζεται"),
    ] {
        let (status, _, html2) = post(
            &mut citizen,
            HOST,
            "/bulky/request/details",
            &csrf_of(&html),
            &step1(lat, lon),
        )
        .await;
        assert_eq!(status, 422, "{html2}");
        assert!(html2.contains(message), "{message}: {html2}");
        assert!(html2.contains("id=\"f-map-error\""), "{html2}");
    }
    // Booked with the pin: the request keeps the spot, for the route.
    let day = offered_days(&step2)[0].clone();
    let res = send(
        &app,
        &citizen,
        &step2,
        &[
            ("item-mattress", "1"),
            ("contact_phone", "6912345678"),
            ("day", &day),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.sql_value::<String>("SELECT area FROM bulky_requests")
            .await,
        "trachones"
    );
    let lat = app.sql_value::<f64>("SELECT lat FROM bulky_requests").await;
    assert!((lat - 37.905).abs() < 1e-9, "{lat}");
}

/// A notice as the development bank signs it, sent to `host`; the status.
async fn bank_notice(app: &TestApp, host: &str, body: Value) -> u16 {
    let body = body.to_string();
    let ts = app.state.workflow().now().timestamp();
    let sig = dimos_payments::dev::sign("n-2", ts, body.as_bytes()).unwrap();
    app.req(reqwest::Method::POST, host, "/payments/notify/dev")
        .header("content-type", "application/json")
        .header("webhook-id", "n-2")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn money_to_give_back_is_named_and_a_wrong_amount_never_pays(b: Backend) {
    let app = app(b).await;
    let kinds = |kind: &'static str| {
        let app = &app;
        async move {
            app.sql_value::<i64>(&format!(
                "SELECT COUNT(*) FROM case_events WHERE kind = '{kind}'"
            ))
            .await
        }
    };
    // Two tabs, both paid: one payment, the second to give back.
    let mut citizen = person(&app, HOST, "citizen").await;
    let case = book_with_fee(&app, &mut citizen, "5").await;
    let (_, first, _) = to_the_bank(&app, &mut citizen, &case).await;
    let (_, second, _) = to_the_bank(&app, &mut citizen, &case).await;
    assert_ne!(first, second);
    at_the_bank(&mut citizen, &first, &[("action", "pay")], true).await;
    at_the_bank(&mut citizen, &second, &[("action", "pay")], true).await;
    assert_eq!(
        (
            kinds("payment-paid").await,
            kinds("payment-paid-twice").await
        ),
        (1, 1)
    );

    // A checkout whose amount was altered on its way: not paid, named.
    let mut other = person(&app, HOST, "citizen-verified").await;
    let case2 = book_with_fee(&app, &mut other, "7").await;
    let (_, checkout, _) = to_the_bank(&app, &mut other, &case2).await;
    let id = checkout.rsplit('/').next().unwrap().to_owned();
    // Another municipality's host knows no such checkout.
    assert_eq!(
        bank_notice(
            &app,
            "papagou-cholargou.localhost",
            json!({"checkout": id, "status": "paid", "amount_cents": 2000})
        )
        .await,
        404
    );
    assert_eq!(
        bank_notice(
            &app,
            HOST,
            json!({"checkout": id, "status": "paid", "amount_cents": 1})
        )
        .await,
        204
    );
    assert_eq!(kinds("payment-wrong-amount").await, 1);
    let (_, html) = page(&mut other, HOST, &format!("/cases/{case2}")).await;
    assert!(
        html.contains("Πληρωμή 20,00 € με κάρτα"),
        "still due: {html}"
    );
    assert!(html.contains("δεν ολοκληρώθηκε"), "{html}");

    // Paid after the request was withdrawn: nothing was owed, to give back.
    let (_, checkout, _) = to_the_bank(&app, &mut other, &case2).await;
    let (_, html) = page(&mut other, HOST, &format!("/cases/{case2}")).await;
    let (status, _, html) = post(
        &mut other,
        HOST,
        &format!("/cases/{case2}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    at_the_bank(&mut other, &checkout, &[("action", "pay")], true).await;
    assert_eq!(kinds("payment-paid-after-withdrawal").await, 1);
    assert_eq!(
        app.sql_value::<i64>("SELECT COUNT(*) FROM payments WHERE status = 'cancelled'")
            .await,
        1
    );
    // A closed request's fee is not paid online any more.
    let (_, html) = page(&mut other, HOST, &format!("/cases/{case2}")).await;
    assert!(!html.contains("με κάρτα"), "{html}");
}

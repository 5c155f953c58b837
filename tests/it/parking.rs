//! The disabled parking space process (LGAF Δ5.1) over HTTP with six
//! people: a verified citizen, two technical-service employees, the council
//! secretary, the mayor and a clerk who records the council's decision.
//! Then the rejection and withdrawal paths, and the permit register.

use crate::flows::{
    agenda, citizen_case, claim, complete, has_case, page, parse, person, post,
    published_signature_verifies, settle, timeline, unescape, upload,
};
use dimos_it::{
    Backend, Browser, Options, TestApp, csrf_of, on_both_backends, tax_id, tenant_with_grants,
};
use serde_json::json;

on_both_backends!(
    a_permit_goes_from_application_to_delivery_through_six_people,
    the_council_rejects_or_the_citizen_withdraws,
    holders_are_reminded_before_expiry_and_renewal_moves_the_reminder,
);

const GRANTS: &[(&str, &str)] = &[
    ("technical-employee", "technical-employee"),
    // Heads the technical service: signs the permits it issues.
    ("technical-employee", "department-head"),
    // A second technical-service employee.
    ("kep-officer", "technical-employee"),
    ("council-secretary", "council-secretary"),
    ("mayor", "mayor"),
    // The clerk who records council decisions.
    ("nursery-manager", "council-secretary"),
    ("municipal-admin", "municipal-admin"),
];

pub(crate) async fn tenant(app: &TestApp) -> String {
    tenant_with_grants(app, "alpha", "Άλφα", GRANTS).await;
    app.enable_module("alpha", "parking", json!({ "validity_years": 2 }))
        .await;
    "alpha.localhost".into()
}

/// Posts the application form (multipart, as the browser does) with its
/// text fields and documents; follows the redirect.
async fn submit_form(
    app: &TestApp,
    citizen: &mut Browser<'_>,
    host: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, Vec<u8>)],
) -> (u16, String, String) {
    let (status, html) = page(citizen, host, "/parking/apply").await;
    assert_eq!(status, 200, "{html}");
    let mut form = reqwest::multipart::Form::new()
        .text("_csrf", csrf_of(&html))
        .text("_submission", dimos_it::submission_of(&html));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for (k, name, bytes) in files {
        form = form.part(
            k.to_string(),
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    // An input left empty, as browsers send it.
    form = form.part(
        "doc-driving-licence",
        reqwest::multipart::Part::bytes(Vec::new()).file_name(""),
    );
    let res = crate::flows::send_multipart(citizen, app, host, "/parking/apply", form).await;
    let status = res.status().as_u16();
    if status != 303 {
        return (status, String::new(), unescape(res.text().await.unwrap()));
    }
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    let (status, html) = page(citizen, host, &to).await;
    (status, to, html)
}

const GOOD: &[(&str, &str)] = &[
    ("full_name", "Γιώργος Νικολάου"),
    ("email", "giorgos@example.gr"),
    ("mobile", "69 1234 5678"),
    ("location", "Αριστοτέλους 53, Άλιμος"),
    ("delivery", "post"),
    ("delivery_address", "Ποσειδώνος 10, Άλιμος"),
];

/// Applies with a valid form and the KEPA assessment; returns the case id
/// and the page shown.
pub(crate) async fn apply(
    app: &TestApp,
    citizen: &mut Browser<'_>,
    host: &str,
    plate: &str,
) -> (String, String) {
    let mut fields = GOOD.to_vec();
    fields.push(("plate", plate));
    let (status, url, html) = submit_form(
        app,
        citizen,
        host,
        &fields,
        &[(
            "doc-disability-certificate",
            "Γνωμάτευση ΚΕΠΑ.pdf",
            b"%PDF-1.7\n% KEPA 80%\n".to_vec(),
        )],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let case = url
        .split("/cases/")
        .nth(1)
        .unwrap()
        .split(['?', '#'])
        .next()
        .unwrap()
        .to_owned();
    (case, html)
}

/// Emails written by the file transport so far, parsed.
async fn emails(app: &TestApp) -> Vec<crate::flows::Parsed> {
    settle(app).await;
    let dir = app.data_dir.join("outbox");
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "eml") {
                out.push(parse(&std::fs::read(p).unwrap()));
            }
        }
    }
    out
}

fn subjects(mails: &[crate::flows::Parsed]) -> Vec<String> {
    mails.iter().map(|m| m.headers["Subject"].clone()).collect()
}

async fn a_permit_goes_from_application_to_delivery_through_six_people(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app).await;

    // An unverified account is sent to the KEP first.
    let mut unverified = person(&app, &host, "citizen").await;
    let (status, html) = page(&mut unverified, &host, "/parking/apply").await;
    assert_eq!(status, 403);
    assert!(html.contains("ΚΕΠ"), "{html}");

    // The service page says who may apply and what to bring.
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (status, html) = page(&mut citizen, &host, "/parking").await;
    assert_eq!(status, 200);
    assert!(html.contains("67%") && html.contains("Γνωμάτευση ΚΕΠΑ"));
    assert!(
        html.contains("ισχύει 2 χρόνια"),
        "the municipality's validity"
    );

    // Bad input: every problem on its field, a file that is not a document
    // refused on its own input, nothing filed.
    let (status, _, html) = submit_form(
        &app,
        &mut citizen,
        &host,
        &[
            ("full_name", "Γιώργος Νικολάου"),
            ("email", "giorgos@example.gr"),
            ("mobile", "210 9892000"),
            ("location", "Αριστοτέλους 53, Άλιμος"),
            ("plate", "ΓΔΛ-1"),
            ("delivery", "post"),
        ],
        &[(
            "doc-residence",
            "λογαριασμός.pdf",
            b"<html>not a pdf</html>".to_vec(),
        )],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Δώστε ελληνικό κινητό") && html.contains("Δώστε αριθμό κυκλοφορίας"));
    assert!(html.contains("id=\"f-doc-residence-error\""), "{html}");
    assert!(
        html.contains("value=\"Αριστοτέλους 53, Άλιμος\""),
        "typed values kept"
    );
    let (res, _) = citizen.get(&citizen.url(&host, "/api/cases")).await;
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["cases"],
        json!([])
    );

    // 1–2. Applied: a protocol number on screen and by email.
    let (case, html) = apply(&app, &mut citizen, &host, "iky 1234").await;
    let protocol = html
        .split("Αριθμός πρωτοκόλλου: ")
        .nth(1)
        .expect("the protocol number on the confirmation")
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert!(html.contains("ΙΚΥ-1234"), "the plate, normalised");
    assert!(
        html.contains("Γνωμάτευση ΚΕΠΑ.pdf"),
        "the document sent with the form"
    );
    let mails = emails(&app).await;
    assert!(
        subjects(&mails).contains(&format!("Η αίτησή σας καταχωρίστηκε με αριθμό {protocol}")),
        "{:?}",
        subjects(&mails)
    );

    assert_stage(&mut citizen, &host, &case, "Έλεγχος δικαιολογητικών").await;

    // 3–4. The technical service: incomplete, the citizen is asked.
    let mut tech = person(&app, &host, "technical-employee").await;
    let task = claim(&mut tech, &host, &case).await;
    let (_, html) = page(&mut tech, &host, &format!("/staff/cases/{case}")).await;
    assert!(
        html.contains("Αναπηρία κάτω άκρων 67% και άνω"),
        "the eligibility helper"
    );
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "incomplete"),
            ("eligibility", "lower-limbs-67"),
            (
                "comment",
                "Λείπει η υπεύθυνη δήλωση για ιδιωτικό χώρο στάθμευσης",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(
        &mut citizen,
        &host,
        &case,
        "Αναμονή δικαιολογητικών από εσάς",
    )
    .await;
    let mails = emails(&app).await;
    assert!(
        subjects(&mails)
            .iter()
            .any(|s| s.contains("συμπληρωματικά"))
    );
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(html.contains("Λείπει η υπεύθυνη δήλωση"));
    let (status, _) = upload(
        &mut citizen,
        &app,
        &host,
        &case,
        "Υπεύθυνη δήλωση.pdf",
        b"%PDF-1.7\n% declaration\n".to_vec(),
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    let (status, _, _) = post(
        &mut citizen,
        &host,
        &format!("/cases/{case}/respond"),
        &csrf_of(&html),
        &[("message", "Ανέβασα την υπεύθυνη δήλωση")],
    )
    .await;
    assert_eq!(status, 200);

    // Complete now; the other employee inspects and recommends.
    let task = claim(&mut tech, &host, &case).await;
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[("outcome", "complete"), ("eligibility", "lower-limbs-67")],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(&mut citizen, &host, &case, "Αυτοψία στη θέση στάθμευσης").await;
    let mut tech2 = person(&app, &host, "kep-officer").await;
    let task = claim(&mut tech2, &host, &case).await;
    let (status, html) = complete(&mut tech2, &host, &case, &task, &[("outcome", "done")]).await;
    assert_eq!(status, 422, "the inspection needs its date and findings");
    assert!(html.contains("Το πεδίο είναι υποχρεωτικό"));
    let (status, _) = complete(
        &mut tech2,
        &host,
        &case,
        &task,
        &[
            ("outcome", "done"),
            ("inspection_date", "2026-11-20"),
            (
                "inspection_findings",
                "Ελεύθερο πεζοδρόμιο, 20 μ. από την είσοδο",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(&mut citizen, &host, &case, "Σύνταξη εισήγησης").await;
    let task = claim(&mut tech2, &host, &case).await;
    let (status, _) = complete(
        &mut tech2,
        &host,
        &case,
        &task,
        &[
            ("outcome", "positive"),
            (
                "recommendation",
                "Πληρούνται οι προϋποθέσεις του ν. 1798/88",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(
        &mut citizen,
        &host,
        &case,
        "Στη γραμματεία του δημοτικού συμβουλίου",
    )
    .await;

    // 5–6. Not urgent: the secretary forwards, the mayor puts it on the agenda.
    let mut secretary = person(&app, &host, "council-secretary").await;
    let task = claim(&mut secretary, &host, &case).await;
    let (status, _) = complete(
        &mut secretary,
        &host,
        &case,
        &task,
        &[("outcome", "forward")],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(
        &mut citizen,
        &host,
        &case,
        "Προς ένταξη στην ημερήσια διάταξη",
    )
    .await;
    let mut mayor = person(&app, &host, "mayor").await;
    let task = claim(&mut mayor, &host, &case).await;
    let (status, _) = complete(
        &mut mayor,
        &host,
        &case,
        &task,
        &[("outcome", "to-agenda"), ("meeting_date", "2026-12-10")],
    )
    .await;
    assert_eq!(status, 200);
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert!(
        c["case"]["stage"]
            .as_str()
            .unwrap()
            .contains("δημοτικό συμβούλιο"),
        "{c}"
    );

    // 7. The clerk records the council's decision.
    let mut clerk = person(&app, &host, "nursery-manager").await;
    let task = claim(&mut clerk, &host, &case).await;
    let (status, html) = complete(
        &mut clerk,
        &host,
        &case,
        &task,
        &[
            ("outcome", "approved"),
            ("decision_number", "245/2026"),
            ("decision_date", "2026-12-10"),
            ("ada", "ΡΒΠΕ7ΛΞΝ1Ζ"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Δεν έχει τη σωστή μορφή, π.χ. ΡΒΠΕ7ΛΞ-Ν1Ζ"),
        "{html}"
    );
    let (status, _) = complete(
        &mut clerk,
        &host,
        &case,
        &task,
        &[
            ("outcome", "approved"),
            ("decision_number", "245/2026"),
            ("decision_date", "2026-12-10"),
            ("ada", "ΡΒΠΕ7ΛΞ-Ν1Ζ"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(
        &mut citizen,
        &host,
        &case,
        "Εγκρίθηκε· εκδίδεται η κάρτα στάθμευσης",
    )
    .await;

    // 8. The card is issued from its own page, never by a bare "done".
    let task = claim(&mut tech, &host, &case).await;
    let (status, _) = complete(&mut tech, &host, &case, &task, &[("outcome", "issued")]).await;
    assert_eq!(status, 409);
    let (_, html) = page(&mut tech, &host, &format!("/staff/cases/{case}")).await;
    assert!(html.contains(&format!("/parking/cases/{case}/issue")));
    let (status, html) = page(&mut tech2, &host, &format!("/parking/cases/{case}/issue")).await;
    assert_eq!(status, 409, "only the assignee issues: {html}");
    let (status, html) = page(&mut tech, &host, &format!("/parking/cases/{case}/issue")).await;
    assert_eq!(status, 200);
    assert!(html.contains("245/2026") && html.contains("ΙΚΥ-1234"));
    let card = format!("ΚΣ-{protocol}");
    assert!(html.contains(&card), "{html}");
    // Without a signing certificate the permit cannot be issued.
    assert!(html.contains("Δεν έχετε δικαίωμα υπογραφής ή πιστοποιητικό σε ισχύ"));
    let (status, _, _) = post(
        &mut tech,
        &host,
        &format!("/parking/cases/{case}/issue"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 409);
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (_, admin_page) = page(&mut admin, &host, "/admin/signing").await;
    let (status, _, _) = post(
        &mut admin,
        &host,
        "/admin/signing/issue",
        &csrf_of(&admin_page),
        &[("tax_id", tax_id("technical-employee"))],
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = page(&mut tech, &host, &format!("/parking/cases/{case}/issue")).await;
    assert!(!html.contains("Δεν έχετε δικαίωμα υπογραφής"));
    let (status, _, _) = post(
        &mut tech,
        &host,
        &format!("/parking/cases/{case}/issue"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_stage(
        &mut citizen,
        &host,
        &case,
        "Η κάρτα είναι έτοιμη για παράδοση",
    )
    .await;
    let mails = emails(&app).await;
    // Told when the file was complete, when it went on the council's
    // agenda, when the council approved.
    let progress: Vec<&str> = mails
        .iter()
        .filter(|m| m.headers["Subject"] == format!("Ενημέρωση για την αίτησή σας {protocol}"))
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(progress.len(), 3, "{:?}", subjects(&mails));
    for said in [
        "είναι πλήρης",
        "ημερήσια διάταξη",
        "ενέκρινε την αίτησή σας",
    ] {
        assert!(
            progress.iter().any(|t| t.contains(said)),
            "{said}: {progress:?}"
        );
    }
    assert!(
        subjects(&mails).contains(&format!(
            "Η αίτησή σας {protocol} είναι έτοιμη για παραλαβή"
        )),
        "{:?}",
        subjects(&mails)
    );

    // The signed permit is in the case file; OpenSSL verifies it against
    // the municipality's CA.
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    let doc_href = html
        .split(&format!("href=\"/cases/{case}/documents/"))
        .find(|s| {
            s.split('"')
                .nth(1)
                .is_some_and(|t| t.contains("Άδεια στάθμευσης"))
        })
        .map(|s| s.split('"').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("the permit on the case page: {html}"));
    assert!(
        html.contains("Υπογράφηκε ψηφιακά από Νίκος Κωνσταντίνου"),
        "{html}"
    );
    let reference: String = html
        .split("/verify/")
        .nth(1)
        .unwrap()
        .chars()
        .take(14)
        .collect();
    let (res, _) = citizen
        .get(&citizen.url(&host, &format!("/cases/{case}/documents/{doc_href}")))
        .await;
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        published_signature_verifies(&app, &host, &reference, &pdf).await,
        "OpenSSL verifies the permit"
    );

    // 9. Delivered: the case closes approved.
    let task = claim(&mut tech, &host, &case).await;
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[("outcome", "delivered"), ("delivered_on", "2026-12-15")],
    )
    .await;
    assert_eq!(status, 200);
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["status"], "closed", "{c}");
    // The citizen followed every milestone, in order.
    let events = timeline(&c);
    let milestones = [
        format!("Πρωτοκολλήθηκε με αριθμό {protocol}"),
        "Έλεγχος δικαιολογητικών από την Τεχνική Υπηρεσία".into(),
        "Αναμένεται απάντηση έως".into(),
        "Υποβλήθηκε έγγραφο: Υπεύθυνη δήλωση.pdf".into(),
        "Ο αιτών απάντησε".into(),
        "Αυτοψία στη θέση στάθμευσης".into(),
        "Σύνταξη εισήγησης".into(),
        "Στη γραμματεία του δημοτικού συμβουλίου".into(),
        "Προς ένταξη στην ημερήσια διάταξη".into(),
        "Στο δημοτικό συμβούλιο για απόφαση".into(),
        "Εγκρίθηκε· εκδίδεται η κάρτα στάθμευσης".into(),
        "Η κάρτα είναι έτοιμη για παράδοση".into(),
        "Η αίτηση εγκρίθηκε".into(),
    ];
    let mut at = 0;
    for m in &milestones {
        let found = events[at..]
            .iter()
            .position(|e| e.contains(m.as_str()))
            .unwrap_or_else(|| panic!("{m} after position {at} in {events:?}"));
        at += found + 1;
    }
    // Nothing internal in the citizen's timeline.
    assert!(!events.iter().any(|e| e.contains("Ελεύθερο πεζοδρόμιο")));
    for who in [
        &mut tech,
        &mut tech2,
        &mut secretary,
        &mut mayor,
        &mut clerk,
    ] {
        assert!(!has_case(&agenda(who, &host, "mine").await, &case));
    }

    // Staff find the register from their staff area; the admin the settings.
    let (_, hub) = page(&mut tech, &host, "/staff").await;
    assert!(hub.contains("/parking/register") && !hub.contains("/parking/settings"));
    let (_, hub) = page(&mut admin, &host, "/staff").await;
    assert!(hub.contains("/parking/settings") && hub.contains("Μητρώο αδειών στάθμευσης ΑμεΑ"));
    // The register has it; a plate typed in Latin letters finds it.
    let (status, html) = page(&mut tech, &host, "/parking/register?q=iky1234").await;
    assert_eq!(status, 200);
    assert!(html.contains(&card) && html.contains("Σε ισχύ"), "{html}");
    let until = dimos_kernel::clock::local_date(chrono::Utc::now()) + chrono::Months::new(24);
    assert!(
        html.contains(&until.format("%d/%m/%Y").to_string()),
        "valid for 2 years"
    );

    // The protocol book has the application; the audit trail the issue.
    let (_, html) = page(&mut admin, &host, "/staff/protocol").await;
    assert!(html.contains(&protocol), "{html}");
    let (res, _) = admin.get(&admin.url(&host, "/admin/audit")).await;
    let audit: serde_json::Value = res.json().await.unwrap();
    let of_case: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains(&case))
        .filter_map(|e| e["action"].as_str())
        .collect();
    // Every step someone took on this case is in the trail.
    let completed = of_case.iter().filter(|a| **a == "task_completed").count();
    assert_eq!(completed, 8, "{of_case:?}");
    for action in ["document_uploaded", "parking_permit_issued"] {
        assert!(of_case.contains(&action), "{action} in {of_case:?}");
    }
}

async fn the_council_rejects_or_the_citizen_withdraws(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = tenant(&app).await;
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let mut tech = person(&app, &host, "technical-employee").await;
    let mut secretary = person(&app, &host, "council-secretary").await;

    // Urgent: straight to the decision, which rejects with reasons.
    let (case, _) = apply(&app, &mut citizen, &host, "ΑΒΕ-4321").await;
    let task = claim(&mut tech, &host, &case).await;
    complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[("outcome", "complete"), ("eligibility", "none")],
    )
    .await;
    let task = claim(&mut tech, &host, &case).await;
    complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "done"),
            ("inspection_date", "2026-11-20"),
            ("inspection_findings", "Ράμπα πυροσβεστικού κρουνού"),
        ],
    )
    .await;
    let task = claim(&mut tech, &host, &case).await;
    complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "negative"),
            ("recommendation", "Δεν τεκμηριώνεται κριτήριο"),
        ],
    )
    .await;
    let task = claim(&mut secretary, &host, &case).await;
    let (status, _) = complete(
        &mut secretary,
        &host,
        &case,
        &task,
        &[("outcome", "forward"), ("urgent", "on")],
    )
    .await;
    assert_eq!(status, 200);
    let mut mayor = person(&app, &host, "mayor").await;
    assert!(
        !has_case(&agenda(&mut mayor, &host, "available").await, &case),
        "urgent: the mayor is skipped"
    );
    let task = claim(&mut secretary, &host, &case).await;
    let (status, _) = complete(
        &mut secretary,
        &host,
        &case,
        &task,
        &[
            ("outcome", "rejected"),
            ("decision_number", "250/2026"),
            ("decision_date", "2026-12-10"),
            ("comment", "Δεν πληρούνται τα κριτήρια του ν. 1798/88"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let task = claim(&mut tech, &host, &case).await;
    let (status, _) = complete(
        &mut tech,
        &host,
        &case,
        &task,
        &[
            ("outcome", "sent"),
            ("comment", "Σας στάλθηκε η αιτιολογημένη απάντηση"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let c = citizen_case(&mut citizen, &host, &case).await;
    assert_eq!(c["case"]["status"], "closed");
    assert_eq!(c["case"]["result"], "rejected", "{c}");
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    assert!(
        html.contains("Δεν πληρούνται τα κριτήρια"),
        "the reasoning reaches the citizen"
    );
    let (_, html) = page(&mut tech, &host, "/parking/register").await;
    assert!(!html.contains("ΑΒΕ-4321"), "no permit for a rejection");

    // Withdrawn before anyone looks at it: out of every queue.
    let (case, _) = apply(&app, &mut citizen, &host, "ΕΖΗ-1111").await;
    let (_, html) = page(&mut citizen, &host, &format!("/cases/{case}")).await;
    let (status, _, html) = post(
        &mut citizen,
        &host,
        &format!("/cases/{case}/withdraw"),
        &csrf_of(&html),
        &[("confirm", "yes"), ("reason", "Βρήκα ιδιωτικό χώρο")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(unescape(html).contains("Η αίτηση αποσύρθηκε"));
    assert!(!has_case(
        &agenda(&mut tech, &host, "available").await,
        &case
    ));
}

/// The short way to an issued permit: urgent, straight to the council.
pub(crate) async fn issued(app: &TestApp, host: &str, plate: &str) -> (String, String) {
    let mut citizen = person(app, host, "citizen-verified").await;
    let mut tech = person(app, host, "technical-employee").await;
    let mut secretary = person(app, host, "council-secretary").await;
    let (case, _) = apply(app, &mut citizen, host, plate).await;
    for fields in [
        vec![("outcome", "complete"), ("eligibility", "blindness")],
        vec![
            ("outcome", "done"),
            ("inspection_date", "2026-11-20"),
            ("inspection_findings", "Κατάλληλη θέση"),
        ],
        vec![("outcome", "positive"), ("recommendation", "Θετική")],
    ] {
        let task = claim(&mut tech, host, &case).await;
        let (status, _) = complete(&mut tech, host, &case, &task, &fields).await;
        assert_eq!(status, 200);
    }
    for fields in [
        vec![("outcome", "forward"), ("urgent", "on")],
        vec![
            ("outcome", "approved"),
            ("decision_number", "300/2026"),
            ("decision_date", "2026-12-10"),
        ],
    ] {
        let task = claim(&mut secretary, host, &case).await;
        let (status, _) = complete(&mut secretary, host, &case, &task, &fields).await;
        assert_eq!(status, 200);
    }
    let mut admin = person(app, host, "municipal-admin").await;
    let (_, html) = page(&mut admin, host, "/admin/signing").await;
    post(
        &mut admin,
        host,
        "/admin/signing/issue",
        &csrf_of(&html),
        &[("tax_id", tax_id("technical-employee"))],
    )
    .await;
    claim(&mut tech, host, &case).await;
    let (_, html) = page(&mut tech, host, &format!("/parking/cases/{case}/issue")).await;
    let (status, _, _) = post(
        &mut tech,
        host,
        &format!("/parking/cases/{case}/issue"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = page(&mut tech, host, "/parking/register").await;
    let permit = html
        .split("/parking/register/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    (case, permit)
}

async fn holders_are_reminded_before_expiry_and_renewal_moves_the_reminder(b: Backend) {
    let clock = dimos_kernel::ManualClock::new();
    let app = TestApp::spawn_with(
        b,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    let host = tenant(&app).await;
    // The municipal admin sets the validity and the reminder, over the
    // operator's defaults (2 years, 60 days).
    let mut admin = person(&app, &host, "municipal-admin").await;
    let (status, html) = page(&mut admin, &host, "/parking/settings").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("value=\"2\"") && html.contains("value=\"60\""),
        "{html}"
    );
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/parking/settings",
        &csrf_of(&html),
        &[
            ("validity_years", "0"),
            ("expiry_notice_days", "ένας μήνας"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Δώστε αριθμό") && html.contains("εκτός ορίων"),
        "{html}"
    );
    let (status, _, html) = post(
        &mut admin,
        &host,
        "/parking/settings",
        &csrf_of(&html),
        &[("validity_years", "4"), ("expiry_notice_days", "30")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Οι ρυθμίσεις αποθηκεύτηκαν"));
    let mut tech = person(&app, &host, "technical-employee").await;
    let (status, _) = page(&mut tech, &host, "/parking/settings").await;
    assert_eq!(status, 403, "settings are the admin's");

    let (_, permit) = issued(&app, &host, "ΚΜΝ-2020").await;
    let expiring = |mails: &[crate::flows::Parsed]| {
        mails
            .iter()
            .filter(|m| m.headers["Subject"].contains("λήγει"))
            .count()
    };
    // Four years of validity, a reminder 30 days before the end: nothing
    // yet a few days before that.
    clock.advance(chrono::Duration::days(365 * 4 - 36));
    app.state.scheduler().run_due(100).await.unwrap();
    assert_eq!(expiring(&emails(&app).await), 0);
    clock.advance(chrono::Duration::days(12));
    app.state.scheduler().run_due(100).await.unwrap();
    let mails = emails(&app).await;
    assert_eq!(expiring(&mails), 1, "{:?}", subjects(&mails));
    let m = mails
        .iter()
        .find(|m| m.headers["Subject"].contains("λήγει"))
        .unwrap();
    assert!(m.text.contains("αίτηση ανανέωσης"), "{}", m.text);
    assert!(
        m.text.contains("/parking/permits"),
        "the link leads to the renewal: {}",
        m.text
    );

    // The holder sees the permit and can ask for its renewal: a new case,
    // filled in from the old one.
    let mut citizen = person(&app, &host, "citizen-verified").await;
    let (status, html) = page(&mut citizen, &host, "/parking/permits").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("ΚΜΝ-2020") && html.contains("Αίτηση ανανέωσης"),
        "{html}"
    );
    let (status, url, html) = post(
        &mut citizen,
        &host,
        &format!("/parking/permits/{permit}/renew"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        url.contains("/cases/") && html.contains("Ανανέωση ΚΣ-1/2026"),
        "{html}"
    );
    let mut stranger = person(&app, &host, "citizen").await;
    let (_, html) = page(&mut stranger, &host, "/cases").await;
    let (status, _, _) = post(
        &mut stranger,
        &host,
        &format!("/parking/permits/{permit}/renew"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_ne!(status, 200, "only the holder asks for a renewal");

    // Staff renew: four more years, and the next reminder follows the new date.
    let mut head = person(&app, &host, "technical-employee").await;
    let (_, html) = page(&mut head, &host, "/parking/register").await;
    let (status, _, html) = post(
        &mut head,
        &host,
        &format!("/parking/register/{permit}/renew"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Η άδεια ανανεώθηκε"));
    clock.advance(chrono::Duration::days(90));
    app.state.scheduler().run_due(100).await.unwrap();
    assert_eq!(
        expiring(&emails(&app).await),
        1,
        "no reminder for the old date"
    );
    clock.advance(chrono::Duration::days(365 * 4 - 30));
    app.state.scheduler().run_due(100).await.unwrap();
    assert_eq!(
        expiring(&emails(&app).await),
        2,
        "the reminder for the new date"
    );

    // Revoked: no more reminders.
    let (_, html) = page(&mut head, &host, "/parking/register").await;
    let (status, _, html) = post(
        &mut head,
        &host,
        &format!("/parking/register/{permit}/revoke"),
        &csrf_of(&html),
        &[("reason", "Μετακόμιση")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Ανακλήθηκε"));
    let (status, _, _) = post(
        &mut head,
        &host,
        &format!("/parking/register/{permit}/renew"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 409, "a revoked permit is not renewed");
    let (_, html) = page(&mut citizen, &host, "/parking/permits").await;
    assert!(html.contains("Ανακλήθηκε") && !html.contains("Αίτηση ανανέωσης"));
    page(&mut citizen, &host, "/lang/en").await;
    let (_, html) = page(&mut citizen, &host, "/parking/permits").await;
    assert!(
        html.contains("My permits") && html.contains("Revoked"),
        "{html}"
    );
}

/// What the citizen reads about where the case is.
async fn assert_stage(citizen: &mut Browser<'_>, host: &str, case: &str, expected: &str) {
    let c = citizen_case(citizen, host, case).await;
    let stage = c["case"]["stage"].as_str().unwrap_or("");
    assert!(
        stage.contains(expected),
        "stage {stage:?}, expected {expected:?}"
    );
}

//! Document management over HTTP, in the demo municipality of Alimos (its
//! departments and people from `tenants/alimos.toml`): the protocol office
//! registers an incoming letter with its scan and routes it; the mayor, who
//! heads the administration, charges it to the council's secretary; she
//! reads the scan, notes, adds her draft and closes it; everyone sees where
//! it was and for how long. People outside its path do not see it; a
//! confidential one is seen only with clearance, in lists, search and
//! downloads alike. The search folds Greek accents and case, and reads the
//! text of the PDFs.

use crate::downloads::three_ways;
use crate::flows::{page, person, post, published_signature_verifies, send_multipart};
use dimos_it::{Backend, Browser, Options, TestApp, csrf_of, on_both_backends, workspace_root};

on_both_backends!(
    the_municipality_sets_retention_and_the_approval_chain_its_drafts_follow,
    retention_runs_out_documents_go_as_their_type_says_and_a_legal_hold_stops_it,
    documents_come_and_go_through_the_exchange_and_decisions_reach_diavgeia,
    the_lists_show_exactly_what_the_rule_lets_each_person_see,
    an_outgoing_decision_is_drafted_approved_signed_numbered_and_sent,
    an_incoming_letter_is_registered_routed_charged_handled_and_closed,
    confidential_documents_are_seen_only_with_clearance,
    the_registration_form_names_each_mistake_and_keeps_nothing_half_done,
);

const HOST: &str = "alimos.localhost";

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

/// A PDF with Greek text, as a scanner's OCR or a sender's software makes it.
fn letter(body: &str) -> Vec<u8> {
    let mut d = dimos_pdf::Document::new("Επιστολή", "Σύλλογος");
    d.title("Σύλλογος Κατοίκων Καλαμακίου")
        .heading("Επιστολή προς τον Δήμο")
        .paragraph(body);
    d.render().unwrap()
}

fn hrefs(html: &str, prefix: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .filter(|h| h.starts_with(prefix))
        .collect()
}

/// A hidden field's value on a page.
fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {name} on the page"))
        .to_owned()
}

fn submission_of(html: &str) -> String {
    html.split("name=\"_submission\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned()
}

/// The registering form as the protocol office's browser sends it.
fn form(
    csrf: &str,
    key: &str,
    fields: &[(&str, &str)],
    pdf: Option<Vec<u8>>,
) -> reqwest::multipart::Form {
    let mut f = reqwest::multipart::Form::new()
        .text("_csrf", csrf.to_owned())
        .text("_submission", key.to_owned());
    for (k, v) in fields {
        f = f.text((*k).to_owned(), (*v).to_owned());
    }
    if let Some(bytes) = pdf {
        f = f.part(
            "doc-file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name("σάρωση επιστολής.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    }
    f
}

/// The protocol office reaches the form from the staff area and registers
/// a letter; returns the record's path.
async fn register(
    app: &TestApp,
    office: &mut Browser<'_>,
    fields: &[(&str, &str)],
    pdf: Vec<u8>,
) -> String {
    let (_, hub) = page(office, HOST, "/staff").await;
    let links = hrefs(&hub, "/edms/register");
    assert!(
        !links.is_empty(),
        "the staff area links the register: {hub}"
    );
    let (status, html) = page(office, HOST, &links[0]).await;
    assert_eq!(status, 200, "{html}");
    let res = send_multipart(
        office,
        app,
        HOST,
        "/edms/register",
        form(&csrf_of(&html), &submission_of(&html), fields, Some(pdf)),
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.ends_with("?done=registered"), "{to}");
    to.split('?').next().unwrap().to_owned()
}

const LETTER: &[(&str, &str)] = &[
    ("subject", "Κλάδεμα δέντρων στην πλατεία"),
    ("correspondent", "Σύλλογος Κατοίκων Καλαμακίου"),
    ("correspondent_ref", "Α.Π. 45/28-11-2026"),
    ("channel", "post"),
    ("kind", "request"),
    ("attachments", "1"),
    ("department", "administration"),
];

/// The protocol office registers a letter routed to the administration
/// (for tests that need a document to reach); its record's path.
pub(crate) async fn register_letter(app: &TestApp, office: &mut Browser<'_>) -> String {
    register(app, office, LETTER, letter("Επιστολή για το κλάδεμα.")).await
}

/// Search results' record links for `who`.
async fn found(b: &mut Browser<'_>, query: &str) -> Vec<String> {
    let path = format!(
        "/edms/search?q={}",
        percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, html) = page(b, HOST, &path).await;
    assert_eq!(status, 200, "{html}");
    hrefs(&html, "/edms/records/")
}

async fn an_incoming_letter_is_registered_routed_charged_handled_and_closed(b: Backend) {
    let app = app(b).await;
    // She has signed in before: her name is known when she is charged.
    let mut secretary = person(&app, HOST, "council-secretary").await;
    let mut office = person(&app, HOST, "kep-officer").await;
    let scan = letter("Παρακαλούμε για το ΚΛΆΔΕΜΑ των δέντρων της οδού Ποσειδώνος.");
    let record = register(&app, &mut office, LETTER, scan.clone()).await;
    let (status, html) = page(&mut office, HOST, &format!("{record}?done=registered")).await;
    assert_eq!(status, 200, "{html}");
    let year = chrono::Datelike::year(&dimos_kernel::clock::local_date(chrono::Utc::now()));
    assert!(
        html.contains(&format!("Καταχωρίστηκε με αριθμό πρωτοκόλλου 1/{year}")),
        "{html}"
    );
    assert!(
        html.contains("Στην υπηρεσία") && html.contains("Διοικητική Υπηρεσία"),
        "{html}"
    );
    let receipt = hrefs(&html, &format!("{record}/receipt"));
    let (status, html) = page(&mut office, HOST, &receipt[0]).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("1/{year}")) && html.contains("Κλάδεμα δέντρων"));

    // A second press of the same form registers nothing new.
    let (_, html) = page(&mut office, HOST, "/edms/register").await;
    let key = submission_of(&html);
    let again = |key: String, csrf: String| {
        let fields: Vec<(&str, &str)> = LETTER.to_vec();
        form(&csrf, &key, &fields, Some(scan.clone()))
    };
    let first = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        again(key.clone(), csrf_of(&html)),
    )
    .await;
    let second = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        again(key, csrf_of(&html)),
    )
    .await;
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    let (_, book) = page(&mut office, HOST, "/staff/protocol").await;
    assert_eq!(
        book.matches("Κλάδεμα δέντρων στην πλατεία").count(),
        2,
        "two registrations, not three: {book}"
    );

    // The mayor heads the administration: the letter waits in its queue.
    let mut mayor = person(&app, HOST, "mayor").await;
    let (_, hub) = page(&mut mayor, HOST, "/staff").await;
    let mine = hrefs(&hub, "/edms");
    assert!(mine.iter().any(|h| h == "/edms"), "{hub}");
    let (_, html) = page(&mut mayor, HOST, "/edms?tab=queue").await;
    assert!(html.contains(&record), "{html}");
    let (_, html) = page(&mut mayor, HOST, &record).await;
    assert!(
        html.contains("Κατερίνα Δημητρίου"),
        "she is offered to charge: {html}"
    );
    let before = html.clone();
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{record}/charge"),
        &csrf_of(&html),
        &[
            ("seen", &hidden(&html, "seen")),
            ("to", "taxid:100000052"),
            (
                "instructions",
                "Συνεννόηση με την Τεχνική Υπηρεσία και απάντηση",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Χρεώθηκε") && html.contains("Κατερίνα Δημητρίου"),
        "{html}"
    );
    let deadline = (dimos_kernel::clock::local_date(chrono::Utc::now())
        + chrono::Duration::days(30))
    .format("%d/%m/%Y")
    .to_string();
    assert!(
        html.contains(&deadline),
        "the municipality's 30 days: {html}"
    );
    // The same form pressed again (a second tab, a double click) is not
    // applied over the charge the page did not show.
    let (status, _, _) = post(
        &mut mayor,
        HOST,
        &format!("{record}/charge"),
        &csrf_of(&before),
        &[
            ("seen", &hidden(&before, "seen")),
            ("to", "taxid:100000052"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    // Sending it where it already is says so.
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{record}/route"),
        &csrf_of(&html),
        &[("department", "administration")],
    )
    .await;
    assert_eq!(status, 422, "already there: {html}");
    let (_, html) = page(&mut mayor, HOST, "/edms?tab=charged-by-me").await;
    assert!(html.contains(&record), "{html}");

    // The secretary finds it charged to her, reads the scan as a browser
    // does, notes, adds her draft and closes it.
    let (_, html) = page(&mut secretary, HOST, "/edms").await;
    assert!(html.contains(&record), "charged to me: {html}");
    let (status, html) = page(&mut secretary, HOST, &record).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Συνεννόηση με την Τεχνική Υπηρεσία"),
        "{html}"
    );
    let file = hrefs(&html, &format!("{record}/files/"));
    assert_eq!(file.len(), 1, "{html}");
    let (content_type, bytes) = three_ways(&app, &secretary, HOST, &file[0]).await;
    assert_eq!(content_type, "application/pdf");
    assert_eq!(bytes, scan, "the file arrives as it was registered");
    let csrf = csrf_of(&html);
    let key = hidden(&html, "_key");
    for _ in 0..2 {
        let (status, _, page_html) = post(
            &mut secretary,
            HOST,
            &format!("{record}/note"),
            &csrf,
            &[("_key", &key), ("note", "Ζητήθηκε αυτοψία")],
        )
        .await;
        assert_eq!(status, 200, "{page_html}");
        assert_eq!(
            page_html.matches("Ζητήθηκε αυτοψία").count(),
            1,
            "one note for two presses"
        );
    }
    let draft = letter("Σχέδιο απάντησης: η αυτοψία ορίστηκε για τη Δευτέρα.");
    let res = send_multipart(
        &secretary,
        &app,
        HOST,
        &format!("{record}/files"),
        reqwest::multipart::Form::new()
            .text("_csrf", csrf.clone())
            .part(
                "doc-file",
                reqwest::multipart::Part::bytes(draft)
                    .file_name("σχέδιο.pdf")
                    .mime_str("application/pdf")
                    .unwrap(),
            ),
    )
    .await;
    assert_eq!(res.status(), 303);
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/close"),
        &csrf,
        &[("outcome", "Απαντήθηκε· αυτοψία τη Δευτέρα")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Διεκπεραιώθηκε"), "{html}");
    for step in [
        "Πρωτοκολλήθηκε",
        "Διαβιβάστηκε",
        "Χρεώθηκε",
        "Σημείωση",
        "Προστέθηκε αρχείο",
        "έμεινε",
    ] {
        assert!(html.contains(step), "the path shows {step}: {html}");
    }
    // Closed: nothing more to do with it, and a late press is refused.
    assert!(!html.contains(&format!("{record}/close")), "{html}");
    let (status, _, _) = post(
        &mut secretary,
        HOST,
        &format!("{record}/note"),
        &csrf,
        &[("note", "x")],
    )
    .await;
    assert_eq!(status, 403);

    // The search: accents and capitals fold, words match their beginnings,
    // the scan's text and the draft's are read.
    for q in [
        "ΚΛΑΔΕΜΑ",
        "κλάδ",
        "ποσειδωνος",
        "Καλαμακιου 45",
        "αυτοψια δευτερα",
    ] {
        assert!(found(&mut mayor, q).await.contains(&record), "{q}");
    }
    assert!(found(&mut mayor, "ανύπαρκτη λέξη").await.is_empty());
    let (_, html) = page(
        &mut mayor,
        HOST,
        &format!("/edms/search?number=1&year={year}"),
    )
    .await;
    assert!(html.contains(&record), "by number: {html}");

    // Someone outside its path sees nothing of it.
    let mut technical = person(&app, HOST, "technical-employee").await;
    assert!(found(&mut technical, "κλαδεμα").await.is_empty());
    let (status, _) = page(&mut technical, HOST, &record).await;
    assert_eq!(status, 404);
    let (status, _) = page(&mut technical, HOST, &file[0]).await;
    assert_eq!(status, 404);
    // Nor does a citizen, nor another municipality.
    let mut citizen = person(&app, HOST, "citizen-verified").await;
    let (status, _) = page(&mut citizen, HOST, &record).await;
    assert_eq!(status, 403);
    let mut other = person(&app, "papagou-cholargou.localhost", "mayor").await;
    let (status, _) = page(&mut other, "papagou-cholargou.localhost", &record).await;
    assert_eq!(status, 404);
}

async fn confidential_documents_are_seen_only_with_clearance(b: Backend) {
    let app = app(b).await;
    let mut secretary = person(&app, HOST, "council-secretary").await;
    let mut office = person(&app, HOST, "kep-officer").await;
    let mut fields = LETTER.to_vec();
    fields[0] = ("subject", "Πειθαρχική υπόθεση υπαλλήλου");
    fields.push(("confidential", "on"));
    // Not to a department where nobody cleared could take it.
    let (_, html) = page(&mut office, HOST, "/edms/register").await;
    let mut elsewhere = fields.clone();
    elsewhere.retain(|(k, _)| *k != "department");
    elsewhere.push(("department", "technical"));
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(
            &csrf_of(&html),
            &submission_of(&html),
            &elsewhere,
            Some(letter("x")),
        ),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Κανείς στην υπηρεσία δεν έχει διαβάθμιση")
    );
    let record = register(
        &app,
        &mut office,
        &fields,
        letter("Εμπιστευτική αναφορά για πειθαρχικό παράπτωμα."),
    )
    .await;
    let (status, html) = page(&mut office, HOST, &record).await;
    assert_eq!(status, 200, "the protocol office has clearance");
    let file = hrefs(&html, &format!("{record}/files/"));

    // In her department, but without clearance: not in her lists, her
    // search, nor reachable by its address.
    let (_, html) = page(&mut secretary, HOST, "/edms?tab=queue").await;
    assert!(!html.contains(&record), "{html}");
    assert!(found(&mut secretary, "πειθαρχικη").await.is_empty());
    for path in [record.clone(), file[0].clone()] {
        let (status, _) = page(&mut secretary, HOST, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    // A public protocol book does not tell its subject either.
    let (_, book) = page(&mut office, HOST, "/staff/protocol").await;
    assert!(!book.contains("Πειθαρχική"), "{book}");

    // The mayor is cleared: sees it, finds it, and may not charge it to
    // someone who is not.
    let mut mayor = person(&app, HOST, "mayor").await;
    assert!(found(&mut mayor, "πειθαρχικη").await.contains(&record));
    let (status, html) = page(&mut mayor, HOST, &record).await;
    assert_eq!(status, 200);
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{record}/charge"),
        &csrf_of(&html),
        &[("to", "taxid:100000052")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("δεν έχει διαβάθμιση"), "{html}");
    let (status, _) = page(&mut secretary, HOST, &record).await;
    assert_eq!(status, 404, "still not hers");
}

async fn the_registration_form_names_each_mistake_and_keeps_nothing_half_done(b: Backend) {
    let app = app(b).await;
    let mut office = person(&app, HOST, "kep-officer").await;
    let (_, html) = page(&mut office, HOST, "/edms/register").await;
    let csrf = csrf_of(&html);
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(
            &csrf,
            &submission_of(&html),
            &[
                ("subject", ""),
                ("correspondent", "Υπουργείο Εσωτερικών"),
                ("received_on-day", "1"),
                ("received_on-month", "1"),
                ("received_on-year", "2099"),
                ("channel", "pigeon"),
                ("kind", "request"),
                ("department", "nowhere"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    for message in [
        "Σφάλμα:",
        "Επισυνάψτε το έγγραφο",
        "δεν μπορεί να είναι μετά τη σημερινή",
        "href=\"#f-subject\"",
        "href=\"#f-channel\"",
        "href=\"#f-department\"",
    ] {
        assert!(html.contains(message), "{message}: {html}");
    }
    // What was typed is kept; nothing was registered.
    assert!(html.contains("Υπουργείο Εσωτερικών"));
    let (_, book) = page(&mut office, HOST, "/staff/protocol").await;
    assert!(!book.contains("Υπουργείο Εσωτερικών"), "{book}");
    // Not a PDF though it says so: refused by content, on its input.
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(
            &csrf,
            &submission_of(&html),
            LETTER,
            Some(b"<script>alert(1)</script>".to_vec()),
        ),
    )
    .await;
    assert_eq!(res.status(), 422);
    // A scan chosen with a mistake elsewhere is kept: the form comes back
    // naming it, and the corrected form registers it without choosing it
    // again.
    let (_, html) = page(&mut office, HOST, "/edms/register").await;
    let key = submission_of(&html);
    let mut untitled = LETTER.to_vec();
    untitled[0] = ("subject", "");
    let scan = letter("Η σάρωση που δεν χάθηκε.");
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(&csrf, &key, &untitled, Some(scan.clone())),
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("σάρωση επιστολής.pdf"), "{html}");
    let kept = hidden(&html, "kept-file");
    let mut fixed = LETTER.to_vec();
    fixed[0] = ("subject", "Η σάρωση κρατήθηκε");
    fixed.push(("kept-file", kept.as_str()));
    // Named twice (a tampered form): one file.
    fixed.push(("kept-file", kept.as_str()));
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(&csrf, &key, &fixed, None),
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let record = res.headers()["location"]
        .to_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = page(&mut office, HOST, &record).await;
    let files = hrefs(&html, &format!("{record}/files/"));
    assert_eq!(files.len(), 1, "{html}");
    let (_, bytes) = three_ways(&app, &office, HOST, &files[0]).await;
    assert_eq!(bytes, scan, "the kept scan, byte for byte");
    assert!(
        found(&mut office, "σαρωση που δεν χαθηκε")
            .await
            .contains(&record),
        "its text is searched"
    );
    // Taken, it is nobody's to keep: another form naming it has no file.
    let (_, html) = page(&mut office, HOST, "/edms/register").await;
    let mut again = LETTER.to_vec();
    again[0] = ("subject", "Τρίτο έγγραφο");
    again.push(("kept-file", kept.as_str()));
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(&csrf, &submission_of(&html), &again, None),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Επισυνάψτε το έγγραφο"));

    // A form that went through, changed and sent again (the Back button) is
    // another document: refused, not shown as the first one.
    let (_, html) = page(&mut office, HOST, "/edms/register").await;
    let key = submission_of(&html);
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(&csrf, &key, LETTER, Some(letter("α"))),
    )
    .await;
    assert_eq!(res.status(), 303);
    let mut other = LETTER.to_vec();
    other[0] = ("subject", "Άλλο έγγραφο");
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form(&csrf, &key, &other, Some(letter("β"))),
    )
    .await;
    assert_eq!(res.status(), 409);
    // Without the form's token nothing is read.
    let res = send_multipart(
        &office,
        &app,
        HOST,
        "/edms/register",
        form("forged", &submission_of(&html), LETTER, Some(letter("x"))),
    )
    .await;
    assert_eq!(res.status(), 403);
}

async fn an_outgoing_decision_is_drafted_approved_signed_numbered_and_sent(b: Backend) {
    let app = app(b).await;
    let mut head = person(&app, HOST, "technical-employee").await;
    let mut mayor = person(&app, HOST, "mayor").await;
    let mut secretary = person(&app, HOST, "council-secretary").await;

    // The secretary drafts from the staff area; a chain is required.
    let (_, hub) = page(&mut secretary, HOST, "/staff").await;
    let new = hrefs(&hub, "/edms/drafts/new");
    assert!(!new.is_empty(), "{hub}");
    let (status, html) = page(&mut secretary, HOST, &new[0]).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Νίκος Κωνσταντίνου") && html.contains("Ανδρέας Ιωάννου"),
        "approvers offered: {html}"
    );
    let key = submission_of(&html);
    let mut draft = vec![
        ("template", "decision"),
        ("subject", "Έγκριση κλαδέματος στην πλατεία Καλαμακίου"),
        ("recipient", "Σύλλογος Κατοίκων Καλαμακίου"),
        ("recipient_email", "syllogos@example.gr"),
        (
            "body",
            "Εγκρίνεται το κλάδεμα των δέντρων.\n\nΗ εργασία θα γίνει από την Τεχνική Υπηρεσία.",
        ),
        ("department", "administration"),
        ("_submission", key.as_str()),
    ];
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &draft,
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("href=\"#f-approver1\""), "{html}");
    draft.push(("approver1", "taxid:100000040"));
    draft.push(("approver2", "taxid:100000064"));
    let (status, record, html) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &draft,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let record = record.split("://").nth(1).unwrap();
    let record = format!(
        "/{}",
        record.split_once('/').unwrap().1.split('?').next().unwrap()
    );
    assert!(html.contains("Το σχέδιο αποθηκεύτηκε"), "{html}");
    // A second press of the same form is the same draft.
    let (_, again, _) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &draft,
    )
    .await;
    assert!(again.contains(&record), "{again}");
    let (_, html) = page(&mut secretary, HOST, "/edms?tab=drafts").await;
    assert_eq!(html.matches(&record).count(), 1, "{html}");

    // Sent for approval: the head sends it back, she changes it, sends it again.
    let (_, html) = page(&mut secretary, HOST, &record).await;
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/submit"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, html) = page(&mut head, HOST, "/edms?tab=to-approve").await;
    assert!(html.contains(&record), "{html}");
    let (_, html) = page(&mut head, HOST, &record).await;
    let (status, _, html) = post(
        &mut head,
        HOST,
        &format!("{record}/send-back"),
        &csrf_of(&html),
        &[("comment", "Να αναφερθεί η ημερομηνία")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (status, _) = page(&mut mayor, HOST, "/edms?tab=to-approve").await;
    assert_eq!(status, 200);
    let (_, html) = page(&mut secretary, HOST, &record).await;
    assert!(html.contains("Να αναφερθεί η ημερομηνία"), "{html}");
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/draft"),
        &csrf_of(&html),
        &[
            ("subject", "Έγκριση κλαδέματος στην πλατεία Καλαμακίου"),
            ("body", "Εγκρίνεται το κλάδεμα των δέντρων.\n\nΗ εργασία θα γίνει τη Δευτέρα 14 Δεκεμβρίου."),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (status, _, _) = post(
        &mut secretary,
        HOST,
        &format!("{record}/submit"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = page(&mut head, HOST, &record).await;
    let (status, _, html) = post(
        &mut head,
        HOST,
        &format!("{record}/approve"),
        &csrf_of(&html),
        &[("comment", "Σύμφωνος")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    // The head may not act twice, nor out of turn.
    let (status, _, _) = post(
        &mut head,
        HOST,
        &format!("{record}/approve"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 403);

    // The mayor, last, approves and signs: without a signing certificate
    // the number is taken and kept; with one, the same number is signed.
    let (_, html) = page(&mut mayor, HOST, "/edms?tab=to-approve").await;
    assert!(html.contains(&record), "{html}");
    let (_, html) = page(&mut mayor, HOST, &record).await;
    assert!(html.contains("Έγκριση και ψηφιακή υπογραφή"), "{html}");
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{record}/approve"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 409, "no certificate yet: {html}");
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (_, html) = page(&mut admin, HOST, "/admin/signing").await;
    let (status, _, _) = post(
        &mut admin,
        HOST,
        "/admin/signing/issue",
        &csrf_of(&html),
        &[("tax_id", "100000064")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = page(&mut mayor, HOST, &record).await;
    assert!(html.contains("Πρωτοκολλήθηκε, προς υπογραφή"), "{html}");
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{record}/approve"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let year = chrono::Datelike::year(&dimos_kernel::clock::local_date(chrono::Utc::now()));
    assert!(
        html.contains(&format!("Υπογράφηκε με αριθμό πρωτοκόλλου 1/{year}")),
        "{html}"
    );
    let numbers: i64 = app
        .sql_value("SELECT COUNT(*) FROM protocol_entries WHERE direction = 'outgoing'")
        .await;
    assert_eq!(numbers, 1, "one number, kept across the two presses");

    // The signed PDF verifies with OpenSSL against the municipality's CA.
    let file = hrefs(&html, &format!("{record}/files/"));
    assert_eq!(file.len(), 1, "{html}");
    let (content_type, pdf) = three_ways(&app, &mayor, HOST, &file[0]).await;
    assert_eq!(content_type, "application/pdf");
    let reference: String = html
        .split("/verify/")
        .nth(1)
        .unwrap()
        .chars()
        .take(14)
        .collect();
    assert!(
        published_signature_verifies(&app, HOST, &reference, &pdf).await,
        "openssl cms -verify"
    );
    let mut tampered = pdf.clone();
    let last = tampered.len() - 10;
    tampered[last] ^= 1;
    assert!(!published_signature_verifies(&app, HOST, &reference, &tampered).await);

    // Back with the drafter, who sends it by e-mail; it is closed.
    let (_, html) = page(&mut secretary, HOST, "/edms").await;
    assert!(html.contains(&record), "signed, to send: {html}");
    let (_, html) = page(&mut secretary, HOST, &record).await;
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/dispatch"),
        &csrf_of(&html),
        &[("how", "email")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Αποστάλθηκε"), "{html}");
    let mails: i64 = app
        .sql_value("SELECT COUNT(*) FROM notifications WHERE event = 'edms.dispatched' AND recipient = 'syllogos@example.gr'")
        .await;
    assert_eq!(mails, 1);
    for step in [
        "Συντάχθηκε σχέδιο",
        "Επιστράφηκε στον συντάκτη",
        "Άλλαξε το σχέδιο",
        "Εγκρίθηκε",
        "Υπογράφηκε ψηφιακά",
        "Αποστάλθηκε",
    ] {
        assert!(html.contains(step), "{step}: {html}");
    }
    // Its text is found, as the signed PDF says it.
    assert!(
        found(&mut mayor, "Δευτερα 14 δεκεμβριου")
            .await
            .contains(&record)
    );
}

/// The visibility rule twice: as the pure function each record's page asks
/// (`access::may_see`) and as the SQL every list and the search apply
/// (`store::visible_to`). For random records (confidential or not, in a
/// department or not, held or not, moved by and charged to random people)
/// and random people (their departments, clearance, registrar, reader of
/// all), the list shows exactly what the function allows.
async fn the_lists_show_exactly_what_the_rule_lets_each_person_see(b: Backend) {
    use dimos_module_edms::access::{Standing, Viewer, may_see};
    use dimos_module_edms::store::{self, Filter, Movement, Record};
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;
    use uuid::Uuid;
    let app = app(b).await;
    let tenant = app
        .state
        .registry()
        .tenants()
        .into_iter()
        .find(|t| t.slug() == "alimos")
        .unwrap();
    let tdb = app.tenant_db(tenant.id).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20);
    let accounts: Vec<Uuid> = (1..=4).map(Uuid::from_u128).collect();
    let subjects = ["taxid:100000001", "taxid:100000002", "taxid:100000003"];
    let departments = ["administration", "technical", "cleaning"];
    let now = chrono::Utc::now();
    let mut written: Vec<(Record, Vec<Movement>)> = vec![];
    let mut tx = tdb.begin().await.unwrap();
    for i in 0..150 {
        let held = rng
            .random_bool(0.3)
            .then(|| subjects[rng.random_range(0..3)].to_owned());
        let r = Record {
            id: Uuid::now_v7(),
            direction: "incoming".into(),
            protocol_id: Some(Uuid::now_v7()),
            protocol_year: Some(2026),
            protocol_number: Some(i),
            kind: "letter".into(),
            subject: format!("Έγγραφο {i}"),
            correspondent: "Αποστολέας".into(),
            correspondent_ref: String::new(),
            received_on: now.date_naive(),
            channel: "post".into(),
            attachments: 0,
            confidential: rng.random_bool(0.25),
            personal_data: false,
            urgent: false,
            status: if held.is_some() { "charged" } else { "routed" }.into(),
            department: rng
                .random_bool(0.8)
                .then(|| departments[rng.random_range(0..3)].to_owned()),
            holder_name: held.clone(),
            holder: held,
            instructions: String::new(),
            deadline: None,
            since: now,
            registered_by: accounts[rng.random_range(0..4)],
            registered_at: now + chrono::Duration::seconds(i),
            closed_at: None,
            outcome: String::new(),
            submission: Uuid::now_v7(),
            legal_hold: rng.random_bool(0.1),
            hold_reason: String::new(),
            disposed_at: None,
            disposal: String::new(),
            archive_document: None,
        };
        store::insert_in(&mut tx, &r, "").await.unwrap();
        let mut moves = vec![];
        for _ in 0..rng.random_range(0..3) {
            let m = Movement {
                id: Uuid::now_v7(),
                record_id: r.id,
                at: now,
                kind: "charged".into(),
                by_account: accounts[rng.random_range(0..4)],
                by_name: String::new(),
                department: None,
                to_subject: rng
                    .random_bool(0.5)
                    .then(|| subjects[rng.random_range(0..3)].to_owned()),
                to_name: None,
                note: String::new(),
                deadline: None,
            };
            store::add_movement_in(&mut tx, &m).await.unwrap();
            moves.push(m);
        }
        written.push((r, moves));
    }
    tx.commit().await.unwrap();
    for _ in 0..60 {
        let account = accounts[rng.random_range(0..4)];
        let mut v = Viewer {
            account,
            subjects: vec![format!("account:{account}")],
            departments: departments
                .iter()
                .filter(|_| rng.random_bool(0.3))
                .map(|d| (*d).to_owned())
                .collect(),
            registrar: rng.random_bool(0.15),
            reads_all: rng.random_bool(0.15),
            clearance: rng.random_bool(0.4),
        };
        if rng.random_bool(0.7) {
            v.subjects.push(subjects[rng.random_range(0..3)].to_owned());
        }
        let page = store::list(
            &tdb,
            &v,
            &Filter::default(),
            &dimos_workflow::query::Position::First,
            1,
            1000,
        )
        .await
        .unwrap();
        let listed: BTreeSet<Uuid> = page.items.iter().map(|r| r.id).collect();
        let allowed: BTreeSet<Uuid> = written
            .iter()
            .filter(|(r, moves)| {
                let by: Vec<Uuid> = moves.iter().map(|m| m.by_account).collect();
                let to: Vec<String> = moves.iter().filter_map(|m| m.to_subject.clone()).collect();
                may_see(
                    &v,
                    &Standing {
                        confidential: r.confidential,
                        department: r.department.as_deref(),
                        holder: r.holder.as_deref(),
                        registered_by: r.registered_by,
                        touched_by_accounts: &by,
                        touched_subjects: &to,
                    },
                )
            })
            .map(|(r, _)| r.id)
            .collect();
        assert_eq!(listed, allowed, "{v:?}");
    }
}

/// Closes a record as its head (the mayor heads the administration).
async fn close(b: &mut Browser<'_>, record: &str) {
    let (_, html) = page(b, HOST, record).await;
    let (status, _, html) = post(
        b,
        HOST,
        &format!("{record}/close"),
        &csrf_of(&html),
        &[("outcome", "Αρχειοθετήθηκε")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
}

async fn count_of(app: &TestApp, sql: &str) -> i64 {
    app.sql_value(sql).await
}

/// A request (kept 5 years, then destroyed), a circular (10 years, then
/// to the archive) and a request under a legal hold, all closed this
/// year: nothing goes early; the request goes on 1 January six years on
/// (its files, subject and notes; its number, type and dates stay, and
/// the protocol book's entry), the circular five years later as a package
/// whose files are the ones registered; the held one stays until the hold
/// is lifted. Each with an audit entry; a second run (another replica)
/// finds nothing.
async fn retention_runs_out_documents_go_as_their_type_says_and_a_legal_hold_stops_it(b: Backend) {
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
    let run = || dimos_module_edms::retention::run(&app.state);
    let mut office = person(&app, HOST, "kep-officer").await;
    let mut mayor = person(&app, HOST, "mayor").await;
    let scan = letter("Αίτημα για τον φωτισμό της οδού Ποσειδώνος.");
    let request = register(&app, &mut office, LETTER, scan.clone()).await;
    let mut circular_fields = LETTER.to_vec();
    circular_fields.retain(|(k, _)| *k != "kind" && *k != "subject");
    circular_fields.push(("kind", "circular"));
    circular_fields.push(("subject", "Εγκύκλιος για τις δημοτικές εκλογές"));
    let circular_scan = letter("Εγκύκλιος του Υπουργείου Εσωτερικών.");
    let circular = register(&app, &mut office, &circular_fields, circular_scan.clone()).await;
    let held = register(&app, &mut office, LETTER, letter("Αίτημα σε εκκρεμή δίκη.")).await;
    let (_, html) = page(&mut office, HOST, &request).await;
    let request_file = hrefs(&html, &format!("{request}/files/"));
    assert_eq!(request_file.len(), 1);
    for r in [&request, &circular, &held] {
        close(&mut mayor, r).await;
    }
    let year = chrono::Datelike::year(&dimos_kernel::clock::local_date(dimos_kernel::Clock::now(
        clock.as_ref(),
    )));
    let (_, html) = page(&mut mayor, HOST, &request).await;
    assert!(
        html.contains("Διατηρείται 5 έτη μετά το έτος διεκπεραίωσης και έπειτα καταστρέφεται")
            && html.contains(&format!("Ημερομηνία εκκαθάρισης: 01/01/{}", year + 6)),
        "{html}"
    );

    // The mayor holds the third: a reason is required; the secretary, who
    // may not hold, sees no form and is refused.
    let (_, html) = page(&mut mayor, HOST, &held).await;
    assert!(html.contains(&format!("{held}/hold")), "{html}");
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{held}/hold"),
        &csrf_of(&html),
        &[("hold", "on"), ("reason", " ")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{held}/hold"),
        &csrf_of(&html),
        &[("hold", "on"), ("reason", "Εκκρεμής δίκη 123/2026")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Σε νομική δέσμευση") && html.contains("Εκκρεμής δίκη 123/2026"));
    let (_, html) = page(&mut mayor, HOST, "/edms").await;
    let tab = hrefs(&html, "/edms?tab=held");
    assert_eq!(tab.len(), 1, "the mayor's tabs name the held: {html}");
    let (_, html) = page(&mut mayor, HOST, &tab[0]).await;
    let listed = hrefs(&html, "/edms/records/");
    assert!(
        listed.contains(&held) && !listed.contains(&request),
        "{listed:?}"
    );
    let mut secretary = person(&app, HOST, "council-secretary").await;
    let (_, csrf_page) = page(&mut secretary, HOST, "/edms").await;
    let (status, _, _) = post(
        &mut secretary,
        HOST,
        &format!("{held}/hold"),
        &csrf_of(&csrf_page),
        &[("hold", "off"), ("reason", "x")],
    )
    .await;
    assert!(status == 403 || status == 404, "{status}");

    // On 31 December of the fifth year nothing is due.
    let to = |y: i32, m: u32, d: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
    };
    clock.set(to(year + 5, 12, 31));
    assert_eq!(run().await, 0);
    clock.set(to(year + 6, 1, 2));
    // Two replicas at once: disposed once.
    let (one, two) = tokio::join!(run(), run());
    assert_eq!(one + two, 1, "the request, not the held one, once");
    assert_eq!(run().await, 0, "a later run finds nothing");

    let mut office = person(&app, HOST, "kep-officer").await;
    let (status, html) = page(&mut office, HOST, &request).await;
    assert_eq!(status, 200);
    assert!(html.contains("Καταστράφηκε στις"), "{html}");
    assert!(
        !html.contains("Κλάδεμα δέντρων στην πλατεία")
            && !html.contains("Σύλλογος Κατοίκων Καλαμακίου")
            && !html.contains("Αρχειοθετήθηκε"),
        "subject, sender and outcome are gone: {html}"
    );
    assert!(
        hrefs(&html, &format!("{request}/files/")).is_empty(),
        "{html}"
    );
    let (status, _) = page(&mut office, HOST, &request_file[0]).await;
    assert_eq!(status, 404);
    assert!(
        found(&mut office, "Κλάδεμα")
            .await
            .iter()
            .all(|h| !h.starts_with(&request))
    );
    assert_eq!(
        count_of(&app, "SELECT COUNT(*) FROM protocol_entries").await,
        3,
        "the protocol book keeps every entry"
    );
    assert_eq!(
        count_of(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'edms_disposed'"
        )
        .await,
        1
    );
    // Held, it stays, however late.
    let (_, html) = page(&mut office, HOST, &held).await;
    assert!(!html.contains("Καταστράφηκε") && html.contains("Σε νομική δέσμευση"));

    // Ten years on, the circular goes to the archive as a package.
    clock.set(to(year + 11, 1, 2));
    assert_eq!(run().await, 1);
    let mut office = person(&app, HOST, "kep-officer").await;
    let (_, html) = page(&mut office, HOST, &circular).await;
    assert!(html.contains("Μεταφέρθηκε στο αρχείο"), "{html}");
    let package = hrefs(&html, &format!("{circular}/archive"));
    assert_eq!(package.len(), 1, "{html}");
    let (content_type, package_bytes) = three_ways(&app, &office, HOST, &package[0]).await;
    assert_eq!(content_type, "application/zip");
    let mut z = ::zip::ZipArchive::new(std::io::Cursor::new(package_bytes)).unwrap();
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut z.by_name("record.json").unwrap(), &mut manifest).unwrap();
    assert!(
        manifest.contains("Εγκύκλιος για τις δημοτικές εκλογές"),
        "{manifest}"
    );
    assert!(
        manifest.contains("Αρχειοθετήθηκε"),
        "the history: {manifest}"
    );
    let name = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().into_owned())
        .find(|n| n.starts_with("files/"))
        .unwrap();
    let mut inside = vec![];
    std::io::Read::read_to_end(&mut z.by_name(&name).unwrap(), &mut inside).unwrap();
    assert_eq!(inside, circular_scan, "the registered file, byte for byte");
    let mut mayor = person(&app, HOST, "mayor").await;
    let (status, html) = page(&mut mayor, HOST, &circular).await;
    assert_eq!(status, 200);
    assert!(html.contains("Μεταφέρθηκε στο αρχείο"));

    // The hold lifted, the held request goes at the next run.
    let (_, html) = page(&mut mayor, HOST, &held).await;
    let (status, _, html) = post(
        &mut mayor,
        HOST,
        &format!("{held}/hold"),
        &csrf_of(&html),
        &[("hold", "off"), ("reason", "Η δίκη τελεσιδίκησε")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Άρση δέσμευσης"), "{html}");
    assert_eq!(run().await, 1);
    let (_, html) = page(&mut mayor, HOST, &held).await;
    assert!(html.contains("Καταστράφηκε στις"), "{html}");
    assert!(
        !html.contains(&format!("{held}/hold")),
        "nothing to hold any more"
    );
    assert_eq!(
        count_of(&app, "SELECT COUNT(*) FROM audit_log WHERE action IN ('edms_hold_placed', 'edms_hold_lifted')").await,
        2
    );
}

/// A decision the mayor signs, drafted by the secretary; its path.
async fn signed_decision(
    app: &TestApp,
    secretary: &mut Browser<'_>,
    mayor: &mut Browser<'_>,
) -> String {
    let mut admin = person(app, HOST, "municipal-admin").await;
    let (_, html) = page(&mut admin, HOST, "/admin/signing").await;
    let (status, _, _) = post(
        &mut admin,
        HOST,
        "/admin/signing/issue",
        &csrf_of(&html),
        &[("tax_id", "100000064")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = page(secretary, HOST, "/edms/drafts/new").await;
    let key = submission_of(&html);
    let (status, record, html) = post(
        secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &[
            ("template", "decision"),
            ("subject", "Κανονισμός καθαριότητας κοινόχρηστων χώρων"),
            ("recipient", "Περιφέρεια Αττικής"),
            ("recipient_email", ""),
            ("body", "Εγκρίνεται ο κανονισμός καθαριότητας."),
            ("department", "administration"),
            ("approver1", "taxid:100000064"),
            ("_submission", key.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let record = record.split("://").nth(1).unwrap();
    let record = format!(
        "/{}",
        record.split_once('/').unwrap().1.split('?').next().unwrap()
    );
    let (status, _, html) = post(
        secretary,
        HOST,
        &format!("{record}/submit"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, html) = page(mayor, HOST, &record).await;
    let (status, _, html) = post(
        mayor,
        HOST,
        &format!("{record}/approve"),
        &csrf_of(&html),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Υπογράφηκε με αριθμό πρωτοκόλλου"), "{html}");
    record
}

/// ΙΡΙΔΑ's inbox (the file-based exchange, as a bridge fills it): a
/// message is registered once, with its file, and acknowledged with our
/// number; an unreadable one is set aside. A signed decision is published
/// on Diavgeia (handed over whole, its ΑΔΑ shown once the bridge answers)
/// and sent through ΙΡΙΔΑ to another body; a second press hands nothing
/// over twice.
async fn documents_come_and_go_through_the_exchange_and_decisions_reach_diavgeia(b: Backend) {
    let app = app(b).await;
    let sweep = || dimos_module_edms::exchange::run(&app.state);
    let root = app.data_dir.join("exchange").join("alimos");
    let inbox = root.join("irida/inbox");
    let scan = letter("Διαβιβάζουμε την εγκύκλιο για την πολιτική προστασία.");
    std::fs::create_dir_all(inbox.join("MSG-0001")).unwrap();
    std::fs::write(inbox.join("MSG-0001/egkyklios.pdf"), &scan).unwrap();
    std::fs::write(
        inbox.join("MSG-0001/message.json"),
        r#"{"organisation": "Περιφέρεια Αττικής", "subject": "Εγκύκλιος πολιτικής προστασίας",
            "reference": "Α.Π. 991/2026", "sent_on": "2026-12-01", "kind": "circular",
            "files": ["egkyklios.pdf"]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(inbox.join("MSG-0002")).unwrap();
    std::fs::write(
        inbox.join("MSG-0002/message.json"),
        r#"{"organisation": "Χ", "subject": "Ψ", "sent_on": "2026-12-01", "files": ["missing.pdf"]}"#,
    )
    .unwrap();
    sweep().await;
    sweep().await;
    assert_eq!(
        count_of(
            &app,
            "SELECT COUNT(*) FROM edms_records WHERE channel = 'exchange'"
        )
        .await,
        1,
        "registered once"
    );
    let receipt =
        std::fs::read_to_string(root.join("irida/received/MSG-0001/receipt.json")).unwrap();
    let year = chrono::Datelike::year(&dimos_kernel::clock::local_date(chrono::Utc::now()));
    assert!(receipt.contains(&format!("\"1/{year}\"")), "{receipt}");
    assert!(root.join("irida/rejected/MSG-0002/error.txt").exists());
    assert!(
        std::fs::read_dir(&inbox).unwrap().next().is_none(),
        "the inbox is empty"
    );
    // The protocol office finds it waiting to be routed, with its file.
    let mut office = person(&app, HOST, "kep-officer").await;
    let (_, html) = page(&mut office, HOST, "/edms?tab=unrouted").await;
    let rec = hrefs(&html, "/edms/records/");
    assert_eq!(rec.len(), 1, "{html}");
    let (_, html) = page(&mut office, HOST, &rec[0]).await;
    assert!(
        html.contains("Εγκύκλιος πολιτικής προστασίας")
            && html.contains("Παραλήφθηκε μέσω ΙΡΙΔΑ από Περιφέρεια Αττικής"),
        "{html}"
    );
    let file = hrefs(&html, &format!("{}/files/", rec[0]));
    let (_, bytes) = three_ways(&app, &office, HOST, &file[0]).await;
    assert_eq!(bytes, scan);
    assert!(
        found(&mut office, "πολιτικης προστασιας")
            .await
            .contains(&rec[0])
    );

    // A signed decision: published on Diavgeia.
    let mut secretary = person(&app, HOST, "council-secretary").await;
    let mut mayor = person(&app, HOST, "mayor").await;
    let record = signed_decision(&app, &mut secretary, &mut mayor).await;
    let id = record.rsplit('/').next().unwrap().to_owned();
    let (_, html) = page(&mut secretary, HOST, &record).await;
    assert!(html.contains("Ανάρτηση στη Διαύγεια"), "{html}");
    let signed = hrefs(&html, &format!("{record}/files/"));
    let (_, pdf) = three_ways(&app, &secretary, HOST, &signed[0]).await;
    for _ in 0..2 {
        let (status, _, html) = post(
            &mut secretary,
            HOST,
            &format!("{record}/publish"),
            &csrf_of(&html),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{html}");
    }
    sweep().await;
    sweep().await;
    let handed = root.join("diavgeia/outbox").join(&id);
    let decision = std::fs::read_to_string(handed.join("decision.json")).unwrap();
    assert!(decision.contains("Κανονισμός καθαριότητας"), "{decision}");
    let file = decision
        .split("\"file\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(
        std::fs::read(handed.join(file)).unwrap(),
        pdf,
        "the signed PDF as signed"
    );
    let (_, html) = page(&mut secretary, HOST, &record).await;
    assert!(html.contains("αναμένεται ο ΑΔΑ"), "{html}");
    assert!(!html.contains(&format!("{record}/publish")), "asked once");
    std::fs::write(
        handed.join("receipt.json"),
        r#"{"ada": "ΨΑΒΓ7ΛΞ-1ΑΒ", "url": "https://diavgeia.gov.gr/decision/view/ΨΑΒΓ7ΛΞ-1ΑΒ"}"#,
    )
    .unwrap();
    sweep().await;
    let (_, html) = page(&mut secretary, HOST, &record).await;
    assert!(
        html.contains("Αναρτήθηκε στη Διαύγεια με ΑΔΑ ΨΑΒΓ7ΛΞ-1ΑΒ"),
        "{html}"
    );
    assert_eq!(
        count_of(
            &app,
            "SELECT COUNT(*) FROM edms_exchange WHERE system = 'diavgeia'"
        )
        .await,
        1
    );

    // Sent through ΙΡΙΔΑ: a code that is no code is refused; then sent.
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/dispatch"),
        &csrf_of(&html),
        &[("how", "exchange"), ("organisation", "../../etc")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("href=\"#f-organisation\""), "{html}");
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/dispatch"),
        &csrf_of(&html),
        &[("how", "exchange"), ("organisation", "6011")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Προς αποστολή μέσω ΙΡΙΔΑ στον φορέα 6011"),
        "{html}"
    );
    sweep().await;
    let sent = root.join("irida/outbox").join(&id);
    let message = std::fs::read_to_string(sent.join("message.json")).unwrap();
    assert!(message.contains("\"organisation\": \"6011\""), "{message}");
    // ΙΡΙΔΑ refuses the code; sent again with the right one.
    std::fs::write(
        sent.join("receipt.json"),
        r#"{"error": "Άγνωστος φορέας 6011"}"#,
    )
    .unwrap();
    sweep().await;
    let (_, html) = page(&mut secretary, HOST, &record).await;
    assert!(
        html.contains("Η ΙΡΙΔΑ δεν το δέχτηκε") && html.contains("Άγνωστος φορέας 6011"),
        "{html}"
    );
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        &format!("{record}/resend"),
        &csrf_of(&html),
        &[("organisation", "6012")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    sweep().await;
    let message = std::fs::read_to_string(sent.join("message.json")).unwrap();
    assert!(message.contains("\"organisation\": \"6012\""), "{message}");
    assert!(!sent.join("receipt.json").exists(), "handed over anew");
    std::fs::write(sent.join("receipt.json"), r#"{"id": "IR-2026-55"}"#).unwrap();
    sweep().await;
    let (_, html) = page(&mut secretary, HOST, &record).await;
    assert!(html.contains("(αριθμός ΙΡΙΔΑ IR-2026-55)"), "{html}");
}

/// The municipal admin reaches the settings from the admin area, keeps
/// requests 2 years then archives them, and sets the decisions' chain
/// (a head, then the mayor); mistakes are named on their inputs. A draft
/// decision then follows the chain; a letter, without one, is free.
async fn the_municipality_sets_retention_and_the_approval_chain_its_drafts_follow(b: Backend) {
    let app = app(b).await;
    let mut admin = person(&app, HOST, "municipal-admin").await;
    let (_, list) = page(&mut admin, HOST, "/admin/settings").await;
    let link = hrefs(&list, "/edms/settings");
    assert_eq!(link.len(), 1, "{list}");
    let (status, html) = page(&mut admin, HOST, &link[0]).await;
    assert_eq!(status, 200, "{html}");
    // The form as shown, with request's years and disposal and the chain changed.
    let document = scraper::Html::parse_document(&html);
    let mut fields: Vec<(String, String)> = vec![];
    for input in document.select(&scraper::Selector::parse("form input").unwrap()) {
        let e = input.value();
        if e.attr("name") != Some("_csrf") {
            fields.push((
                e.attr("name").unwrap().into(),
                e.attr("value").unwrap_or("").into(),
            ));
        }
    }
    for select in document.select(&scraper::Selector::parse("form select").unwrap()) {
        let name = select.value().attr("name").unwrap().to_owned();
        let chosen = select
            .select(&scraper::Selector::parse("option[selected]").unwrap())
            .next()
            .and_then(|o| o.value().attr("value"))
            .unwrap_or("")
            .to_owned();
        fields.push((name, chosen));
    }
    let row = fields
        .iter()
        .find(|(k, v)| k.ends_with("-id") && v == "request")
        .map(|(k, _)| k.trim_end_matches("-id").to_owned())
        .unwrap();
    let set = |fields: &mut Vec<(String, String)>, k: &str, v: &str| {
        fields.retain(|(n, _)| n != k);
        fields.push((k.to_owned(), v.to_owned()));
    };
    set(&mut fields, &format!("{row}-years"), "abc");
    set(&mut fields, "chain-decision-1", "department-head");
    set(&mut fields, "chain-decision-2", "mayor");
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, html) = post(&mut admin, HOST, "/edms/settings", &csrf_of(&html), &pairs).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(&format!("href=\"#f-{row}-years\"")), "{html}");
    set(&mut fields, &format!("{row}-years"), "2");
    set(&mut fields, &format!("{row}-disposal"), "archive");
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, html) = post(&mut admin, HOST, "/edms/settings", &csrf_of(&html), &pairs).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Οι ρυθμίσεις αποθηκεύτηκαν"), "{html}");
    assert!(
        html.contains(&format!("name=\"{row}-years\" type=\"text\" value=\"2\"")),
        "{html}"
    );
    let audit: i64 = app
        .sql_value("SELECT COUNT(*) FROM audit_log WHERE action = 'edms_settings_changed'")
        .await;
    assert_eq!(audit, 1);

    // A registered request now says 2 years, then the archive.
    let mut office = person(&app, HOST, "kep-officer").await;
    let record = register_letter(&app, &mut office).await;
    let (_, html) = page(&mut office, HOST, &record).await;
    assert!(
        html.contains(
            "Διατηρείται 2 έτη μετά το έτος διεκπεραίωσης και έπειτα μεταφέρεται στο αρχείο"
        ),
        "{html}"
    );

    // The decision's chain: the mayor alone is one step short.
    let mut secretary = person(&app, HOST, "council-secretary").await;
    let (_, html) = page(&mut secretary, HOST, "/edms/drafts/new").await;
    let key = submission_of(&html);
    let mut draft = vec![
        ("template", "decision"),
        ("subject", "Απόφαση για τις λαϊκές αγορές"),
        ("recipient", "Εμπορικός Σύλλογος"),
        ("body", "Εγκρίνεται."),
        ("department", "administration"),
        ("approver1", "taxid:100000064"),
        ("_submission", key.as_str()),
    ];
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &draft,
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("href=\"#f-approver2\""), "{html}");
    // The head of the technical service, then the mayor: as configured.
    draft.retain(|(k, _)| *k != "approver1");
    draft.push(("approver1", "taxid:100000040"));
    draft.push(("approver2", "taxid:100000064"));
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &draft,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    // The mayor first, the head second: the roles are out of order.
    let (_, html) = page(&mut secretary, HOST, "/edms/drafts/new").await;
    let key = submission_of(&html);
    let swapped = [
        ("template", "decision"),
        ("subject", "Δεύτερη απόφαση"),
        ("recipient", "Εμπορικός Σύλλογος"),
        ("body", "Εγκρίνεται."),
        ("department", "administration"),
        ("approver1", "taxid:100000064"),
        ("approver2", "taxid:100000040"),
        ("_submission", key.as_str()),
    ];
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &swapped,
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("href=\"#f-approver2\""),
        "the mayor's step: {html}"
    );
    // The page is the admin's.
    let (status, _) = page(&mut secretary, HOST, "/edms/settings").await;
    assert_eq!(status, 403);
    // A letter has no chain: the mayor alone will do.
    let letter = [
        ("template", "letter"),
        ("subject", "Απάντηση σε αίτημα"),
        ("recipient", "Εμπορικός Σύλλογος"),
        ("body", "Σας απαντούμε."),
        ("department", "administration"),
        ("approver1", "taxid:100000064"),
        ("_submission", key.as_str()),
    ];
    let (status, _, html) = post(
        &mut secretary,
        HOST,
        "/edms/drafts",
        &csrf_of(&html),
        &letter,
    )
    .await;
    assert_eq!(status, 200, "{html}");
}

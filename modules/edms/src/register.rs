//! The protocol office registers an incoming document: its files (the
//! scan, the e-mail's attachments), sender, subject, type, flags; the
//! protocol book gives the number; it may go to a department at once.
//! Files are stored first; the number, the record, the files' rows, its
//! first movements and the audit entry are one transaction; a second press
//! of the same form (its key) shows the first registration.

use crate::store::{self, Movement, Record};
use crate::text;
use crate::web::{department_names, settings, viewer};
use crate::{HOLDER, Register};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use dimos_kernel::{Error, FieldError};
use dimos_storage::documents::{self, Document};
use dimos_web::access::Authorized;
use dimos_web::extract::Peer;
use dimos_web::uploads::{FormWithDocuments, Kept};
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use dimos_workflow::protocol::{self, Direction, NewEntry};
use minijinja::context;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const CHANNELS: [&str; 4] = ["hand", "post", "email", "exchange"];

/// The form's fields, as the page reads them.
const FIELDS: [&str; 12] = [
    "subject",
    "correspondent",
    "correspondent_ref",
    "received_on",
    "kind",
    "channel",
    "attachments",
    "urgent",
    "personal_data",
    "confidential",
    "department",
    "doc-file",
];

/// The files one registration may carry.
const MAX_FILES: usize = 10;

/// What the form says, checked.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub subject: String,
    pub correspondent: String,
    pub correspondent_ref: String,
    pub received_on: NaiveDate,
    pub channel: String,
    pub kind: String,
    pub attachments: i32,
    pub confidential: bool,
    pub personal_data: bool,
    pub urgent: bool,
    pub department: Option<String>,
    pub submission: Uuid,
}

/// One text field: trimmed, required or not, at most `max` characters.
pub(crate) fn text_field(
    errors: &mut Vec<FieldError>,
    name: &str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    let v = value.trim();
    if required && v.is_empty() {
        errors.push(FieldError::new(name, "required"));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(name, "too-long").with_detail(max.to_string()));
    }
    v.to_owned()
}

/// A date from the form's three boxes (`<name>-day`, …); `None` when all
/// are empty.
pub(crate) fn date_field(
    errors: &mut Vec<FieldError>,
    get: impl Fn(&str) -> String,
    name: &str,
) -> Option<NaiveDate> {
    let iso = dimos_kernel::clock::date_from_parts(
        &get(&format!("{name}-day")),
        &get(&format!("{name}-month")),
        &get(&format!("{name}-year")),
    );
    if iso.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(&iso, "%Y-%m-%d") {
        Ok(d) if (2000..=2100).contains(&chrono::Datelike::year(&d)) => Some(d),
        _ => {
            errors.push(FieldError::new(name, "date-invalid"));
            None
        }
    }
}

/// Reads the form into an [`Incoming`], or says what is wrong with each
/// field. `kinds` and `departments` are the municipality's.
pub fn check(
    fields: &BTreeMap<String, String>,
    kinds: &[String],
    departments: &[String],
    today: NaiveDate,
) -> std::result::Result<Incoming, Vec<FieldError>> {
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let mut e = vec![];
    let subject = text_field(&mut e, "subject", &get("subject"), true, 500);
    let correspondent = text_field(&mut e, "correspondent", &get("correspondent"), true, 300);
    let correspondent_ref = text_field(
        &mut e,
        "correspondent_ref",
        &get("correspondent_ref"),
        false,
        200,
    );
    let received_on = date_field(&mut e, get, "received_on").unwrap_or(today);
    if received_on > today {
        e.push(FieldError::new("received_on", "edms-in-the-future"));
    }
    let channel = get("channel");
    if !CHANNELS.contains(&channel.as_str()) {
        e.push(FieldError::new("channel", "required"));
    }
    let kind = get("kind");
    if !kinds.contains(&kind) {
        e.push(FieldError::new("kind", "required"));
    }
    let attachments = match get("attachments").trim() {
        "" => 0,
        s => match s.parse::<i32>() {
            Ok(n) if (0..=1000).contains(&n) => n,
            _ => {
                e.push(FieldError::new("attachments", "out-of-range").with_detail("0–1000"));
                0
            }
        },
    };
    let department = Some(get("department")).filter(|d| !d.is_empty());
    if let Some(d) = &department
        && !departments.contains(d)
    {
        e.push(FieldError::new("department", "invalid"));
    }
    let submission = get("_submission").parse::<Uuid>().unwrap_or_else(|_| {
        e.push(FieldError::new("_submission", "invalid"));
        Uuid::nil()
    });
    let on = |k: &str| fields.get(k).is_some_and(|v| v == "on");
    if !e.is_empty() {
        return Err(e);
    }
    Ok(Incoming {
        subject,
        correspondent,
        correspondent_ref,
        received_on,
        channel,
        kind,
        attachments,
        confidential: on("confidential"),
        personal_data: on("personal_data"),
        urgent: on("urgent"),
        department,
        submission,
    })
}

/// The text the search matches for a record: its words and its files'.
pub fn search_text(r: &Record, files: &[String]) -> String {
    let mut s = format!(
        "{} {} {} {} {}",
        r.protocol_number
            .map_or_else(String::new, |n| n.to_string()),
        r.subject,
        r.correspondent,
        r.correspondent_ref,
        r.kind
    );
    for f in files {
        s.push(' ');
        s.push_str(f);
    }
    dimos_db::search::index_text(&dimos_kernel::greek::fold(&s), SEARCH_CHARS)
}

/// The most searchable text of one record (its details and its files').
pub const SEARCH_CHARS: usize = 300_000;

pub async fn form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Register>,
) -> Result<Response> {
    let clearance = viewer(&state, &t, &who.user).await.clearance;
    render(
        &state,
        &ui,
        &t,
        (&who.user.csrf, clearance),
        &BTreeMap::new(),
        &[],
        &[],
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)] // the page's parts, each from its caller
async fn render(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    (csrf, clearance): (&str, bool),
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
    kept: &[Kept],
    status: StatusCode,
) -> Result<Response> {
    let english = ui.lang.code() == "en";
    let cfg = settings(t).await?;
    let names = department_names(state, t, english).await?;
    // Every field the page reads is there (templates are strict).
    let mut values = values.clone();
    let received_on = dimos_kernel::clock::date_from_parts(
        values.get("received_on-day").map_or("", String::as_str),
        values.get("received_on-month").map_or("", String::as_str),
        values.get("received_on-year").map_or("", String::as_str),
    );
    values.insert("received_on".into(), received_on);
    let (values, em) = crate::web::prefill(ui, &values, &FIELDS, errors);
    let page = ui.render(
        "edms/register.html",
        context! {
            form => values,
            kinds => cfg.kinds.iter().map(|k| context! { id => k.id, label => k.label(english) }).collect::<Vec<_>>(),
            channels => CHANNELS,
            departments => names.iter().map(|(s, n, _)| context! { slug => s, name => n }).collect::<Vec<_>>(),
            errors => ui.error_list(errors),
            em,
            csrf,
            clearance,
            kept,
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, page))
}

pub async fn submit(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Register>,
    peer: Peer,
    form: Multipart,
) -> Result<Response> {
    let form: FormWithDocuments =
        dimos_web::uploads::receive_form(&state, &who.user, form, &["file"]).await?;
    let fields: BTreeMap<String, String> = form.fields.iter().cloned().collect();
    // A second press of a form that went through shows what it filed; but
    // a form changed after it was sent (the Back button) is another
    // document, not that one.
    if let Some(key) = form.submission_key()
        && let Some(r) = store::by_submission(&t.db, key).await?
    {
        let same = |k: &str, v: &str| fields.get(k).is_some_and(|f| f.trim() == v);
        if !(same("subject", &r.subject) && same("correspondent", &r.correspondent)) {
            return Err(Error::Conflict("edms-form-used").into());
        }
        return Ok(
            Redirect::to(&format!("/edms/records/{}?done=registered", r.id)).into_response(),
        );
    }
    let cfg = settings(&t).await?;
    let kinds: Vec<String> = cfg.kinds.iter().map(|k| k.id.clone()).collect();
    let departments: Vec<String> = department_names(&state, &t, false)
        .await?
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    let now = state.workflow().now();
    let today = dimos_kernel::clock::local_date(now);
    let v = viewer(&state, &t, &who.user).await;
    let actor = dimos_web::people::staff_actor(&who.user);
    // Files kept from an earlier try of this form (still this person's,
    // unclaimed).
    let earlier = form.kept(&t, &actor).await?;
    let mut errors = form.errors.clone();
    let checked = check(&fields, &kinds, &departments, today);
    if let Err(e) = &checked {
        errors.extend(e.iter().cloned());
    }
    if form.files.is_empty() && earlier.is_empty() && form.errors.is_empty() {
        errors.push(FieldError::new("doc-file", "edms-file-required"));
    }
    if form.files.len() + earlier.len() > MAX_FILES {
        errors.push(
            FieldError::new("doc-file", "edms-too-many-files").with_detail(MAX_FILES.to_string()),
        );
    }
    if fields.get("confidential").is_some_and(|c| c == "on") {
        if !v.clearance {
            errors.push(FieldError::new("confidential", "edms-no-clearance"));
        } else if let Some(d) = fields.get("department").filter(|d| !d.is_empty())
            && !crate::web::cleared_in(&state, &t, d).await?
        {
            errors.push(FieldError::new(
                "department",
                "edms-department-no-clearance",
            ));
        }
    }
    let incoming = match checked {
        Ok(i) if errors.is_empty() => i,
        _ => {
            // The files chosen are kept, so they need not be chosen again.
            let mut kept = form.keep_files(&state, &t, &actor, vec![]).await?;
            kept.extend(earlier);
            kept.truncate(MAX_FILES);
            return render(
                &state,
                &ui,
                &t,
                (&who.user.csrf, v.clearance),
                &fields,
                &errors,
                &kept,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut adopted: Vec<(Document, String)> = vec![];
    for k in &earlier {
        // Gone since the check (swept, taken): the form is sent again.
        let d = documents::get(&t.db, k.id)
            .await?
            .ok_or(Error::Conflict("edms-form-used"))?;
        let words = stored_text(&state, &d).await;
        adopted.push((d, words));
    }
    let mut stored: Vec<(Document, String)> = vec![];
    for (_, name, received) in form.files {
        let words = read_text(&received).await;
        let id = Uuid::now_v7();
        let key = documents::new_key(&t.db, id);
        if let Err(e) = state.objects().put_file(&key, received.temp.path()).await {
            forget(&state, &stored).await;
            return Err(Error::from(e).into());
        }
        stored.push((
            Document {
                id,
                case_id: None,
                kind: Some("edms".into()),
                original_name: name,
                content_type: received.content_type.to_owned(),
                size: i64::try_from(received.size).unwrap_or(i64::MAX),
                sha256: received.sha256.clone(),
                object_key: key,
                personal_data: incoming.personal_data,
                uploaded_by: who.user.account.id,
                uploaded_at: now,
                internal: true,
                replaced_by: None,
            },
            words,
        ));
    }
    let by = Filer {
        account: who.user.account.id,
        subject: who.user.actor(),
        actor,
        audit: who.user.audit(peer, "edms_registered"),
        received: None,
    };
    match file(&state, &t, by, &incoming, &stored, &adopted).await {
        Ok(r) => {
            Ok(Redirect::to(&format!("/edms/records/{}?done=registered", r.id)).into_response())
        }
        Err(e) => {
            forget(&state, &stored).await;
            // The same form sent twice at once: the other press filed it.
            if let Some(r) = store::by_submission(&t.db, incoming.submission).await? {
                return Ok(
                    Redirect::to(&format!("/edms/records/{}?done=registered", r.id))
                        .into_response(),
                );
            }
            Err(e)
        }
    }
}

/// How long reading one file's text may take; a file that takes longer is
/// registered without its text (found by its details).
const READ_TEXT_FOR: std::time::Duration = std::time::Duration::from_secs(20);

/// The words of an uploaded file, read off the request's thread; nothing
/// for an image, a file the reader cannot read, or one it takes too long
/// over (said in the log).
pub(crate) async fn read_text(received: &dimos_storage::Received) -> String {
    let content_type = received.content_type.to_owned();
    if !text::READABLE.contains(&content_type.as_str()) {
        return String::new();
    }
    let bytes = match tokio::fs::read(received.temp.path()).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "an upload's text could not be read");
            return String::new();
        }
    };
    let work = tokio::task::spawn_blocking(move || text::extract(&content_type, &bytes));
    match tokio::time::timeout(READ_TEXT_FOR, work).await {
        Ok(Ok(words)) => words,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading an upload's text failed");
            String::new()
        }
        Err(_) => {
            tracing::warn!("reading an upload's text took too long; registered without it");
            String::new()
        }
    }
}

/// The words of a stored file (one kept from an earlier try), as
/// [`read_text`] reads an upload.
async fn stored_text(state: &AppState, d: &Document) -> String {
    let content_type = d.content_type.clone();
    if !text::READABLE.contains(&content_type.as_str()) {
        return String::new();
    }
    let read = async {
        let mut reader = state.objects().get(&d.object_key).await.ok()?;
        let mut bytes = vec![];
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
            .await
            .ok()?;
        Some(bytes)
    };
    let Some(bytes) = read.await else {
        tracing::warn!(document = %d.id, "a kept file could not be read for its text");
        return String::new();
    };
    let work = tokio::task::spawn_blocking(move || text::extract(&content_type, &bytes));
    match tokio::time::timeout(READ_TEXT_FOR, work).await {
        Ok(Ok(words)) => words,
        _ => {
            tracing::warn!(document = %d.id, "reading a kept file's text failed or took too long");
            String::new()
        }
    }
}

async fn forget(state: &AppState, stored: &[(Document, String)]) {
    for (d, _) in stored {
        if let Err(e) = state.objects().delete(&d.object_key).await {
            tracing::warn!(key = %d.object_key, error = %e, "an unregistered file stays for the orphan sweep");
        }
    }
}

/// The number, the record, its files and first movements, the audit
/// entry: one transaction.
/// Who files it: a person at the protocol office, or the exchange.
pub(crate) struct Filer {
    pub account: Uuid,
    /// How the protocol book names whoever registered it (`account:…`).
    pub subject: String,
    pub actor: dimos_workflow::Actor,
    /// The audit entry, without its details (added here).
    pub audit: dimos_identity::AuditEntry,
    /// Received through the exchange: the message's id and the sender
    /// (its `edms_exchange` row goes in the same transaction).
    pub received: Option<(String, String)>,
}

pub(crate) async fn file(
    state: &AppState,
    t: &CurrentTenant,
    by: Filer,
    i: &Incoming,
    files: &[(Document, String)],
    kept: &[(Document, String)],
) -> Result<Record> {
    let actor = &by.actor;
    let now = state.workflow().now();
    let mut tx = t.db.begin().await?;
    let entry = protocol::register(
        &mut tx,
        &t.db,
        now,
        &NewEntry {
            book: "general".into(),
            direction: Direction::Incoming,
            subject: i.subject.clone(),
            correspondent: i.correspondent.clone(),
            attachments: u32::try_from(i.attachments).unwrap_or(0),
            // The book shows no subject or sender of a document with
            // personal data: it is read under this module's rule.
            restricted: i.personal_data,
            confidential: i.confidential,
            personal_data: i.personal_data,
            case_id: None,
            registered_by: by.subject.clone(),
        },
    )
    .await?;
    let r = Record {
        id: Uuid::now_v7(),
        direction: "incoming".into(),
        protocol_id: Some(entry.id),
        protocol_year: Some(entry.year),
        protocol_number: Some(entry.number),
        kind: i.kind.clone(),
        subject: i.subject.clone(),
        correspondent: i.correspondent.clone(),
        correspondent_ref: i.correspondent_ref.clone(),
        received_on: i.received_on,
        channel: i.channel.clone(),
        attachments: i.attachments,
        confidential: i.confidential,
        personal_data: i.personal_data,
        urgent: i.urgent,
        status: if i.department.is_some() {
            "routed"
        } else {
            "registered"
        }
        .into(),
        department: i.department.clone(),
        holder: None,
        holder_name: None,
        instructions: String::new(),
        deadline: None,
        since: now,
        registered_by: by.account,
        registered_at: now,
        closed_at: None,
        outcome: String::new(),
        submission: i.submission,
        legal_hold: false,
        hold_reason: String::new(),
        disposed_at: None,
        disposal: String::new(),
        archive_document: None,
    };
    let texts: Vec<String> = kept.iter().chain(files).map(|(_, w)| w.clone()).collect();
    store::insert_in(&mut tx, &r, &search_text(&r, &texts)).await?;
    for (d, words) in files {
        documents::hold_in(&mut tx, &t.db, d, HOLDER).await?;
        store::add_file_in(&mut tx, r.id, d.id, words).await?;
    }
    // Files kept from a try that came back with errors: taken by this
    // registration, unless another took them meanwhile.
    for (d, words) in kept {
        if !documents::adopt_held_in(&mut tx, d.id, by.account, HOLDER).await? {
            return Err(Error::Conflict("edms-form-used").into());
        }
        store::add_file_in(&mut tx, r.id, d.id, words).await?;
    }
    let moved = |kind: &str, department: Option<String>| Movement {
        id: Uuid::now_v7(),
        record_id: r.id,
        at: now,
        kind: kind.into(),
        by_account: by.account,
        by_name: actor.name.clone(),
        department,
        to_subject: None,
        to_name: None,
        note: String::new(),
        deadline: None,
    };
    let first = moved("registered", None);
    store::add_movement_in(&mut tx, &first).await?;
    if let Some(d) = &i.department {
        let routed = moved("routed", Some(d.clone()));
        store::add_movement_in(&mut tx, &routed).await?;
    }
    dimos_web::auth::record_in(
        &mut tx,
        t,
        by.audit
            .record(format!("edms:{}", r.id))
            .detail(json!({
                "number": r.number(),
                "files": files.iter().chain(kept).map(|(d, _)| json!({"document": d.id, "sha256": d.sha256})).collect::<Vec<_>>(),
                "confidential": r.confidential,
            })),
    )
    .await?;
    if let Some((message, organisation)) = &by.received {
        crate::exchange::received_in(&mut tx, r.id, message, organisation, now).await?;
    }
    tx.commit().await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    #[test]
    fn a_complete_form_reads_into_its_values() {
        let key = Uuid::now_v7().to_string();
        let i = check(
            &form(&[
                ("subject", "  Αίτηση για κλάδεμα δέντρων "),
                ("correspondent", "Σύλλογος Κατοίκων"),
                ("received_on-day", "3"),
                ("received_on-month", "12"),
                ("received_on-year", "2026"),
                ("channel", "post"),
                ("kind", "request"),
                ("attachments", "2"),
                ("confidential", "on"),
                ("department", "technical"),
                ("_submission", &key),
            ]),
            &["request".into()],
            &["technical".into()],
            today(),
        )
        .unwrap();
        assert_eq!(i.subject, "Αίτηση για κλάδεμα δέντρων");
        assert_eq!(i.received_on, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert_eq!(i.attachments, 2);
        assert!(i.confidential && !i.urgent);
        assert_eq!(i.department.as_deref(), Some("technical"));
    }

    #[test]
    fn each_mistake_names_its_field() {
        let errs = check(
            &form(&[
                ("subject", ""),
                ("correspondent", &"x".repeat(301)),
                ("received_on-day", "8"),
                ("received_on-month", "12"),
                ("received_on-year", "2026"),
                ("channel", "pigeon"),
                ("kind", "nope"),
                ("attachments", "-1"),
                ("department", "elsewhere"),
            ]),
            &["request".into()],
            &["technical".into()],
            today(),
        )
        .unwrap_err();
        let got: Vec<(String, String)> = errs
            .into_iter()
            .map(|e| (e.field, e.code.to_owned()))
            .collect();
        let want = [
            ("subject", "required"),
            ("correspondent", "too-long"),
            ("received_on", "edms-in-the-future"),
            ("channel", "required"),
            ("kind", "required"),
            ("attachments", "out-of-range"),
            ("department", "invalid"),
            ("_submission", "invalid"),
        ];
        assert_eq!(
            got,
            want.iter()
                .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
                .collect::<Vec<_>>()
        );
    }
}

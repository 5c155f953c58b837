//! Outgoing documents: an employee drafts one (a letter, a decision, a
//! certificate) with its recipient and approval chain; each approver in
//! turn may comment, send it back to the drafter, or approve; the last one
//! signs it through the platform's signing service, which gives it its
//! outgoing protocol number first; it is then dispatched by e-mail (a
//! message with its number and where anyone checks it) or marked sent by
//! post. The PDF is a pure function of the draft (`render`).
//!
//! Signing is in three steps so that the protocol book's counter is held
//! only for the instant of taking a number: (1) a transaction gives the
//! record its number (once: a second press spends none); (2) the PDF with
//! that number is rendered, signed and stored, with no transaction open;
//! (3) a transaction files the signed PDF, its signature and the movement.
//! Should (2) or (3) fail, the record keeps its number and the signer
//! presses "sign" again: the same number, no gap, nothing half-filed.

use crate::register::text_field;
use crate::store::{self, Movement, Outgoing, Record};
use crate::web::{Fields, department_names, record_page, viewer, visible};
use crate::{HOLDER, Work};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use dimos_kernel::{Error, FieldError};
use dimos_web::access::Authorized;
use dimos_web::auth::Posted;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use dimos_workflow::protocol::{self, Direction, NewEntry};
use minijinja::{Value, context};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const TEMPLATES: [&str; 3] = ["letter", "decision", "certificate"];

/// Most approvers in a chain (head, director, mayor).
pub const MAX_APPROVERS: usize = 3;

/// What the PDF is made from.
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    pub municipality: &'a str,
    pub template: &'a str,
    pub number: &'a str,
    pub date: NaiveDate,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub signer: &'a str,
    pub reference: &'a str,
    pub verify_url: &'a str,
}

/// The outgoing document, in Greek (the language of the administration).
pub fn render(l: &Letter<'_>) -> std::result::Result<Vec<u8>, Error> {
    let heading = match l.template {
        "decision" => "ΑΠΟΦΑΣΗ",
        "certificate" => "ΒΕΒΑΙΩΣΗ",
        _ => "ΕΓΓΡΑΦΟ",
    };
    let mut d = dimos_pdf::Document::new(l.subject, l.municipality);
    d.title(l.municipality)
        .field("Αριθμός πρωτοκόλλου", l.number)
        .field("Ημερομηνία", &l.date.format("%d/%m/%Y").to_string())
        .field("Προς", l.recipient)
        .space()
        .heading(heading)
        .field("Θέμα", l.subject)
        .space();
    for p in l.body.split("\n\n") {
        let p = p.trim();
        if !p.is_empty() {
            d.paragraph(&p.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    d.space()
        .field("Ο/Η υπογράφων/ουσα", l.signer)
        .field("Κωδικός επαλήθευσης", l.reference)
        .small(&format!(
            "Φέρει ψηφιακή υπογραφή· ελέγχεται στη διεύθυνση {}",
            l.verify_url
        ))
        .subject(l.verify_url);
    d.render().map_err(Error::internal)
}

/// The chain as stored: `[[subject, name], …]`.
pub fn chain_json(chain: &[(String, String)]) -> String {
    serde_json::Value::from(chain.iter().map(|(s, n)| json!([s, n])).collect::<Vec<_>>())
        .to_string()
}

/// Someone who may approve (`edms.approve`): whether they may sign
/// (`documents.sign`) and their roles (for a configured chain).
pub(crate) struct Candidate {
    pub subject: String,
    pub name: String,
    pub signs: bool,
    pub roles: std::collections::BTreeSet<String>,
}

/// The members of the municipality's departments who may approve.
async fn approvers(state: &AppState, t: &CurrentTenant) -> Result<Vec<Candidate>> {
    let names = department_names(state, t, false).await?;
    let mut out: Vec<Candidate> = vec![];
    for (slug, _, _) in &names {
        for (subject, name) in crate::web::members(state, t, &names, slug).await? {
            if out.iter().any(|c| c.subject == subject) {
                continue;
            }
            let one = std::slice::from_ref(&subject);
            let access = state.access();
            if access.allowed(t.db.tenant_id(), one, "edms.approve").await {
                let signs = access
                    .allowed(t.db.tenant_id(), one, "documents.sign")
                    .await;
                let roles = access.roles_of(t.db.tenant_id(), one).await;
                out.push(Candidate {
                    subject,
                    name,
                    signs,
                    roles,
                });
            }
        }
    }
    Ok(out)
}

/// Roles by id, named in the page's language.
pub(crate) fn role_labels(state: &AppState, ui: &Ui) -> BTreeMap<String, String> {
    state
        .access()
        .catalog()
        .roles
        .values()
        .map(|r| (r.id.clone(), ui.t(&r.label_key)))
        .collect()
}

/// A draft as the form says it, checked.
struct Draft {
    template: String,
    subject: String,
    recipient: String,
    recipient_email: String,
    body: String,
    department: String,
    chain: Vec<(String, String)>,
    submission: Uuid,
}

fn check(
    f: &Fields,
    departments: &[String],
    candidates: &[Candidate],
    cfg: &crate::EdmsConfig,
    roles: &BTreeMap<String, String>,
) -> std::result::Result<Draft, Vec<FieldError>> {
    let mut e = vec![];
    let template = f.get("template");
    if !TEMPLATES.contains(&template.as_str()) {
        e.push(FieldError::new("template", "required"));
    }
    let subject = text_field(&mut e, "subject", &f.get("subject"), true, 500);
    let recipient = text_field(&mut e, "recipient", &f.get("recipient"), true, 300);
    let recipient_email = f.get("recipient_email").trim().to_owned();
    if !recipient_email.is_empty()
        && recipient_email
            .parse::<dimos_notify::email::Address>()
            .is_err()
    {
        e.push(FieldError::new("recipient_email", "email-invalid"));
    }
    let body = text_field(&mut e, "body", &f.get("body"), true, 20_000);
    let department = f.get("department");
    if !departments.contains(&department) {
        e.push(FieldError::new("department", "required"));
    }
    // The municipality's chain for this template, if it set one: the
    // approver at each step holds that step's role.
    let configured = cfg.chain(&template);
    let mut chain: Vec<(String, String)> = vec![];
    let mut last_signs = false;
    for i in 1..=MAX_APPROVERS {
        let field = format!("approver{i}");
        let s = f.get(&field);
        let role = configured.and_then(|c| c.get(i - 1));
        if s.is_empty() {
            if let Some(role) = role {
                e.push(
                    FieldError::new(field, "edms-approver-role")
                        .with_detail(roles.get(role).cloned().unwrap_or_else(|| role.clone())),
                );
            }
            continue;
        }
        match candidates.iter().find(|c| c.subject == s) {
            Some(_) if configured.is_some() && role.is_none() => {
                e.push(FieldError::new(field, "edms-approver-extra"));
            }
            Some(c) if role.is_some_and(|r| !c.roles.contains(r)) => {
                let role = role.map(String::as_str).unwrap_or_default();
                e.push(
                    FieldError::new(field, "edms-approver-role")
                        .with_detail(roles.get(role).cloned().unwrap_or_else(|| role.to_owned())),
                );
            }
            Some(c) if !chain.iter().any(|(x, _)| *x == c.subject) => {
                chain.push((c.subject.clone(), c.name.clone()));
                last_signs = c.signs;
            }
            _ => e.push(FieldError::new(field, "invalid")),
        }
    }
    if chain.is_empty() && configured.is_none() {
        e.push(FieldError::new("approver1", "required"));
    } else if !chain.is_empty() && !last_signs {
        e.push(FieldError::new(
            format!("approver{}", chain.len()),
            "edms-last-must-sign",
        ));
    }
    let submission = f.get("_submission").parse::<Uuid>().unwrap_or_else(|_| {
        e.push(FieldError::new("_submission", "invalid"));
        Uuid::nil()
    });
    if !e.is_empty() {
        return Err(e);
    }
    Ok(Draft {
        template,
        subject,
        recipient,
        recipient_email,
        body,
        department,
        chain,
        submission,
    })
}

const FIELDS: [&str; 10] = [
    "template",
    "subject",
    "recipient",
    "recipient_email",
    "body",
    "department",
    "approver1",
    "approver2",
    "approver3",
    "_submission",
];

pub async fn new_form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
) -> Result<Response> {
    form_page(&state, &ui, &t, &who, &BTreeMap::new(), &[], StatusCode::OK).await
}

async fn form_page(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    who: &Authorized<Work>,
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response> {
    let v = viewer(state, t, &who.user).await;
    let names = department_names(state, t, ui.lang.code() == "en").await?;
    let (mut values, em) = crate::web::prefill(ui, values, &FIELDS, errors);
    if values.get("department").is_some_and(String::is_empty)
        && let Some(d) = v.departments.iter().next()
    {
        values.insert("department".into(), d.clone());
    }
    let cfg = crate::web::settings(t).await?;
    let roles = role_labels(state, ui);
    let chains: Vec<Value> = cfg
        .chains
        .iter()
        .filter(|c| !c.roles.is_empty())
        .map(|c| {
            context! {
                template => c.template.clone(),
                roles => c.roles.iter().map(|r| roles.get(r).cloned().unwrap_or_else(|| r.clone())).collect::<Vec<_>>(),
            }
        })
        .collect();
    let page = ui.render(
        "edms/draft.html",
        context! {
            form => values,
            em,
            errors => ui.error_list(errors),
            templates => TEMPLATES,
            departments => names.iter().map(|(s, n, _)| context! { slug => s, name => n }).collect::<Vec<_>>(),
            approvers => approvers(state, t).await?.into_iter().map(|c| context! { subject => c.subject, name => c.name, signs => c.signs }).collect::<Vec<_>>(),
            chains => chains,
            slots => (1..=MAX_APPROVERS).collect::<Vec<_>>(),
            csrf => who.user.csrf.clone(),
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, page))
}

/// The drafter's subject: how the chain and "My documents" name them.
fn drafter_subject(v: &crate::access::Viewer) -> String {
    v.subjects
        .iter()
        .find(|s| s.starts_with("taxid:"))
        .or_else(|| v.subjects.first())
        .cloned()
        .unwrap_or_default()
}

/// A new draft, in one transaction with its first movement; a second press
/// of the same form shows the first.
pub async fn create(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    if let Ok(key) = f.get("_submission").parse::<Uuid>()
        && let Some(r) = store::by_submission(&t.db, key).await?
    {
        return Ok(to_record(&r, "drafted"));
    }
    let v = viewer(&state, &t, &who.user).await;
    let departments: Vec<String> = v.departments.iter().cloned().collect();
    let candidates = approvers(&state, &t).await?;
    let cfg = crate::web::settings(&t).await?;
    let d = match check(
        &f,
        &departments,
        &candidates,
        &cfg,
        &role_labels(&state, &ui),
    ) {
        Ok(d) => d,
        Err(errors) => {
            return form_page(
                &state,
                &ui,
                &t,
                &who,
                &f.fields,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let now = state.workflow().now();
    let me = drafter_subject(&v);
    let name = who.user.account.display_name();
    let r = Record {
        id: Uuid::now_v7(),
        direction: "outgoing".into(),
        protocol_id: None,
        protocol_year: None,
        protocol_number: None,
        kind: d.template.clone(),
        subject: d.subject.clone(),
        correspondent: d.recipient.clone(),
        correspondent_ref: String::new(),
        received_on: dimos_kernel::clock::local_date(now),
        channel: "draft".into(),
        attachments: 0,
        confidential: false,
        personal_data: false,
        urgent: false,
        status: "draft".into(),
        department: Some(d.department.clone()),
        holder: Some(me.clone()),
        holder_name: Some(name.clone()),
        instructions: String::new(),
        deadline: None,
        since: now,
        registered_by: who.user.account.id,
        registered_at: now,
        closed_at: None,
        outcome: String::new(),
        submission: d.submission,
        legal_hold: false,
        hold_reason: String::new(),
        disposed_at: None,
        disposal: String::new(),
        archive_document: None,
    };
    let words = crate::register::search_text(&r, std::slice::from_ref(&d.body));
    let o = Outgoing {
        record_id: r.id,
        template: d.template,
        body: d.body,
        recipient_email: d.recipient_email,
        drafter: me,
        drafter_name: name.clone(),
        approvers: chain_json(&d.chain),
        step: 0,
        reference: None,
        signed_document: None,
    };
    let mut tx = t.db.begin().await?;
    store::insert_in(&mut tx, &r, &words).await?;
    store::insert_outgoing_in(&mut tx, &o).await?;
    store::add_movement_in(&mut tx, &movement(&r, &who, "drafted", now)).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "edms_drafted")
            .record(format!("edms:{}", r.id)),
    )
    .await?;
    match tx.commit().await {
        Ok(()) => Ok(to_record(&r, "drafted")),
        Err(e) => match store::by_submission(&t.db, d.submission).await? {
            Some(first) => Ok(to_record(&first, "drafted")),
            None => Err(e.into()),
        },
    }
}

fn to_record(r: &Record, done: &str) -> Response {
    Redirect::to(&format!("/edms/records/{}?done={done}", r.id)).into_response()
}

fn movement(
    r: &Record,
    who: &Authorized<Work>,
    kind: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Movement {
    Movement {
        id: Uuid::now_v7(),
        record_id: r.id,
        at,
        kind: kind.into(),
        by_account: who.user.account.id,
        by_name: who.user.account.display_name(),
        department: r.department.clone(),
        to_subject: None,
        to_name: None,
        note: String::new(),
        deadline: None,
    }
}

/// The outgoing record and its draft, for someone who may see it.
async fn outgoing_of(
    state: &AppState,
    t: &CurrentTenant,
    who: &Authorized<Work>,
    id: Uuid,
) -> Result<(crate::access::Viewer, Record, Outgoing)> {
    let v = viewer(state, t, &who.user).await;
    let r = visible(t, &v, id).await?;
    let o = store::outgoing(&t.db, id).await?.ok_or(Error::NotFound)?;
    Ok((v, r, o))
}

fn holds(v: &crate::access::Viewer, r: &Record) -> bool {
    r.holder
        .as_deref()
        .is_some_and(|h| v.subjects.iter().any(|s| s == h))
}

/// Moves the record to `m` from where it was seen, with its movement and
/// audit entry (and what `more` writes), in one transaction.
#[allow(clippy::too_many_arguments)] // one action's parts, each from its edge
async fn step(
    t: &CurrentTenant,
    who: &Authorized<Work>,
    peer: Peer,
    r: &Record,
    m: &store::Move,
    mv: Movement,
    action: &str,
    step_to: Option<i32>,
) -> Result<()> {
    let mut tx = t.db.begin().await?;
    if !store::move_in(&mut tx, r, m).await? {
        return Err(Error::Conflict("edms-moved-meanwhile").into());
    }
    if let Some(s) = step_to {
        store::set_step_in(&mut tx, r.id, s).await?;
    }
    store::add_movement_in(&mut tx, &mv).await?;
    dimos_web::auth::record_in(
        &mut tx,
        t,
        who.user
            .audit(peer, action)
            .record(format!("edms:{}", r.id))
            .detail(json!({"to": mv.to_subject})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn to_approver(
    r: &Record,
    status: &'static str,
    holder: (String, String),
    at: chrono::DateTime<chrono::Utc>,
) -> store::Move {
    store::Move {
        status,
        department: r.department.clone(),
        holder: Some(holder),
        instructions: String::new(),
        deadline: None,
        at,
        outcome: None,
    }
}

async fn refused(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    who: &Authorized<Work>,
    v: &crate::access::Viewer,
    r: &Record,
    errors: Vec<FieldError>,
) -> Result<Response> {
    let page = record_page(state, ui, t, &who.user.csrf, v, r, None, &errors).await?;
    Ok(dimos_web::error::rendered_page(
        StatusCode::UNPROCESSABLE_ENTITY,
        page,
    ))
}

/// The drafter changes the draft's text (while it is theirs).
pub async fn edit(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let (v, mut r, mut o) = outgoing_of(&state, &t, &who, id).await?;
    if !(r.status == "draft" && holds(&v, &r)) {
        return Err(Error::Forbidden.into());
    }
    let mut errors = vec![];
    let subject = text_field(&mut errors, "subject", &f.get("subject"), true, 500);
    let body = text_field(&mut errors, "body", &f.get("body"), true, 20_000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &v, &r, errors).await;
    }
    r.subject = subject;
    o.body = body;
    let words = crate::register::search_text(&r, std::slice::from_ref(&o.body));
    let now = state.workflow().now();
    let mut tx = t.db.begin().await?;
    store::update_draft_in(&mut tx, &o).await?;
    store::update_details_in(&mut tx, &r, &words).await?;
    store::add_movement_in(&mut tx, &movement(&r, &who, "edited", now)).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "edms_draft_edited")
            .record(format!("edms:{}", r.id)),
    )
    .await?;
    tx.commit().await?;
    Ok(to_record(&r, "edited"))
}

/// The drafter sends the draft to the first approver.
pub async fn submit(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    _: Posted<dimos_web::auth::Button>,
) -> Result<Response> {
    let (v, r, o) = outgoing_of(&state, &t, &who, id).await?;
    if !(r.status == "draft" && holds(&v, &r)) {
        return Err(Error::Forbidden.into());
    }
    let first = o
        .chain()
        .into_iter()
        .next()
        .ok_or(Error::Conflict("edms-no-approvers"))?;
    let now = state.workflow().now();
    let mut mv = movement(&r, &who, "submitted", now);
    mv.to_subject = Some(first.0.clone());
    mv.to_name = Some(first.1.clone());
    step(
        &t,
        &who,
        peer,
        &r,
        &to_approver(&r, "approval", first, now),
        mv,
        "edms_submitted",
        Some(0),
    )
    .await?;
    Ok(to_record(&r, "submitted"))
}

/// The approver whose turn it is sends the draft back to its drafter,
/// saying what to change.
pub async fn send_back(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let (v, r, o) = outgoing_of(&state, &t, &who, id).await?;
    if !(r.status == "approval" && holds(&v, &r)) {
        return Err(Error::Forbidden.into());
    }
    let mut errors = vec![];
    let why = text_field(&mut errors, "comment", &f.get("comment"), true, 4000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &v, &r, errors).await;
    }
    let now = state.workflow().now();
    let mut mv = movement(&r, &who, "sent-back", now);
    mv.to_subject = Some(o.drafter.clone());
    mv.to_name = Some(o.drafter_name.clone());
    mv.note = why;
    let m = store::Move {
        status: "draft",
        ..to_approver(
            &r,
            "draft",
            (o.drafter.clone(), o.drafter_name.clone()),
            now,
        )
    };
    step(&t, &who, peer, &r, &m, mv, "edms_sent_back", Some(0)).await?;
    Ok(to_record(&r, "sent-back"))
}

/// The approver whose turn it is approves: the draft goes to the next
/// one, or, from the last, is numbered, signed and filed.
pub async fn approve(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let (v, r, o) = outgoing_of(&state, &t, &who, id).await?;
    let mine = holds(&v, &r);
    if !(mine && (r.status == "approval" || r.status == "numbered")) {
        return Err(Error::Forbidden.into());
    }
    let now = state.workflow().now();
    let comment = f
        .get("comment")
        .trim()
        .chars()
        .take(4000)
        .collect::<String>();
    if !o.at_last_step() {
        let next_step = o.step + 1;
        let next = usize::try_from(next_step)
            .ok()
            .and_then(|i| o.chain().get(i).cloned())
            .ok_or(Error::Conflict("edms-moved-meanwhile"))?;
        let mut mv = movement(&r, &who, "approved", now);
        mv.to_subject = Some(next.0.clone());
        mv.to_name = Some(next.1.clone());
        mv.note = comment;
        step(
            &t,
            &who,
            peer,
            &r,
            &to_approver(&r, "approval", next, now),
            mv,
            "edms_approved",
            Some(next_step),
        )
        .await?;
        return Ok(to_record(&r, "approved"));
    }
    if !state
        .access()
        .allowed(t.db.tenant_id(), &v.subjects, "documents.sign")
        .await
    {
        return refused(
            &state,
            &ui,
            &t,
            &who,
            &v,
            &r,
            vec![FieldError::new("approve", "edms-may-not-sign")],
        )
        .await;
    }
    sign(&state, &t, &who, peer, r, o, comment).await
}

/// The last approval: number (once), render, sign, store, file.
async fn sign(
    state: &AppState,
    t: &CurrentTenant,
    who: &Authorized<Work>,
    peer: Peer,
    mut r: Record,
    o: Outgoing,
    comment: String,
) -> Result<Response> {
    let now = state.workflow().now();
    if r.protocol_id.is_none() {
        let mut tx = t.db.begin().await?;
        let entry = protocol::register(
            &mut tx,
            &t.db,
            now,
            &NewEntry {
                book: "general".into(),
                direction: Direction::Outgoing,
                subject: r.subject.clone(),
                correspondent: r.correspondent.clone(),
                attachments: 0,
                restricted: false,
                confidential: r.confidential,
                personal_data: r.personal_data,
                case_id: None,
                registered_by: who.user.actor(),
            },
        )
        .await?;
        if !store::number_in(&mut tx, r.id, &entry).await? {
            // Numbered meanwhile by another press: this one spends nothing.
            drop(tx);
            return Ok(to_record(&r, "signed"));
        }
        tx.commit().await?;
        r.protocol_id = Some(entry.id);
        r.protocol_year = Some(entry.year);
        r.protocol_number = Some(entry.number);
        r.status = "numbered".into();
    }
    let signer = dimos_web::people::staff_actor(&who.user);
    let reference = dimos_web::issue::new_reference();
    let verify_url = dimos_web::issue::verify_url(state, t, &reference);
    let municipality = t.tenant.spec.name.el.clone();
    let bytes = render(&Letter {
        municipality: &municipality,
        template: &o.template,
        number: &r.number(),
        date: dimos_kernel::clock::local_date(now),
        recipient: &r.correspondent,
        subject: &r.subject,
        body: &o.body,
        signer: &signer.name,
        reference: &reference,
        verify_url: &verify_url,
    })?;
    let file_name = format!("{} {}.pdf", r.number().replace('/', "-"), r.subject);
    let text = crate::text::extract("application/pdf", &bytes);
    let signed = dimos_web::issue::store_and_sign_held(
        state,
        t,
        "edms",
        dimos_web::issue::Issued { file_name, bytes },
        &signer,
        reference,
    )
    .await?;
    let filed: Result<()> = async {
        let mut tx = t.db.begin().await?;
        let m = store::Move {
            status: "signed",
            department: r.department.clone(),
            holder: Some((o.drafter.clone(), o.drafter_name.clone())),
            instructions: String::new(),
            deadline: None,
            at: now,
            outcome: None,
        };
        if !store::move_in(&mut tx, &r, &m).await? {
            return Err(Error::Conflict("edms-moved-meanwhile").into());
        }
        dimos_storage::documents::hold_in(&mut tx, &t.db, &signed.document, HOLDER).await?;
        state
            .signing()
            .record_signature(&mut tx, &t.db, &signed.signature)
            .await
            .map_err(Error::from)?;
        store::add_file_in(&mut tx, r.id, signed.document.id, &text).await?;
        store::set_signed_in(&mut tx, r.id, &signed.signature.reference, signed.document.id).await?;
        let mut mv = movement(&r, who, "signed", now);
        mv.note = comment;
        mv.to_subject = Some(o.drafter.clone());
        mv.to_name = Some(o.drafter_name.clone());
        store::add_movement_in(&mut tx, &mv).await?;
        dimos_web::auth::record_in(
            &mut tx,
            t,
            who.user
                .audit(peer, "edms_signed")
                .record(format!("edms:{}", r.id))
                .detail(json!({"number": r.number(), "reference": signed.signature.reference, "sha256": signed.document.sha256})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = filed {
        dimos_web::issue::discard(state, &signed).await;
        return Err(e);
    }
    Ok(to_record(&r, "signed"))
}

/// The signed document leaves: by e-mail to the recipient (a message with
/// its number, its subject and where it is checked and read), or marked
/// as sent by post. Either closes it.
pub async fn dispatch(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let (v, r, o) = outgoing_of(&state, &t, &who, id).await?;
    if !(r.status == "signed" && holds(&v, &r)) {
        return Err(Error::Forbidden.into());
    }
    let how = f.get("how");
    let mut organisation = None;
    let email = match how.as_str() {
        "email" if !o.recipient_email.is_empty() => Some(o.recipient_email.clone()),
        "post" => None,
        "exchange" if crate::exchange::of(&state, &t).is_some() => {
            match crate::exchange::organisation_code(&f.get("organisation")) {
                Some(code) => organisation = Some(code),
                None => {
                    return refused(
                        &state,
                        &ui,
                        &t,
                        &who,
                        &v,
                        &r,
                        vec![FieldError::new("organisation", "invalid")],
                    )
                    .await;
                }
            }
            None
        }
        _ => {
            return refused(
                &state,
                &ui,
                &t,
                &who,
                &v,
                &r,
                vec![FieldError::new("how", "required")],
            )
            .await;
        }
    };
    let now = state.workflow().now();
    let reference = o.reference.clone().unwrap_or_default();
    let verify_url = dimos_web::issue::verify_url(&state, &t, &reference);
    let mut tx = t.db.begin().await?;
    let m = store::Move {
        status: "closed",
        department: r.department.clone(),
        holder: r.holder.clone().zip(r.holder_name.clone()),
        instructions: String::new(),
        deadline: None,
        at: now,
        outcome: Some(how.clone()),
    };
    if !store::move_in(&mut tx, &r, &m).await? {
        return Err(Error::Conflict("edms-moved-meanwhile").into());
    }
    if let Some(to) = &email {
        let text = format!(
            "{municipality}\n\nΑριθμός πρωτοκόλλου: {number}\nΘέμα: {subject}\n\nΤο έγγραφο φέρει ψηφιακή υπογραφή. Διαβάζεται και ελέγχεται στη διεύθυνση:\n{verify_url}\n",
            municipality = t.tenant.spec.name.el,
            number = r.number(),
            subject = r.subject,
        );
        dimos_notify::outbox::enqueue(
            &mut tx,
            now,
            &dimos_notify::outbox::NewNotification {
                idempotency_key: format!("edms-dispatch-{}", r.id),
                case_id: None,
                account_id: None,
                event: "edms.dispatched".into(),
                channel: "email",
                recipient: to.clone(),
                locale: "el".into(),
                subject: Some(format!("{} — {}", r.number(), r.subject)),
                text,
                html: None,
            },
        )
        .await?;
    }
    if let Some(code) = &organisation {
        crate::exchange::queue_in(&mut tx, r.id, crate::exchange::System::IridaOut, code, now)
            .await?;
    }
    let mut mv = movement(&r, &who, "dispatched", now);
    mv.note = match (&email, &organisation) {
        (Some(to), _) => to.clone(),
        (None, Some(code)) => format!("ΙΡΙΔΑ: {code}"),
        (None, None) => "post".into(),
    };
    store::add_movement_in(&mut tx, &mv).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "edms_dispatched")
            .record(format!("edms:{}", r.id))
            .detail(json!({"how": how})),
    )
    .await?;
    tx.commit().await?;
    Ok(to_record(&r, "dispatched"))
}

/// Publishes a signed decision on Diavgeia (one without personal data,
/// not confidential): queued in this transaction, handed over by the
/// exchange's sweep, its ΑΔΑ shown once Diavgeia gives it. Whoever holds
/// it to dispatch, or the protocol office; a second press queues nothing.
pub async fn publish(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(_f): Posted<Fields>,
) -> Result<Response> {
    let (v, r, _) = outgoing_of(&state, &t, &who, id).await?;
    if !(crate::exchange::publishable(&r)
        && (holds(&v, &r) || v.registrar)
        && crate::exchange::of(&state, &t).is_some())
    {
        return Err(Error::Forbidden.into());
    }
    if !crate::exchange::may_ask(&t.db, r.id, crate::exchange::System::Diavgeia).await? {
        // Asked already (a second press): nothing new.
        return Ok(to_record(&r, "publish"));
    }
    let now = state.workflow().now();
    let mut tx = t.db.begin().await?;
    if crate::exchange::queue_in(&mut tx, r.id, crate::exchange::System::Diavgeia, "", now).await? {
        dimos_web::auth::record_in(
            &mut tx,
            &t,
            who.user
                .audit(peer, "edms_publication_requested")
                .record(format!("edms:{}", r.id))
                .detail(json!({"number": r.number()})),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(to_record(&r, "publish"))
}

/// Sends again through ΙΡΙΔΑ a document it refused (with the code as
/// corrected): queued again, handed over by the sweep.
pub async fn resend(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let (v, r, _) = outgoing_of(&state, &t, &who, id).await?;
    let failed = crate::exchange::state_of(&t.db, r.id, crate::exchange::System::IridaOut)
        .await?
        .is_some_and(|s| s == "failed");
    if !(failed && (holds(&v, &r) || v.registrar) && crate::exchange::of(&state, &t).is_some()) {
        return Err(Error::Forbidden.into());
    }
    let Some(code) = crate::exchange::organisation_code(&f.get("organisation")) else {
        return refused(
            &state,
            &ui,
            &t,
            &who,
            &v,
            &r,
            vec![FieldError::new("organisation", "invalid")],
        )
        .await;
    };
    let now = state.workflow().now();
    let mut tx = t.db.begin().await?;
    if crate::exchange::queue_in(&mut tx, r.id, crate::exchange::System::IridaOut, &code, now)
        .await?
    {
        dimos_web::auth::record_in(
            &mut tx,
            &t,
            who.user
                .audit(peer, "edms_resend_requested")
                .record(format!("edms:{}", r.id))
                .detail(json!({"number": r.number(), "organisation": code})),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(to_record(&r, "resend"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_letter_says_its_number_subject_and_where_it_is_checked() {
        let bytes = render(&Letter {
            municipality: "Δήμος Αλίμου",
            template: "decision",
            number: "12/2026",
            date: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            recipient: "Σύλλογος Κατοίκων",
            subject: "Έγκριση κλαδέματος",
            body: "Εγκρίνεται το κλάδεμα.\n\nΗ εργασία ορίζεται για τη Δευτέρα.",
            signer: "Ανδρέας Ιωάννου",
            reference: "ABCD-EFGH-JKLM",
            verify_url: "http://alimos.localhost/verify/ABCD-EFGH-JKLM",
        })
        .unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = dimos_kernel::greek::fold(&crate::text::extract("application/pdf", &bytes));
        for words in [
            "12/2026",
            "αποφαση",
            "εγκριση κλαδεματοσ",
            "ορίζεται για τη δευτερα",
            "abcd-efgh-jklm",
        ] {
            assert!(
                text.contains(&dimos_kernel::greek::fold(words)),
                "{words}: {text}"
            );
        }
    }

    #[test]
    fn the_chain_reads_back_as_written() {
        let chain = vec![
            ("taxid:1".to_owned(), "Α «Β»".to_owned()),
            ("taxid:2".to_owned(), "Γ\"Δ".to_owned()),
        ];
        let o = Outgoing {
            record_id: Uuid::nil(),
            template: "letter".into(),
            body: String::new(),
            recipient_email: String::new(),
            drafter: String::new(),
            drafter_name: String::new(),
            approvers: chain_json(&chain),
            step: 1,
            reference: None,
            signed_document: None,
        };
        assert_eq!(o.chain(), chain);
        assert!(o.at_last_step());
        assert_eq!(o.current(), Some(chain[1].clone()));
    }
}

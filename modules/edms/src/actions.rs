//! What people do with a record: the protocol office or a head sends it
//! to a department; a head charges it to a member with instructions and a
//! deadline; whoever holds it notes what was done, adds a file, gives it
//! back to the department or closes it. Each action is one transaction —
//! the record moved only from where the person saw it (a conditional
//! update: two heads pressing at once move it once), its movement, the
//! audit entry — and answers the record's page.

use crate::register::{date_field, text_field};
use crate::store::{self, Move, Movement, Record};
use crate::web::{
    Fields, department_names, manages, members, record_page, settings, viewer, visible,
};
use crate::{HOLDER, Work};
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use dimos_kernel::{Error, FieldError};
use dimos_storage::documents::{self, Document};
use dimos_web::access::Authorized;
use dimos_web::auth::Posted;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use serde_json::json;
use uuid::Uuid;

/// Everything an action needs to know about who acts on what.
struct Acting {
    v: crate::access::Viewer,
    r: Record,
    manager: bool,
    holder: bool,
}

async fn acting(
    state: &AppState,
    t: &CurrentTenant,
    who: &Authorized<Work>,
    id: Uuid,
    seen: Option<&str>,
) -> Result<Acting> {
    let v = viewer(state, t, &who.user).await;
    let r = visible(t, &v, id).await?;
    // The page the action was pressed on showed the record as it was at
    // `seen`: moved since (another head, another tab, a second press), the
    // action is not applied over what the person did not see.
    if let Some(seen) = seen
        && seen != r.since.timestamp_micros().to_string()
    {
        return Err(Error::Conflict("edms-moved-meanwhile").into());
    }
    let manager = manages(state, t, &v, &r).await;
    let holder = r
        .holder
        .as_deref()
        .is_some_and(|h| v.subjects.iter().any(|s| s == h));
    Ok(Acting {
        v,
        r,
        manager,
        holder,
    })
}

/// The page again with the errors (422), or the record's page after it.
async fn refused(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    who: &Authorized<Work>,
    a: &Acting,
    errors: Vec<FieldError>,
) -> Result<Response> {
    let page = record_page(state, ui, t, &who.user.csrf, &a.v, &a.r, None, &errors).await?;
    Ok(dimos_web::error::rendered_page(
        StatusCode::UNPROCESSABLE_ENTITY,
        page,
    ))
}

fn done(r: &Record, what: &str) -> Response {
    Redirect::to(&format!("/edms/records/{}?done={what}", r.id)).into_response()
}

/// Moves the record, adds its movement and the audit entry, in one
/// transaction; a record someone else moved meanwhile is a conflict.
#[allow(clippy::too_many_arguments)] // one action's parts, each from its edge
async fn commit_move(
    t: &CurrentTenant,
    who: &Authorized<Work>,
    peer: Peer,
    r: &Record,
    m: Option<&Move>,
    movement: Movement,
    action: &str,
) -> Result<()> {
    let mut tx = t.db.begin().await?;
    let moved = match m {
        Some(m) => store::move_in(&mut tx, r, m).await?,
        None => store::lock_open_in(&mut tx, r.id).await?,
    };
    if !moved {
        return Err(Error::Conflict("edms-moved-meanwhile").into());
    }
    store::add_movement_in(&mut tx, &movement).await?;
    dimos_web::auth::record_in(
        &mut tx,
        t,
        who.user
            .audit(peer, action)
            .record(format!("edms:{}", r.id))
            .detail(json!({
                "number": r.number(),
                "department": movement.department,
                "to": movement.to_subject,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn movement(state: &AppState, who: &Authorized<Work>, r: &Record, kind: &str) -> Movement {
    Movement {
        id: Uuid::now_v7(),
        record_id: r.id,
        at: state.workflow().now(),
        kind: kind.into(),
        by_account: who.user.account.id,
        by_name: who.user.account.display_name(),
        department: None,
        to_subject: None,
        to_name: None,
        note: String::new(),
        deadline: None,
    }
}

/// Sends the record to a department's queue (from the protocol office, or
/// a head forwarding it elsewhere).
pub async fn route(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let a = acting(
        &state,
        &t,
        &who,
        id,
        f.fields.get("seen").map(String::as_str),
    )
    .await?;
    let may = a.r.is_open() && ((a.r.status == "registered" && a.v.registrar) || a.manager);
    if !may {
        return Err(Error::Forbidden.into());
    }
    let mut errors = vec![];
    let department = f.get("department");
    let known = department_names(&state, &t, false).await?;
    if !known.iter().any(|(s, _, _)| *s == department) {
        errors.push(FieldError::new("department", "required"));
    } else if a.r.department.as_deref() == Some(department.as_str()) {
        errors.push(FieldError::new("department", "edms-already-there"));
    } else if a.r.confidential && !crate::web::cleared_in(&state, &t, &department).await? {
        errors.push(FieldError::new(
            "department",
            "edms-department-no-clearance",
        ));
    }
    let note = text_field(&mut errors, "route_note", &f.get("note"), false, 2000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &a, errors).await;
    }
    let now = state.workflow().now();
    let m = Move {
        status: "routed",
        department: Some(department.clone()),
        holder: None,
        instructions: String::new(),
        deadline: None,
        at: now,
        outcome: None,
    };
    let mut mv = movement(&state, &who, &a.r, "routed");
    mv.department = Some(department);
    mv.note = note;
    commit_move(&t, &who, peer, &a.r, Some(&m), mv, "edms_routed").await?;
    Ok(done(&a.r, "routed"))
}

/// Charges the record to a member of its department, with instructions
/// and a deadline (the municipality's default unless given).
pub async fn charge(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let a = acting(
        &state,
        &t,
        &who,
        id,
        f.fields.get("seen").map(String::as_str),
    )
    .await?;
    let Some(department) =
        a.r.department
            .clone()
            .filter(|_| a.r.is_open() && a.manager)
    else {
        return Err(Error::Forbidden.into());
    };
    let mut errors = vec![];
    let names = department_names(&state, &t, ui.lang.code() == "en").await?;
    let people = members(&state, &t, &names, &department).await?;
    let subject = f.get("to");
    let person = people.iter().find(|(s, _)| *s == subject).cloned();
    if person.is_none() {
        errors.push(FieldError::new("to", "required"));
    }
    if let Some((s, _)) = &person
        && a.r.confidential
        && !state
            .access()
            .allowed(
                t.db.tenant_id(),
                std::slice::from_ref(s),
                "edms.confidential",
            )
            .await
    {
        errors.push(FieldError::new("to", "edms-person-no-clearance"));
    }
    let instructions = text_field(
        &mut errors,
        "instructions",
        &f.get("instructions"),
        false,
        2000,
    );
    let now = state.workflow().now();
    let today = dimos_kernel::clock::local_date(now);
    let get = |k: &str| f.get(k);
    let deadline = match date_field(&mut errors, get, "deadline") {
        Some(d) if d < today => {
            errors.push(FieldError::new("deadline", "edms-in-the-past"));
            None
        }
        Some(d) => Some(d),
        None => Some(today + Duration::days(i64::from(settings(&t).await?.deadline_days))),
    };
    let (Some((subject, name)), true) = (person, errors.is_empty()) else {
        return refused(&state, &ui, &t, &who, &a, errors).await;
    };
    let m = Move {
        status: "charged",
        department: Some(department.clone()),
        holder: Some((subject.clone(), name.clone())),
        instructions: instructions.clone(),
        deadline,
        at: now,
        outcome: None,
    };
    let mut mv = movement(&state, &who, &a.r, "charged");
    mv.department = Some(department);
    mv.to_subject = Some(subject);
    mv.to_name = Some(name);
    mv.note = instructions;
    mv.deadline = deadline;
    commit_move(&t, &who, peer, &a.r, Some(&m), mv, "edms_charged").await?;
    Ok(done(&a.r, "charged"))
}

/// A note of what was done (the holder, or a head).
pub async fn note(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let a = acting(&state, &t, &who, id, None).await?;
    if !(a.r.is_open() && (a.holder || a.manager)) {
        return Err(Error::Forbidden.into());
    }
    let mut errors = vec![];
    let text = text_field(&mut errors, "note", &f.get("note"), true, 4000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &a, errors).await;
    }
    let mut mv = movement(&state, &who, &a.r, "noted");
    mv.note = text;
    // The form's key is the note's id: a second press writes nothing new.
    if let Ok(key) = f.get("_key").parse::<Uuid>() {
        if store::movement_exists(&t.db, key).await? {
            return Ok(done(&a.r, "noted"));
        }
        mv.id = key;
    }
    match commit_move(&t, &who, peer, &a.r, None, mv, "edms_noted").await {
        Err(e) if matches!(e.0, Error::Conflict("duplicate")) => Ok(done(&a.r, "noted")),
        other => other.map(|()| done(&a.r, "noted")),
    }
}

/// The holder gives the record back to the department's queue (it is not
/// theirs to handle), saying why.
pub async fn give_back(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let a = acting(
        &state,
        &t,
        &who,
        id,
        f.fields.get("seen").map(String::as_str),
    )
    .await?;
    if !(a.r.is_open() && a.holder && a.r.department.is_some()) {
        return Err(Error::Forbidden.into());
    }
    let mut errors = vec![];
    let why = text_field(&mut errors, "return_note", &f.get("note"), true, 2000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &a, errors).await;
    }
    let m = Move {
        status: "routed",
        department: a.r.department.clone(),
        holder: None,
        instructions: String::new(),
        deadline: None,
        at: state.workflow().now(),
        outcome: None,
    };
    let mut mv = movement(&state, &who, &a.r, "returned");
    mv.department = a.r.department.clone();
    mv.note = why;
    commit_move(&t, &who, peer, &a.r, Some(&m), mv, "edms_returned").await?;
    Ok(done(&a.r, "returned"))
}

/// Closes the record with what came of it (filed, answered with number
/// …): the holder, or a head.
pub async fn close(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let a = acting(
        &state,
        &t,
        &who,
        id,
        f.fields.get("seen").map(String::as_str),
    )
    .await?;
    if !(a.r.is_open() && (a.holder || a.manager)) {
        return Err(Error::Forbidden.into());
    }
    let mut errors = vec![];
    let outcome = text_field(&mut errors, "outcome", &f.get("outcome"), true, 2000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &a, errors).await;
    }
    let now = state.workflow().now();
    let m = Move {
        status: "closed",
        department: a.r.department.clone(),
        holder: a.r.holder.clone().zip(a.r.holder_name.clone()),
        instructions: a.r.instructions.clone(),
        deadline: a.r.deadline,
        at: now,
        outcome: Some(outcome.clone()),
    };
    let mut mv = movement(&state, &who, &a.r, "closed");
    mv.department = a.r.department.clone();
    mv.note = outcome;
    commit_move(&t, &who, peer, &a.r, Some(&m), mv, "edms_closed").await?;
    Ok(done(&a.r, "closed"))
}

/// A file added to an open record (a reply's draft, a report): stored
/// first, then its row, its text in the search and the movement in one
/// transaction.
pub async fn add_file(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    form: Multipart,
) -> Result<Response> {
    let a = acting(&state, &t, &who, id, None).await?;
    let may = if a.r.is_outgoing() {
        a.holder && a.r.status == "draft"
    } else {
        a.r.is_open() && (a.holder || a.manager || a.v.registrar)
    };
    if !may {
        return Err(Error::Forbidden.into());
    }
    let mut form = dimos_web::uploads::receive_form(&state, &who.user, form, &["file"]).await?;
    if !form.errors.is_empty() {
        return refused(&state, &ui, &t, &who, &a, form.errors).await;
    }
    let Some((_, name, received)) = form.files.pop() else {
        return refused(
            &state,
            &ui,
            &t,
            &who,
            &a,
            vec![FieldError::new("doc-file", "edms-file-required")],
        )
        .await;
    };
    let words = crate::register::read_text(&received).await;
    let now = state.workflow().now();
    let doc_id = Uuid::now_v7();
    let key = documents::new_key(&t.db, doc_id);
    state
        .objects()
        .put_file(&key, received.temp.path())
        .await
        .map_err(Error::from)?;
    let d = Document {
        id: doc_id,
        case_id: None,
        kind: Some("edms".into()),
        original_name: name.clone(),
        content_type: received.content_type.to_owned(),
        size: i64::try_from(received.size).unwrap_or(i64::MAX),
        sha256: received.sha256.clone(),
        object_key: key.clone(),
        personal_data: a.r.personal_data,
        uploaded_by: who.user.account.id,
        uploaded_at: now,
        internal: true,
        replaced_by: None,
    };
    let result: Result<()> = async {
        let mut tx = t.db.begin().await?;
        if !store::lock_open_in(&mut tx, a.r.id).await? {
            return Err(Error::Conflict("edms-moved-meanwhile").into());
        }
        documents::hold_in(&mut tx, &t.db, &d, HOLDER).await?;
        store::add_file_in(&mut tx, a.r.id, d.id, &words).await?;
        let texts = store::file_texts_in(&mut tx, a.r.id).await?;
        store::set_search_text_in(&mut tx, a.r.id, &crate::register::search_text(&a.r, &texts))
            .await?;
        let mut mv = movement(&state, &who, &a.r, "file-added");
        mv.note = name.clone();
        store::add_movement_in(&mut tx, &mv).await?;
        dimos_web::auth::record_in(
            &mut tx,
            &t,
            who.user
                .audit(peer, "edms_file_added")
                .record(format!("edms:{}", a.r.id))
                .detail(json!({"document": d.id, "sha256": d.sha256})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = state.objects().delete(&key).await;
        return Err(e);
    }
    Ok(done(&a.r, "file-added"))
}

/// Places a legal hold on a record (a lawsuit, an audit, a request for
/// access), or lifts it, saying why: while held it is never disposed of,
/// however late its retention ran out. Whoever holds `edms.hold` and may
/// see the record; any record not disposed of yet, open or closed.
pub async fn hold(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<Fields>,
) -> Result<Response> {
    let a = acting(&state, &t, &who, id, None).await?;
    let may = state
        .access()
        .allowed(t.db.tenant_id(), &a.v.subjects, "edms.hold")
        .await;
    if !may || a.r.is_disposed() {
        return Err(Error::Forbidden.into());
    }
    let on = match f.get("hold").as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(Error::BadRequest("edms-hold-what".into()).into()),
    };
    let mut errors = vec![];
    let reason = text_field(&mut errors, "reason", &f.get("reason"), true, 1000);
    if !errors.is_empty() {
        return refused(&state, &ui, &t, &who, &a, errors).await;
    }
    let mut tx = t.db.begin().await?;
    if !store::set_hold_in(&mut tx, a.r.id, on, if on { &reason } else { "" }).await? {
        // Held (or lifted) by someone else meanwhile, or disposed of.
        return Err(Error::Conflict("edms-moved-meanwhile").into());
    }
    let mut mv = movement(&state, &who, &a.r, if on { "held" } else { "released" });
    mv.note = reason.clone();
    store::add_movement_in(&mut tx, &mv).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(
                peer,
                if on {
                    "edms_hold_placed"
                } else {
                    "edms_hold_lifted"
                },
            )
            .record(format!("edms:{}", a.r.id))
            .detail(json!({ "number": a.r.number(), "reason": reason })),
    )
    .await?;
    tx.commit().await?;
    Ok(done(&a.r, if on { "held" } else { "released" }))
}

//! The parent's side: the application form (draft, then submission as a
//! case with its documents) and the application's page with the points
//! line by line and, once published, the result.

use crate::application::{CHILD_ROWS, Context, RawApplication};
use crate::{PROCESS, applications, catalogue, config, scoring};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::auth::{Posted, Verified};
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use dimos_workflow::{CaseId, NewCase};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The year taking applications today, or a clear refusal.
async fn open_year(state: &AppState, t: &CurrentTenant) -> Result<catalogue::Year> {
    let today = crate::today(state);
    catalogue::current_year(&t.db, today)
        .await?
        .filter(|y| y.phase(today) == "open")
        .ok_or_else(|| Error::Conflict("nursery-applications-closed").into())
}

const FIELDS: [&str; 5] = [
    "parent_name",
    "email",
    "mobile",
    "income",
    "family_children",
];

#[allow(clippy::too_many_arguments)]
async fn render_form(
    ui: &Ui,
    t: &CurrentTenant,
    state: &AppState,
    year: &catalogue::Year,
    csrf: &str,
    submission: Uuid,
    raw: &RawApplication,
    kept: &[dimos_web::uploads::Kept],
    errors: &[FieldError],
    status: StatusCode,
    saved: bool,
) -> Result<Response> {
    let cfg = config(t).await?;
    let def = state.workflow().effective(&t.db, PROCESS).await?;
    let stations = catalogue::stations(&t.db).await?;
    let mut names: Vec<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
    for i in 0..CHILD_ROWS {
        names.push(format!("child-{i}-name"));
        names.push(format!("child-{i}-birth"));
    }
    for i in 1..=crate::application::PREFERENCES {
        names.push(format!("pref-{i}"));
    }
    for d in &def.documents {
        names.push(format!("doc-{}", d.id));
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (summary, messages) = crate::messages(ui, errors, &refs);
    let html = ui.render(
        "nurseries/apply.html",
        context! {
            csrf, submission, summary, errors => messages, saved,
            year => context! { label => year.label.clone(), closes => crate::date(year.closes_on), starts => crate::date(year.starts_on) },
            v => raw,
            children => raw.child_rows(),
            preferences => raw.preference_rows(),
            stations => stations.iter().filter(|s| s.active).map(|s| context! { id => s.id.to_string(), name => s.name.clone() }).collect::<Vec<_>>(),
            criteria => cfg.rules.criteria.iter().map(|c| context! {
                id => c.id.clone(), label => c.label.get(ui.lang), points => c.points,
                checked => raw.claims.contains(&c.id),
                documents => c.documents.iter().filter_map(|d| def.documents.iter().find(|x| &x.id == d)).map(|d| d.label.get(ui.lang).to_owned()).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            groups => cfg.age_groups.iter().map(|g| g.label.get(ui.lang).to_owned()).collect::<Vec<_>>(),
            documents => def.documents.iter().map(|d| context! {
                id => d.id.clone(), label => d.label.get(ui.lang), required => d.required,
                kept => kept.iter().find(|k| k.kind == d.id).map(|k| context! { id => k.id, name => k.name.clone() }),
            }).collect::<Vec<_>>(),
            max_mb => ui.state.config().storage.max_upload_bytes / 1_048_576,
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, html))
}

#[derive(Deserialize)]
pub(crate) struct Saved {
    saved: Option<String>,
}

/// The form: the parent's draft if there is one, else filled in from the
/// account. A submitted application is shown instead.
pub(crate) async fn apply_form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    Verified(user): Verified,
    Query(q): Query<Saved>,
) -> Result<Response> {
    let year = open_year(&state, &t).await?;
    let parent = user.acting_for().0;
    let mut existing = applications::of_parent(&t.db, year.id, parent).await?;
    if let Some(row) = &existing
        && row.status == "submitted"
        && applications::withdrawn(&t.db, row).await?
    {
        applications::reopen(&t.db, row.id, state.workflow().now()).await?;
        existing = applications::of_parent(&t.db, year.id, parent).await?;
    }
    let raw = match existing {
        Some(row) if row.status != "draft" => {
            if let Some(case) = row.case_id {
                return Ok(Redirect::to(&format!("/nurseries/applications/{case}")).into_response());
            }
            row.form.0
        }
        Some(row) => row.form.0,
        None => RawApplication {
            parent_name: user.account.display_name(),
            email: user.account.email.clone().unwrap_or_default(),
            mobile: user.account.phone.clone().unwrap_or_default(),
            ..RawApplication::default()
        },
    };
    render_form(
        &ui,
        &t,
        &state,
        &year,
        &user.csrf,
        Uuid::now_v7(),
        &raw,
        &[],
        &[],
        StatusCode::OK,
        q.saved.is_some(),
    )
    .await
}

/// Saves a draft, or submits: the application is validated, filed as a
/// case in the protocol book with the documents chosen in the same form,
/// and scored provisionally.
pub(crate) async fn apply(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    Verified(user): Verified,
    form: Multipart,
) -> Result<Response> {
    let year = open_year(&state, &t).await?;
    let def = state.workflow().effective(&t.db, PROCESS).await?;
    let kinds: Vec<&str> = def.documents.iter().map(|d| d.id.as_str()).collect();
    let form = dimos_web::uploads::receive_form(&state, &user, form, &kinds).await?;
    let mut raw = RawApplication::default();
    for (name, value) in &form.fields {
        raw.set(name, value.clone());
    }
    let action = form.get("action").unwrap_or("").to_owned();
    let actor = dimos_web::people::citizen_actor(&user);
    let kept = form.kept(&t, &actor).await?;
    let mut form = form;
    let parent = user.acting_for().0;
    let now = state.workflow().now();
    // The form's idempotency key: a retry after a lost answer is shown the
    // application it filed.
    let key = form.submission_key();
    if let Some(k) = key
        && let Some(earlier) = state
            .workflow()
            .submitted_with(&t.db, k, parent, PROCESS)
            .await?
    {
        return Ok(submitted(earlier.case_id));
    }
    if let Some(row) = applications::of_parent(&t.db, year.id, parent).await?
        && row.status != "draft"
    {
        if row.status == "submitted" && applications::withdrawn(&t.db, &row).await? {
            applications::reopen(&t.db, row.id, now).await?;
        } else {
            return Err(Error::Conflict("nursery-already-applied").into());
        }
    }
    if action == "draft" {
        applications::save_draft(&t.db, year.id, parent, &raw, now).await?;
        return Ok(Redirect::to("/nurseries/apply?saved=1").into_response());
    }
    let cfg = config(&t).await?;
    let stations = catalogue::stations(&t.db).await?;
    let cx = Context {
        rules: &cfg.rules,
        groups: &cfg.age_groups,
        stations: &stations,
        starts_on: year.starts_on,
    };
    let mut file_errors = std::mem::take(&mut form.errors);
    if key.is_none() {
        file_errors.push(FieldError::new("_submission", "form-expired"));
    }
    let a = match raw.validate(&cx) {
        Ok(a) if file_errors.is_empty() => a,
        result => {
            let mut errors = result.err().unwrap_or_default();
            errors.extend(file_errors);
            // The files that were fine wait for the next try.
            let kept = form.keep_files(&state, &t, &actor, kept).await?;
            return render_form(
                &ui,
                &t,
                &state,
                &year,
                &user.csrf,
                key.unwrap_or_else(Uuid::now_v7),
                &raw,
                &kept,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
            )
            .await;
        }
    };
    let score = scoring::score(&cfg.rules, &a.claims(&BTreeMap::new()));
    let station_names: Vec<String> = a
        .preferences
        .iter()
        .filter_map(|id| stations.iter().find(|s| s.id == *id))
        .map(|s| s.name.clone())
        .collect();
    let child_names: Vec<String> = a.children.iter().map(|c| c.name.clone()).collect();
    let mut data = Map::new();
    data.insert("parent_name".into(), a.parent_name.clone().into());
    data.insert("email".into(), a.email.clone().into());
    data.insert("mobile".into(), a.mobile.clone().into());
    data.insert("children".into(), child_names.join(", ").into());
    data.insert("stations".into(), station_names.join(" → ").into());
    data.insert("points".into(), Value::from(score.total));
    // The same account may not file twice: the draft row is claimed in the
    // case's transaction.
    applications::save_draft(&t.db, year.id, parent, &raw, now).await?;
    // The case, its documents, the mobile for its messages (unless the
    // parent chose another), its protocol number and the application's
    // row: one transaction, whole or not at all.
    let filed = dimos_web::uploads::file_case(
        &state,
        &t,
        &actor,
        dimos_web::uploads::Submission {
            new: NewCase {
                process: PROCESS.into(),
                applicant: parent,
                applicant_name: match &user.assisting {
                    Some(x) => x.name.clone(),
                    None => a.parent_name.clone(),
                },
                filed_by: user.filed_by(),
                subject: format!("{} — {}", year.label, child_names.join(", ")),
                data,
                // Counted by file_case from the files.
                attachments: 0,
            },
            key,
            files: form.files,
            kept,
            mobile: Some(a.mobile.clone()),
        },
    )
    .await?;
    let mut pending = match filed {
        dimos_web::uploads::Filed::New(p) => p,
        dimos_web::uploads::Filed::Earlier(s) => return Ok(submitted(s.case_id)),
    };
    let (case_id, protocol) = (pending.started.case_id, pending.started.protocol.clone());
    let won = applications::submit(
        pending.tx(),
        year.id,
        parent,
        &a,
        i32::try_from(score.total).unwrap_or(i32::MAX),
        case_id.0,
        protocol,
        now,
    )
    .await?;
    if !won {
        // Another submission of the same draft got there first: nothing of
        // this one is kept; the parent sees the one that counts.
        pending.abandon().await;
        return Err(Error::Conflict("nursery-already-applied").into());
    }
    let started = pending.commit().await?;
    Ok(submitted(started.case_id))
}

fn submitted(case: CaseId) -> Response {
    Redirect::to(&format!("/nurseries/applications/{case}?done=submitted")).into_response()
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// The application's page for the parent: the children and their age
/// groups, the stations in order, every point line by line with the
/// document that proves it and what the committee decided.
pub(crate) async fn application_page(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    Verified(user): Verified,
    Path(case): Path<Uuid>,
    Query(q): Query<Done>,
) -> Result<Response> {
    let row = applications::of_case(&t.db, case)
        .await?
        .filter(|r| r.applicant == user.acting_for().0)
        .ok_or(Error::NotFound)?;
    render_application(&state, &ui, &t, &user, &row, q.done, None).await
}

/// An objection sent back with its problems: the text, the problems, and
/// the form's idempotency key (kept, so a corrected objection is still the
/// same submission).
#[derive(Default)]
pub(crate) struct ObjectionTry {
    pub text: String,
    pub problems: Vec<FieldError>,
    pub submission: Option<Uuid>,
}

/// The application's page; `objection` is a rejected objection's text and
/// problems, shown again on its form.
pub(crate) async fn render_application(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    user: &dimos_web::auth::CurrentUser,
    row: &applications::Row,
    done: Option<String>,
    objection: Option<ObjectionTry>,
) -> Result<Response> {
    let case = case_of(row)?;
    let app = crate::review::context_of(state, ui, t, row).await?;
    let today = crate::today(state);
    let (results, seed) = match crate::results::published(&t.db, row.year_id).await? {
        Some(run) => {
            let rows = crate::results::results(&t.db, run.id).await?;
            let stations = catalogue::stations(&t.db).await?;
            let mut seen = std::collections::BTreeSet::new();
            let mut children =
                crate::publish::explain(ui, &config(t).await?, &stations, &run, &rows, row.id);
            for c in &mut children {
                let open = rows.iter().any(|r| {
                    r.unit == c.unit
                        && r.application_id == row.id
                        && r.status == "placed"
                        && r.deadline.is_some_and(|d| d >= today)
                });
                // Children placed together answer once.
                c.answer = open && seen.insert(c.unit);
            }
            (Some(children), Some(run.seed.clone()))
        }
        None => (None, None),
    };
    let may_object = crate::objection::may_object(state, t, row).await?;
    let status = if objection.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let ObjectionTry {
        text,
        problems,
        submission,
    } = objection.unwrap_or_default();
    let (summary, errors) = crate::messages(ui, &problems, &["objection", "doc-evidence"]);
    let html = ui.render(
        "nurseries/application.html",
        context! {
            app, case_id => case, results, seed, may_object, summary, errors, staff => false,
            objection => text,
            // A new key each time the page is shown; kept across errors.
            submission => submission.unwrap_or_else(Uuid::now_v7),
            csrf => user.csrf.clone(),
            protocol => row.protocol.clone(),
            max_mb => ui.state.config().storage.max_upload_bytes / 1_048_576,
            done => done.filter(|d| ["submitted", "accepted", "declined"].contains(&d.as_str())),
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, html))
}

/// The case id of an application, for links.
pub(crate) fn case_of(row: &applications::Row) -> Result<Uuid> {
    row.case_id.ok_or_else(|| Error::NotFound.into())
}

#[derive(Deserialize)]
pub(crate) struct AnswerForm {
    unit: usize,
    answer: String,
}

/// The family accepts or declines the place offered to a child (to all its
/// children placed together); a declined place goes down the waiting list.
pub(crate) async fn answer(
    State(state): State<AppState>,
    t: CurrentTenant,
    Verified(user): Verified,
    peer: dimos_web::extract::Peer,
    Path(case): Path<Uuid>,
    Posted(f): Posted<AnswerForm>,
) -> Result<Response> {
    let row = applications::of_case(&t.db, case)
        .await?
        .filter(|r| r.applicant == user.acting_for().0)
        .ok_or(Error::NotFound)?;
    let run = crate::results::published(&t.db, row.year_id)
        .await?
        .ok_or(Error::NotFound)?;
    // The unit must be one of this family's.
    if run
        .snapshot
        .0
        .units
        .get(f.unit)
        .is_none_or(|u| u.application != row.id)
    {
        return Err(Error::NotFound.into());
    }
    let now = state.workflow().now();
    let today = crate::today(&state);
    let year = catalogue::year(&t.db, row.year_id)
        .await?
        .ok_or(Error::NotFound)?;
    // The answer and its audit entry: one transaction.
    let mut tx = t.db.begin().await?;
    let done = match f.answer.as_str() {
        "accept" => {
            crate::results::accept(&mut tx, &t.db, run.id, f.unit, today, now).await?;
            "accepted"
        }
        "decline" => {
            crate::results::vacate(
                &mut tx,
                &t.db,
                state.workflow(),
                &run,
                f.unit,
                "declined",
                year.accept_days,
                now,
            )
            .await?;
            "declined"
        }
        _ => return Err(Error::invalid("answer", "invalid").into()),
    };
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        user.audit(peer, &format!("nursery_place_{done}"))
            .record(format!("case:{case}"))
            .detail(serde_json::json!({"unit": f.unit})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/nurseries/applications/{case}?done={done}")).into_response())
}

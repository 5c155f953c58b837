//! The staff side of cases: "My agenda" (Η ατζέντα μου), claiming and
//! completing tasks, the case file, the team's load for department heads,
//! and search over every case for those allowed to read them all.
//! Routes and their permissions are declared in `crate::staff`'s table.

use super::{
    PER_PAGE, StaffMember, case_view, datetime, field_label, outcome_label, page_of, pager,
    staff_of, step_name, timeline, value_text,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_identity::accounts;
use dimos_kernel::{Error, FieldError};
use dimos_web::access::{AssignTasks, Authorized, Permission, ReadCases, subjects};
use dimos_web::auth::{Button, Posted};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use dimos_workflow::definition::Step;
use dimos_workflow::query::{self, Queue};
use dimos_workflow::{CaseId, TaskId};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct AgendaQuery {
    queue: Option<String>,
    process: Option<String>,
    page: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

fn queue_of(q: Option<&str>) -> (Queue, &'static str) {
    match q {
        Some("available") => (Queue::Available, "available"),
        Some("escalated") => (Queue::Escalated, "escalated"),
        _ => (Queue::Mine, "mine"),
    }
}

async fn agenda_rows(
    state: &AppState,
    tenant: &CurrentTenant,
    ui: &Ui,
    who: &StaffMember,
    q: &AgendaQuery,
) -> Result<(
    Vec<Value>,
    dimos_workflow::query::Page<query::AgendaRow>,
    &'static str,
)> {
    let (queue, queue_name) = queue_of(q.queue.as_deref());
    let page = query::agenda(
        &tenant.db,
        &who.staff,
        queue,
        q.process.as_deref(),
        &super::position(q.after.as_deref(), q.before.as_deref())?,
        page_of(q.page.as_deref()),
        PER_PAGE,
    )
    .await?;
    let engine = state.workflow();
    let now = engine.now();
    let mut rows = vec![];
    for t in &page.items {
        let def = engine.snapshot(&tenant.db, t.snapshot_id).await?;
        rows.push(json!({
            "id": t.id,
            "case_id": t.case_id,
            "task": step_name(&def, &t.step, ui.lang),
            "service": def.name.get(ui.lang),
            "subject": t.subject,
            "applicant": t.applicant_name,
            "protocol": t.protocol_number.zip(t.protocol_year).map(|(n, y)| format!("{n}/{y}")),
            "due": t.due_at.map(super::date),
            "overdue": t.due_at.is_some_and(|d| d < now),
            "escalated": t.escalated,
            "assignee": t.assignee_name,
            "mine": t.assignee == Some(who.staff.account),
        }));
    }
    Ok((rows, page, queue_name))
}

pub async fn agenda(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: StaffMember,
    Query(q): Query<AgendaQuery>,
) -> Result<Html<String>> {
    let (tasks, page, queue) = agenda_rows(&state, &tenant, &ui, &who, &q).await?;
    let process = q.process.clone().unwrap_or_default();
    let pager = pager(
        &page,
        "/staff/agenda",
        &[("queue", queue), ("process", &process)],
    );
    let processes: Vec<_> = state
        .workflow()
        .processes()
        .filter(|(_, module, _)| ui.tenant.as_ref().is_some_and(|t| t.module_enabled(module)))
        .map(|(id, _, d)| context! { id, name => d.name.get(ui.lang) })
        .collect();
    ui.render(
        "staff/agenda.html",
        context! { tasks, pager, queue, process, processes, csrf => who.user.csrf },
    )
}

pub async fn api_agenda(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: StaffMember,
    Query(q): Query<AgendaQuery>,
) -> Result<axum::Json<Value>> {
    let (tasks, page, queue) = agenda_rows(&state, &tenant, &ui, &who, &q).await?;
    Ok(axum::Json(json!({
        "queue": queue, "tasks": tasks, "total": page.total, "more": page.more,
        "page": page.page, "pages": page.pages(), "next": page.next, "prev": page.prev,
    })))
}

pub async fn claim(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: StaffMember,
    Path(id): Path<Uuid>,
    _: Posted<Button>,
) -> Result<Response> {
    let t = query::task(&tenant.db, TaskId(id))
        .await?
        .ok_or(Error::NotFound)?;
    state
        .workflow()
        .claim(&tenant.db, TaskId(id), &who.staff)
        .await?;
    Ok(Redirect::to(&format!("/staff/cases/{}", t.case_id)).into_response())
}

pub async fn release(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: StaffMember,
    Path(id): Path<Uuid>,
    _: Posted<Button>,
) -> Result<Response> {
    state
        .workflow()
        .release(&tenant.db, TaskId(id), &who.staff)
        .await?;
    Ok(Redirect::to("/staff/agenda").into_response())
}

/// The case file for staff: whoever works on it, or may read every case.
pub(crate) async fn visible_case(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &StaffMember,
    id: Uuid,
) -> Result<dimos_workflow::query::CaseRow> {
    let c = query::case(&tenant.db, CaseId(id))
        .await?
        .ok_or(Error::NotFound)?;
    let reads_all = state
        .access()
        .allowed(tenant.tenant.id, &subjects(&who.user), ReadCases::ID)
        .await;
    if reads_all || query::involved(&tenant.db, &who.staff, CaseId(id)).await? {
        Ok(c)
    } else {
        // Not their case: as if it did not exist.
        Err(Error::NotFound.into())
    }
}

#[allow(clippy::too_many_arguments)]
async fn case_page(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    who: &StaffMember,
    id: Uuid,
    errors: &[FieldError],
    posted: &BTreeMap<String, String>,
    status: StatusCode,
    done: Option<String>,
) -> Result<(StatusCode, Html<String>)> {
    let c = visible_case(state, tenant, who, id).await?;
    let engine = state.workflow();
    let def = engine.snapshot(&tenant.db, c.snapshot_id).await?;
    let events = query::events(&tenant.db, c.case_id(), false).await?;
    let tasks = query::tasks_of_case(&tenant.db, c.case_id()).await?;
    let open = tasks.iter().find(|t| t.status == "open");
    let mut current = None;
    if let Some(t) = open {
        let (roles, depts) = query::candidates(&tenant.db, TaskId(t.id)).await?;
        let Some(Step::Task(step)) = def.step(&t.step) else {
            return Err(Error::internal("open task without its step").into());
        };
        let fields: Vec<_> = step
            .form
            .as_deref()
            .and_then(|f| def.form(f))
            .map(|f| {
                dimos_web::apply::field_views(
                    f,
                    ui,
                    |id| {
                        posted
                            .get(id)
                            .cloned()
                            .or_else(|| c.data.0.get(id).map(value_text))
                    },
                    errors,
                )
            })
            .unwrap_or_default();
        current = Some(context! {
            id => t.id,
            name => step.name.get(ui.lang),
            mine => t.assignee == Some(who.staff.account),
            assignee => t.assignee_name.clone(),
            claimable => t.assignee.is_none() && who.staff.is_candidate(&roles, &depts),
            due => t.due_at.map(super::date),
            overdue => t.due_at.is_some_and(|d| d < engine.now()),
            escalated => t.escalated,
            action => step.action.as_ref().map(|a| context! { href => a.href(c.id), label => a.label.get(ui.lang) }),
            queues => roles.iter().map(|r| ui.t(&format!("role-{r}"))).chain(depts.iter().cloned()).collect::<Vec<_>>(),
            fields,
            outcomes => step.outcomes.iter().map(|o| context! {
                id => o.id.clone(), label => o.label.get(ui.lang), comment_required => o.comment_required, public => o.comment_public,
            }).collect::<Vec<_>>(),
            outcome => posted.get("outcome").cloned(),
            comment => posted.get("comment").cloned(),
            comment_error => ui.error_map(errors).remove("comment"),
            outcome_error => ui.error_map(errors).remove("outcome"),
        });
    }
    let history: Vec<_> = tasks
        .iter()
        .filter(|t| t.status == "done")
        .map(|t| {
            context! {
                name => step_name(&def, &t.step, ui.lang),
                by => t.assignee_name.clone(),
                outcome => outcome_label(&def, &t.step, t.outcome.as_deref(), ui.lang),
                at => t.completed_at.map(datetime),
            }
        })
        .collect();
    let data: Vec<_> = c
        .data
        .0
        .iter()
        .map(|(k, v)| context! { key => field_label(&def, k, ui.lang), value => super::value_words(&def, k, v, ui.lang) })
        .collect();
    let documents: Vec<_> = def
        .documents
        .iter()
        .map(|d| context! { label => d.label.get(ui.lang), required => d.required })
        .collect();
    let html = ui.render(
        "staff/case.html",
        context! {
            case => case_view(&def, &c, ui, engine.now()),
            data, documents, history, current,
            messages => crate::notify::of_case(&tenant.db, c.id).await?,
            uploaded => super::documents::list(state, tenant, &c, &format!("/staff/cases/{}/documents", c.id), &def, ui.lang, super::documents::Viewer::Staff).await?,
            checklist => super::documents::checklist_view(tenant, &c, &def, ui.lang).await?,
            signer => super::signing::signer_status(state, tenant, &who.user).await?,
            kinds => def.documents.iter().map(|d| context! { id => d.id.clone(), label => d.label.get(ui.lang) }).collect::<Vec<_>>(),
            max_mb => state.config().storage.max_upload_bytes / 1_048_576,
            office => state.config().storage.allow_office,
            done,
            timeline => timeline(&def, &events, ui, true),
            errors => ui.error_list(errors),
            csrf => who.user.csrf.clone(),
        },
    )?;
    Ok((status, html))
}

#[derive(Deserialize)]
pub struct CaseFileQuery {
    done: Option<String>,
}

pub async fn case_file(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    super::CaseFileReader(who): super::CaseFileReader,
    peer: Peer,
    Path(id): Path<Uuid>,
    Query(q): Query<CaseFileQuery>,
) -> Result<Html<String>> {
    let done = q
        .done
        .filter(|d| ["signed", "uploaded"].contains(&d.as_str()));
    let (_, html) = case_page(
        &state,
        &ui,
        &tenant,
        &who,
        id,
        &[],
        &BTreeMap::new(),
        StatusCode::OK,
        done,
    )
    .await?;
    // A case file holds the applicant's health, disability or income
    // data: every opening is in the trail, for the data protection officer
    // (and the applicant's own download). No trail, no page.
    dimos_web::auth::record(
        &state,
        &tenant,
        who.user
            .audit(peer, "case_viewed")
            .record(format!("case:{id}")),
    )
    .await?;
    Ok(html)
}

pub async fn complete(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: StaffMember,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(posted): Posted<BTreeMap<String, String>>,
) -> Result<Response> {
    let t = query::task(&tenant.db, TaskId(id))
        .await?
        .ok_or(Error::NotFound)?;
    // A task done on a module's page (issuing a permit) completes there only.
    let c = query::case(&tenant.db, CaseId(t.case_id))
        .await?
        .ok_or(Error::NotFound)?;
    let def = state.workflow().snapshot(&tenant.db, c.snapshot_id).await?;
    if matches!(def.step(&t.step), Some(Step::Task(s)) if s.action.is_some()) {
        return Err(Error::Conflict("task-has-own-page").into());
    }
    let outcome = posted.get("outcome").cloned().unwrap_or_default();
    let comment = posted.get("comment").cloned().unwrap_or_default();
    // A document the outcome issues is made and signed first (the slow
    // work), then filed with the decision.
    let (issued, refused) =
        match issue_for_outcome(&state, &tenant, &who, &def, &c, &t, &outcome, &posted).await {
            Ok(issued) => (issued, None),
            Err(AppError(Error::Validation(errs))) => (None, Some(errs)),
            Err(e) => return Err(e),
        };
    // The decision, its document and its audit entry: one transaction,
    // begun inside the attempt so that any failure removes the document.
    let decided = async {
        if let Some(errs) = refused {
            return Err(Error::Validation(errs));
        }
        if outcome.is_empty() {
            return Err(Error::Validation(vec![FieldError::new(
                "outcome", "required",
            )]));
        }
        let mut tx = tenant.db.begin().await?;
        state
            .workflow()
            .complete_tx(
                &mut tx,
                &tenant.db,
                TaskId(id),
                &who.staff,
                &outcome,
                &posted,
                &comment,
            )
            .await?;
        match &issued {
            Some(signed) => {
                dimos_web::issue::save(&state, &mut tx, &tenant, signed, &who.staff.actor())
                    .await?;
            }
            // Never a decision that issues a document without it.
            None if issues(&def, &t.step, &outcome).is_some() => {
                return Err(Error::internal("an issuing outcome without its document"));
            }
            None => {}
        }
        let entry = who
            .user
            .audit(peer, "task_completed")
            .record(format!("case:{}", t.case_id))
            .detail(json!({"task": id, "step": t.step, "outcome": outcome,
                "document": issued.as_ref().map(|s| s.document.id)}));
        dimos_web::auth::record_in(&mut tx, &tenant, entry)
            .await
            .map_err(|e| e.0)?;
        tx.commit().await?;
        Ok::<(), Error>(())
    };
    let result = decided.await;
    if result.is_err()
        && let Some(signed) = &issued
    {
        dimos_web::issue::discard(&state, signed).await;
    }
    match result {
        Ok(()) => Ok(Redirect::to("/staff/agenda?done=completed").into_response()),
        Err(Error::Validation(errs)) => {
            let (s, h) = case_page(
                &state,
                &ui,
                &tenant,
                &who,
                t.case_id,
                &errs,
                &posted,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await?;
            Ok(dimos_web::error::rendered_page(s, h))
        }
        Err(e) => Err(AppError(e)),
    }
}

/// The document a task's outcome issues, if any.
fn issues<'d>(def: &'d dimos_workflow::Definition, step: &str, outcome: &str) -> Option<&'d str> {
    match def.step(step) {
        Some(Step::Task(task)) => task
            .outcomes
            .iter()
            .find(|o| o.id == outcome)
            .and_then(|o| o.issues.as_deref()),
        _ => None,
    }
}

/// The document the chosen outcome issues, rendered from the case and
/// the task's form and signed as the member of staff; `None` when the
/// outcome issues none or the form does not read (the completion then
/// answers with the form's errors).
#[allow(clippy::too_many_arguments)]
async fn issue_for_outcome(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &StaffMember,
    def: &dimos_workflow::Definition,
    c: &query::CaseRow,
    t: &query::TaskRow,
    outcome: &str,
    posted: &BTreeMap<String, String>,
) -> Result<Option<dimos_web::issue::Signed>> {
    let Some(doc_id) = issues(def, &t.step, outcome) else {
        return Ok(None);
    };
    // Checked again in the transaction; here so that nothing is signed
    // for a task that is not this person's.
    if t.status != "open" || t.assignee != Some(who.staff.account) {
        return Err(Error::Conflict("task-not-yours").into());
    }
    // Signing needs the permission as well as a certificate (a
    // certificate outlives a role taken away).
    let subj = dimos_web::access::subjects(&who.user);
    let sign = <dimos_web::access::SignDocuments as Permission>::ID;
    if !state.access().allowed(tenant.tenant.id, &subj, sign).await {
        return Err(
            Error::Validation(vec![FieldError::new("outcome", "no-signing-certificate")]).into(),
        );
    }
    let Some(Step::Task(task)) = def.step(&t.step) else {
        return Ok(None);
    };
    let Some((module, doc)) = state
        .modules()
        .iter()
        .find_map(|m| m.documents.iter().find(|d| d.id == doc_id).map(|d| (m, *d)))
    else {
        return Err(Error::internal(format!("no module issues {doc_id}")).into());
    };
    let mut data = c.data.0.clone();
    if let Some(form) = task.form.as_deref().and_then(|f| def.form(f)) {
        match form.parse(posted) {
            Ok(values) => data.extend(values),
            Err(_) => return Ok(None),
        }
    }
    let settings = dimos_web::settings::effective_value(tenant, module.id, &module.config).await?;
    let signer = who.staff.actor();
    let reference = dimos_web::issue::new_reference();
    let verify_url = dimos_web::issue::verify_url(state, tenant, &reference);
    let input = dimos_web::issue::IssueInput {
        municipality: tenant.tenant.name(dimos_kernel::Locale::El),
        applicant_name: &c.applicant_name,
        protocol: c.protocol_label(),
        data: &data,
        settings: &settings,
        signer_name: &signer.name,
        issued_on: dimos_kernel::clock::local_date(state.workflow().now()),
        reference: &reference,
        verify_url: &verify_url,
    };
    let rendered = (doc.render)(&input)?;
    // Without a signing certificate the outcome cannot be chosen: said on
    // the form, where the person can see why.
    let signed = dimos_web::issue::store_and_sign(
        state,
        tenant,
        CaseId(c.id),
        doc.id,
        rendered,
        &signer,
        reference,
    );
    match signed.await {
        Ok(signed) => Ok(Some(signed)),
        Err(Error::Conflict(code @ "no-signing-certificate")) => {
            Err(Error::Validation(vec![FieldError::new("outcome", code)]).into())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    comment: String,
}

pub async fn comment(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: StaffMember,
    Path(id): Path<Uuid>,
    Posted(f): Posted<CommentForm>,
) -> Result<Response> {
    let c = visible_case(&state, &tenant, &who, id).await?;
    state
        .workflow()
        .comment(&tenant.db, c.case_id(), &who.staff, &f.comment)
        .await?;
    Ok(Redirect::to(&format!("/staff/cases/{id}#history")).into_response())
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    process: Option<String>,
    page: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

pub async fn search(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    _who: Authorized<ReadCases>,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>> {
    let text = q.q.clone().unwrap_or_default();
    let process = q.process.clone().unwrap_or_default();
    let page = query::search(
        &tenant.db,
        None,
        &text,
        Some(process.as_str()),
        &super::position(q.after.as_deref(), q.before.as_deref())?,
        page_of(q.page.as_deref()),
        PER_PAGE,
    )
    .await?;
    let engine = state.workflow();
    let mut cases = vec![];
    for c in &page.items {
        let def = engine.snapshot(&tenant.db, c.snapshot_id).await?;
        cases.push(case_view(&def, c, &ui, engine.now()));
    }
    let pager = pager(
        &page,
        "/staff/cases",
        &[("q", &text), ("process", &process)],
    );
    ui.render("staff/search.html", context! { cases, pager, q => text })
}

/// Department heads: open work in their departments' queues, per person,
/// and handing tasks to colleagues.
pub async fn team(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<AssignTasks>,
) -> Result<Html<String>> {
    let me = staff_of(&state, tenant.tenant.id, &who.user).await;
    let depts: Vec<String> = me.departments.iter().cloned().collect();
    let engine = state.workflow();
    let (load, tasks) = query::team_load(&tenant.db, &depts, engine.now()).await?;
    let members = team_members(&state, &tenant, &depts).await?;
    let mut rows = vec![];
    for t in &tasks {
        let c = query::case(&tenant.db, CaseId(t.case_id))
            .await?
            .ok_or(Error::NotFound)?;
        let def = engine.snapshot(&tenant.db, c.snapshot_id).await?;
        rows.push(context! {
            id => t.id, case_id => t.case_id,
            task => step_name(&def, &t.step, ui.lang),
            protocol => c.protocol_label(),
            due => t.due_at.map(super::date),
            overdue => t.due_at.is_some_and(|d| d < engine.now()),
            assignee => t.assignee, assignee_name => t.assignee_name.clone(),
        });
    }
    ui.render(
        "staff/team.html",
        context! { load, tasks => rows, members, departments => depts, csrf => who.user.csrf },
    )
}

/// Accounts of the members of the given departments (known once they
/// signed in at least once).
async fn team_members(
    state: &AppState,
    tenant: &CurrentTenant,
    depts: &[String],
) -> Result<Vec<minijinja::Value>> {
    let mut out = vec![];
    let mut seen = std::collections::BTreeSet::new();
    for (d, members) in state.access().departments(&tenant.db).await? {
        if !depts.contains(&d.slug) {
            continue;
        }
        for subject in members {
            let Some(tax_id) = subject.strip_prefix("taxid:") else {
                continue;
            };
            for a in accounts::by_tax_id(&tenant.db, tax_id).await? {
                if seen.insert(a.id) {
                    out.push(context! { id => a.id, name => a.display_name() });
                }
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    to: String,
}

pub async fn assign(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<AssignTasks>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<AssignForm>,
) -> Result<Response> {
    let me = staff_of(&state, tenant.tenant.id, &who.user).await;
    let t = query::task(&tenant.db, TaskId(id))
        .await?
        .ok_or(Error::NotFound)?;
    // A head assigns within their departments' queues, to their members.
    let depts: Vec<String> = me.departments.iter().cloned().collect();
    let (_, queue_depts) = query::candidates(&tenant.db, TaskId(id)).await?;
    if !queue_depts.iter().any(|d| depts.contains(d)) {
        return Err(Error::NotFound.into());
    }
    let to = if f.to.is_empty() {
        None
    } else {
        let to: Uuid =
            f.to.parse()
                .map_err(|_| Error::Validation(vec![FieldError::new("to", "invalid")]))?;
        let members = team_members(&state, &tenant, &depts).await?;
        let member = members
            .iter()
            .find(|m| m.get_attr("id").ok().map(|v| v.to_string()) == Some(to.to_string()))
            .ok_or_else(|| Error::Validation(vec![FieldError::new("to", "invalid")]))?;
        let name = member
            .get_attr("name")
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Some((to, name))
    };
    // The assignment and its audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    state
        .workflow()
        .assign_tx(&mut tx, &tenant.db, TaskId(id), to.clone(), &me)
        .await?;
    dimos_web::auth::record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "task_assigned")
            .record(format!("case:{}", t.case_id))
            .detail(json!({"task": id, "to": to.map(|t| t.0)})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/staff/team").into_response())
}

/// The staff area's front page: links to what this person may use.
pub async fn hub(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: dimos_web::auth::CurrentUser,
) -> Result<Response> {
    let links: Vec<_> = crate::staff::staff_links(&state, &tenant.tenant, &user)
        .await
        .into_iter()
        .map(|(href, key)| context! { href, label => ui.t(key), description => ui.t(&format!("{key}-description")) })
        .collect();
    if links.is_empty() {
        return Err(Error::Forbidden.into());
    }
    Ok(ui
        .render("staff/hub.html", context! { links })?
        .into_response())
}

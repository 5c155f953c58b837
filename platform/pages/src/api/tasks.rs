//! Tasks for the municipality's own systems: a client with the
//! `tasks.work` scope works the queues of the roles its admin gave it, as
//! a member of staff holding those roles would (list, claim, complete with
//! the step's form), and is named as the actor in the case's history and
//! the audit trail. A step a module completes on its own page, and an
//! outcome that issues a signed document, stay with people.

use super::{Problem, Text};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use dimos_identity::api_clients::Caller;
use dimos_kernel::{Error, FieldError};
use dimos_web::access::WorkTasks;
use dimos_web::api_client::ApiScope;
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_workflow::definition::Step;
use dimos_workflow::query::{self, ListKey, Position, Queue, TaskKey};
use dimos_workflow::{CaseId, Definition, Staff, TaskId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A task: a step of a case waiting for someone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub case_id: Uuid,
    /// The case's service, e.g. `certificates.request`.
    pub service: String,
    pub subject: String,
    /// The case's protocol number, `123/2026`.
    pub protocol: Option<String>,
    /// The step (the process definition's step id) and its name.
    pub step: String,
    pub name: Text,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// Claimed by this client.
    pub mine: bool,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    /// Overdue and flagged to the heads.
    pub escalated: bool,
    /// How it may end; `comment_required` ones need a `comment`.
    pub outcomes: Vec<TaskOutcome>,
    /// The step's form as JSON Schema, when it has one: `data` of the
    /// completion.
    #[schema(value_type = Option<Object>)]
    pub form: Option<Value>,
    /// Done on a module's page by a person (e.g. issuing a permit): it
    /// cannot be completed through the API.
    pub people_only: bool,
    /// How it ended, once done.
    pub outcome: Option<String>,
}

/// One way a task may end.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOutcome {
    pub id: String,
    pub label: Text,
    pub comment_required: bool,
    /// It issues a document a person signs: not through the API.
    pub people_only: bool,
}

/// A page of tasks, overdue first, then by due date, then the oldest.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub items: Vec<Task>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `available` (unclaimed, in the client's queues; the default) or
    /// `mine` (claimed by it).
    #[param(pattern = "^(available|mine)$")]
    pub queue: Option<String>,
    /// The page after this one (a previous answer's `next`).
    #[param(max_length = 200, pattern = "^[0-9A-Za-z:.+~-]*$")]
    pub after: Option<String>,
    /// Tasks per page, 1–100 (25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The client as the engine knows people: its name, the roles its admin
/// gave it, no department.
fn staff(c: &Caller) -> Staff {
    Staff {
        account: c.client.id,
        name: c.client.name.clone(),
        roles: c.client.roles.iter().cloned().collect(),
        departments: Default::default(),
    }
}

/// What a task's answer says of its case.
struct OfCase {
    service: String,
    subject: String,
    protocol: Option<String>,
}

impl From<&query::CaseRow> for OfCase {
    fn from(c: &query::CaseRow) -> Self {
        OfCase {
            service: c.process.clone(),
            subject: c.subject.clone(),
            protocol: c.protocol_label(),
        }
    }
}

fn task_view(def: &Definition, t: &query::TaskRow, case: OfCase, me: Uuid) -> Task {
    let step = match def.step(&t.step) {
        Some(Step::Task(s)) => Some(s),
        _ => None,
    };
    Task {
        id: t.id,
        case_id: t.case_id,
        service: case.service,
        subject: case.subject,
        protocol: case.protocol,
        step: t.step.clone(),
        name: step.map_or_else(
            || Text {
                el: t.step.clone(),
                en: t.step.clone(),
            },
            |s| Text::from(&s.name),
        ),
        status: t.status.clone(),
        mine: t.assignee == Some(me),
        created_at: t.created_at,
        due_at: t.due_at,
        escalated: t.escalated,
        outcomes: step
            .map(|s| {
                s.outcomes
                    .iter()
                    .map(|o| TaskOutcome {
                        id: o.id.clone(),
                        label: Text::from(&o.label),
                        comment_required: o.comment_required,
                        people_only: o.issues.is_some(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        form: step
            .and_then(|s| s.form.as_deref())
            .and_then(|f| def.form(f))
            .map(super::services::json_schema),
        people_only: step.is_none_or(|s| s.action.is_some()),
        outcome: t.outcome.clone(),
    }
}

/// The task, if it is the client's to see: claimed by it, or offered to
/// one of its roles. Another's is not found.
async fn find(
    state: &AppState,
    t: &CurrentTenant,
    c: &Caller,
    id: &str,
) -> Result<(query::TaskRow, query::CaseRow, std::sync::Arc<Definition>)> {
    let id = Uuid::try_parse(id).map_err(|_| AppError(Error::NotFound))?;
    let task = query::task(&t.db, TaskId(id))
        .await?
        .ok_or(AppError(Error::NotFound))?;
    if task.assignee != Some(c.client.id) {
        let (roles, departments) = query::candidates(&t.db, TaskId(id)).await?;
        if !staff(c).is_candidate(&roles, &departments) {
            return Err(AppError(Error::NotFound));
        }
    }
    let case = query::case(&t.db, CaseId(task.case_id))
        .await?
        .ok_or(AppError(Error::NotFound))?;
    let def = state.workflow().snapshot(&t.db, case.snapshot_id).await?;
    Ok((task, case, def))
}

/// The client's queue: tasks offered to its roles, or those it claimed.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "tasks",
    operation_id = "listTasks",
    params(TaskQuery),
    security(("clientCredentials" = ["tasks.work"])),
    responses(
        (status = 200, description = "A page of tasks", body = TaskList, links(
            ("getFirstTask" = (operation_id = "getTask", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = 400, description = "A parameter that is not understood", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `tasks.work` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality at this host", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiScope(c, _): ApiScope<WorkTasks>,
    t: CurrentTenant,
    Query(p): Query<TaskQuery>,
) -> Result<Json<TaskList>> {
    let limit = p.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(AppError(Error::BadRequest("limit must be 1-100".into())));
    }
    let queue = match p.queue.as_deref().unwrap_or("available") {
        "available" => Queue::Available,
        "mine" => Queue::Mine,
        _ => {
            return Err(AppError(Error::BadRequest(
                "queue is available or mine".into(),
            )));
        }
    };
    let at = match p.after.as_deref().filter(|a| !a.is_empty()) {
        None => Position::First,
        Some(a) => Position::After(
            TaskKey::parse(a)
                .ok_or_else(|| AppError(Error::BadRequest("after is not a page's key".into())))?,
        ),
    };
    let who = staff(&c);
    let page = query::agenda(&t.db, &who, queue, None, &at, 1, limit).await?;
    let mut items = vec![];
    // The agenda's rows carry their case's facts: no read per row (the
    // definitions are the engine's cached snapshots).
    for row in page.items {
        let def = state.workflow().snapshot(&t.db, row.snapshot_id).await?;
        let of_case = OfCase {
            protocol: row.protocol_label(),
            service: row.process,
            subject: row.subject,
        };
        let task = query::TaskRow {
            id: row.id,
            case_id: row.case_id,
            step: row.step,
            // The agenda lists open tasks only.
            status: "open".into(),
            assignee: row.assignee,
            assignee_name: row.assignee_name,
            created_at: row.created_at,
            due_at: row.due_at,
            claimed_at: None,
            completed_at: None,
            outcome: None,
            escalated: row.escalated,
        };
        items.push(task_view(&def, &task, of_case, c.client.id));
    }
    Ok(Json(TaskList {
        items,
        next: page.next,
    }))
}

/// One task of the client's queues.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    operation_id = "getTask",
    params(("id" = Uuid, Path, description = "The task's id")),
    security(("clientCredentials" = ["tasks.work"])),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `tasks.work` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task in the client's queues", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    ApiScope(c, _): ApiScope<WorkTasks>,
    t: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<Task>> {
    let (task, case, def) = find(&state, &t, &c, &id).await?;
    Ok(Json(task_view(
        &def,
        &task,
        OfCase::from(&case),
        c.client.id,
    )))
}

/// Claims a task of the client's queues. Claiming one it holds answers it
/// as it is.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/claim",
    tag = "tasks",
    operation_id = "claimTask",
    params(
        ("id" = Uuid, Path, description = "The task's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Accepted; a claim is made once whatever the key", pattern = "^[\\x21-\\x7e]{1,255}$"),
    ),
    security(("clientCredentials" = ["tasks.work"])),
    responses(
        (status = 200, description = "Claimed by the client", body = Task),
        (status = 400, description = "An address the edge refuses, or a bad `Idempotency-Key`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `tasks.work` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task in the client's queues", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Done already, or someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    ApiScope(c, _): ApiScope<WorkTasks>,
    t: CurrentTenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Task>> {
    dimos_web::api_filing::idempotency_key(&headers)?;
    let (task, _, _) = find(&state, &t, &c, &id).await?;
    if task.assignee != Some(c.client.id) {
        state
            .workflow()
            .claim(&t.db, TaskId(task.id), &staff(&c))
            .await?;
    }
    let (task, case, def) = find(&state, &t, &c, &id).await?;
    Ok(Json(task_view(
        &def,
        &task,
        OfCase::from(&case),
        c.client.id,
    )))
}

/// How the client ends a task.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// One of the task's `outcomes`.
    #[schema(
        example = "complete",
        pattern = "^[a-z0-9][a-z0-9-]*$",
        max_length = 64
    )]
    pub outcome: String,
    /// The step's form, by field id, as its `form` schema says.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    /// For the file (and, where the outcome says so, for the applicant).
    #[serde(default)]
    #[schema(
        max_length = 5000,
        pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub comment: String,
}

/// Completes a task the client claimed; the case moves on. Completing it
/// again with the same outcome answers it as it is.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/complete",
    tag = "tasks",
    operation_id = "completeTask",
    params(
        ("id" = Uuid, Path, description = "The task's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Accepted; a task is completed once whatever the key", pattern = "^[\\x21-\\x7e]{1,255}$"),
    ),
    request_body(content = Completion, content_type = "application/json"),
    security(("clientCredentials" = ["tasks.work"])),
    responses(
        (status = 200, description = "Completed", body = Task),
        (status = 400, description = "Malformed JSON, an address the edge refuses, or a bad `Idempotency-Key`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `tasks.work` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task in the client's queues", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not claimed by the client, done already, or a step or outcome only people complete", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The outcome, the form or the comment, field by field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client's rate limit: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn complete(
    State(state): State<AppState>,
    ApiScope(c, _): ApiScope<WorkTasks>,
    t: CurrentTenant,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    dimos_web::extract::Json(done): dimos_web::extract::Json<Completion>,
) -> Result<Json<Task>> {
    dimos_web::api_filing::idempotency_key(&headers)?;
    // What the document promises, checked before anything else (a repeat
    // of a completion too).
    let mut malformed = vec![];
    let outcome_ok = (1..=64).contains(&done.outcome.len())
        && done
            .outcome
            .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && done
            .outcome
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !outcome_ok {
        malformed.push(FieldError::new("outcome", "invalid"));
    }
    if done.comment.chars().count() > 5000 {
        malformed.push(FieldError::new("comment", "too-long").with_detail("5000"));
    }
    if !malformed.is_empty() {
        return Err(AppError(Error::Validation(malformed)));
    }
    let (task, case, def) = find(&state, &t, &c, &id).await?;
    if task.status == "done"
        && task.assignee == Some(c.client.id)
        && task.outcome.as_deref() == Some(done.outcome.as_str())
    {
        return Ok(Json(task_view(
            &def,
            &task,
            OfCase::from(&case),
            c.client.id,
        )));
    }
    let view = task_view(&def, &task, OfCase::from(&case), c.client.id);
    if view.people_only {
        return Err(AppError(Error::Conflict("task-has-own-page")));
    }
    if view
        .outcomes
        .iter()
        .any(|o| o.id == done.outcome && o.people_only)
    {
        return Err(AppError(Error::Conflict("outcome-needs-a-signature")));
    }
    let empty = dimos_workflow::definition::Form { fields: vec![] };
    let form = match def.step(&task.step) {
        Some(Step::Task(s)) => s.form.as_deref().and_then(|f| def.form(f)),
        _ => None,
    };
    let (posted, errors) = super::filing::form_answers(&done.data, form.unwrap_or(&empty));
    if !errors.is_empty() {
        return Err(AppError(Error::Validation(errors)));
    }
    let mut tx = t.db.begin().await?;
    let completed = state
        .workflow()
        .complete_tx(
            &mut tx,
            &t.db,
            TaskId(task.id),
            &staff(&c),
            &done.outcome,
            &posted,
            &done.comment,
        )
        .await;
    if let Err(Error::Validation(errs)) = completed {
        // The form's fields are `data.<field>` here, as in the request.
        return Err(AppError(Error::Validation(
            errs.into_iter()
                .map(|mut e| {
                    if e.field != "outcome" && e.field != "comment" {
                        e.field = format!("data.{}", e.field);
                    }
                    e
                })
                .collect(),
        )));
    }
    completed?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        dimos_identity::audit::AuditEntry::new(c.client.actor(), "task_completed")
            .from_address(peer.address())
            .record(format!("case:{}", task.case_id))
            .detail(
                json!({"task": task.id, "step": task.step, "outcome": done.outcome, "via": "api"}),
            ),
    )
    .await
    .map_err(|e| e.0)?;
    tx.commit().await?;
    let (task, case, def) = find(&state, &t, &c, &id).await?;
    Ok(Json(task_view(
        &def,
        &task,
        OfCase::from(&case),
        c.client.id,
    )))
}

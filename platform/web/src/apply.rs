//! A citizen's application from the process's own form: the definition's
//! `forms.apply` is the page (`kit/apply.html`), its rules the checks, and
//! the case starts once per form shown (a retry or a double click returns
//! the same case). A module mounts it with
//! `.route("/apply", dimos_web::apply::routes(PROCESS))`; the citizen must
//! be verified (the applications carry personal data).

use crate::auth::{CurrentUser, Posted, Verified};
use crate::error::{Result, rendered_page};
use crate::extract::CurrentTenant;
use crate::state::AppState;
use crate::ui::Ui;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};
use dimos_kernel::{Error, FieldError, Locale};
use dimos_workflow::NewCase;
use dimos_workflow::definition::{FieldKind, Form};
use minijinja::{Value, context};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The form's name in a process definition.
pub const FORM: &str = "apply";

/// `GET` shows the form, `POST` files it.
pub fn routes(process: &'static str) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, ui: Ui, t: CurrentTenant, Verified(user): Verified| async move {
            page(&state, &ui, &t, &user, process, &BTreeMap::new(), &[]).await
        },
    )
    .post(
        move |State(state): State<AppState>,
              ui: Ui,
              t: CurrentTenant,
              Verified(user): Verified,
              Posted(posted): Posted<BTreeMap<String, String>>| async move {
            submit(&state, &ui, &t, &user, process, &posted).await
        },
    )
}

/// A form's fields as `macros.html`'s `form_fields` shows them.
pub fn field_views(
    form: &Form,
    ui: &Ui,
    value: impl Fn(&str) -> Option<String>,
    errors: &[FieldError],
) -> Vec<Value> {
    let by_field = ui.error_map(errors);
    form.fields
        .iter()
        .map(|x| {
            context! {
                id => x.id.clone(),
                kind => match x.kind {
                    FieldKind::Text => "text", FieldKind::Textarea => "textarea",
                    FieldKind::Number => "number", FieldKind::Date => "date",
                    FieldKind::Boolean => "boolean", FieldKind::Choice => "choice",
                },
                label => x.label.get(ui.lang),
                required => x.required,
                value => value(&x.id),
                options => x.options.iter().map(|o| context! { id => o.id.clone(), label => o.label.get(ui.lang) }).collect::<Vec<_>>(),
                error => by_field.get(&x.id).cloned(),
            }
        })
        .collect()
}

async fn page(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    user: &CurrentUser,
    process: &str,
    posted: &BTreeMap<String, String>,
    errors: &[FieldError],
) -> Result<Response> {
    let def = state.workflow().effective(&t.db, process).await?;
    let form = def
        .form(FORM)
        .ok_or_else(|| Error::internal(format!("{process} has no form {FORM:?}")))?;
    let fields = field_views(form, ui, |id| posted.get(id).cloned(), errors);
    let submission = posted
        .get("_submission")
        .cloned()
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let documents: Vec<_> = def
        .documents
        .iter()
        .map(|d| context! { label => d.label.get(ui.lang), required => d.required })
        .collect();
    let html = ui.render(
        "kit/apply.html",
        context! {
            process, name => def.name.get(ui.lang), lead => def.lead_time_days,
            fields, documents, submission, csrf => user.csrf.clone(),
            applicant => user.acting_for_name(),
            errors => ui.error_list(errors),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(rendered_page(status, html))
}

async fn submit(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    user: &CurrentUser,
    process: &str,
    posted: &BTreeMap<String, String>,
) -> Result<Response> {
    let Some(submission) = posted
        .get("_submission")
        .and_then(|s| Uuid::parse_str(s).ok())
    else {
        // A form that lost its key (an old page, a tampered one): shown
        // again with a new key and the answers kept, never filed blind.
        let mut answers = posted.clone();
        answers.remove("_submission");
        let errors = [FieldError::new("_submission", "form-expired")];
        return page(state, ui, t, user, process, &answers, &errors).await;
    };
    let def = state.workflow().effective(&t.db, process).await?;
    let form = def
        .form(FORM)
        .ok_or_else(|| Error::internal(format!("{process} has no form {FORM:?}")))?;
    let data = match form.parse(posted) {
        Ok(d) => d,
        Err(errors) => return page(state, ui, t, user, process, posted, &errors).await,
    };
    let started = state
        .workflow()
        .start_once(
            &t.db,
            NewCase {
                process: process.to_owned(),
                applicant: user.acting_for().0,
                applicant_name: user.acting_for_name(),
                filed_by: user.filed_by(),
                subject: def.name.get(Locale::El).to_owned(),
                data,
                attachments: 0,
            },
            submission,
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{}?done=submitted", started.case_id)).into_response())
}

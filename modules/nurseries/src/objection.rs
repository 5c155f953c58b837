//! Objections: during the objection window a family that has its results
//! files an objection from the application's page, with a document if it
//! likes; it is a case of its own (`nurseries.objection`) that the
//! committee answers with its reasoning.

use crate::{applications, catalogue, results};
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::auth::Verified;
use dimos_web::{AppState, CurrentTenant, Result};
use dimos_workflow::NewCase;
use serde_json::Map;
use uuid::Uuid;

pub const PROCESS: &str = "nurseries.objection";

/// Whether the family may object now: results published and the window
/// open.
pub(crate) async fn may_object(
    state: &AppState,
    t: &CurrentTenant,
    row: &applications::Row,
) -> Result<bool> {
    let today = crate::today(state);
    let Some(year) = catalogue::year(&t.db, row.year_id).await? else {
        return Ok(false);
    };
    Ok(
        year.phase(today) == "objections"
            && results::published(&t.db, row.year_id).await?.is_some(),
    )
}

/// Files the objection as a case, with its document, and shows it.
pub(crate) async fn object(
    State(state): State<AppState>,
    ui: dimos_web::Ui,
    t: CurrentTenant,
    Verified(user): Verified,
    Path(case): Path<Uuid>,
    form: Multipart,
) -> Result<Response> {
    let row = applications::of_case(&t.db, case)
        .await?
        .filter(|r| r.applicant == user.acting_for().0)
        .ok_or(Error::NotFound)?;
    if !may_object(&state, &t, &row).await? {
        return Err(Error::Conflict("nursery-objections-closed").into());
    }
    let form = dimos_web::uploads::receive_form(&state, &user, form, &["evidence"]).await?;
    let key = form.submission_key();
    let text = form.get("objection").unwrap_or("").to_owned();
    let mut problems = form.errors.clone();
    let text = text.trim().to_owned();
    if text.is_empty() {
        problems.insert(0, FieldError::new("objection", "required"));
    } else if text.chars().count() > 4000 {
        problems.insert(
            0,
            FieldError::new("objection", "too-long").with_detail("4000"),
        );
    }
    if !problems.is_empty() {
        return crate::apply::render_application(
            &state,
            &ui,
            &t,
            &user,
            &row,
            None,
            Some(crate::apply::ObjectionTry {
                text,
                problems,
                submission: key,
            }),
        )
        .await;
    }
    let protocol = row.protocol.clone().unwrap_or_default();
    let mut data = Map::new();
    data.insert("application".into(), protocol.clone().into());
    data.insert("application_case".into(), case.to_string().into());
    data.insert("objection".into(), text.into());
    let actor = dimos_web::people::citizen_actor(&user);
    // The objection with its evidence: one transaction; a retry with the
    // same form gets the same case.
    let started = dimos_web::uploads::file_and_commit(
        &state,
        &t,
        &actor,
        dimos_web::uploads::Submission {
            new: NewCase {
                process: PROCESS.into(),
                applicant: row.applicant,
                applicant_name: user.account.display_name(),
                filed_by: user.filed_by(),
                subject: format!("Ένσταση — {protocol}"),
                data,
                // Counted by file_case from the files.
                attachments: 0,
            },
            key,
            files: form.files,
            kept: vec![],
            mobile: None,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/cases/{}?done=submitted", started.case_id)).into_response())
}

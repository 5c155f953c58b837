//! The application in steps, as GOV.UK and gov.gr ask long forms: who
//! applies, the space and the vehicle, how the card is received; then one
//! page to check the answers (each with a link back to change it) and to
//! attach the documents, which files the case (`POST /parking/apply`, the
//! same handler a one-page client uses). Answers wait in the person's
//! session ([`Drafts`]) until then.

use crate::values::RawApplication;
use crate::{PROCESS, render_check};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::auth::{Posted, Verified};
use dimos_web::drafts::Drafts;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

pub(crate) const DRAFT: &str = "parking.apply";

/// The steps before the check page, each with the fields it asks.
pub(crate) const STEPS: [(&str, &[&str]); 3] = [
    ("applicant", &["full_name", "email", "mobile"]),
    ("space", &["location", "plate"]),
    ("delivery", &["delivery", "delivery_address"]),
];

fn step_of(field: &str) -> &'static str {
    STEPS
        .iter()
        .find(|(_, fields)| fields.contains(&field))
        .map_or("applicant", |(s, _)| s)
}

/// The link that changes a field's answer from the check page.
pub(crate) fn change_href(field: &str) -> String {
    format!("/parking/apply/{}?return=check", step_of(field))
}

/// The draft, started from the account when empty.
async fn draft(drafts: &Drafts, user: &dimos_web::auth::CurrentUser) -> Result<RawApplication> {
    let mut d: RawApplication = drafts.load(DRAFT).await?;
    if d.full_name.is_empty() && d.email.is_empty() && d.mobile.is_empty() {
        d.full_name = user.account.display_name();
        d.email = user.account.email.clone().unwrap_or_default();
        d.mobile = user.account.phone.clone().unwrap_or_default();
    }
    if d.delivery.is_empty() {
        d.delivery = "pickup".into();
    }
    Ok(d)
}

/// The problems of `step`'s fields only (later steps are not asked yet).
fn step_errors(d: &RawApplication, step: &str) -> Vec<FieldError> {
    let fields = STEPS
        .iter()
        .find(|(s, _)| *s == step)
        .map_or(&[][..], |(_, f)| *f);
    d.validate()
        .err()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| fields.contains(&e.field.as_str()))
        .collect()
}

#[derive(Deserialize, Default)]
pub(crate) struct StepQuery {
    #[serde(rename = "return")]
    back: Option<String>,
}

fn render_step(
    ui: &Ui,
    step: &str,
    d: &RawApplication,
    errors: &[FieldError],
    csrf: &str,
    back_to_check: bool,
) -> Result<Response> {
    let index = STEPS.iter().position(|(s, _)| *s == step).unwrap_or(0);
    // Every field has an entry (templates treat a missing key as an error).
    let mut messages: BTreeMap<String, String> = STEPS
        .iter()
        .flat_map(|(_, fields)| fields.iter())
        .map(|f| ((*f).to_owned(), String::new()))
        .collect();
    messages.extend(ui.error_map(errors));
    let html = ui.render(
        "parking/step.html",
        context! {
            step, number => index + 1, steps => STEPS.len() + 1, csrf, v => d,
            errors => messages, back_to_check,
            back => if index == 0 { "/parking".to_owned() } else { format!("/parking/apply/{}", STEPS[index - 1].0) },
            summary => ui.error_list(errors),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

/// `/parking/apply`: the first question.
pub(crate) async fn start(
    ui: Ui,
    drafts: Drafts,
    Verified(user): Verified,
    q: Query<StepQuery>,
) -> Result<Response> {
    page(ui, drafts, Verified(user), Path("applicant".to_owned()), q).await
}

pub(crate) async fn page(
    ui: Ui,
    drafts: Drafts,
    Verified(user): Verified,
    Path(step): Path<String>,
    Query(q): Query<StepQuery>,
) -> Result<Response> {
    if !STEPS.iter().any(|(s, _)| *s == step) {
        return Err(Error::NotFound.into());
    }
    let d = draft(&drafts, &user).await?;
    render_step(
        &ui,
        &step,
        &d,
        &[],
        &user.csrf,
        q.back.as_deref() == Some("check"),
    )
}

/// Keeps this step's answers and goes on (or back to the check page).
pub(crate) async fn answer(
    ui: Ui,
    drafts: Drafts,
    Verified(user): Verified,
    Path(step): Path<String>,
    Query(q): Query<StepQuery>,
    Posted(posted): Posted<BTreeMap<String, String>>,
) -> Result<Response> {
    let Some(index) = STEPS.iter().position(|(s, _)| *s == step) else {
        return Err(Error::NotFound.into());
    };
    let mut d = draft(&drafts, &user).await?;
    for field in STEPS[index].1 {
        let value = posted.get(*field).cloned().unwrap_or_default();
        match *field {
            "full_name" => d.full_name = value,
            "email" => d.email = value,
            "mobile" => d.mobile = value,
            "location" => d.location = value,
            "plate" => d.plate = value,
            "delivery" => d.delivery = value,
            "delivery_address" => d.delivery_address = value,
            _ => {}
        }
    }
    drafts.save(DRAFT, &d).await?;
    let back_to_check = q.back.as_deref() == Some("check");
    let errors = step_errors(&d, &step);
    if !errors.is_empty() {
        return render_step(&ui, &step, &d, &errors, &user.csrf, back_to_check);
    }
    let next = match STEPS.get(index + 1) {
        Some((s, _)) if !back_to_check => format!("/parking/apply/{s}"),
        _ => "/parking/apply/check".to_owned(),
    };
    Ok(Redirect::to(&next).into_response())
}

/// The answers to check, each with its change link, and the documents.
pub(crate) async fn check(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    drafts: Drafts,
    Verified(user): Verified,
) -> Result<Response> {
    let d = draft(&drafts, &user).await?;
    // A question not answered yet: ask it first.
    if let Err(errors) = d.validate()
        && let Some((step, _)) = STEPS
            .iter()
            .find(|(s, _)| errors.iter().any(|e| step_of(&e.field) == *s))
    {
        return Ok(Redirect::to(&format!("/parking/apply/{step}")).into_response());
    }
    let def = state.workflow().effective(&t.db, PROCESS).await?;
    render_check(
        &ui,
        &def.documents,
        &user.csrf,
        uuid::Uuid::now_v7(),
        &d,
        &[],
        &[],
        StatusCode::OK,
    )
    .await
}

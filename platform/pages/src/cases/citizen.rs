//! "My applications" (Οι αιτήσεις μου): every case the signed-in person
//! filed with this municipality, across services; the case page with its
//! timeline, the answer to a request, withdrawal, and the receipt. A case
//! of someone else, or of another municipality, is a 404.

use super::{CaseView, PER_PAGE, case_view, page_of, pager, position, timeline};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dimos_kernel::{Error, FieldError};
use dimos_web::auth::{CurrentUser, Posted};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use dimos_workflow::CaseId;
use dimos_workflow::definition::Step;
use dimos_workflow::query::{self, CaseFilter, CaseRow};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list))
        .route("/cases/{id}", get(show))
        .route("/cases/{id}/respond", post(respond))
        .route("/cases/{id}/withdraw", post(withdraw))
        .route("/cases/{id}/receipt", get(receipt))
        .route(
            "/cases/{id}/documents",
            post(super::documents::citizen_upload),
        )
        .route(
            "/cases/{id}/documents/{doc}",
            get(super::documents::citizen_download),
        )
        .route(
            "/cases/{id}/documents/{doc}/replace",
            post(super::documents::citizen_replace),
        )
        .route(
            "/account/notifications",
            post(crate::notify::save_prefs_handler),
        )
        .route("/api/cases", get(api_list))
        .route("/api/cases/{id}", get(api_show))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    filter: Option<String>,
    page: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

fn filter_of(f: Option<&str>) -> CaseFilter {
    match f {
        Some("open") => CaseFilter::Open,
        Some("closed") => CaseFilter::Closed,
        _ => CaseFilter::All,
    }
}

async fn views(
    state: &AppState,
    tenant: &CurrentTenant,
    ui: &Ui,
    rows: &[CaseRow],
) -> Result<Vec<CaseView>> {
    let engine = state.workflow();
    let now = engine.now();
    let mut out = vec![];
    for c in rows {
        let def = engine.snapshot(&tenant.db, c.snapshot_id).await?;
        out.push(case_view(&def, c, ui, now));
    }
    Ok(out)
}

async fn list(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>> {
    let filter = q.filter.clone().unwrap_or_default();
    let page = query::cases_of(
        &tenant.db,
        user.acting_for().0,
        filter_of(q.filter.as_deref()),
        &position(q.after.as_deref(), q.before.as_deref())?,
        page_of(q.page.as_deref()),
        PER_PAGE,
    )
    .await?;
    let cases = views(&state, &tenant, &ui, &page.items).await?;
    let pager = pager(&page, "/cases", &[("filter", filter.as_str())]);
    ui.render("cases/list.html", context! { cases, pager, filter })
}

/// The person's own case, or 404 (another's, or another municipality's).
pub(crate) async fn own_case(
    tenant: &CurrentTenant,
    user: &CurrentUser,
    id: Uuid,
) -> Result<CaseRow> {
    match query::case(&tenant.db, CaseId(id)).await? {
        Some(c) if c.applicant == user.acting_for().0 => Ok(c),
        _ => Err(Error::NotFound.into()),
    }
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    done: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>> {
    let done = q.done.filter(|d| {
        [
            "submitted",
            "responded",
            "withdrawn",
            "uploaded",
            "paid",
            "unpaid",
            "payment-pending",
        ]
        .contains(&d.as_str())
    });
    page(
        &state,
        &ui,
        &tenant,
        &user,
        id,
        vec![],
        StatusCode::OK,
        "",
        done,
    )
    .await
    .map(|(_, h)| h)
}

#[allow(clippy::too_many_arguments)]
async fn page(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    id: Uuid,
    errors: Vec<FieldError>,
    status: StatusCode,
    message: &str,
    done: Option<String>,
) -> Result<(StatusCode, Html<String>)> {
    let c = own_case(tenant, user, id).await?;
    let engine = state.workflow();
    let def = engine.snapshot(&tenant.db, c.snapshot_id).await?;
    let events = query::events(&tenant.db, c.case_id(), true).await?;
    // What the municipality asked for: the public comment that led to the wait.
    let request = (c.status == "waiting")
        .then(|| {
            events
                .iter()
                .rev()
                .find(|e| e.kind == "task-completed" && e.comment.is_some())
                .and_then(|e| e.comment.clone())
        })
        .flatten();
    let documents: Vec<_> = def
        .documents
        .iter()
        .map(|d| context! { label => d.label.get(ui.lang), required => d.required })
        .collect();
    let waiting_step = match def.step(&c.step) {
        Some(Step::Wait(w)) => Some(w.stage.get(ui.lang).to_owned()),
        _ => None,
    };
    let errors = ui.error_list(&errors);
    let html = ui.render(
        "cases/show.html",
        context! {
            case => case_view(&def, &c, ui, engine.now()),
            process_svg => {
                let stages = dimos_web::diagram::stages(&def, ui.lang);
                dimos_web::diagram::render(&stages, &dimos_web::diagram::case_marks(&stages, &c.step), &ui.t("diagram-case-title"), ui.state.translator(), ui.lang)
            },
            timeline => timeline(&def, &events, ui, false),
            request, documents, waiting_step, errors, message, done,
            uploaded => super::documents::list(state, tenant, &c, &format!("/cases/{}/documents", c.id), &def, ui.lang, super::documents::Viewer::Citizen(user)).await?,
            checklist => super::documents::checklist_view(tenant, &c, &def, ui.lang).await?,
            max_mb => state.config().storage.max_upload_bytes / 1_048_576,
            office => state.config().storage.allow_office,
            kinds => def.documents.iter().map(|d| context! { id => d.id.clone(), label => d.label.get(ui.lang) }).collect::<Vec<_>>(),
            csrf => user.csrf.clone(),
            can_withdraw => c.status != "closed",
            citizen_page => def.citizen_page.as_ref().map(|p| context! { href => p.href(c.id), label => p.label.get(ui.lang) }),
            answers => answers(&def, &c, ui),
            payments => payments(state, tenant, &c).await?,
        },
    )?;
    Ok((status, html))
}

/// What the case owes or paid, and whether it can be paid online now.
async fn payments(
    state: &AppState,
    tenant: &CurrentTenant,
    c: &CaseRow,
) -> Result<Vec<minijinja::Value>> {
    let mut out = vec![];
    for p in dimos_payments::for_case(&tenant.db, c.id).await? {
        let last = dimos_payments::attempts(&tenant.db, p.id)
            .await?
            .into_iter()
            .next();
        out.push(context! {
            id => p.id,
            description => p.description,
            amount => dimos_payments::euros(p.amount_cents),
            status => p.status,
            paid_at => p.paid_at.map(|t| dimos_kernel::clock::local_date(t).format("%d/%m/%Y").to_string()),
            last_failed => last.as_ref().is_some_and(|a| ["failed", "cancelled", "expired", "wrong-amount"].contains(&a.status.as_str())),
            online => state.payments().is_some() && p.status == "due" && c.status != "closed",
        });
    }
    Ok(out)
}

/// What the case holds that the process declares for the citizen (its
/// `data`), in words: the answers given and what the municipality added
/// (a card's number). A process with a page of its own shows it there;
/// lists, tables and bare ids are left to such pages.
fn answers(def: &dimos_workflow::Definition, c: &CaseRow, ui: &Ui) -> Vec<minijinja::Value> {
    if def.citizen_page.is_some() {
        return vec![];
    }
    def.data
        .iter()
        .filter_map(|d| {
            let v = c.data.0.get(d.id())?;
            if v.is_object() || v.is_array() {
                return None;
            }
            let text = super::value_words(def, d.id(), v, ui.lang);
            if text.trim().is_empty() || Uuid::try_parse(&text).is_ok() {
                return None;
            }
            Some(context! { key => super::field_label(def, d.id(), ui.lang), value => text })
        })
        .collect()
}

#[derive(Deserialize)]
struct RespondForm {
    #[serde(default)]
    message: String,
}

async fn respond(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<RespondForm>,
) -> Result<Response> {
    let c = own_case(&tenant, &user, id).await?;
    // The answer and its audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    let result = state
        .workflow()
        .respond_tx(
            &mut tx,
            &tenant.db,
            c.case_id(),
            &actor(&user),
            c.applicant,
            &f.message,
        )
        .await;
    match result {
        Ok(()) => {
            dimos_web::auth::record_in(
                &mut tx,
                &tenant,
                user.audit(peer, "case_responded")
                    .record(format!("case:{id}")),
            )
            .await?;
            tx.commit().await?;
            Ok(Redirect::to(&format!("/cases/{id}?done=responded")).into_response())
        }
        Err(Error::Validation(errs)) => {
            // Nothing was changed: let the transaction go before the page.
            drop(tx);
            let (s, h) = page(
                &state,
                &ui,
                &tenant,
                &user,
                id,
                errs,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.message,
                None,
            )
            .await?;
            Ok(dimos_web::error::rendered_page(s, h))
        }
        Err(e) => Err(AppError(e)),
    }
}

#[derive(Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: Option<String>,
}

async fn withdraw(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<WithdrawForm>,
) -> Result<Response> {
    let c = own_case(&tenant, &user, id).await?;
    // Withdrawal cannot be undone: the person must tick the box.
    if f.confirm.is_none() {
        let errs = vec![FieldError::new("confirm", "required")];
        return error_page(&state, &ui, &tenant, &user, id, errs).await;
    }
    if f.reason.chars().count() > 2000 {
        return Err(Error::Validation(vec![
            FieldError::new("reason", "too-long").with_detail("2000"),
        ])
        .into());
    }
    // The withdrawal and its audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    state
        .workflow()
        .withdraw_tx(
            &mut tx,
            &tenant.db,
            c.case_id(),
            &actor(&user),
            c.applicant,
            &f.reason,
        )
        .await?;
    dimos_web::auth::record_in(
        &mut tx,
        &tenant,
        user.audit(peer, "case_withdrawn")
            .record(format!("case:{id}")),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}?done=withdrawn")).into_response())
}

pub use dimos_web::people::citizen_actor as actor;

/// A printable receipt with the protocol number (law 2690/1999 art. 12).
async fn receipt(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Html<String>> {
    let c = own_case(&tenant, &user, id).await?;
    let def = state.workflow().snapshot(&tenant.db, c.snapshot_id).await?;
    let documents: Vec<_> = def
        .documents
        .iter()
        .map(|d| d.label.get(ui.lang).to_owned())
        .collect();
    ui.render(
        "cases/receipt.html",
        context! {
            case => case_view(&def, &c, &ui, state.workflow().now()),
            documents,
        },
    )
}

async fn api_list(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<serde_json::Value>> {
    let page = query::cases_of(
        &tenant.db,
        user.acting_for().0,
        filter_of(q.filter.as_deref()),
        &position(q.after.as_deref(), q.before.as_deref())?,
        page_of(q.page.as_deref()),
        PER_PAGE,
    )
    .await?;
    let cases = views(&state, &tenant, &ui, &page.items).await?;
    Ok(axum::Json(json!({
        "cases": cases, "total": page.total, "page": page.page, "pages": page.pages(),
        "next": page.next, "prev": page.prev,
    })))
}

async fn api_show(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<serde_json::Value>> {
    let c = own_case(&tenant, &user, id).await?;
    let def = state.workflow().snapshot(&tenant.db, c.snapshot_id).await?;
    let events = query::events(&tenant.db, c.case_id(), true).await?;
    Ok(axum::Json(json!({
        "case": case_view(&def, &c, &ui, state.workflow().now()),
        "timeline": timeline(&def, &events, &ui, false),
    })))
}

/// The case page again, with the errors of a form on it (422).
pub(crate) async fn error_page(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    id: Uuid,
    errors: Vec<FieldError>,
) -> Result<Response> {
    let (s, h) = page(
        state,
        ui,
        tenant,
        user,
        id,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
        "",
        None,
    )
    .await?;
    Ok(dimos_web::error::rendered_page(s, h))
}

//! The protocol book for the protocol office: the register, searchable by
//! year, number and text, and the registration of documents that arrive or
//! leave outside a case (paper mail, email). Numbers come from the same
//! gap-free sequence the workflow uses.

use super::datetime;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_kernel::FieldError;
use dimos_web::access::{Authorized, ReadProtocol, RegisterProtocol};
use dimos_web::auth::{CurrentUser, Posted, record_in};
use dimos_web::error::Result;
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use dimos_workflow::protocol::{self, Direction, EntryFilter, NewEntry};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

const PER_PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    year: Option<String>,
    q: Option<String>,
    page: Option<String>,
    after: Option<String>,
    before: Option<String>,
    registered: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ReadProtocol>,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>> {
    render(
        &state,
        &ui,
        &tenant,
        &who.user,
        &q,
        &[],
        &NewForm::default(),
    )
    .await
    .map(|(_, h)| h)
}

async fn render(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    q: &ListQuery,
    errors: &[FieldError],
    form: &NewForm,
) -> Result<(StatusCode, Html<String>)> {
    let year = q
        .year
        .as_deref()
        .and_then(|y| y.trim().parse::<i32>().ok())
        .unwrap_or_else(|| protocol::year_of(state.workflow().now()));
    let text = q.q.clone().unwrap_or_default();
    let number = text.trim().parse::<i64>().ok();
    let at = super::position(q.after.as_deref(), q.before.as_deref())?;
    let entries = protocol::list(
        &tenant.db,
        &EntryFilter {
            book: None,
            year: Some(year),
            number,
            text: number.is_none().then(|| text.clone()),
        },
        &at,
        super::page_of(q.page.as_deref()),
        PER_PAGE,
    )
    .await?;
    let pager = super::pager(
        &entries,
        "/staff/protocol",
        &[("year", &year.to_string()), ("q", &text)],
    );
    let rows: Vec<_> = entries
        .items
        .iter()
        .map(|e| {
            // What is hidden is not sent to the page at all.
            let hidden = e.confidential || e.restricted;
            context! {
                number => format!("{}/{}", e.number, e.year),
                book => e.book.clone(),
                direction => e.direction.clone(),
                at => datetime(e.registered_at),
                subject => (!hidden).then(|| e.subject.clone()),
                correspondent => (!hidden).then(|| e.correspondent.clone()),
                attachments => e.attachments,
                restricted => e.restricted, confidential => e.confidential, personal_data => e.personal_data,
                case_id => e.case_id,
            }
        })
        .collect();
    let can_register = state
        .access()
        .allowed(
            tenant.tenant.id,
            &dimos_web::access::subjects(user),
            <RegisterProtocol as dimos_web::access::Permission>::ID,
        )
        .await;
    // An entry links its case only for someone who may open every case
    // file (the protocol office keeps the book, not the files).
    let opens_cases = state
        .access()
        .allowed(
            tenant.tenant.id,
            &dimos_web::access::subjects(user),
            <dimos_web::access::ReadCases as dimos_web::access::Permission>::ID,
        )
        .await;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let html = ui.render(
        "staff/protocol.html",
        context! {
            entries => rows, year, q => text, pager,
            can_register, opens_cases, csrf => user.csrf.clone(),
            registered => q.registered.clone(),
            errors => ui.error_list(errors), form,
        },
    )?;
    Ok((status, html))
}

#[derive(Deserialize, Default, serde::Serialize)]
pub struct NewForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    correspondent: String,
    #[serde(default)]
    attachments: String,
    #[serde(default)]
    restricted: Option<String>,
    #[serde(default)]
    confidential: Option<String>,
    #[serde(default)]
    personal_data: Option<String>,
}

impl NewForm {
    fn validate(&self) -> std::result::Result<(Direction, u32), Vec<FieldError>> {
        let mut e = vec![];
        let direction = match self.direction.as_str() {
            "incoming" => Direction::Incoming,
            "outgoing" => Direction::Outgoing,
            _ => {
                e.push(FieldError::new("direction", "required"));
                Direction::Incoming
            }
        };
        for (name, v, max) in [
            ("subject", &self.subject, 500),
            ("correspondent", &self.correspondent, 200),
        ] {
            let n = v.trim().chars().count();
            if n == 0 {
                e.push(FieldError::new(name, "required"));
            } else if n > max {
                e.push(FieldError::new(name, "too-long").with_detail(max.to_string()));
            }
        }
        let attachments = if self.attachments.trim().is_empty() {
            0
        } else {
            match self.attachments.trim().parse::<u32>() {
                Ok(n) if n <= 1000 => n,
                _ => {
                    e.push(FieldError::new("attachments", "out-of-range").with_detail("0–1000"));
                    0
                }
            }
        };
        if e.is_empty() {
            Ok((direction, attachments))
        } else {
            Err(e)
        }
    }
}

pub async fn register(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<RegisterProtocol>,
    peer: Peer,
    Posted(f): Posted<NewForm>,
) -> Result<Response> {
    let (direction, attachments) = match f.validate() {
        Ok(v) => v,
        Err(errs) => {
            let (s, h) = render(
                &state,
                &ui,
                &tenant,
                &who.user,
                &ListQuery::default(),
                &errs,
                &f,
            )
            .await?;
            return Ok(dimos_web::error::rendered_page(s, h));
        }
    };
    let engine = state.workflow();
    let mut tx = tenant.db.begin().await?;
    let entry = protocol::register(
        &mut tx,
        &tenant.db,
        engine.now(),
        &NewEntry {
            book: "general".into(),
            direction,
            subject: f.subject.trim().to_owned(),
            correspondent: f.correspondent.trim().to_owned(),
            attachments,
            restricted: f.restricted.is_some(),
            confidential: f.confidential.is_some(),
            personal_data: f.personal_data.is_some(),
            case_id: None,
            registered_by: who.user.actor(),
        },
    )
    .await?;
    let number = format!("{}/{}", entry.number, entry.year);
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "protocol_registered")
            .record(format!("protocol:{}", entry.id))
            .detail(json!({"number": number, "direction": direction.as_str()})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/staff/protocol?registered={number}")).into_response())
}

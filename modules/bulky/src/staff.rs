//! The cleaning department's pages (the days ahead per area, a day's route
//! list, moving a request, the street list) and the crew's phone page (a
//! day's route, each pickup closed with one button).

use crate::config::BulkyConfig;
use crate::filing;
use crate::route::{self, Stop};
use crate::store::{self, Request};
use crate::web::day_label;
use crate::{Collect, Schedule, schedule, settings};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use dimos_kernel::{Error, FieldError};
use dimos_web::access::Authorized;
use dimos_web::auth::Posted;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use dimos_workflow::{CaseId, TaskId};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Days the overview shows.
const OVERVIEW_DAYS: i64 = 21;

fn today(state: &AppState) -> NaiveDate {
    dimos_kernel::clock::local_date(state.workflow().now())
}

/// The days ahead: for each collection day of each area, booked of
/// capacity, with a link to its route list.
pub async fn days(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<Schedule>,
) -> Result<Html<String>> {
    let cfg = settings(&t).await?;
    let from = today(&state);
    let to = from + Duration::days(OVERVIEW_DAYS);
    let requests = store::between(&t.db, from, to).await?;
    let rules = cfg.rules();
    let mut rows = vec![];
    for n in 0..=OVERVIEW_DAYS {
        let day = from + Duration::days(n);
        for a in &cfg.areas {
            let cal = BulkyConfig::calendar(a);
            let count = requests
                .iter()
                .filter(|r| r.day == day && r.area == a.id)
                .count();
            let collected =
                cal.days.contains(&chrono::Datelike::weekday(&day)) && !rules.closed.contains(&day);
            if collected || count > 0 {
                rows.push(context! {
                    day => day.to_string(),
                    label => day_label(&ui, day),
                    area => a.id.clone(),
                    area_name => a.name.clone(),
                    booked => count,
                    capacity => a.capacity,
                    closed => !collected,
                });
            }
        }
    }
    ui.render(
        "bulky/days.html",
        context! { rows, streets => store::streets(&t.db).await?.len() },
    )
}

/// The day's requests of an area in visiting order.
fn in_route_order(mut list: Vec<Request>) -> Vec<Request> {
    let stops: Vec<Stop> = list
        .iter()
        .map(|r| Stop {
            street: r.street.clone(),
            number: r
                .number
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok(),
            point: r.lat.zip(r.lon),
        })
        .collect();
    let order = route::order(&stops, None);
    let mut slots: Vec<Option<Request>> = list.drain(..).map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

fn request_view(
    ui: &Ui,
    cfg: &BulkyConfig,
    r: &Request,
    paid: &std::collections::HashSet<Uuid>,
) -> minijinja::Value {
    context! {
        id => r.id,
        case_id => r.case_id,
        address => r.address_line(),
        items => filing::items_line(cfg, &r.asked(), ui.lang.code() == "en"),
        description => r.description.clone(),
        name => r.contact_name.clone(),
        phone => r.contact_phone.clone(),
        fee => (r.fee_cents > 0).then(|| filing::euros(i64::from(r.fee_cents))),
        paid => paid.contains(&r.case_id),
        status => r.status.clone(),
        note => r.outcome_note.clone(),
        channel => r.channel.clone(),
    }
}

/// The requests of `list` whose fee is paid.
async fn paid_of(
    tdb: &dimos_db::TenantDb,
    list: &[Request],
) -> Result<std::collections::HashSet<Uuid>> {
    let fees: Vec<Uuid> = list
        .iter()
        .filter(|r| r.fee_cents > 0)
        .map(|r| r.case_id)
        .collect();
    Ok(dimos_payments::paid_cases(tdb, &fees).await?)
}

#[derive(Deserialize)]
pub struct AreaQuery {
    area: Option<String>,
    done: Option<String>,
}

fn parse_day(s: &str) -> Result<NaiveDate> {
    filing::parse_day(s).ok_or_else(|| Error::NotFound.into())
}

/// A day's route list for an area: printable, with where each request can
/// be moved to.
pub async fn day(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Schedule>,
    Path(day): Path<String>,
    Query(q): Query<AreaQuery>,
) -> Result<Html<String>> {
    let day = parse_day(&day)?;
    let cfg = settings(&t).await?;
    let area = q
        .area
        .as_deref()
        .and_then(|a| cfg.area(a))
        .or_else(|| cfg.areas.first())
        .ok_or(Error::NotFound)?;
    let list = in_route_order(store::of_day(&t.db, day, Some(&area.id)).await?);
    let today = today(&state);
    let booked = store::booked(&t.db, &area.id, today).await?;
    let targets: Vec<NaiveDate> =
        schedule::offered(today, &BulkyConfig::calendar(area), &cfg.rules(), &booked)
            .into_iter()
            .filter(|d| *d != day)
            .take(10)
            .collect();
    let paid = paid_of(&t.db, &list).await?;
    ui.render(
        "bulky/day.html",
        context! {
            day => day.to_string(),
            label => day_label(&ui, day),
            area => area.id.clone(),
            area_name => area.name.clone(),
            areas => cfg.areas.iter().map(|a| context! { id => a.id.clone(), name => a.name.clone() }).collect::<Vec<_>>(),
            requests => list.iter().map(|r| request_view(&ui, &cfg, r, &paid)).collect::<Vec<_>>(),
            targets => targets.iter().map(|d| context! { value => d.to_string(), label => day_label(&ui, *d) }).collect::<Vec<_>>(),
            csrf => who.user.csrf.clone(),
            done => q.done.filter(|d| d == "moved"),
        },
    )
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    day: String,
}

/// Moves a booked request to another collection day of its area: the new
/// day's place taken (if there is one), the old one given back, the move
/// in the case's history, in one transaction.
pub async fn move_request(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Schedule>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(form): Posted<MoveForm>,
) -> Result<Response> {
    let cfg = settings(&t).await?;
    let r = store::get(&t.db, id).await?.ok_or(Error::NotFound)?;
    let Some(to) = filing::parse_day(&form.day) else {
        return Err(Error::Validation(vec![FieldError::new("day", "required")]).into());
    };
    let area = cfg.area(&r.area).ok_or(Error::NotFound)?;
    if r.status != "booked" {
        return Err(Error::Conflict("bulky-not-booked").into());
    }
    let today = today(&state);
    let booked = store::booked(&t.db, &area.id, today).await?;
    if !schedule::offered(today, &BulkyConfig::calendar(area), &cfg.rules(), &booked).contains(&to)
    {
        return Err(
            Error::Validation(vec![FieldError::new("day", "bulky-day-not-offered")]).into(),
        );
    }
    let actor = dimos_web::people::staff_actor(&who.user);
    let mut tx = t.db.begin().await?;
    // The case's history first: it locks the case's row, so a move and a
    // withdrawal (case, then request, then day) take their locks in the
    // same order and never wait for each other in a circle.
    state
        .workflow()
        .record_event_tx(
            &mut tx,
            &t.db,
            CaseId(r.case_id),
            "bulky-moved",
            &actor,
            true,
            json!({"day": to.format("%d/%m/%Y").to_string()}),
        )
        .await?;
    // Then the move, from the day this page read: a second press (or
    // another supervisor's move meanwhile) changes nothing.
    if !store::move_to(&mut tx, id, r.day, to, state.workflow().now()).await? {
        return Err(Error::Conflict("bulky-not-booked").into());
    }
    if !store::take_place(&mut tx, &area.id, to, area.capacity).await? {
        return Err(Error::Validation(vec![FieldError::new("day", "bulky-day-full")]).into());
    }
    store::give_back(&mut tx, &r, false).await?;
    // The address's request counts in the week it is now in (the limit is
    // on asking; a move by the department may go over it).
    store::shift_week(
        &mut tx,
        &r.address,
        schedule::week_of(r.day),
        schedule::week_of(to),
    )
    .await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "bulky_request_moved")
            .record(format!("case:{}", r.case_id))
            .detail(json!({"from": r.day, "to": to})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bulky/days/{}?area={}&done=moved", r.day, r.area)).into_response())
}

#[derive(Deserialize)]
pub struct CrewQuery {
    day: Option<String>,
    area: Option<String>,
    done: Option<String>,
}

/// The crew's page: a day's route (today unless asked), each stop with its
/// buttons. Small and server-rendered for a phone on a slow connection.
pub async fn crew(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Collect>,
    Query(q): Query<CrewQuery>,
) -> Result<Html<String>> {
    let cfg = settings(&t).await?;
    let day = match q.day.as_deref() {
        Some(d) => parse_day(d)?,
        None => today(&state),
    };
    let area = q.area.as_deref().and_then(|a| cfg.area(a));
    let mut stops = vec![];
    for a in &cfg.areas {
        if area.is_some_and(|x| x.id != a.id) {
            continue;
        }
        let list = in_route_order(store::of_day(&t.db, day, Some(&a.id)).await?);
        if !list.is_empty() {
            let paid = paid_of(&t.db, &list).await?;
            stops.push(context! {
                area => a.name.clone(),
                requests => list.iter().map(|r| request_view(&ui, &cfg, r, &paid)).collect::<Vec<_>>(),
            });
        }
    }
    ui.render(
        "bulky/crew.html",
        context! {
            day => day.to_string(),
            label => day_label(&ui, day),
            prev => day.pred_opt().unwrap_or(day).to_string(),
            next => day.succ_opt().unwrap_or(day).to_string(),
            area => area.map(|a| a.id.clone()),
            stops,
            csrf => who.user.csrf.clone(),
            done => q.done,
        },
    )
}

#[derive(Deserialize)]
pub struct MarkForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

/// "Collected": one button on the route.
pub async fn mark(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Collect>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(form): Posted<MarkForm>,
) -> Result<Response> {
    close_stop(&state, &t, &who, peer, id, &form.outcome, &form.note, None).await
}

/// "Not found" or "not taken": the reason, and a photo if the crew took
/// one (kept in the case file, where the citizen sees it too).
pub async fn problem(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Collect>,
    peer: Peer,
    Path(id): Path<Uuid>,
    form: axum::extract::Multipart,
) -> Result<Response> {
    let mut form = dimos_web::uploads::receive_form(&state, &who.user, form, &["photo"]).await?;
    if let Some(e) = form.errors.first() {
        return Err(Error::Validation(vec![e.clone()]).into());
    }
    let outcome = form.get("outcome").unwrap_or("").to_owned();
    let note = form.get("note").unwrap_or("").to_owned();
    let photo = form.files.pop();
    close_stop(&state, &t, &who, peer, id, &outcome, &note, photo).await
}

/// Closes a pickup on the route: its task completed with the outcome (the
/// citizen is told by the process), the request's row closed, an audit
/// entry, in one transaction (a photo is filed in the case first). A
/// second press changes nothing.
#[allow(clippy::too_many_arguments)] // one action's parts, each from its edge
async fn close_stop(
    state: &AppState,
    t: &CurrentTenant,
    who: &Authorized<Collect>,
    peer: Peer,
    id: Uuid,
    outcome: &str,
    note: &str,
    photo: Option<(String, String, dimos_storage::Received)>,
) -> Result<Response> {
    let r = store::get(&t.db, id).await?.ok_or(Error::NotFound)?;
    let ("collected" | "not-found" | "refused") = outcome else {
        return Err(Error::Validation(vec![FieldError::new("outcome", "required")]).into());
    };
    let note = note.trim();
    if note.chars().count() > 1000
        || note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(Error::Validation(vec![
            FieldError::new("note", "too-long").with_detail("1000"),
        ])
        .into());
    }
    if outcome != "collected" && note.is_empty() {
        return Err(
            Error::Validation(vec![FieldError::new("note", "bulky-reason-required")]).into(),
        );
    }
    let back = format!("/bulky/crew?day={}&area={}&done={outcome}", r.day, r.area);
    if r.status != "booked" {
        return Ok(Redirect::to(&back).into_response());
    }
    let task = dimos_workflow::query::tasks_of_case(&t.db, CaseId(r.case_id))
        .await?
        .into_iter()
        .find(|x| x.status == "open" && x.step == "collect")
        .ok_or(Error::Conflict("bulky-not-booked"))?;
    let actor = dimos_web::people::staff_actor(&who.user);
    // The photo's file is written first; its row goes in the transaction
    // that closes the stop, so a stop closed by someone else meanwhile (or
    // a failed close) leaves no photo on the case.
    let photo = match photo {
        Some((_, name, received)) => Some(
            dimos_web::uploads::prepare(
                state,
                t,
                r.case_id,
                Some("photo".into()),
                name,
                received,
                &actor,
            )
            .await?,
        ),
        None => None,
    };
    let closed = close_in_tx(
        state,
        t,
        who,
        peer,
        &r,
        &task,
        outcome,
        note,
        photo.as_ref(),
    )
    .await;
    if !matches!(closed, Ok(true))
        && let Some(doc) = &photo
    {
        let _ = state.objects().delete(&doc.object_key).await;
    }
    closed?;
    Ok(Redirect::to(&back).into_response())
}

/// The stop's row, its photo, the task and the audit entry: one
/// transaction. False when someone else closed it meanwhile.
#[allow(clippy::too_many_arguments)] // one action's parts, each from its edge
async fn close_in_tx(
    state: &AppState,
    t: &CurrentTenant,
    who: &Authorized<Collect>,
    peer: Peer,
    r: &Request,
    task: &dimos_workflow::query::TaskRow,
    outcome: &str,
    note: &str,
    photo: Option<&dimos_storage::documents::Document>,
) -> Result<bool> {
    let actor = dimos_web::people::staff_actor(&who.user);
    let mut tx = t.db.begin().await?;
    // The task first: it locks the case's row, the order a withdrawal
    // takes its locks in (case, then request).
    state
        .workflow()
        .complete_action_tx(&mut tx, &t.db, TaskId(task.id), &actor, outcome, note)
        .await?;
    if !store::close(
        &mut tx,
        r.id,
        outcome,
        (!note.is_empty()).then_some(note),
        &who.user.actor(),
        state.workflow().now(),
    )
    .await?
    {
        // Closed by someone else meanwhile: nothing of this is kept.
        return Ok(false);
    }
    if let Some(doc) = photo {
        dimos_web::uploads::record_in(state, &mut tx, t, doc, &actor).await?;
    }
    dimos_web::auth::record_in(
        &mut tx,
        t,
        who.user
            .audit(peer, "bulky_pickup_closed")
            .record(format!("case:{}", r.case_id))
            .detail(json!({"outcome": outcome})),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The street list's import page.
pub async fn import_form(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Schedule>,
) -> Result<Html<String>> {
    let count = store::streets(&t.db).await?.len();
    ui.render(
        "bulky/import.html",
        context! { csrf => who.user.csrf.clone(), count, errors => Vec::<String>::new(), text => "" },
    )
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// Replaces the street list with the CSV pasted (`street, postcode, area[,
/// lat, lon]`): every bad line named, nothing changed until all are good;
/// every area must be one of the municipality's.
pub async fn import(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Schedule>,
    peer: Peer,
    Posted(form): Posted<ImportForm>,
) -> Result<Response> {
    let cfg = settings(&t).await?;
    let mut problems: Vec<String> = vec![];
    let streets = match crate::streets::parse(&form.csv) {
        Ok(s) => s,
        Err(es) => {
            problems.extend(es.iter().map(|e| {
                format!(
                    "{} {}: {}",
                    ui.t("bulky-import-line"),
                    e.line,
                    ui.t(&format!("bulky-import-{}", e.problem))
                )
            }));
            vec![]
        }
    };
    let folded = |s: &str| dimos_kernel::greek::fold(s);
    for s in &streets {
        if !cfg
            .areas
            .iter()
            .any(|a| a.id == s.area || folded(&a.name) == folded(&s.area))
        {
            problems.push(format!("{}: {}", s.name, ui.t("bulky-import-area-unknown")));
        }
    }
    if streets.is_empty() && problems.is_empty() {
        problems.push(ui.t("bulky-import-empty"));
    }
    if !problems.is_empty() {
        problems.truncate(50);
        let html = ui.render(
            "bulky/import.html",
            context! { csrf => who.user.csrf.clone(), count => store::streets(&t.db).await?.len(), errors => problems, text => form.csv },
        )?;
        return Ok(dimos_web::error::rendered_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            html,
        ));
    }
    let mut tx = t.db.begin().await?;
    store::replace_streets(&mut tx, &streets).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "bulky_streets_imported")
            .detail(json!({"streets": streets.len()})),
    )
    .await?;
    tx.commit().await?;
    let _ = &state;
    Ok(Redirect::to("/bulky/days?done=imported").into_response())
}

//! Emergency social cases: during the year the nursery department places a
//! child referred by the social services in a place its station reserves
//! for them (`nursery_places.reserved`), outside the placement runs. Never
//! more than the reserved places of the station and age group: counted
//! under the tenant's placement lock, so two people at once cannot both
//! take the last one.

use chrono::{DateTime, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use dimos_kernel::Error;
use sea_query::{Expr, ExprTrait, Iden, Order};
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum NurseryEmergency {
    Table,
    Id,
    YearId,
    StationId,
    AgeGroup,
    ChildName,
    Reason,
    PlacedAt,
    PlacedBy,
    ReleasedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Emergency {
    pub id: Uuid,
    pub station_id: Uuid,
    pub age_group: String,
    pub child_name: String,
    pub reason: String,
    pub placed_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

const COLUMNS: [NurseryEmergency; 7] = [
    NurseryEmergency::Id,
    NurseryEmergency::StationId,
    NurseryEmergency::AgeGroup,
    NurseryEmergency::ChildName,
    NurseryEmergency::Reason,
    NurseryEmergency::PlacedAt,
    NurseryEmergency::ReleasedAt,
];

/// A year's emergency placements, newest first.
pub async fn of_year(tdb: &TenantDb, year: Uuid) -> Result<Vec<Emergency>, DbError> {
    let mut q = tdb.select(NurseryEmergency::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(NurseryEmergency::YearId).eq(year))
        .order_by(NurseryEmergency::PlacedAt, Order::Desc);
    tdb.fetch_all(&q).await
}

/// What is asked to place one.
pub struct NewEmergency<'a> {
    pub year: Uuid,
    pub station: Uuid,
    pub group: &'a str,
    pub child_name: &'a str,
    pub reason: &'a str,
    pub by: Uuid,
}

/// Places the child if the station still has a reserved place for the age
/// group; `Conflict("nursery-no-reserved-place")` otherwise. In the
/// caller's transaction (with its audit entry).
pub async fn place(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    new: &NewEmergency<'_>,
    reserved: i32,
    now: DateTime<Utc>,
) -> Result<Uuid, Error> {
    tx.lock(tdb, "nurseries-placement").await?;
    let mut q = tdb.select(NurseryEmergency::Table);
    q.expr(Expr::col(NurseryEmergency::Id).count())
        .and_where(Expr::col(NurseryEmergency::YearId).eq(new.year))
        .and_where(Expr::col(NurseryEmergency::StationId).eq(new.station))
        .and_where(Expr::col(NurseryEmergency::AgeGroup).eq(new.group))
        .and_where(Expr::col(NurseryEmergency::ReleasedAt).is_null());
    let (taken,): (i64,) = tx.fetch_optional(&q).await?.unwrap_or((0,));
    if taken >= i64::from(reserved) {
        return Err(Error::Conflict("nursery-no-reserved-place"));
    }
    let id = Uuid::now_v7();
    let mut q = tdb.insert(
        NurseryEmergency::Table,
        [
            NurseryEmergency::Id,
            NurseryEmergency::YearId,
            NurseryEmergency::StationId,
            NurseryEmergency::AgeGroup,
            NurseryEmergency::ChildName,
            NurseryEmergency::Reason,
            NurseryEmergency::PlacedAt,
            NurseryEmergency::PlacedBy,
        ],
    );
    q.values([
        id.into(),
        new.year.into(),
        new.station.into(),
        new.group.into(),
        new.child_name.into(),
        new.reason.into(),
        now.into(),
        new.by.into(),
    ]);
    tx.insert_rows(&q).await?;
    Ok(id)
}

/// The child left: the reserved place is free again. False if there was
/// no such placement still held (in this municipality).
pub async fn release(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tdb.update(NurseryEmergency::Table);
    q.value(NurseryEmergency::ReleasedAt, now)
        .and_where(Expr::col(NurseryEmergency::Id).eq(id))
        .and_where(Expr::col(NurseryEmergency::ReleasedAt).is_null());
    Ok(tx.execute(&q).await? == 1)
}

// ---------------------------------------------------------------------
// The page: `/nurseries/admin/years/{id}/emergency`.

use crate::ManageNurseries;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::FieldError;
use dimos_web::access::Authorized;
use dimos_web::auth::{Button, Posted, record_in};
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub(crate) struct EmergencyForm {
    #[serde(default)]
    station: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    child_name: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

async fn render(
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    year: &crate::catalogue::Year,
    form: &EmergencyForm,
    errors: &[FieldError],
    done: Option<String>,
) -> Result<Response> {
    let cfg = crate::config(t).await?;
    let stations = crate::catalogue::stations(&t.db).await?;
    let places = crate::catalogue::places(&t.db, year.id).await?;
    let cases = of_year(&t.db, year.id).await?;
    let name = |id: Uuid| {
        stations
            .iter()
            .find(|s| s.id == id)
            .map_or_else(String::new, |s| s.name.clone())
    };
    let group = |id: &str| {
        cfg.age_groups
            .iter()
            .find(|g| g.id == id)
            .map_or_else(|| id.to_owned(), |g| g.label.get(ui.lang).to_owned())
    };
    // Reserved places and how many are held, per station and age group.
    let mut reserved = vec![];
    for p in places.iter().filter(|p| p.reserved > 0) {
        let held = cases
            .iter()
            .filter(|c| {
                c.released_at.is_none()
                    && c.station_id == p.station_id
                    && c.age_group == p.age_group
            })
            .count();
        reserved.push(context! {
            station => name(p.station_id), group => group(&p.age_group),
            reserved => p.reserved, held, free => usize::try_from(p.reserved).unwrap_or(0).saturating_sub(held),
        });
    }
    let (summary, messages) =
        crate::messages(ui, errors, &["station", "group", "child_name", "reason"]);
    let html = ui.render(
        "nurseries/emergency.html",
        context! {
            csrf, summary, errors => messages, id => year.id, label => year.label.clone(),
            done => done.filter(|d| d == "placed" || d == "released"),
            reserved, v => form,
            stations => stations.iter().filter(|s| s.active).map(|s| context! { id => s.id.to_string(), name => s.name.clone() }).collect::<Vec<_>>(),
            groups => cfg.age_groups.iter().map(|g| context! { id => g.id.clone(), label => g.label.get(ui.lang) }).collect::<Vec<_>>(),
            cases => cases.iter().map(|c| context! {
                id => c.id, station => name(c.station_id), group => group(&c.age_group),
                child => c.child_name.clone(), reason => c.reason.clone(),
                placed => crate::date(dimos_kernel::clock::local_date(c.placed_at)),
                released => c.released_at.map(|r| crate::date(dimos_kernel::clock::local_date(r))),
            }).collect::<Vec<_>>(),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

async fn year_of(t: &CurrentTenant, id: Uuid) -> Result<crate::catalogue::Year> {
    Ok(crate::catalogue::year(&t.db, id)
        .await?
        .ok_or(Error::NotFound)?)
}

pub(crate) async fn page(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    Path(id): Path<Uuid>,
    Query(q): Query<Done>,
) -> Result<Response> {
    let year = year_of(&t, id).await?;
    render(
        &ui,
        &t,
        &who.user.csrf,
        &year,
        &EmergencyForm::default(),
        &[],
        q.done,
    )
    .await
}

/// Places an emergency case in a reserved place.
pub(crate) async fn add(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<EmergencyForm>,
) -> Result<Response> {
    let year = year_of(&t, id).await?;
    let cfg = crate::config(&t).await?;
    let stations = crate::catalogue::stations(&t.db).await?;
    let mut errors = vec![];
    let station = Uuid::parse_str(f.station.trim())
        .ok()
        .filter(|s| stations.iter().any(|x| x.id == *s && x.active));
    if station.is_none() {
        errors.push(FieldError::new("station", "required"));
    }
    if !cfg.age_groups.iter().any(|g| g.id == f.group) {
        errors.push(FieldError::new("group", "required"));
    }
    for (field, value, max) in [
        ("child_name", &f.child_name, 120),
        ("reason", &f.reason, 500),
    ] {
        let v = value.trim();
        if v.is_empty() {
            errors.push(FieldError::new(field, "required"));
        } else if v.chars().count() > max {
            errors.push(FieldError::new(field, "too-long").with_detail(max.to_string()));
        }
    }
    let Some(station) = station.filter(|_| errors.is_empty()) else {
        return render(&ui, &t, &who.user.csrf, &year, &f, &errors, None).await;
    };
    let reserved = crate::catalogue::places(&t.db, year.id)
        .await?
        .into_iter()
        .find(|p| p.station_id == station && p.age_group == f.group)
        .map_or(0, |p| p.reserved);
    let new = NewEmergency {
        year: year.id,
        station,
        group: &f.group,
        child_name: f.child_name.trim(),
        reason: f.reason.trim(),
        by: who.user.account.id,
    };
    // The placement and its audit entry: one transaction.
    let mut tx = t.db.begin().await?;
    let placed = match place(&mut tx, &t.db, &new, reserved, state.workflow().now()).await {
        Ok(placed) => placed,
        Err(Error::Conflict(code)) => {
            drop(tx);
            let e = [FieldError::new("station", code)];
            return render(&ui, &t, &who.user.csrf, &year, &f, &e, None).await;
        }
        Err(e) => return Err(e.into()),
    };
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_emergency_placed")
            .record(format!("nursery-emergency:{placed}"))
            .detail(json!({"year": year.label, "station": station, "group": f.group, "reason": new.reason})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/nurseries/admin/years/{id}/emergency?done=placed"
    ))
    .into_response())
}

/// The child left: the place is free for the next emergency.
pub(crate) async fn release_case(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<ManageNurseries>,
    peer: Peer,
    Path((id, case)): Path<(Uuid, Uuid)>,
    _: Posted<Button>,
) -> Result<Response> {
    year_of(&t, id).await?;
    // The release and its audit entry: one transaction.
    let mut tx = t.db.begin().await?;
    if !release(&mut tx, &t.db, case, state.workflow().now()).await? {
        return Err(Error::NotFound.into());
    }
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_emergency_released")
            .record(format!("nursery-emergency:{case}")),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/nurseries/admin/years/{id}/emergency?done=released"
    ))
    .into_response())
}

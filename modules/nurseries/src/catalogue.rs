//! Stations, school years and places per age group: what the municipality
//! offers, tenant-scoped. Names and labels are unique per municipality in
//! the database.

use chrono::{DateTime, NaiveDate, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict, Order};
use serde::Serialize;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum NurseryStations {
    Table,
    Id,
    Name,
    Address,
    Active,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum NurseryYears {
    Table,
    Id,
    Label,
    StartsOn,
    OpensOn,
    ClosesOn,
    ResultsOn,
    ObjectionsUntil,
    AcceptDays,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum NurseryPlaces {
    Table,
    YearId,
    StationId,
    AgeGroup,
    Places,
    Reserved,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Station {
    pub id: Uuid,
    pub name: String,
    pub address: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Year {
    pub id: Uuid,
    pub label: String,
    pub starts_on: NaiveDate,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub results_on: NaiveDate,
    pub objections_until: NaiveDate,
    pub accept_days: i32,
}

impl Year {
    /// `upcoming`, `open` (applications taken), `closed` (scoring and
    /// placement), `results`, `objections` or `enrolment`, on `today`.
    pub fn phase(&self, today: NaiveDate) -> &'static str {
        if today < self.opens_on {
            "upcoming"
        } else if today <= self.closes_on {
            "open"
        } else if today < self.results_on {
            "closed"
        } else if today <= self.objections_until {
            "objections"
        } else {
            "enrolment"
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Places {
    pub station_id: Uuid,
    pub age_group: String,
    pub places: i32,
    pub reserved: i32,
}

pub async fn stations(tdb: &TenantDb) -> Result<Vec<Station>, DbError> {
    let mut q = tdb.select(NurseryStations::Table);
    q.columns([
        NurseryStations::Id,
        NurseryStations::Name,
        NurseryStations::Address,
        NurseryStations::Active,
    ])
    .order_by(NurseryStations::Name, Order::Asc);
    tdb.fetch_all(&q).await
}

pub async fn station(tdb: &TenantDb, id: Uuid) -> Result<Option<Station>, DbError> {
    let mut q = tdb.select(NurseryStations::Table);
    q.columns([
        NurseryStations::Id,
        NurseryStations::Name,
        NurseryStations::Address,
        NurseryStations::Active,
    ])
    .and_where(Expr::col(NurseryStations::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// A second station of the same name is refused by the database
/// (`DbError::Unique`).
pub async fn add_station(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    name: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let mut q = tdb.insert(
        NurseryStations::Table,
        [
            NurseryStations::Id,
            NurseryStations::Name,
            NurseryStations::Address,
            NurseryStations::Active,
            NurseryStations::CreatedAt,
        ],
    );
    q.values([
        id.into(),
        name.into(),
        address.into(),
        true.into(),
        now.into(),
    ]);
    tx.insert_rows(&q).await?;
    Ok(id)
}

/// Whether the station exists (in this municipality).
pub async fn update_station(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
    name: &str,
    address: &str,
    active: bool,
) -> Result<bool, DbError> {
    let mut q = tdb.update(NurseryStations::Table);
    q.values([
        (NurseryStations::Name, name.into()),
        (NurseryStations::Address, address.into()),
        (NurseryStations::Active, active.into()),
    ])
    .and_where(Expr::col(NurseryStations::Id).eq(id));
    Ok(tx.execute(&q).await? == 1)
}

const YEAR_COLUMNS: [NurseryYears; 8] = [
    NurseryYears::Id,
    NurseryYears::Label,
    NurseryYears::StartsOn,
    NurseryYears::OpensOn,
    NurseryYears::ClosesOn,
    NurseryYears::ResultsOn,
    NurseryYears::ObjectionsUntil,
    NurseryYears::AcceptDays,
];

/// Newest first.
pub async fn years(tdb: &TenantDb) -> Result<Vec<Year>, DbError> {
    let mut q = tdb.select(NurseryYears::Table);
    q.columns(YEAR_COLUMNS)
        .order_by(NurseryYears::StartsOn, Order::Desc);
    tdb.fetch_all(&q).await
}

/// The same, inside the caller's transaction (a background job).
pub async fn year_in(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
) -> Result<Option<Year>, DbError> {
    let mut q = tdb.select(NurseryYears::Table);
    q.columns(YEAR_COLUMNS)
        .and_where(Expr::col(NurseryYears::Id).eq(id));
    tx.fetch_optional(&q).await
}

pub async fn year(tdb: &TenantDb, id: Uuid) -> Result<Option<Year>, DbError> {
    let mut q = tdb.select(NurseryYears::Table);
    q.columns(YEAR_COLUMNS)
        .and_where(Expr::col(NurseryYears::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// The year whose registration or results are current on `today`: the
/// latest one that has opened, else the next to open.
pub async fn current_year(tdb: &TenantDb, today: NaiveDate) -> Result<Option<Year>, DbError> {
    let all = years(tdb).await?;
    let opened = all.iter().find(|y| y.opens_on <= today).cloned();
    Ok(opened.or_else(|| all.iter().rev().find(|y| y.opens_on > today).cloned()))
}

/// A second year with the same label is refused by the database.
pub async fn add_year(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    y: &Year,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut q = tdb.insert(
        NurseryYears::Table,
        YEAR_COLUMNS.into_iter().chain([NurseryYears::CreatedAt]),
    );
    q.values([
        y.id.into(),
        y.label.clone().into(),
        y.starts_on.into(),
        y.opens_on.into(),
        y.closes_on.into(),
        y.results_on.into(),
        y.objections_until.into(),
        y.accept_days.into(),
        now.into(),
    ]);
    tx.insert_rows(&q).await.map(drop)
}

pub async fn update_year(tx: &mut TenantTx<'_>, tdb: &TenantDb, y: &Year) -> Result<bool, DbError> {
    let mut q = tdb.update(NurseryYears::Table);
    q.values([
        (NurseryYears::StartsOn, y.starts_on.into()),
        (NurseryYears::OpensOn, y.opens_on.into()),
        (NurseryYears::ClosesOn, y.closes_on.into()),
        (NurseryYears::ResultsOn, y.results_on.into()),
        (NurseryYears::ObjectionsUntil, y.objections_until.into()),
        (NurseryYears::AcceptDays, y.accept_days.into()),
    ])
    .and_where(Expr::col(NurseryYears::Id).eq(y.id));
    Ok(tx.execute(&q).await? == 1)
}

pub async fn places(tdb: &TenantDb, year: Uuid) -> Result<Vec<Places>, DbError> {
    let mut q = tdb.select(NurseryPlaces::Table);
    q.columns([
        NurseryPlaces::StationId,
        NurseryPlaces::AgeGroup,
        NurseryPlaces::Places,
        NurseryPlaces::Reserved,
    ])
    .and_where(Expr::col(NurseryPlaces::YearId).eq(year));
    tdb.fetch_all(&q).await
}

/// Sets a year's places, all of them or none, in the caller's transaction
/// (with its audit entry).
pub async fn set_places(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    year: Uuid,
    rows: &[Places],
) -> Result<(), DbError> {
    for p in rows {
        let mut q = tdb.insert(
            NurseryPlaces::Table,
            [
                NurseryPlaces::YearId,
                NurseryPlaces::StationId,
                NurseryPlaces::AgeGroup,
                NurseryPlaces::Places,
                NurseryPlaces::Reserved,
            ],
        );
        q.values([
            year.into(),
            p.station_id.into(),
            p.age_group.clone().into(),
            p.places.into(),
            p.reserved.into(),
        ]);
        q.statement().on_conflict(
            OnConflict::columns([
                Alias::new(dimos_db::TENANT_ID),
                Alias::new("year_id"),
                Alias::new("station_id"),
                Alias::new("age_group"),
            ])
            .update_columns([NurseryPlaces::Places, NurseryPlaces::Reserved])
            .to_owned(),
        );
        tx.insert_rows(&q).await?;
    }
    Ok(())
}

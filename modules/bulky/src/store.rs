//! The module's tables, tenant-scoped: the street list, each area's day
//! counters, each address's week counters and the requests.

use chrono::{DateTime, NaiveDate, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict, Order};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum BulkyStreets {
    Table,
    Key,
    Name,
    Postcode,
    Area,
    Lat,
    Lon,
}

#[derive(Iden, Clone, Copy)]
enum BulkyDays {
    Table,
    Area,
    Day,
    Booked,
}

#[derive(Iden, Clone, Copy)]
enum BulkyHouseholds {
    Table,
    Address,
    Week,
    Requests,
}

#[derive(Iden, Clone, Copy)]
enum BulkyRequests {
    Table,
    Id,
    CaseId,
    Applicant,
    Channel,
    Area,
    Day,
    Street,
    Number,
    Postcode,
    Address,
    Lat,
    Lon,
    Items,
    Description,
    ContactName,
    ContactPhone,
    FeeCents,
    Status,
    OutcomeNote,
    CreatedAt,
    ClosedAt,
    UpdatedAt,
    ClosedBy,
}

/// A street of the municipality's list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StreetRow {
    pub name: String,
    pub postcode: String,
    pub area: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// Replaces the street list: the old one goes, the new one comes, in the
/// caller's transaction.
pub async fn replace_streets(
    tx: &mut TenantTx<'_>,
    streets: &[crate::streets::Street],
) -> Result<(), DbError> {
    let q = tx.delete(BulkyStreets::Table);
    tx.execute(&q).await?;
    for chunk in streets.chunks(200) {
        let mut q = tx.insert(
            BulkyStreets::Table,
            [
                BulkyStreets::Key,
                BulkyStreets::Name,
                BulkyStreets::Postcode,
                BulkyStreets::Area,
                BulkyStreets::Lat,
                BulkyStreets::Lon,
            ],
        );
        for s in chunk {
            q.values([
                street_key(&s.name, s.postcode.as_str()).into(),
                s.name.clone().into(),
                s.postcode.as_str().into(),
                s.area.clone().into(),
                s.point.map(|p| p.0).into(),
                s.point.map(|p| p.1).into(),
            ]);
        }
        // A street listed twice with the same postcode: the first stays.
        q.statement().on_conflict(
            OnConflict::columns([Alias::new(dimos_db::TENANT_ID), Alias::new("key")])
                .do_nothing()
                .to_owned(),
        );
        tx.insert_rows(&q).await?;
    }
    Ok(())
}

/// The key of a street: its name folded, with its postcode.
pub fn street_key(name: &str, postcode: &str) -> String {
    format!("{}|{postcode}", dimos_kernel::greek::fold(name))
}

pub async fn streets(tdb: &TenantDb) -> Result<Vec<StreetRow>, DbError> {
    let mut q = tdb.select(BulkyStreets::Table);
    q.columns([
        BulkyStreets::Name,
        BulkyStreets::Postcode,
        BulkyStreets::Area,
        BulkyStreets::Lat,
        BulkyStreets::Lon,
    ])
    .order_by(BulkyStreets::Key, Order::Asc);
    tdb.fetch_all(&q).await
}

#[derive(sqlx::FromRow)]
struct DayRow {
    day: NaiveDate,
    booked: i32,
}

/// Pickups booked per day in an area, from `from` on.
pub async fn booked(
    tdb: &TenantDb,
    area: &str,
    from: NaiveDate,
) -> Result<BTreeMap<NaiveDate, u32>, DbError> {
    let mut q = tdb.select(BulkyDays::Table);
    q.columns([BulkyDays::Day, BulkyDays::Booked])
        .and_where(Expr::col(BulkyDays::Area).eq(area))
        .and_where(Expr::col(BulkyDays::Day).gte(from));
    Ok(tdb
        .fetch_all::<DayRow>(&q)
        .await?
        .into_iter()
        .map(|r| (r.day, u32::try_from(r.booked).unwrap_or(0)))
        .collect())
}

/// Takes one of the day's places if one is left: a conditional update, so
/// concurrent requests (on any replica) never take more than `capacity`.
pub async fn take_place(
    tx: &mut TenantTx<'_>,
    area: &str,
    day: NaiveDate,
    capacity: u32,
) -> Result<bool, DbError> {
    let mut q = tx.insert(
        BulkyDays::Table,
        [BulkyDays::Area, BulkyDays::Day, BulkyDays::Booked],
    );
    q.values([area.into(), day.into(), 0.into()]);
    q.statement().on_conflict(
        OnConflict::columns([
            Alias::new(dimos_db::TENANT_ID),
            Alias::new("area"),
            Alias::new("day"),
        ])
        .do_nothing()
        .to_owned(),
    );
    tx.insert_rows(&q).await?;
    let mut q = tx.update(BulkyDays::Table);
    q.value(BulkyDays::Booked, Expr::col(BulkyDays::Booked).add(1))
        .and_where(Expr::col(BulkyDays::Area).eq(area))
        .and_where(Expr::col(BulkyDays::Day).eq(day))
        .and_where(Expr::col(BulkyDays::Booked).lt(i64::from(capacity)));
    Ok(tx.execute(&q).await? == 1)
}

/// Takes one of the address's requests for the week if one is left, the
/// same way.
pub async fn take_week(
    tx: &mut TenantTx<'_>,
    address: &str,
    week: NaiveDate,
    per_week: u32,
) -> Result<bool, DbError> {
    raise_week(tx, address, week, Some(per_week)).await
}

/// Counts one more request of the address in the week (its row made if
/// missing), only while below `limit` when there is one.
async fn raise_week(
    tx: &mut TenantTx<'_>,
    address: &str,
    week: NaiveDate,
    limit: Option<u32>,
) -> Result<bool, DbError> {
    let mut q = tx.insert(
        BulkyHouseholds::Table,
        [
            BulkyHouseholds::Address,
            BulkyHouseholds::Week,
            BulkyHouseholds::Requests,
        ],
    );
    q.values([address.into(), week.into(), 0.into()]);
    q.statement().on_conflict(
        OnConflict::columns([
            Alias::new(dimos_db::TENANT_ID),
            Alias::new("address"),
            Alias::new("week"),
        ])
        .do_nothing()
        .to_owned(),
    );
    tx.insert_rows(&q).await?;
    let mut q = tx.update(BulkyHouseholds::Table);
    q.value(
        BulkyHouseholds::Requests,
        Expr::col(BulkyHouseholds::Requests).add(1),
    )
    .and_where(Expr::col(BulkyHouseholds::Address).eq(address))
    .and_where(Expr::col(BulkyHouseholds::Week).eq(week));
    if let Some(limit) = limit {
        q.and_where(Expr::col(BulkyHouseholds::Requests).lt(i64::from(limit)));
    }
    Ok(tx.execute(&q).await? == 1)
}

/// Forgets an address's counter for a week that is over.
pub async fn forget_week(
    tx: &mut TenantTx<'_>,
    address: &str,
    week: NaiveDate,
) -> Result<(), DbError> {
    let mut q = tx.delete(BulkyHouseholds::Table);
    q.and_where(Expr::col(BulkyHouseholds::Address).eq(address))
        .and_where(Expr::col(BulkyHouseholds::Week).eq(week));
    tx.execute(&q).await?;
    Ok(())
}

/// Gives back a request's place on its day and its address's week (a
/// cancellation, or a move to another day for the place).
pub async fn give_back(tx: &mut TenantTx<'_>, r: &Request, week_too: bool) -> Result<(), DbError> {
    let mut q = tx.update(BulkyDays::Table);
    q.value(BulkyDays::Booked, Expr::col(BulkyDays::Booked).sub(1))
        .and_where(Expr::col(BulkyDays::Area).eq(r.area.as_str()))
        .and_where(Expr::col(BulkyDays::Day).eq(r.day))
        .and_where(Expr::col(BulkyDays::Booked).gt(0));
    tx.execute(&q).await?;
    if week_too {
        let mut q = tx.update(BulkyHouseholds::Table);
        q.value(
            BulkyHouseholds::Requests,
            Expr::col(BulkyHouseholds::Requests).sub(1),
        )
        .and_where(Expr::col(BulkyHouseholds::Address).eq(r.address.as_str()))
        .and_where(Expr::col(BulkyHouseholds::Week).eq(crate::schedule::week_of(r.day)))
        .and_where(Expr::col(BulkyHouseholds::Requests).gt(0));
        tx.execute(&q).await?;
    }
    Ok(())
}

/// An item asked for, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    pub item: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Request {
    pub id: Uuid,
    pub case_id: Uuid,
    pub applicant: Uuid,
    pub channel: String,
    pub area: String,
    pub day: NaiveDate,
    pub street: String,
    pub number: String,
    pub postcode: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub items: String,
    pub description: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub fee_cents: i32,
    pub status: String,
    pub outcome_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    /// Booked, moved or closed, whichever was last.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Request {
    pub fn asked(&self) -> Vec<Asked> {
        serde_json::from_str(&self.items).unwrap_or_default()
    }

    /// `Οδός 12, 17455`.
    pub fn address_line(&self) -> String {
        format!("{} {}, {}", self.street, self.number, self.postcode)
    }
}

const COLUMNS: [BulkyRequests; 23] = [
    BulkyRequests::Id,
    BulkyRequests::CaseId,
    BulkyRequests::Applicant,
    BulkyRequests::Channel,
    BulkyRequests::Area,
    BulkyRequests::Day,
    BulkyRequests::Street,
    BulkyRequests::Number,
    BulkyRequests::Postcode,
    BulkyRequests::Address,
    BulkyRequests::Lat,
    BulkyRequests::Lon,
    BulkyRequests::Items,
    BulkyRequests::Description,
    BulkyRequests::ContactName,
    BulkyRequests::ContactPhone,
    BulkyRequests::FeeCents,
    BulkyRequests::Status,
    BulkyRequests::OutcomeNote,
    BulkyRequests::CreatedAt,
    BulkyRequests::ClosedAt,
    BulkyRequests::ClosedBy,
    BulkyRequests::UpdatedAt,
];

fn columns() -> &'static [BulkyRequests] {
    &COLUMNS
}

pub async fn insert(tx: &mut TenantTx<'_>, r: &Request) -> Result<(), DbError> {
    let mut q = tx.insert(BulkyRequests::Table, columns().iter().copied());
    q.values([
        r.id.into(),
        r.case_id.into(),
        r.applicant.into(),
        r.channel.clone().into(),
        r.area.clone().into(),
        r.day.into(),
        r.street.clone().into(),
        r.number.clone().into(),
        r.postcode.clone().into(),
        r.address.clone().into(),
        r.lat.into(),
        r.lon.into(),
        r.items.clone().into(),
        r.description.clone().into(),
        r.contact_name.clone().into(),
        r.contact_phone.clone().into(),
        r.fee_cents.into(),
        r.status.clone().into(),
        r.outcome_note.clone().into(),
        r.created_at.into(),
        r.closed_at.into(),
        r.closed_by.clone().into(),
        r.updated_at.into(),
    ]);
    tx.insert_rows(&q).await?;
    Ok(())
}

pub async fn get(tdb: &TenantDb, id: Uuid) -> Result<Option<Request>, DbError> {
    let mut q = tdb.select(BulkyRequests::Table);
    q.columns(columns().iter().copied())
        .and_where(Expr::col(BulkyRequests::Id).eq(id));
    tdb.fetch_optional(&q).await
}

pub async fn by_case(tdb: &TenantDb, case: Uuid) -> Result<Option<Request>, DbError> {
    let mut q = tdb.select(BulkyRequests::Table);
    q.columns(columns().iter().copied())
        .and_where(Expr::col(BulkyRequests::CaseId).eq(case));
    tdb.fetch_optional(&q).await
}

pub async fn by_case_tx(tx: &mut TenantTx<'_>, case: Uuid) -> Result<Option<Request>, DbError> {
    let mut q = tx.select(BulkyRequests::Table);
    q.columns(columns().iter().copied())
        .and_where(Expr::col(BulkyRequests::CaseId).eq(case));
    tx.fetch_optional(&q).await
}

/// A day's requests in an area (every area with `None`), booked first.
pub async fn of_day(
    tdb: &TenantDb,
    day: NaiveDate,
    area: Option<&str>,
) -> Result<Vec<Request>, DbError> {
    let mut q = tdb.select(BulkyRequests::Table);
    q.columns(columns().iter().copied())
        .and_where(Expr::col(BulkyRequests::Day).eq(day))
        .and_where(Expr::col(BulkyRequests::Status).ne("cancelled"))
        .order_by(BulkyRequests::CreatedAt, Order::Asc);
    if let Some(a) = area {
        q.and_where(Expr::col(BulkyRequests::Area).eq(a));
    }
    tdb.fetch_all(&q).await
}

/// Requests from `from` to `to` (both included), for the day overview.
pub async fn between(
    tdb: &TenantDb,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Request>, DbError> {
    let mut q = tdb.select(BulkyRequests::Table);
    q.columns(columns().iter().copied())
        .and_where(Expr::col(BulkyRequests::Day).gte(from))
        .and_where(Expr::col(BulkyRequests::Day).lte(to))
        .and_where(Expr::col(BulkyRequests::Status).ne("cancelled"))
        .order_by(BulkyRequests::Day, Order::Asc);
    tdb.fetch_all(&q).await
}

/// Requests one applicant (an Open311 client) made from `from` to `to`,
/// newest first, at most `limit`.
pub async fn created_between(
    tdb: &TenantDb,
    applicant: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Request>, DbError> {
    let mut q = tdb.select(BulkyRequests::Table);
    q.columns(columns().iter().copied())
        .and_where(Expr::col(BulkyRequests::Applicant).eq(applicant))
        .and_where(Expr::col(BulkyRequests::CreatedAt).gte(from))
        .and_where(Expr::col(BulkyRequests::CreatedAt).lte(to))
        .order_by(BulkyRequests::CreatedAt, Order::Desc)
        .limit(limit);
    tdb.fetch_all(&q).await
}

/// Closes a booked request: collected, not found, refused or cancelled.
/// Only a booked one changes (a second click changes nothing).
pub async fn close(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    status: &str,
    note: Option<&str>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tx.update(BulkyRequests::Table);
    q.value(BulkyRequests::Status, status)
        .value(BulkyRequests::OutcomeNote, note.map(str::to_owned))
        .value(BulkyRequests::ClosedAt, at)
        .value(BulkyRequests::UpdatedAt, at)
        .value(BulkyRequests::ClosedBy, by)
        .and_where(Expr::col(BulkyRequests::Id).eq(id))
        .and_where(Expr::col(BulkyRequests::Status).eq("booked"));
    Ok(tx.execute(&q).await? == 1)
}

/// Moves a booked request from `from` to another day; false if it is no
/// longer booked on `from`.
pub async fn move_to(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    from: NaiveDate,
    day: NaiveDate,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tx.update(BulkyRequests::Table);
    q.value(BulkyRequests::Day, day)
        .value(BulkyRequests::UpdatedAt, at)
        .and_where(Expr::col(BulkyRequests::Id).eq(id))
        .and_where(Expr::col(BulkyRequests::Day).eq(from))
        .and_where(Expr::col(BulkyRequests::Status).eq("booked"));
    Ok(tx.execute(&q).await? == 1)
}

/// Counts an address's request in another week (a move across weeks).
pub async fn shift_week(
    tx: &mut TenantTx<'_>,
    address: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(), DbError> {
    if from == to {
        return Ok(());
    }
    let mut q = tx.update(BulkyHouseholds::Table);
    q.value(
        BulkyHouseholds::Requests,
        Expr::col(BulkyHouseholds::Requests).sub(1),
    )
    .and_where(Expr::col(BulkyHouseholds::Address).eq(address))
    .and_where(Expr::col(BulkyHouseholds::Week).eq(from))
    .and_where(Expr::col(BulkyHouseholds::Requests).gt(0));
    tx.execute(&q).await?;
    raise_week(tx, address, to, None).await?;
    Ok(())
}

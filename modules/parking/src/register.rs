//! The register of issued parking permits, tenant-scoped.

use chrono::{DateTime, NaiveDate, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Condition, Expr, ExprTrait, Iden, Order};
use serde::Serialize;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum ParkingPermits {
    Table,
    Id,
    CaseId,
    Holder,
    HolderName,
    Location,
    Plate,
    CardNumber,
    Decision,
    IssuedAt,
    IssuedBy,
    ValidUntil,
    RenewedAt,
    RevokedAt,
    RevocationReason,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Permit {
    pub id: Uuid,
    pub case_id: Uuid,
    pub holder: Uuid,
    pub holder_name: String,
    pub location: String,
    pub plate: String,
    pub card_number: String,
    pub decision: String,
    pub issued_at: DateTime<Utc>,
    pub issued_by: Uuid,
    pub valid_until: NaiveDate,
    pub renewed_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
}

impl Permit {
    /// `active`, `expired` or `revoked` on `today`.
    pub fn status(&self, today: NaiveDate) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if today > self.valid_until {
            "expired"
        } else {
            "active"
        }
    }
}

const COLUMNS: [ParkingPermits; 14] = [
    ParkingPermits::Id,
    ParkingPermits::CaseId,
    ParkingPermits::Holder,
    ParkingPermits::HolderName,
    ParkingPermits::Location,
    ParkingPermits::Plate,
    ParkingPermits::CardNumber,
    ParkingPermits::Decision,
    ParkingPermits::IssuedAt,
    ParkingPermits::IssuedBy,
    ParkingPermits::ValidUntil,
    ParkingPermits::RenewedAt,
    ParkingPermits::RevokedAt,
    ParkingPermits::RevocationReason,
];

/// A case has one permit: a second issue is refused by the database.
pub async fn insert(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    p: &Permit,
) -> Result<(), dimos_kernel::Error> {
    let mut q = tdb.insert(ParkingPermits::Table, COLUMNS);
    q.values([
        p.id.into(),
        p.case_id.into(),
        p.holder.into(),
        p.holder_name.clone().into(),
        p.location.clone().into(),
        p.plate.clone().into(),
        p.card_number.clone().into(),
        p.decision.clone().into(),
        p.issued_at.into(),
        p.issued_by.into(),
        p.valid_until.into(),
        p.renewed_at.into(),
        p.revoked_at.into(),
        p.revocation_reason.clone().into(),
    ]);
    match tx.insert_rows(&q).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.is_unique_on("case_id")
                || e.is_unique_on("card_number")
                || e.is_unique_on("parking_permits") =>
        {
            Err(dimos_kernel::Error::Conflict("permit-exists"))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_tx(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
) -> Result<Option<Permit>, DbError> {
    let mut q = tdb.select(ParkingPermits::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(ParkingPermits::Id).eq(id));
    tx.fetch_optional(&q).await
}

pub async fn get(tdb: &TenantDb, id: Uuid) -> Result<Option<Permit>, DbError> {
    let mut q = tdb.select(ParkingPermits::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(ParkingPermits::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// A person's permits, the latest first.
pub async fn of_holder(tdb: &TenantDb, holder: Uuid) -> Result<Vec<Permit>, DbError> {
    let mut q = tdb.select(ParkingPermits::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(ParkingPermits::Holder).eq(holder))
        .order_by(ParkingPermits::IssuedAt, Order::Desc);
    tdb.fetch_all(&q).await
}

/// Permits whose holder, card, plate or location contain `text`
/// (everything when empty), the latest first.
pub async fn search(tdb: &TenantDb, text: &str) -> Result<Vec<Permit>, DbError> {
    let mut q = tdb.select(ParkingPermits::Table);
    q.columns(COLUMNS)
        .order_by(ParkingPermits::IssuedAt, Order::Desc)
        .limit(500);
    if !text.is_empty() {
        let clean = text.replace(['%', '_'], "");
        let like = format!("%{clean}%");
        // Plates and cards are stored in capitals; a typed plate in Latin
        // look-alikes is read as the Greek one.
        let upper = crate::values::Plate::parse(&clean)
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| clean.to_uppercase());
        let upper = format!("%{upper}%");
        q.cond_where(
            Condition::any()
                .add(Expr::col(ParkingPermits::HolderName).like(like.clone()))
                .add(Expr::col(ParkingPermits::Location).like(like))
                .add(Expr::col(ParkingPermits::CardNumber).like(upper.clone()))
                .add(Expr::col(ParkingPermits::Plate).like(upper)),
        );
    }
    tdb.fetch_all(&q).await
}

pub async fn renew(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
    until: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut q = tdb.update(ParkingPermits::Table);
    q.value(ParkingPermits::ValidUntil, until)
        .value(ParkingPermits::RenewedAt, now)
        .and_where(Expr::col(ParkingPermits::Id).eq(id))
        .and_where(Expr::col(ParkingPermits::RevokedAt).is_null());
    tx.execute(&q).await.map(drop)
}

/// False when it was revoked already.
/// Revokes a permit in the caller's transaction (with its audit entry);
/// false when it already was.
pub async fn revoke(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tdb.update(ParkingPermits::Table);
    q.value(ParkingPermits::RevokedAt, now)
        .value(ParkingPermits::RevocationReason, reason)
        .and_where(Expr::col(ParkingPermits::Id).eq(id))
        .and_where(Expr::col(ParkingPermits::RevokedAt).is_null());
    Ok(tx.execute(&q).await? == 1)
}

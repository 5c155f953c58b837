//! The service's settings as the municipal admin sets them, over the
//! operator's defaults in the tenant definition (`[modules.parking]`).

use crate::ParkingConfig;
use chrono::{DateTime, Utc};
use dimos_db::{DbError, TenantDb};
use dimos_kernel::Error;
use dimos_web::CurrentTenant;
use sea_query::{Iden, OnConflict};
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum ParkingSettings {
    Table,
    TenantId,
    ValidityYears,
    ExpiryNoticeDays,
    UpdatedAt,
    UpdatedBy,
}

/// The operator's defaults for this municipality.
pub fn defaults(t: &CurrentTenant) -> Result<ParkingConfig, Error> {
    t.module_config(crate::ID)
}

/// What applies now: the admin's settings, else the defaults.
pub async fn current(t: &CurrentTenant) -> Result<ParkingConfig, Error> {
    let mut q = t.db.select(ParkingSettings::Table);
    q.columns([
        ParkingSettings::ValidityYears,
        ParkingSettings::ExpiryNoticeDays,
    ]);
    let row: Option<(i32, i32)> = t.db.fetch_optional(&q).await?;
    Ok(match row {
        Some((years, days)) => ParkingConfig {
            validity_years: u32::try_from(years).unwrap_or(1),
            expiry_notice_days: u32::try_from(days).unwrap_or(60),
        },
        None => defaults(t)?,
    })
}

/// Saves the municipality's settings inside `tx` (the admin's action,
/// audited in the same transaction).
pub async fn save(
    tx: &mut dimos_db::TenantTx<'_>,
    tdb: &TenantDb,
    c: &ParkingConfig,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let years = i32::try_from(c.validity_years).unwrap_or(i32::MAX);
    let days = i32::try_from(c.expiry_notice_days).unwrap_or(i32::MAX);
    let mut q = tdb.insert(
        ParkingSettings::Table,
        [
            ParkingSettings::ValidityYears,
            ParkingSettings::ExpiryNoticeDays,
            ParkingSettings::UpdatedAt,
            ParkingSettings::UpdatedBy,
        ],
    );
    q.values([years.into(), days.into(), now.into(), by.into()]);
    q.statement().on_conflict(
        OnConflict::column(ParkingSettings::TenantId)
            .update_columns([
                ParkingSettings::ValidityYears,
                ParkingSettings::ExpiryNoticeDays,
                ParkingSettings::UpdatedAt,
                ParkingSettings::UpdatedBy,
            ])
            .to_owned(),
    );
    tx.insert_rows(&q).await.map(drop)
}

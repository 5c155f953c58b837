//! The module settings store: a module's settings for one municipality are
//! the module's defaults, then the operator's choices in the tenant
//! definition (`[modules.<id>]`), then the municipal admin's overrides on
//! top. Only the keys the admin changed are stored, so a later change of a
//! default still reaches the municipalities that kept it.
//!
//! Every change is validated as a whole by the module's schema
//! ([`crate::module::ConfigSchema`]) and saved in the caller's transaction
//! (which carries its audit entry).

use crate::extract::CurrentTenant;
use crate::module::{ConfigSchema, ModuleConfig};
use dimos_db::{TenantDb, TenantTx};
use dimos_kernel::Error;
use sea_query::{Expr, ExprTrait, Iden, OnConflict};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum ModuleSettings {
    Table,
    TenantId,
    Module,
    Overrides,
    UpdatedAt,
    UpdatedBy,
}

/// The municipal admin's overrides of `module` (only the keys set).
pub async fn overrides(db: &TenantDb, module: &str) -> Result<Map<String, Value>, Error> {
    let mut q = db.select(ModuleSettings::Table);
    q.column(ModuleSettings::Overrides)
        .and_where(Expr::col(ModuleSettings::Module).eq(module));
    let row: Option<(Json<Map<String, Value>>,)> = db.fetch_optional(&q).await?;
    Ok(row.map(|(j,)| j.0).unwrap_or_default())
}

/// The operator's choices for `module` in this municipality's definition.
pub fn operator_defaults(t: &CurrentTenant, module: &str) -> Map<String, Value> {
    match t.tenant.module_config(module) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

fn merged(t: &CurrentTenant, module: &str, overrides: Map<String, Value>) -> Map<String, Value> {
    let mut all = operator_defaults(t, module);
    all.extend(overrides);
    all
}

/// What applies now, as the module's type. Stored settings that no longer
/// read as the type (a module changed its settings) are an error, never
/// the defaults in silence.
pub async fn effective<T: ModuleConfig>(t: &CurrentTenant, module: &str) -> Result<T, Error> {
    let all = merged(t, module, overrides(&t.db, module).await?);
    serde_json::from_value(Value::Object(all))
        .map_err(|e| Error::internal(format!("{module} settings of {}: {e}", t.tenant.slug())))
}

/// What applies now, as JSON with every default filled in (for code that
/// does not know the module's type, like issued documents).
pub async fn effective_value(
    t: &CurrentTenant,
    module: &str,
    schema: &ConfigSchema,
) -> Result<Value, Error> {
    let all = merged(t, module, overrides(&t.db, module).await?);
    schema.validate(&all).map_err(|errs| {
        Error::internal(format!(
            "{module} settings of {}: {}",
            t.tenant.slug(),
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// Saves the admin's overrides (keys absent go back to the defaults),
/// checked as a whole over the operator's defaults, in the caller's
/// transaction. Invalid settings are a validation error naming the fields.
pub async fn save_overrides(
    tx: &mut TenantTx<'_>,
    t: &CurrentTenant,
    module: &str,
    schema: &ConfigSchema,
    overrides: Map<String, Value>,
    by: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    schema
        .validate(&merged(t, module, overrides.clone()))
        .map_err(Error::Validation)?;
    if overrides.is_empty() {
        let mut q = tx.delete(ModuleSettings::Table);
        q.and_where(Expr::col(ModuleSettings::Module).eq(module));
        tx.execute(&q).await?;
        return Ok(());
    }
    let mut q = tx.insert(
        ModuleSettings::Table,
        [
            ModuleSettings::Module,
            ModuleSettings::Overrides,
            ModuleSettings::UpdatedAt,
            ModuleSettings::UpdatedBy,
        ],
    );
    q.values([
        module.into(),
        Value::Object(overrides).into(),
        now.into(),
        by.into(),
    ]);
    q.statement().on_conflict(
        OnConflict::columns([ModuleSettings::TenantId, ModuleSettings::Module])
            .update_columns([
                ModuleSettings::Overrides,
                ModuleSettings::UpdatedAt,
                ModuleSettings::UpdatedBy,
            ])
            .to_owned(),
    );
    tx.insert_rows(&q).await?;
    Ok(())
}

/// A module's own settings page saves: the settings (as [`save`]) and an
/// audit entry `action` carrying them, in one transaction.
#[allow(clippy::too_many_arguments)] // who, where, what: each from the handler
pub async fn save_audited<T: ModuleConfig>(
    t: &CurrentTenant,
    who: &crate::auth::CurrentUser,
    peer: crate::extract::Peer,
    module: &str,
    settings: &T,
    action: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let mut tx = t.db.begin().await?;
    save(&mut tx, t, module, settings, who.account.id, now).await?;
    let entry = who
        .audit(peer, action)
        .record(format!("module:{module}"))
        .detail(serde_json::to_value(settings).map_err(Error::internal)?);
    dimos_identity::AuditLog::append_in(&mut tx, &t.db, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Saves settings given whole, as the module's type (a module's own
/// settings page): what equals the operator's defaults is not stored as
/// an override.
pub async fn save<T: ModuleConfig>(
    tx: &mut TenantTx<'_>,
    t: &CurrentTenant,
    module: &str,
    settings: &T,
    by: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let Value::Object(all) = serde_json::to_value(settings).map_err(Error::internal)? else {
        return Err(Error::internal("settings are not a JSON object"));
    };
    let base = serde_json::to_value(
        serde_json::from_value::<T>(Value::Object(operator_defaults(t, module)))
            .map_err(Error::internal)?,
    )
    .map_err(Error::internal)?;
    let changed: Map<String, Value> = all
        .into_iter()
        .filter(|(k, v)| base.get(k) != Some(v))
        .collect();
    save_overrides(tx, t, module, &ConfigSchema::of::<T>(), changed, by, now).await
}

//! National operators' "sign out everywhere": the moment before which
//! their console sessions no longer count. Platform-level (operators belong
//! to no tenant).

use chrono::{DateTime, Utc};
use dimos_db::{Db, DbError};
use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};

#[derive(Iden, Clone, Copy)]
enum OperatorSignOuts {
    Table,
    TaxId,
    SignedOutAt,
}

/// Records that every session of `tax_id` begun before `at` is over.
pub async fn sign_out_everywhere(db: &Db, tax_id: &str, at: DateTime<Utc>) -> Result<(), DbError> {
    let mut q = Query::insert();
    q.into_table(OperatorSignOuts::Table)
        .columns([OperatorSignOuts::TaxId, OperatorSignOuts::SignedOutAt])
        .values([tax_id.into(), at.into()])
        .map_err(|e| DbError::Other(sqlx::Error::Protocol(e.to_string())))?
        .on_conflict(
            OnConflict::column(OperatorSignOuts::TaxId)
                .update_column(OperatorSignOuts::SignedOutAt)
                .to_owned(),
        );
    db.execute(&q).await.map(drop)
}

/// When `tax_id` last signed out everywhere, if ever.
pub async fn signed_out_at(db: &Db, tax_id: &str) -> Result<Option<DateTime<Utc>>, DbError> {
    let q = Query::select()
        .column(OperatorSignOuts::SignedOutAt)
        .from(OperatorSignOuts::Table)
        .and_where(Expr::col(OperatorSignOuts::TaxId).eq(tax_id))
        .to_owned();
    let row: Option<(DateTime<Utc>,)> = db.fetch_optional(&q).await?;
    Ok(row.map(|r| r.0))
}
